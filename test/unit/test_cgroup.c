/* cgroup.c on a fake cgroupfs: plain directories and files in a temp dir,
 * laid out as ROOT/sys/fs/cgroup/cpuset (v1) and ROOT/sys/fs/cgroup/unified
 * (v2), as on a hybrid host. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"

static char root[64];         /* the fake tree */
static char v1[128];          /* ROOT/sys/fs/cgroup/cpuset */
static char v2[128];          /* ROOT/sys/fs/cgroup/unified */
static const char *fail_mkdir; /* mkdir of a path ending so fails, EACCES */

/* PID_MAX_LIMIT is 4194304: no process ever has a larger pid. */
#define DEAD_PID 4194305

static bool in_fake(const char *path)
{
	char prefix[PATH_MAX];
	snprintf(prefix, sizeof prefix, "%s/sys/fs/cgroup/", root);
	return root[0] && !strncmp(path, prefix, strlen(prefix));
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static void put(const char *content, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(const char *content, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof path, fmt, ap);
	va_end(ap);
	FILE *f = fopen(path, "w");
	cr_assert(f, "fopen %s: %s", path, strerror(errno));
	fputs(content, f);
	fclose(f);
}

/* The file's content, or "(none)" when it is missing; freed by the caller. */
static char *get(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *get(const char *fmt, ...)
{
	char path[PATH_MAX], *buf = NULL;
	size_t size = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof path, fmt, ap);
	va_end(ap);
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("(none)");
	ssize_t n = getdelim(&buf, &size, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof path, fmt, ap);
	va_end(ap);
	return access(path, F_OK) == 0;
}

#define assert_file(expected, ...)                                              \
	do {                                                                    \
		char *got_ = get(__VA_ARGS__);                                  \
		cr_assert_str_eq(got_, expected);                               \
		free(got_);                                                     \
	} while (0)

/* The fake kernel: a directory made in the tree gets the interface files of
 * its hierarchy; rmdir drops them, and fails like cgroupfs while a child
 * cgroup is left.  These replace libc's mkdir and rmdir in this binary, for
 * libyurt's calls too. */
int mkdir(const char *path, mode_t mode)
{
	static const char *const v1_files[] = { "cgroup.procs", "tasks", "cpuset.cpus", "cpuset.mems", NULL };
	static const char *const v2_files[] = { "cgroup.procs", "cgroup.subtree_control",
	                                        "cpuset.cpus", "cpuset.mems", NULL };
	if (in_fake(path) && fail_mkdir && ends_with(path, fail_mkdir)) {
		errno = EACCES;
		return -1;
	}
	if (mkdirat(AT_FDCWD, path, mode) < 0)
		return -1;
	if (!in_fake(path))
		return 0;
	bool unified = strstr(path + strlen(root), "/unified") != NULL;
	for (const char *const *name = unified ? v2_files : v1_files; *name; name++)
		put("", "%s/%s", path, *name);
	if (unified) {
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%s", path);
		*strrchr(parent, '/') = '\0';
		char *offered = get("%s/cgroup.subtree_control", parent);
		put(strstr(offered, "cpuset") ? "cpuset" : "", "%s/cgroup.controllers", path);
		free(offered);
	}
	return 0;
}

int rmdir(const char *path)
{
	if (in_fake(path)) {
		DIR *d = opendir(path);
		struct dirent *e;
		if (!d)
			return -1;
		while ((e = readdir(d))) {
			if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				closedir(d);
				errno = EBUSY;
				return -1;
			}
		}
		rewinddir(d);
		while ((e = readdir(d)))
			if (e->d_type == DT_REG)
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	return unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return unlinkat(AT_FDCWD, path, type == FTW_DP ? AT_REMOVEDIR : 0);
}

static void make_root(void)
{
	char path[PATH_MAX];
	snprintf(root, sizeof root, "/tmp/yurt-test-cgroup-XXXXXX");
	cr_assert(mkdtemp(root));
	/* Group and others may enter, for the test that drops privileges. */
	chmod(root, 0755);
	for (const char *p = "/sys", *q = "/sys/fs", *r = "/sys/fs/cgroup"; p; p = q, q = r, r = NULL) {
		snprintf(path, sizeof path, "%s%s", root, p);
		cr_assert(mkdirat(AT_FDCWD, path, 0755) == 0);
	}
	snprintf(v1, sizeof v1, "%s/sys/fs/cgroup/cpuset", root);
	snprintf(v2, sizeof v2, "%s/sys/fs/cgroup/unified", root);
	cr_assert(mkdir(v1, 0755) == 0);
	cr_assert(mkdir(v2, 0755) == 0);
	put("0-3", "%s/cpuset.cpus", v1);
	put("0", "%s/cpuset.mems", v1);
	put("hugetlb", "%s/cgroup.controllers", v2);
}

static void remove_root(void)
{
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	root[0] = '\0';
	fail_mkdir = NULL;
}

TestSuite(cgroup, .init = make_root, .fini = remove_root);

/* Start time of pid from /proc/PID/stat, as the job name carries it. */
static unsigned long long starttime(pid_t pid)
{
	char *stat = get("/proc/%d/stat", (int)pid), *save;
	char *field = strtok_r(strrchr(stat, ')') + 1, " ", &save);
	for (int i = 3; i < 22; i++)
		field = strtok_r(NULL, " ", &save);
	unsigned long long start = strtoull(field, NULL, 10);
	free(stat);
	return start;
}

static char *job_name(pid_t pid)
{
	char *name;
	cr_assert(asprintf(&name, "yurt-%d-%llu", (int)pid, starttime(pid)) > 0);
	return name;
}

static const char *const hybrid_mounts =
	"29 1 0:26 / /sys rw,nosuid - sysfs sysfs rw\n"
	"30 29 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime shared:12 - cgroup cgroup rw,cpuset\n"
	"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* --- --cgroup=MODE --- */

Test(cgroup, mode_parse)
{
	enum yurt_cgroup_mode mode;
	struct yurt_err err;
	cr_assert_eq(yurt_cgroup_mode_parse(&mode, "auto", &err), 0);
	cr_assert_eq(mode, YURT_CGROUP_AUTO);
	cr_assert_eq(yurt_cgroup_mode_parse(&mode, "require", &err), 0);
	cr_assert_eq(mode, YURT_CGROUP_REQUIRE);
	cr_assert_eq(yurt_cgroup_mode_parse(&mode, "off", &err), 0);
	cr_assert_eq(mode, YURT_CGROUP_OFF);
	cr_assert_eq(yurt_cgroup_mode_parse(&mode, "on", &err), -1);
	cr_assert_str_eq(err.msg, "--cgroup=on: unknown mode (auto, require or off)");
	cr_assert_eq(err.status, 125);
}

Test(cgroup, start_off_touches_nothing)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	cr_assert_eq(yurt_cgroup_start(&job, YURT_CGROUP_OFF, 4, &err), 1);
	cr_assert_null(job.dir);
	yurt_cgroup_teardown(&job);
}

