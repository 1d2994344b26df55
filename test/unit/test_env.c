#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env.h"

static struct yurt_env env;
static struct yurt_err err;

static void teardown(void)
{
	yurt_env_free(&env);
}

TestSuite(env, .fini = teardown);

static int parse_string(const char *text, char *const *host)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	cr_assert(f);
	int rc = yurt_env_parse_file(&env, f, "env file t", host, &err);
	fclose(f);
	return rc;
}

static int parse_image_string(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	cr_assert(f);
	int rc = yurt_env_parse_image_file(&env, f, "image env file t", &err);
	fclose(f);
	return rc;
}

Test(env, set_get_replace)
{
	cr_assert_eq(yurt_env_set(&env, "A", "1"), 0);
	cr_assert_eq(yurt_env_set(&env, "AB", "2"), 0);
	cr_assert_eq(yurt_env_set(&env, "A", "3"), 0);
	cr_assert_eq(env.n, 2);
	cr_assert_str_eq(yurt_env_get(&env, "A"), "3");
	cr_assert_str_eq(yurt_env_get(&env, "AB"), "2");
	cr_assert_null(yurt_env_get(&env, "B"));
	cr_assert_null(env.v[env.n], "NULL-terminated for execve");
}

Test(env, assignment_splits_at_first_equals)
{
	cr_assert_eq(yurt_env_set_assignment(&env, "FLAGS=-march=x -O2", NULL, &err), 0);
	cr_assert_eq(yurt_env_set_assignment(&env, "EMPTY=", NULL, &err), 0);
	cr_assert_str_eq(yurt_env_get(&env, "FLAGS"), "-march=x -O2");
	cr_assert_str_eq(yurt_env_get(&env, "EMPTY"), "");
}

Test(env, name_alone_passes_the_hosts_value)
{
	char *host[] = { "FOOBAR=no", "FOO=from host", NULL };
	cr_assert_eq(yurt_env_set_assignment(&env, "FOO", host, &err), 0);
	cr_assert_str_eq(yurt_env_get(&env, "FOO"), "from host");
	cr_assert_eq(yurt_env_set(&env, "KEEP", "image"), 0);
	cr_assert_eq(yurt_env_set_assignment(&env, "KEEP", host, &err), 0);
	cr_assert_str_eq(yurt_env_get(&env, "KEEP"), "image", "unset on the host: unchanged");
	cr_assert_eq(yurt_env_set_assignment(&env, "NONE", NULL, &err), 0);
	cr_assert_null(yurt_env_get(&env, "NONE"));
}

Test(env, invalid_names)
{
	cr_assert_eq(yurt_env_set_assignment(&env, "=x", NULL, &err), -1);
	cr_assert_str_eq(err.msg, "invalid variable name '': empty name");
	cr_assert_eq(yurt_env_set_assignment(&env, "1X=y", NULL, &err), -1);
	cr_assert_str_eq(err.msg, "invalid variable name '1X': starts with a digit");
	cr_assert_eq(yurt_env_set_assignment(&env, "A B=y", NULL, &err), -1);
	cr_assert_str_eq(err.msg, "invalid variable name 'A B': contains whitespace");
	cr_assert_eq(yurt_env_set_assignment(&env, "", NULL, &err), -1);
	cr_assert_eq(env.n, 0);
}

