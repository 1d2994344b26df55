/* Instances' state: names, the directory's checks, the record, the holder
 * check's parsing, the signature, the --join key. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance.h"
#include "state.h"

static struct yurt_err err;

Test(state, names)
{
	const char *good[] = { "a", "web-1", "123.4", "A_b+c", "x.y.z" };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		cr_expect_eq(yurt_state_name_check("name", good[i], &err), 0, "%s", good[i]);
	char long_name[YURT_NAME_MAX + 2];
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[YURT_NAME_MAX + 1] = '\0';
	struct { const char *name, *why; } bad[] = {
		{ "", "must not be empty" },
		{ ".hidden", "must not start with '.'" },
		{ "..", "must not start with '.'" },
		{ "a/b", "only letters, digits and . _ + - are allowed" },
		{ "a b", "only letters" },
		{ "a\nb", "only letters" },
		{ "caf\xc3\xa9", "only letters" },
		{ long_name, "longer than 64 characters" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cr_expect_eq(yurt_state_name_check("instance name", bad[i].name, &err), -1, "%s", bad[i].name);
		cr_expect(strstr(err.msg, bad[i].why), "%s: %s", bad[i].name, err.msg);
		cr_expect_eq(strncmp(err.msg, "instance name '", 15), 0, "%s", err.msg);
	}
	long_name[YURT_NAME_MAX] = '\0';
	cr_expect_eq(yurt_state_name_check("name", long_name, &err), 0);
}

Test(state, directory_must_be_the_users_and_private)
{
	struct stat st = { .st_mode = S_IFDIR | 0700, .st_uid = 1000 };
	cr_expect_eq(yurt_state_dir_check(&st, 1000, "/d", &err), 0);
	cr_expect_eq(yurt_state_dir_check(&st, 1001, "/d", &err), -1);
	cr_expect(strstr(err.msg, "owned by uid 1000, not by you (uid 1001)"), "%s", err.msg);
	st.st_mode = S_IFDIR | 0755;
	cr_expect_eq(yurt_state_dir_check(&st, 1000, "/d", &err), -1);
	cr_expect(strstr(err.msg, "mode 0755 lets other users in"), "%s", err.msg);
	cr_expect(strstr(err.hint, "chmod 700 /d"), "%s", err.hint);
	st.st_mode = S_IFDIR | 0701;
	cr_expect_eq(yurt_state_dir_check(&st, 1000, "/d", &err), -1);
	st.st_mode = S_IFREG | 0600;
	cr_expect_eq(yurt_state_dir_check(&st, 1000, "/d", &err), -1);
	cr_expect(strstr(err.msg, "not a directory"), "%s", err.msg);
}

static struct yurt_instance_info sample(void)
{
	struct yurt_instance_info info = {
		.pid = 4242, .start_time = 123456789012ULL, .started = 1700000000, .joined = true,
		.fake_root = false, .pid_ns = true, .signature = 0x0123456789abcdefULL,
	};
	strcpy(info.image, "/images/with space/a.sqfs");
	strcpy(info.workdir, "/home/u/proj");
	return info;
}

Test(state, record_round_trip)
{
	char text[3 * PATH_MAX];
	struct yurt_instance_info in = sample(), out;
	cr_assert_eq(yurt_instance_info_format(&in, text, sizeof text, &err), 0);
	cr_expect(strstr(text, "pid=4242\n"));
	cr_expect(strstr(text, "mode=join\n"));
	cr_expect(strstr(text, "signature=0123456789abcdef\n"));
	cr_assert_eq(yurt_instance_info_parse(&out, text, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(&in, &out, sizeof in), 0);
}

Test(state, record_ignores_unknown_keys)
{
	char text[3 * PATH_MAX];
	struct yurt_instance_info in = sample(), out;
	cr_assert_eq(yurt_instance_info_format(&in, text, sizeof text, &err), 0);
	strcat(text, "future=1\n");
	cr_expect_eq(yurt_instance_info_parse(&out, text, &err), 0, "%s", err.msg);
}

Test(state, record_refuses_what_it_cannot_trust)
{
	char text[3 * PATH_MAX];
	struct yurt_instance_info in = sample(), out;
	cr_assert_eq(yurt_instance_info_format(&in, text, sizeof text, &err), 0);
	struct { const char *from, *to, *why; } edits[] = {
		{ "pid=4242", "pid=0", "pid=0: not a valid value" },
		{ "pid=4242", "pid=-1", "pid=-1: not a valid value" },
		{ "pid=4242", "pid=12x", "pid=12x" },
		{ "pid=4242", "pod=4242", "no pid" },
		{ "version=1", "version=2", "version=2" },
		{ "mode=join", "mode=other", "mode=other" },
		{ "root=0", "root=2", "root=2" },
		{ "workdir=/home", "workdir=home", "workdir=home" },
		{ "\nimage=", "\nimage ", "not key=value" },
	};
	for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
		char copy[sizeof text];
		char *at = strstr(strcpy(copy, text), edits[i].from);
		cr_assert(at, "%s", edits[i].from);
		memmove(at + strlen(edits[i].to), at + strlen(edits[i].from), strlen(at + strlen(edits[i].from)) + 1);
		memcpy(at, edits[i].to, strlen(edits[i].to));
		cr_expect_eq(yurt_instance_info_parse(&out, copy, &err), -1, "%s", copy);
		cr_expect(strstr(err.msg, edits[i].why), "%s: %s", edits[i].why, err.msg);
	}
	cr_expect_eq(yurt_instance_info_parse(&out, "", &err), -1);
	strcpy(in.image, "/a\nworkdir=/etc");
	cr_expect_eq(yurt_instance_info_format(&in, text, sizeof text, &err), -1);
}

Test(state, proc_stat)
{
	unsigned long long start;
	char state;
	const char *text = "4242 (a) b) (c d) S 1 4242 4242 0 -1 4194560 155 0 0 0 0 0 0 0 20 0 1 0 "
			   "987654 8765440 380 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n";
	cr_assert_eq(yurt_proc_stat_parse(text, &start, &state), 0);
	cr_expect_eq(start, 987654ULL);
	cr_expect_eq(state, 'S');
	cr_assert_eq(yurt_proc_stat_parse("7 (z) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n", &start, &state), 0);
	cr_expect_eq(state, 'Z');
	cr_expect_eq(start, 55ULL);
	cr_expect_eq(yurt_proc_stat_parse("7 (short) S 1 2\n", &start, &state), -1);
	cr_expect_eq(yurt_proc_stat_parse("no parenthesis", &start, &state), -1);
	unsigned long long self;
	cr_expect_eq(yurt_proc_self_start_time(&self, &err), 0);
	cr_expect_gt(self, 0ULL);
}

static struct yurt_mount mounts[] = {
	{ .kind = YURT_MOUNT_BIND, .src = "/home/u", .dst = "/home/u" },
	{ .kind = YURT_MOUNT_PROC, .dst = "/proc" },
};

static struct yurt_plan plan = { .mounts = mounts, .nmounts = 2, .workdir = "/home/u", .uid = 1000, .gid = 1000 };

Test(state, signature_changes_with_what_the_container_is)
{
	uint64_t base = yurt_instance_signature(&plan, "/i.sqfs", false);
	cr_expect_eq(base, yurt_instance_signature(&plan, "/i.sqfs", false));
	cr_expect_neq(base, yurt_instance_signature(&plan, "/j.sqfs", false));
	cr_expect_neq(base, yurt_instance_signature(&plan, "/i.sqfs", true));
	struct yurt_plan p = plan;
	p.uid = 0;
	cr_expect_neq(base, yurt_instance_signature(&p, "/i.sqfs", false));
	p = plan;
	p.workdir = "/";
	cr_expect_neq(base, yurt_instance_signature(&p, "/i.sqfs", false));
	p = plan;
	p.nmounts = 1;
	cr_expect_neq(base, yurt_instance_signature(&p, "/i.sqfs", false));
	mounts[0].readonly = true;
	cr_expect_neq(base, yurt_instance_signature(&plan, "/i.sqfs", false));
	mounts[0].readonly = false;
	/* The same strings split differently are another plan. */
	mounts[0].src = "/home/u/home";
	mounts[0].dst = "/u";
	cr_expect_neq(base, yurt_instance_signature(&plan, "/i.sqfs", false));
}