/* --- Detection --- */

Test(cgroup, find_v1)
{
	struct yurt_cgroup_delegation deleg;
	struct yurt_err err;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/yurt-test-user", v1);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(yurt_cgroup_find(&deleg, "4:memory:/\n3:cpuset:/yurt-test-user\n1:cpu:/\n",
	                              "33 30 0:30 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n",
	                              root, &err), 0, "%s", err.msg);
	cr_assert_eq(deleg.version, 1);
	cr_assert_str_eq(deleg.dir, dir);
	yurt_cgroup_delegation_free(&deleg);
}

Test(cgroup, find_v1_joined_controllers_and_mount_root)
{
	/* cpuset co-mounted with cpu; the mount shows only /batch, so the
	 * process's /batch/job1 is /job1 below it, at a path with a space. */
	struct yurt_cgroup_delegation deleg;
	struct yurt_err err;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/sys/fs/cgroup/cpu set", root);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/sys/fs/cgroup/cpu set/job1", root);
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_assert_eq(yurt_cgroup_find(&deleg, "5:cpu,cpuset:/batch/job1\n",
	                              "50 30 0:40 /other /mnt rw - cgroup cgroup rw,cpu,cpuset\n"
	                              "51 30 0:40 /batch /sys/fs/cgroup/cpu\\040set rw - cgroup cgroup rw,cpu,cpuset\n",
	                              root, &err), 0, "%s", err.msg);
	cr_assert_str_eq(deleg.dir, path);
	yurt_cgroup_delegation_free(&deleg);
}