Test(env, file_comments_blank_lines_and_verbatim_values)
{
	const char *text =
		"# a comment\n"
		"\n"
		"   \t\n"
		"  # indented comment\n"
		"  INDENTED=yes\n"
		"QUOTED=\"a b\"\n"
		"SINGLE='c'\n"
		"HASH=x # not a comment\n"
		"TRAIL=v  \n"
		"DOLLAR=$HOME\n"
		"LEAD= v\n";
	cr_assert_eq(parse_string(text, NULL), 0, "%s", err.msg);
	cr_assert_eq(env.n, 7);
	cr_assert_str_eq(yurt_env_get(&env, "INDENTED"), "yes");
	cr_assert_str_eq(yurt_env_get(&env, "QUOTED"), "\"a b\"");
	cr_assert_str_eq(yurt_env_get(&env, "SINGLE"), "'c'");
	cr_assert_str_eq(yurt_env_get(&env, "HASH"), "x # not a comment");
	cr_assert_str_eq(yurt_env_get(&env, "TRAIL"), "v  ");
	cr_assert_str_eq(yurt_env_get(&env, "DOLLAR"), "$HOME");
	cr_assert_str_eq(yurt_env_get(&env, "LEAD"), " v");
}

Test(env, file_export_prefix)
{
	char *host[] = { "H=host", NULL };
	cr_assert_eq(parse_string("export A=1\nexport\t B=2\nexport=3\nexport H\n", host), 0,
		     "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "A"), "1");
	cr_assert_str_eq(yurt_env_get(&env, "B"), "2");
	cr_assert_str_eq(yurt_env_get(&env, "export"), "3");
	cr_assert_str_eq(yurt_env_get(&env, "H"), "host");
}

Test(env, file_later_line_wins_and_name_alone)
{
	char *host[] = { "FROM_HOST=h", NULL };
	cr_assert_eq(parse_string("A=1\nA=2\nFROM_HOST\nNOT_ON_HOST\n", host), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "A"), "2");
	cr_assert_str_eq(yurt_env_get(&env, "FROM_HOST"), "h");
	cr_assert_null(yurt_env_get(&env, "NOT_ON_HOST"));
	cr_assert_eq(env.n, 2);
}

Test(env, file_crlf_and_missing_final_newline)
{
	cr_assert_eq(parse_string("A=1\r\n# c\r\n\r\nB=2\r\nC=3", NULL), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "A"), "1");
	cr_assert_str_eq(yurt_env_get(&env, "B"), "2");
	cr_assert_str_eq(yurt_env_get(&env, "C"), "3");
}

Test(env, file_huge_line)
{
	size_t n = 4 << 20;
	char *text = malloc(n + 16);
	cr_assert(text);
	strcpy(text, "BIG=");
	memset(text + 4, 'x', n);
	strcpy(text + 4 + n, "\nB=1\n");
	cr_assert_eq(parse_string(text, NULL), 0, "%s", err.msg);
	cr_assert_eq(strlen(yurt_env_get(&env, "BIG")), n);
	cr_assert_str_eq(yurt_env_get(&env, "B"), "1");
	free(text);
}

Test(env, file_errors_name_the_line)
{
	cr_assert_eq(parse_string("# c\n\nA=1\n2B=x\n", NULL), -1);
	cr_assert_str_eq(err.msg, "env file t:4: invalid variable name '2B': starts with a digit");
	cr_assert_eq(parse_string("FOO = bar\n", NULL), -1);
	cr_assert_str_eq(err.msg, "env file t:1: invalid variable name 'FOO ': contains whitespace");
	cr_assert_eq(parse_string("A=1\r\n=x\r\n", NULL), -1);
	cr_assert_str_eq(err.msg, "env file t:2: invalid variable name '': empty name");
}

Test(env, file_nul_byte_is_an_error)
{
	static const char text[] = "A=1\nB=x\0y\n";
	FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
	cr_assert(f);
	cr_assert_eq(yurt_env_parse_file(&env, f, "env file t", NULL, &err), -1);
	fclose(f);
	cr_assert_str_eq(err.msg, "env file t:2: contains a NUL byte");
}