Test(state, join_key)
{
	char key[YURT_NAME_MAX + 1];
	unsetenv("SLURM_JOB_ID");
	unsetenv("SLURM_STEP_ID");
	cr_expect_eq(yurt_join_key("mine", key, &err), 0);
	cr_expect_str_eq(key, "mine");
	cr_expect_eq(yurt_join_key("../x", key, &err), -1);
	cr_expect_eq(yurt_join_key(NULL, key, &err), -1);
	cr_expect(strstr(err.msg, "outside a Slurm step"), "%s", err.msg);
	cr_expect(strstr(err.hint, "--join=KEY"), "%s", err.hint);
	setenv("SLURM_JOB_ID", "4711", 1);
	cr_expect_eq(yurt_join_key(NULL, key, &err), -1);
	setenv("SLURM_STEP_ID", "0", 1);
	cr_expect_eq(yurt_join_key(NULL, key, &err), 0);
	cr_expect_str_eq(key, "4711.0");
	cr_expect_eq(yurt_join_key("given", key, &err), 0);
	cr_expect_str_eq(key, "given");
	unsetenv("SLURM_JOB_ID");
	unsetenv("SLURM_STEP_ID");
}

static char root[] = "/tmp/yurt-test-state.XXXXXX";

static void make_root(void)
{
	cr_assert_not_null(mkdtemp(root));
	setenv("XDG_RUNTIME_DIR", root, 1);
}