Test(cgroup, find_v2)
{
	struct yurt_cgroup_delegation deleg;
	struct yurt_err err;
	char dir[PATH_MAX];
	put("cpuset cpu", "%s/cgroup.subtree_control", v2);
	snprintf(dir, sizeof dir, "%s/job", v2);
	cr_assert_eq(mkdir(dir, 0755), 0);
	put("", "%s/cgroup.procs", dir);
	cr_assert_eq(yurt_cgroup_find(&deleg, "0::/job\n",
	                              "40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
	                              root, &err), 0, "%s", err.msg);
	cr_assert_eq(deleg.version, 2);
	cr_assert_str_eq(deleg.dir, dir);
	yurt_cgroup_delegation_free(&deleg);
}

Test(cgroup, find_prefers_v2)
{
	struct yurt_cgroup_delegation deleg;
	struct yurt_err err;
	char procs[32];
	put("cpuset", "%s/cgroup.controllers", v2);
	snprintf(procs, sizeof procs, "%d\n", (int)getpid());
	put(procs, "%s/cgroup.procs", v2);
	cr_assert_eq(yurt_cgroup_find(&deleg, "3:cpuset:/\n0::/\n", hybrid_mounts, root, &err), 0);
	cr_assert_eq(deleg.version, 2);
	cr_assert_str_eq(deleg.dir, v2);
	yurt_cgroup_delegation_free(&deleg);
}

Test(cgroup, find_hybrid_falls_to_v1)
{
	/* As on this project's hosts: cpuset is bound to v1, so the v2 hierarchy
	 * does not offer it. */
	struct yurt_cgroup_delegation deleg;
	struct yurt_err err;
	cr_assert_eq(yurt_cgroup_find(&deleg, "3:cpuset:/\n0::/\n", hybrid_mounts, root, &err), 0);
	cr_assert_eq(deleg.version, 1);
	cr_assert_str_eq(deleg.dir, v1);
	yurt_cgroup_delegation_free(&deleg);
}

Test(cgroup, find_v2_with_other_processes)
{
	struct yurt_cgroup_delegation deleg;
	struct yurt_err err;
	char expected[PATH_MAX + 128], procs[32];
	put("cpuset", "%s/cgroup.controllers", v2);
	snprintf(procs, sizeof procs, "%d\n1\n", (int)getpid());
	put(procs, "%s/cgroup.procs", v2);
	cr_assert_eq(yurt_cgroup_find(&deleg, "0::/\n", hybrid_mounts, root, &err), 1);
	snprintf(expected, sizeof expected, "cgroup v2 %s: holds other processes than yurt (pid 1), "
	         "so cgroup v2 cannot give it children with controllers", v2);
	cr_assert_str_eq(err.msg, expected);
}

Test(cgroup, find_nothing_mounted)
{
	struct yurt_cgroup_delegation deleg;
	struct yurt_err err;
	cr_assert_eq(yurt_cgroup_find(&deleg, "3:cpuset:/\n0::/\n",
	                              "29 1 0:26 / /sys rw,nosuid - sysfs sysfs rw\n", root, &err), 1);
	cr_assert_str_eq(err.msg, "no cgroup v2 or v1 cpuset hierarchy mounted");
}

Test(cgroup, find_not_owned)
{
	struct yurt_cgroup_delegation deleg;
	struct yurt_err err;
	char expected[2 * PATH_MAX];
	if (geteuid() != 0) {
		remove_root();  /* .fini does not run after a skip */
		cr_skip_test("chown needs root");
	}
	cr_assert_eq(chown(v1, 12345, 12345), 0);
	cr_assert_eq(yurt_cgroup_find(&deleg, "3:cpuset:/\n0::/\n", hybrid_mounts, root, &err), 1);
	snprintf(expected, sizeof expected,
	         "cgroup v2 %s: cpuset controller not available (cgroup.controllers: \"hugetlb\"); "
	         "cgroup v1 %s: owned by uid 12345, not by uid 0", v2, v1);
	cr_assert_str_eq(err.msg, expected);
}

/* find as a user that owns the v1 cpuset but may not write its cgroup.procs;
 * root writes everything, so as root this runs in a child that drops to a
 * plain uid.  The child's exit status is 0 when find gave the right reason. */