Test(env, image_file_skips_bad_lines, .init = cr_redirect_stderr)
{
	cr_assert_eq(parse_image_string("A=1\n1X=2\nNAME_ONLY\nB=3\n"), 0, "%s", err.msg);
	cr_assert_eq(env.n, 2);
	cr_assert_str_eq(yurt_env_get(&env, "A"), "1");
	cr_assert_str_eq(yurt_env_get(&env, "B"), "3");
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"yurt: warning: image env file t:2: invalid variable name '1X': starts with a digit; line skipped\n"
		"yurt: warning: image env file t:3: missing '=': NAME_ONLY; line skipped\n");
}

/* An image root in a temporary directory; returns its fd. */
static char root[] = "/tmp/yurt-test-env-XXXXXX";

static void write_file(const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static int make_root(void)
{
	cr_assert(mkdtemp(root));
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	return fd;
}

static void remove_root(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}

Test(env, image_yurt_env_wins_over_charliecloud)
{
	int fd = make_root();
	cr_assert_eq(mkdirat(fd, "ch", 0755), 0);
	cr_assert_eq(mkdirat(fd, ".yurt", 0755), 0);
	write_file("ch/environment", "A=ch\nB=ch\n");
	write_file(".yurt/env", "B=yurt\nC=yurt\n");
	cr_assert_eq(yurt_env_load_image(&env, fd, &err), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "A"), "ch");
	cr_assert_str_eq(yurt_env_get(&env, "B"), "yurt");
	cr_assert_str_eq(yurt_env_get(&env, "C"), "yurt");
	close(fd);
	remove_root();
}

Test(env, image_without_env_files)
{
	int fd = make_root();
	write_file("ch", "a file, not a directory\n");
	cr_assert_eq(yurt_env_load_image(&env, fd, &err), 0, "%s", err.msg);
	cr_assert_eq(env.n, 0);
	close(fd);
	remove_root();
}

Test(env, image_env_symlink_stays_inside_the_image)
{
	int fd = make_root();
	cr_assert_eq(mkdirat(fd, ".yurt", 0755), 0);
	/* /etc/hostname exists on the host, not in the image: nothing is read. */
	cr_assert_eq(symlinkat("/etc/hostname", fd, ".yurt/env"), 0);
	cr_assert_eq(yurt_env_load_image(&env, fd, &err), 0, "%s", err.msg);
	cr_assert_eq(env.n, 0);
	cr_assert_eq(mkdirat(fd, "etc", 0755), 0);
	write_file("etc/hostname", "INSIDE=1\n");
	cr_assert_eq(yurt_env_load_image(&env, fd, &err), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "INSIDE"), "1");
	close(fd);
	remove_root();
}

Test(env, image_env_fifo_does_not_hang, .timeout = 10)
{
	int fd = make_root();
	cr_assert_eq(mkdirat(fd, "ch", 0755), 0);
	cr_assert_eq(mkfifoat(fd, "ch/environment", 0644), 0);
	cr_assert_eq(yurt_env_load_image(&env, fd, &err), -1);
	cr_assert_str_eq(err.msg, "image env file /ch/environment: not a regular file");
	close(fd);
	remove_root();
}

Test(env, image_env_bad_line_warns_with_path, .init = cr_redirect_stderr)
{
	int fd = make_root();
	cr_assert_eq(mkdirat(fd, ".yurt", 0755), 0);
	write_file(".yurt/env", "OK=1\n=bad\n");
	cr_assert_eq(yurt_env_load_image(&env, fd, &err), 0, "%s", err.msg);
	fflush(stderr);
	cr_assert_stderr_eq_str("yurt: warning: image env file /.yurt/env:2: invalid variable "
				"name '': empty name; line skipped\n");
	close(fd);
	remove_root();
}

/* yurt_env_user + yurt_env_build, as the runtime calls them */

static int build_env(struct yurt_env *out, char **host, struct yurt_env *image_env,
		     const struct yurt_request *r, struct yurt_err *e)
{
	struct yurt_env user;
	*out = (struct yurt_env){ 0 };
	if (yurt_env_user(&user, host, r, e))
		return -1;
	int rc = yurt_env_build(out, host, image_env, &user, r->clean_env, e);
	yurt_env_free(&user);
	return rc;
}