static void remove_root(void)
{
	char cmd[PATH_MAX];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(state_dir, .init = make_root, .fini = remove_root);

Test(state_dir, made_private_and_checked)
{
	struct yurt_state_dir dir;
	char path[PATH_MAX];
	struct stat st;
	cr_assert_eq(yurt_state_dir_open(&dir, &err), 0, "%s", err.msg);
	snprintf(path, sizeof path, "%s/yurt", root);
	cr_expect_str_eq(dir.path, path);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0700);
	yurt_state_dir_close(&dir);
	chmod(path, 0750);
	cr_expect_eq(yurt_state_dir_open(&dir, &err), -1);
	cr_expect(strstr(err.msg, "mode 0750"), "%s", err.msg);
	cr_expect_eq(dir.fd, -1);
	rmdir(path);
	cr_assert_eq(symlink("/tmp", path), 0);
	cr_expect_eq(yurt_state_dir_open(&dir, &err), -1);
	cr_expect(strstr(err.msg, "a symlink or a file"), "%s", err.msg);
	unlink(path);
	/* A missing XDG_RUNTIME_DIR, as Slurm may pass on: /tmp/yurt-UID. */
	setenv("XDG_RUNTIME_DIR", "/nonexistent/run", 1);
	cr_assert_eq(yurt_state_dir_open(&dir, &err), 0, "%s", err.msg);
	snprintf(path, sizeof path, "/tmp/yurt-%u", (unsigned)getuid());
	cr_expect_str_eq(dir.path, path);
	yurt_state_dir_close(&dir);
}

Test(state_dir, files_round_trip)
{
	struct yurt_state_dir dir;
	struct yurt_instance_info in = sample(), out;
	struct yurt_strv env = { 0 };
	char *vars[] = { "A=1", "MULTI=line one\nline two", "EMPTY=", "ODD NAME%%=x", NULL };
	cr_assert_eq(yurt_state_dir_open(&dir, &err), 0, "%s", err.msg);
	cr_expect_eq(yurt_state_read(&dir, "x", &out, &err), 1);
	cr_assert_eq(yurt_state_write(&dir, "x", &in, &err), 0, "%s", err.msg);
	cr_assert_eq(yurt_state_read(&dir, "x", &out, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(&in, &out, sizeof in), 0);
	cr_assert_eq(yurt_state_write_env(&dir, "x", vars, &err), 0, "%s", err.msg);
	cr_assert_eq(yurt_state_read_env(&dir, "x", &env, &err), 0, "%s", err.msg);
	cr_assert_eq(env.n, 4);
	for (size_t i = 0; i < 4; i++)
		cr_expect_str_eq(env.v[i], vars[i]);
	cr_expect_null(env.v[4]);
	yurt_strv_free(&env);

	int fd = openat(dir.fd, "y.state", O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "garbage\n", 8), 8);
	close(fd);
	cr_expect_eq(yurt_state_read(&dir, "y", &out, &err), -1);
	cr_expect(strstr(err.msg, "instance y: "), "%s", err.msg);

	yurt_state_remove(&dir, "x", true);
	cr_expect_eq(yurt_state_read(&dir, "x", &out, &err), 1);
	cr_expect_eq(faccessat(dir.fd, "x.env", F_OK, 0), -1);
	yurt_state_dir_close(&dir);
}

Test(state_dir, locks)
{
	struct yurt_state_dir dir;
	cr_assert_eq(yurt_state_dir_open(&dir, &err), 0, "%s", err.msg);
	cr_expect_eq(yurt_state_lock(&dir, "l", LOCK_SH, false, &err), -1);
	cr_expect_eq(err.errnum, ENOENT);
	int a = yurt_state_lock(&dir, "l", LOCK_SH, true, &err);
	int b = yurt_state_lock(&dir, "l", LOCK_SH, false, &err);
	cr_assert_geq(a, 0);
	cr_assert_geq(b, 0, "shared locks go together");
	close(b);
	/* Removed by its exclusive holder: the next lock is on a new file,
	 * which nobody holds. */
	int c = yurt_state_lock_open(&dir, "l", false, &err);
	cr_assert_geq(c, 0);
	cr_expect_eq(flock(c, LOCK_EX | LOCK_NB), -1, "a shared lock is held");
	close(a);
	int ex = yurt_state_lock(&dir, "l", LOCK_EX, false, &err);
	cr_assert_geq(ex, 0);
	yurt_state_remove(&dir, "l", true);
	int d = yurt_state_lock(&dir, "l", LOCK_EX | LOCK_NB, true, &err);
	cr_expect_geq(d, 0, "%s", err.msg);
	close(c);
	close(d);
	close(ex);
	yurt_state_dir_close(&dir);
}