Test(cgroup, find_not_writable)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/cgroup.procs", v1);
	cr_assert_eq(chmod(path, 0444), 0);
	uid_t uid = geteuid() ? geteuid() : 65534;
	if (geteuid() == 0)
		cr_assert_eq(chown(v1, uid, uid), 0);
	pid_t child = fork();
	cr_assert_neq(child, -1);
	if (child == 0) {
		struct yurt_cgroup_delegation deleg;
		struct yurt_err err;
		char expected[PATH_MAX + 64];
		if (geteuid() == 0 && (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
			_exit(2);
		snprintf(expected, sizeof expected, "cgroup v1 %s: not writable: %s", path, strerror(EACCES));
		int r = yurt_cgroup_find(&deleg, "3:cpuset:/\n", hybrid_mounts, root, &err);
		if (r != 1 || strcmp(err.msg, expected)) {
			fprintf(stderr, "find: %d %s\n", r, err.msg);
			_exit(1);
		}
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}

/* --- Plans --- */

static void plan(struct yurt_cgroup_job *job, int version, const char *dir, unsigned ntasks)
{
	struct yurt_cgroup_delegation deleg = { .version = version, .dir = (char *)dir };
	struct yurt_err err;
	cr_assert_eq(yurt_cgroup_plan(job, &deleg, ntasks, &err), 0, "%s", err.msg);
}

static void assert_op(const struct yurt_cgroup_job *job, size_t i, const char *path, const char *value,
                      const char *undo_path, const char *undo_value)
{
	const struct yurt_cgroup_op *op = &job->ops[i];
	cr_assert_lt(i, job->nops);
	cr_assert_str_eq(op->path, path, "op %zu", i);
	cr_assert(value ? op->value && !strcmp(op->value, value) : !op->value, "op %zu value", i);
	cr_assert(undo_path ? op->undo_path && !strcmp(op->undo_path, undo_path) : !op->undo_path,
	          "op %zu undo", i);
	cr_assert(undo_value ? op->undo_value && !strcmp(op->undo_value, undo_value) : !op->undo_value,
	          "op %zu undo value", i);
}

#define P(...) ({ static char p_[PATH_MAX]; snprintf(p_, sizeof p_, __VA_ARGS__); (const char *)p_; })

Test(cgroup, plan_v1)
{
	struct yurt_cgroup_job job;
	char *name = job_name(getpid());
	plan(&job, 1, v1, 2);
	cr_assert_str_eq(job.dir, P("%s/%s", v1, name));
	cr_assert_str_eq(job.mems, "0");
	cr_assert_eq(job.nops, 5);
	assert_op(&job, 0, job.dir, NULL, NULL, NULL);
	assert_op(&job, 1, P("%s/cpuset.cpus", job.dir), "0-3", NULL, NULL);
	assert_op(&job, 2, P("%s/cpuset.mems", job.dir), "0", NULL, NULL);
	assert_op(&job, 3, P("%s/task-0", job.dir), NULL, NULL, NULL);
	assert_op(&job, 4, P("%s/task-1", job.dir), NULL, NULL, NULL);
	yurt_cgroup_teardown(&job);
	cr_assert_null(job.ops);
	free(name);
}

Test(cgroup, plan_v2)
{
	struct yurt_cgroup_job job;
	char pid[24];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	plan(&job, 2, v2, 1);
	cr_assert_null(job.mems);
	cr_assert_eq(job.nops, 6);
	assert_op(&job, 0, job.dir, NULL, NULL, NULL);
	assert_op(&job, 1, P("%s/launcher", job.dir), NULL, NULL, NULL);
	/* Out of the delegated cgroup before it gives children controllers. */
	assert_op(&job, 2, P("%s/launcher/cgroup.procs", job.dir), pid, P("%s/cgroup.procs", v2), pid);
	assert_op(&job, 3, P("%s/cgroup.subtree_control", v2), "+cpuset",
	          P("%s/cgroup.subtree_control", v2), "-cpuset");
	assert_op(&job, 4, P("%s/cgroup.subtree_control", job.dir), "+cpuset",
	          P("%s/cgroup.subtree_control", job.dir), "-cpuset");
	assert_op(&job, 5, P("%s/task-0", job.dir), NULL, NULL, NULL);
	yurt_cgroup_teardown(&job);
}

Test(cgroup, plan_v2_cpuset_already_enabled)
{
	struct yurt_cgroup_job job;
	put("cpu cpuset memory", "%s/cgroup.subtree_control", v2);
	plan(&job, 2, v2, 1);
	cr_assert_eq(job.nops, 5);
	assert_op(&job, 3, P("%s/cgroup.subtree_control", job.dir), "+cpuset",
	          P("%s/cgroup.subtree_control", job.dir), "-cpuset");
	yurt_cgroup_teardown(&job);
}

Test(cgroup, plan_fails_without_parent_files)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	struct yurt_cgroup_delegation deleg = { .version = 1, .dir = root };
	cr_assert_eq(yurt_cgroup_plan(&job, &deleg, 1, &err), -1);
	cr_assert_str_eq(err.msg, P("cannot open %s/cpuset.cpus", root));
	cr_assert_eq(err.errnum, ENOENT);
	cr_assert_null(job.ops);
}

/* --- Setup, tasks, teardown --- */

Test(cgroup, setup_v1)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	plan(&job, 1, v1, 2);
	cr_assert_eq(yurt_cgroup_setup(&job, &err), 0, "%s", err.msg);
	assert_file("0-3", "%s/cpuset.cpus", job.dir);
	assert_file("0", "%s/cpuset.mems", job.dir);
	cr_assert_eq(yurt_cgroup_task_configure(&job, 1, "2-3", NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(yurt_cgroup_task_attach(&job, 1, 4242, &err), 0, "%s", err.msg);
	assert_file("2-3", "%s/task-1/cpuset.cpus", job.dir);
	assert_file("0", "%s/task-1/cpuset.mems", job.dir);
	assert_file("4242", "%s/task-1/cgroup.procs", job.dir);
	assert_file("", "%s/task-0/cpuset.cpus", job.dir);
	char *dir = strdup(job.dir);
	yurt_cgroup_teardown(&job);
	cr_assert_not(exists("%s", dir));
	assert_file("0-3", "%s/cpuset.cpus", v1);
	free(dir);
}

Test(cgroup, setup_v2)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	char pid[24];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	put("cpuset", "%s/cgroup.controllers", v2);
	put(pid, "%s/cgroup.procs", v2);
	plan(&job, 2, v2, 2);
	cr_assert_eq(yurt_cgroup_setup(&job, &err), 0, "%s", err.msg);
	assert_file(pid, "%s/launcher/cgroup.procs", job.dir);
	assert_file("+cpuset", "%s/cgroup.subtree_control", v2);
	assert_file("+cpuset", "%s/cgroup.subtree_control", job.dir);
	assert_file("cpuset", "%s/task-1/cgroup.controllers", job.dir);
	cr_assert_eq(yurt_cgroup_task_configure(&job, 0, "1", NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(yurt_cgroup_task_configure(&job, 1, "2-3", "0", &err), 0, "%s", err.msg);
	cr_assert_eq(yurt_cgroup_task_attach(&job, 0, 4242, &err), 0, "%s", err.msg);
	assert_file("1", "%s/task-0/cpuset.cpus", job.dir);
	assert_file("", "%s/task-0/cpuset.mems", job.dir);  /* v2 inherits mems */
	assert_file("2-3", "%s/task-1/cpuset.cpus", job.dir);
	assert_file("0", "%s/task-1/cpuset.mems", job.dir);
	assert_file("4242", "%s/task-0/cgroup.procs", job.dir);
	put("", "%s/cgroup.procs", v2);
	char *dir = strdup(job.dir);
	yurt_cgroup_teardown(&job);
	cr_assert_not(exists("%s", dir));
	assert_file("-cpuset", "%s/cgroup.subtree_control", v2);
	assert_file(pid, "%s/cgroup.procs", v2);
	free(dir);
}

Test(cgroup, task_out_of_range)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	plan(&job, 1, v1, 2);
	cr_assert_eq(yurt_cgroup_setup(&job, &err), 0, "%s", err.msg);
	cr_assert_eq(yurt_cgroup_task_configure(&job, 2, "1", NULL, &err), -1);
	cr_assert_str_eq(err.msg, "cgroup of task 2: the job has 2 tasks");
	cr_assert_eq(yurt_cgroup_task_attach(&job, 7, 1, &err), -1);
	yurt_cgroup_teardown(&job);
}

Test(cgroup, configure_error_names_path)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	plan(&job, 1, v1, 1);
	cr_assert_eq(yurt_cgroup_setup(&job, &err), 0, "%s", err.msg);
	char *file = strdup(P("%s/task-0/cpuset.cpus", job.dir));
	cr_assert_eq(unlink(file), 0);
	cr_assert_eq(yurt_cgroup_task_configure(&job, 0, "1", NULL, &err), -1);
	cr_assert_str_eq(err.msg, P("cannot open %s", file));
	cr_assert_eq(err.errnum, ENOENT);
	yurt_cgroup_teardown(&job);
	free(file);
}

Test(cgroup, setup_failure_reverts_v1)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	plan(&job, 1, v1, 3);
	fail_mkdir = "/task-2";
	cr_assert_eq(yurt_cgroup_setup(&job, &err), -1);
	cr_assert_str_eq(err.msg, P("cannot create cgroup %s/task-2", job.dir));
	cr_assert_eq(err.errnum, EACCES);
	cr_assert_eq(job.ndone, 0);
	cr_assert_not(exists("%s", job.dir));
	yurt_cgroup_teardown(&job);
}