static struct yurt_request req;
static struct yurt_env image;

static void build_teardown(void)
{
	yurt_env_free(&env);
	yurt_env_free(&image);
	yurt_request_free(&req);
}

TestSuite(build, .fini = build_teardown);

Test(build, host_passes_through_and_image_path_wins)
{
	char *host[] = { "PATH=/host/bin", "HOME=/home/u", "LD_LIBRARY_PATH=/host/lib",
			 "BASH_FUNC_ml%%=() {  x\n}", "junk-without-equals", NULL };
	cr_assert_eq(yurt_env_set(&image, "PATH", "/image/bin"), 0);
	cr_assert_eq(build_env(&env, host, &image, &req, &err), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "PATH"), "/image/bin");
	cr_assert_str_eq(yurt_env_get(&env, "HOME"), "/home/u");
	cr_assert_str_eq(yurt_env_get(&env, "LD_LIBRARY_PATH"), "/host/lib");
	cr_assert_str_eq(yurt_env_get(&env, "BASH_FUNC_ml%%"), "() {  x\n}");
	cr_assert_eq(env.n, 4);
	cr_assert_null(env.v[env.n]);
}

Test(build, host_path_kept_when_image_sets_none)
{
	char *host[] = { "PATH=/host/bin", NULL };
	cr_assert_eq(build_env(&env, host, &image, &req, &err), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "PATH"), "/host/bin");
}

Test(build, default_path_when_nobody_sets_one)
{
	char *host[] = { NULL };
	cr_assert_eq(build_env(&env, host, NULL, &req, &err), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "PATH"),
			 "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	cr_assert_eq(env.n, 1);
}

Test(build, clean_env_keeps_essentials_and_job_families)
{
	char *host[] = {
		"PATH=/host/bin", "HOME=/home/u", "USER=u", "TERM=xterm", "HOMEDIR=no",
		"SLURM_JOB_ID=7", "PMI_RANK=1", "PMIX_RANK=2", "OMPI_COMM_WORLD_SIZE=3",
		"HWLOC_XMLFILE=/x", "SLURM=no", "PMIX=no", "LD_PRELOAD=/evil.so", "TERMINFO=no",
		"SECRET=no", NULL,
	};
	req.clean_env = true;
	cr_assert_eq(build_env(&env, host, NULL, &req, &err), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "PATH"), yurt_default_path);
	cr_assert_str_eq(yurt_env_get(&env, "HOME"), "/home/u");
	cr_assert_str_eq(yurt_env_get(&env, "USER"), "u");
	cr_assert_str_eq(yurt_env_get(&env, "TERM"), "xterm");
	cr_assert_str_eq(yurt_env_get(&env, "SLURM_JOB_ID"), "7");
	cr_assert_str_eq(yurt_env_get(&env, "PMI_RANK"), "1");
	cr_assert_str_eq(yurt_env_get(&env, "PMIX_RANK"), "2");
	cr_assert_str_eq(yurt_env_get(&env, "OMPI_COMM_WORLD_SIZE"), "3");
	cr_assert_str_eq(yurt_env_get(&env, "HWLOC_XMLFILE"), "/x");
	cr_assert_eq(env.n, 9, "no other variable: %zu", env.n);
}

Test(build, clean_env_takes_image_path_and_variables)
{
	char *host[] = { "PATH=/host/bin", "FOO=host", NULL };
	cr_assert_eq(yurt_env_set(&image, "PATH", "/image/bin"), 0);
	cr_assert_eq(yurt_env_set(&image, "LANG", "C.UTF-8"), 0);
	req.clean_env = true;
	cr_assert_eq(build_env(&env, host, &image, &req, &err), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "PATH"), "/image/bin");
	cr_assert_str_eq(yurt_env_get(&env, "LANG"), "C.UTF-8");
	cr_assert_null(yurt_env_get(&env, "FOO"));
}

