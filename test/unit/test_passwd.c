#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passwd.h"

static struct yurt_err err;
static char *out;

static void teardown(void)
{
	free(out);
	out = NULL;
}

TestSuite(passwd, .fini = teardown);

static const struct yurt_identity alice = {
	.uid = 1000, .gid = 1000, .name = "alice", .gecos = "Alice A,,,", .home = "/home/alice",
	.shell = "/bin/zsh", .group = "alice",
};

static const struct yurt_identity root = {
	.uid = 0, .gid = 0, .name = "root", .gecos = "root", .home = "/root",
	.shell = "/bin/sh", .group = "root",
};

static const char debian_passwd[] =
	"root:x:0:0:root:/root:/bin/bash\n"
	"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
	"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

static const char debian_group[] =
	"root:x:0:\n"
	"users:x:100:\n"
	"nogroup:x:65534:\n";

Test(passwd, appends_the_user_and_keeps_the_image)
{
	out = yurt_passwd_generate(debian_passwd, &alice, true, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "root:x:0:0:root:/root:/bin/bash\n"
			      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
			      "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/zsh\n");
}

Test(passwd, shell_missing_in_the_image_becomes_bin_sh)
{
	out = yurt_passwd_generate(debian_passwd, &alice, false, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert(strstr(out, "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\n"), "%s", out);
}

Test(passwd, drops_lines_with_the_users_name_or_uid)
{
	const char image[] =
		"root:x:0:0:root:/root:/bin/bash\n"
		"ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n"
		"alice:x:1234:1234::/home/old:/bin/sh\n"
		"bob:x:1001:1001::/home/bob:/bin/sh\n";
	out = yurt_passwd_generate(image, &alice, true, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "root:x:0:0:root:/root:/bin/bash\n"
			      "bob:x:1001:1001::/home/bob:/bin/sh\n"
			      "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/zsh\n"
			      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
}

Test(passwd, missing_image_file)
{
	out = yurt_passwd_generate(NULL, &alice, false, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\n"
			      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
	free(out);
	out = yurt_passwd_generate("", &alice, false, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\n"
			      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
}

Test(passwd, malformed_lines_and_comments_are_kept_verbatim)
{
	const char image[] =
		"# generated\n"
		"\n"
		"+::::::\n"
		"short:x:1000\n"          /* too few fields, but its uid clashes: dropped */
		"weird:x:10x0:1:::\n"     /* not a number: no uid, kept */
		"crlf:x:7:7::/:/bin/sh\r\n"
		"last-without-newline:x:8:8::/:/bin/sh";
	out = yurt_passwd_generate(image, &alice, true, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "# generated\n"
			      "\n"
			      "+::::::\n"
			      "weird:x:10x0:1:::\n"
			      "crlf:x:7:7::/:/bin/sh\r\n"
			      "last-without-newline:x:8:8::/:/bin/sh\n"
			      "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/zsh\n"
			      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
}

Test(passwd, malformed_line_with_the_users_name_is_dropped)
{
	out = yurt_passwd_generate("alice\nalice:x\n", &alice, true, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/zsh\n"
			      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
}

Test(passwd, huge_uid_is_not_a_clash)
{
	struct yurt_identity big = alice;
	big.uid = 705032704; /* 99999999999 mod 2^32 */
	out = yurt_passwd_generate("x:x:99999999999:1::/:/bin/sh\n", &big, true, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert(strstr(out, "x:x:99999999999:1::/:/bin/sh\n") == out, "%s", out);
}

Test(passwd, fake_root_keeps_the_images_root_line)
{
	const char image[] =
		"toor:x:0:0:other root:/root:/bin/csh\n"
		"root:x:0:0:Super User:/root:/bin/bash\n"
		"root:x:5:5:a second root:/:/bin/sh\n";
	out = yurt_passwd_generate(image, &root, false, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "root:x:0:0:Super User:/root:/bin/bash\n"
			      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
}

Test(passwd, fake_root_without_a_root_line)
{
	out = yurt_passwd_generate("daemon:x:1:1::/:/bin/sh\n", &root, false, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "daemon:x:1:1::/:/bin/sh\n"
			      "root:x:0:0:root:/root:/bin/sh\n"
			      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
}

Test(passwd, nobody_name_taken_by_another_uid)
{
	/* CentOS 7: nobody is 99; a second "nobody" would be ambiguous. */
	out = yurt_passwd_generate("nobody:x:99:99:Nobody:/:/sbin/nologin\n", &alice, true, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "nobody:x:99:99:Nobody:/:/sbin/nologin\n"
			      "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/zsh\n");
}

Test(passwd, user_is_the_overflow_uid)
{
	struct yurt_identity nob = alice;
	nob.uid = 65534;
	out = yurt_passwd_generate(NULL, &nob, true, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "alice:x:65534:1000:Alice A,,,:/home/alice:/bin/zsh\n");
}

Test(passwd, fields_with_colon_or_newline_are_refused)
{
	struct yurt_identity bad = alice;
	bad.gecos = "A:B";
	cr_assert_null(yurt_passwd_generate(NULL, &bad, true, &err));
	cr_assert_str_eq(err.msg, "/etc/passwd: gecos 'A:B' contains ':' or a newline");
	bad = alice;
	bad.home = "/home/a\nroot::0:0::/:/bin/sh";
	cr_assert_null(yurt_passwd_generate(NULL, &bad, true, &err));
	bad = alice;
	bad.shell = "/bin/x:y";
	cr_assert_null(yurt_passwd_generate(NULL, &bad, true, &err));
	cr_assert_str_eq(err.msg, "/etc/passwd: shell '/bin/x:y' contains ':' or a newline");
	cr_assert(out = yurt_passwd_generate(NULL, &bad, false, &err), "unused shell: %s", err.msg);
	bad = alice;
	bad.group = "a:b";
	cr_assert_null(yurt_group_generate(NULL, &bad, &err));
	cr_assert_str_eq(err.msg, "/etc/group: group name 'a:b' contains ':' or a newline");
}

Test(passwd, group_appends_primary_group_with_the_user)
{
	out = yurt_group_generate(debian_group, &alice, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "root:x:0:\n"
			      "users:x:100:\n"
			      "nogroup:x:65534:\n"
			      "alice:x:1000:alice\n");
}

Test(passwd, group_drops_clashes)
{
	const char image[] =
		"root:x:0:\n"
		"ubuntu:x:1000:ubuntu\n"
		"alice:x:50:\n"
		"staff:x:51:alice\n";
	out = yurt_group_generate(image, &alice, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "root:x:0:\n"
			      "staff:x:51:alice\n"
			      "alice:x:1000:alice\n"
			      "nogroup:x:65534:\n");
}

Test(passwd, group_overflow_names)
{
	out = yurt_group_generate(NULL, &alice, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "alice:x:1000:alice\nnogroup:x:65534:\n");
	free(out);
	/* Alpine names 65534 "nobody": nothing to add. */
	out = yurt_group_generate("nogroup:x:65533:\nnobody:x:65534:\n", &alice, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "nogroup:x:65533:\nnobody:x:65534:\nalice:x:1000:alice\n");
	free(out);
	/* "nogroup" taken by another gid: the next name is used. */
	out = yurt_group_generate("nogroup:x:65533:\n", &alice, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "nogroup:x:65533:\nalice:x:1000:alice\nnobody:x:65534:\n");
	free(out);
	/* Both names taken: better no entry than an ambiguous one. */
	out = yurt_group_generate("nogroup:x:65533:\nnobody:x:99:\n", &alice, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "nogroup:x:65533:\nnobody:x:99:\nalice:x:1000:alice\n");
}

Test(passwd, group_fake_root)
{
	out = yurt_group_generate("root:x:0:admin\nwheel:x:10:root\n", &root, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "root:x:0:admin\nwheel:x:10:root\nnogroup:x:65534:\n");
	free(out);
	out = yurt_group_generate(NULL, &root, &err);
	cr_assert(out, "%s", err.msg);
	cr_assert_str_eq(out, "root:x:0:root\nnogroup:x:65534:\n");
}

/* yurt_identity_from_host */

static struct yurt_identity id;

static void identity_teardown(void)
{
	yurt_identity_free(&id);
}

TestSuite(identity, .fini = identity_teardown);

Test(identity, from_host_database)
{
	struct passwd *pw = getpwuid(getuid());
	struct group *gr = getgrgid(getgid());
	cr_assert(pw && gr, "the test user needs passwd and group entries");
	cr_assert_eq(yurt_identity_from_host(&id, getuid(), getgid(), false, &err), 0, "%s", err.msg);
	cr_assert_eq(id.uid, getuid());
	cr_assert_eq(id.gid, getgid());
	cr_assert_str_eq(id.name, pw->pw_name);
	cr_assert_str_eq(id.gecos, pw->pw_gecos);
	cr_assert_str_eq(id.home, pw->pw_dir);
	cr_assert_str_eq(id.shell, pw->pw_shell[0] ? pw->pw_shell : "/bin/sh");
	cr_assert_str_eq(id.group, gr->gr_name);
}

Test(identity, fake_root)
{
	cr_assert_eq(yurt_identity_from_host(&id, 1000, 1000, true, &err), 0, "%s", err.msg);
	cr_assert_eq(id.uid, 0);
	cr_assert_eq(id.gid, 0);
	cr_assert_str_eq(id.name, "root");
	cr_assert_str_eq(id.group, "root");
	cr_assert_str_eq(id.home, "/root");
	cr_assert_str_eq(id.shell, "/bin/sh");
}

Test(identity, unknown_ids_get_made_up_names, .init = cr_redirect_stderr)
{
	const uid_t uid = 3999999;
	const gid_t gid = 3999998;
	cr_assert_null(getpwuid(uid), "uid %u must be unused", uid);
	cr_assert_null(getgrgid(gid), "gid %u must be unused", gid);
	cr_assert_eq(yurt_identity_from_host(&id, uid, gid, false, &err), 0, "%s", err.msg);
	cr_assert_str_eq(id.name, "uid3999999");
	cr_assert_str_eq(id.group, "gid3999998");
	cr_assert_str_eq(id.home, "/");
	cr_assert_str_eq(id.shell, "/bin/sh");
	cr_assert_str_eq(id.gecos, "");
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"yurt: warning: user database: no entry for uid 3999999; calling it uid3999999\n"
		"yurt: warning: user database: no entry for gid 3999998; calling it gid3999998\n");
}