Test(cgroup, setup_failure_reverts_v2)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	char pid[24];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	plan(&job, 2, v2, 1);
	fail_mkdir = "/task-0";
	cr_assert_eq(yurt_cgroup_setup(&job, &err), -1);
	cr_assert_not(exists("%s", job.dir));
	assert_file("-cpuset", "%s/cgroup.subtree_control", v2);
	assert_file(pid, "%s/cgroup.procs", v2);
	yurt_cgroup_teardown(&job);
}

Test(cgroup, teardown_leaves_busy_cgroups)
{
	/* A task left a cgroup of its own: its cgroup and the job's stay. */
	struct yurt_cgroup_job job;
	struct yurt_err err;
	plan(&job, 1, v1, 2);
	cr_assert_eq(yurt_cgroup_setup(&job, &err), 0, "%s", err.msg);
	char *dir = strdup(job.dir);
	cr_assert_eq(mkdir(P("%s/task-0/inner", dir), 0755), 0);
	yurt_verbosity = -1;  /* the warnings are expected */
	yurt_cgroup_teardown(&job);
	cr_assert(exists("%s/task-0/inner", dir));
	cr_assert_not(exists("%s/task-1", dir));
	cr_assert_null(job.dir);
	free(dir);
}

/* --- Leftovers of killed yurts --- */