Test(build, clean_env_name_alone_still_passes_the_host_value)
{
	char *host[] = { "FOO=host", NULL };
	req.clean_env = true;
	cr_assert_eq(yurt_strv_push(&req.env_sets, "FOO"), 0);
	cr_assert_eq(build_env(&env, host, NULL, &req, &err), 0, "%s", err.msg);
	cr_assert_str_eq(yurt_env_get(&env, "FOO"), "host");
}

static char envfile[2][64];

static void write_env_files(void)
{
	const char *text[2] = { "A=file1\nB=file1\nC=file1\n", "B=file2\n" };
	for (int i = 0; i < 2; i++) {
		snprintf(envfile[i], sizeof envfile[i], "/tmp/yurt-test-envfile-XXXXXX");
		int fd = mkstemp(envfile[i]);
		cr_assert(fd >= 0);
		cr_assert_eq(write(fd, text[i], strlen(text[i])), (ssize_t)strlen(text[i]));
		close(fd);
		cr_assert_eq(yurt_strv_push(&req.env_files, envfile[i]), 0);
	}
}

Test(build, order_host_image_files_options)
{
	char *host[] = { "A=host", "B=host", "C=host", "D=host", "E=host", NULL };
	cr_assert_eq(yurt_env_set(&image, "A", "image"), 0);
	cr_assert_eq(yurt_env_set(&image, "B", "image"), 0);
	cr_assert_eq(yurt_env_set(&image, "D", "image"), 0);
	write_env_files();
	cr_assert_eq(yurt_strv_push(&req.env_sets, "C=option"), 0);
	cr_assert_eq(yurt_strv_push(&req.env_sets, "C=option2"), 0);
	cr_assert_eq(build_env(&env, host, &image, &req, &err), 0, "%s", err.msg);
	unlink(envfile[0]);
	unlink(envfile[1]);
	cr_assert_str_eq(yurt_env_get(&env, "A"), "file1");
	cr_assert_str_eq(yurt_env_get(&env, "B"), "file2");
	cr_assert_str_eq(yurt_env_get(&env, "C"), "option2");
	cr_assert_str_eq(yurt_env_get(&env, "D"), "image");
	cr_assert_str_eq(yurt_env_get(&env, "E"), "host");
}

Test(build, option_error_is_prefixed_and_out_is_empty)
{
	char *host[] = { "A=1", NULL };
	cr_assert_eq(yurt_strv_push(&req.env_sets, "9LIVES=1"), 0);
	cr_assert_eq(build_env(&env, host, NULL, &req, &err), -1);
	cr_assert_str_eq(err.msg, "-e: invalid variable name '9LIVES': starts with a digit");
	cr_assert_eq(env.n, 0);
	cr_assert_null(env.v);
}

Test(build, missing_env_file)
{
	char *host[] = { NULL };
	cr_assert_eq(yurt_strv_push(&req.env_files, "/nonexistent/yurt.env"), 0);
	cr_assert_eq(build_env(&env, host, NULL, &req, &err), -1);
	cr_assert_str_eq(err.msg, "env file /nonexistent/yurt.env");
	cr_assert_eq(err.errnum, ENOENT);
}

Test(build, env_file_error_names_path_and_line)
{
	char *host[] = { NULL };
	char path[] = "/tmp/yurt-test-envfile-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "OK=1\n\nBAD NAME=2\n", 18), 18);
	close(fd);
	cr_assert_eq(yurt_strv_push(&req.env_files, path), 0);
	int rc = build_env(&env, host, NULL, &req, &err);
	unlink(path);
	cr_assert_eq(rc, -1);
	char want[256];
	snprintf(want, sizeof want,
		 "env file %s:3: invalid variable name 'BAD NAME': contains whitespace", path);
	cr_assert_str_eq(err.msg, want);
}