Test(cgroup, stale_cleanup)
{
	struct yurt_cgroup_job job;
	struct yurt_err err;
	/* The test runner, our parent, is alive; its pid with another start
	 * time stands for a pid reused since. */
	char *live = job_name(getppid()), dead[256];
	snprintf(dead, sizeof dead, "%s/yurt-%d-1", v1, DEAD_PID);
	cr_assert_eq(mkdir(dead, 0755), 0);
	cr_assert_eq(mkdir(P("%s/task-0", dead), 0755), 0);
	cr_assert_eq(mkdir(P("%s/task-0/inner", dead), 0755), 0);
	cr_assert_eq(mkdir(P("%s/task-1", dead), 0755), 0);
	cr_assert_eq(mkdir(P("%s/%s", v1, live), 0755), 0);
	cr_assert_eq(mkdir(P("%s/%s/task-0", v1, live), 0755), 0);
	cr_assert_eq(mkdir(P("%s/yurt-%d-%llu", v1, (int)getppid(), starttime(getppid()) + 1), 0755), 0);
	/* Dead owner, but a task of it still runs. */
	cr_assert_eq(mkdir(P("%s/yurt-%d-7", v1, DEAD_PID + 1), 0755), 0);
	cr_assert_eq(mkdir(P("%s/yurt-%d-7/task-0", v1, DEAD_PID + 1), 0755), 0);
	put("999\n", "%s/yurt-%d-7/task-0/cgroup.procs", v1, DEAD_PID + 1);
	/* Not job directories. */
	cr_assert_eq(mkdir(P("%s/yurt-test-user", v1), 0755), 0);
	cr_assert_eq(mkdir(P("%s/yurt-%d-1x", v1, DEAD_PID), 0755), 0);
	put("", "%s/yurt-%d-2", v1, DEAD_PID);

	plan(&job, 1, v1, 1);
	cr_assert_eq(yurt_cgroup_setup(&job, &err), 0, "%s", err.msg);
	cr_assert_not(exists("%s/yurt-%d-1", v1, DEAD_PID));
	cr_assert_not(exists("%s/yurt-%d-%llu", v1, (int)getppid(), starttime(getppid()) + 1));
	cr_assert(exists("%s/%s/task-0", v1, live));
	cr_assert(exists("%s/yurt-%d-7/task-0", v1, DEAD_PID + 1));
	cr_assert(exists("%s/yurt-test-user", v1));
	cr_assert(exists("%s/yurt-%d-1x", v1, DEAD_PID));
	cr_assert(exists("%s/yurt-%d-2", v1, DEAD_PID));
	cr_assert(exists("%s/task-0", job.dir));
	yurt_cgroup_teardown(&job);
	free(live);
}
