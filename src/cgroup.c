#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "file.h"
#include "log.h"

int yurt_cgroup_mode_parse(enum yurt_cgroup_mode *mode, const char *arg, struct yurt_err *err)
{
	static const char *const names[] = {
		[YURT_CGROUP_AUTO] = "auto",
		[YURT_CGROUP_REQUIRE] = "require",
		[YURT_CGROUP_OFF] = "off",
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		if (!strcmp(arg, names[i])) {
			*mode = (enum yurt_cgroup_mode)i;
			return 0;
		}
	}
	return yurt_fail(err, 0, "--cgroup=%s: unknown mode (auto, require or off)", arg);
}

/* snprintf into a PATH_MAX buffer; a longer path could not be opened anyway. */
static int pathf(char *buf, struct yurt_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int pathf(char *buf, struct yurt_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		return yurt_fail(err, ENAMETOOLONG, "cgroup path %.200s...", buf);
	return 0;
}

/* The whole file as a string, without its final newline. */
static int read_file(const char *path, char **out, struct yurt_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return yurt_fail(err, errno, "cannot open %s", path);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size = 0;
	for (;;) {
		if (size - len < 2) {
			size = size ? 2 * size : 4096;
			char *bigger = realloc(buf, size);
			if (!bigger)
				return yurt_fail(err, ENOMEM, "cannot read %s", path);
			buf = bigger;
		}
		ssize_t n = read(fd, buf + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return yurt_fail(err, errno, "cannot read %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	*out = yurt_steal_ptr(buf);
	return 0;
}

/* Whether word is one of the items of list, separated by any of seps. */
static bool has_word(const char *list, const char *word, const char *seps)
{
	size_t n = strlen(word);
	for (const char *p = list + strspn(list, seps); *p; p += strspn(p, seps)) {
		size_t len = strcspn(p, seps);
		if (len == n && !strncmp(p, word, n))
			return true;
		p += len;
	}
	return false;
}

/* Start time of pid, in clock ticks since boot (field 22 of /proc/PID/stat). */
static int proc_starttime(pid_t pid, unsigned long long *start, struct yurt_err *err)
{
	char path[64];
	_cleanup_free_ char *stat = NULL;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_file(path, &stat, err) < 0)
		return -1;
	/* comm (field 2) may hold spaces and ')': count fields after the last ')'. */
	char *p = strrchr(stat, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return yurt_fail(err, EINVAL, "cannot parse %s", path);
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

/* --- Finding the delegated cgroup --- */

struct hierarchy {
	int version;
	const char *path;  /* the process's cgroup, from /proc/self/cgroup */
	const char *mnt;   /* a mount point of the hierarchy showing that cgroup */
	const char *rel;   /* path below that mount's root, "" for the root itself */
};

/* Fills h[0].path (v2, "0::PATH") and h[1].path (v1, "N:...cpuset...:PATH")
 * from the text of /proc/self/cgroup, which it cuts up. */
static void parse_proc_cgroup(char *text, struct hierarchy h[2])
{
	char *save;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *controllers = strchr(line, ':');
		char *path = controllers ? strchr(controllers + 1, ':') : NULL;
		if (!path)
			continue;
		*controllers++ = '\0';
		*path++ = '\0';
		if (!strcmp(line, "0") && !*controllers)
			h[0].path = path;
		else if (has_word(controllers, "cpuset", ","))
			h[1].path = path;
	}
}

/* Undoes mountinfo's octal escapes ("\040" for a space) in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* path relative to a mount's root ("" for the root itself), NULL when the
 * mount does not show it. */
static const char *below(const char *path, const char *root)
{
	size_t n = strcmp(root, "/") ? strlen(root) : 0;
	if (strncmp(path, root, n) || (path[n] && path[n] != '/'))
		return NULL;
	return strcmp(path + n, "/") ? path + n : "";
}

/* Fills mnt and rel of each hierarchy from the text of /proc/self/mountinfo,
 * which it cuts up: the first cgroup2 mount, and the first cgroup mount with
 * the cpuset controller, that show the process's cgroup. */
static void parse_mountinfo(char *text, struct hierarchy h[2])
{
	char *save;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS */
		char *f[64], *fsave;
		size_t n = 0, sep = 6;
		for (char *t = strtok_r(line, " ", &fsave); t && n < 64; t = strtok_r(NULL, " ", &fsave))
			f[n++] = t;
		while (sep < n && strcmp(f[sep], "-"))
			sep++;
		if (sep + 3 >= n)
			continue;
		struct hierarchy *m = NULL;
		if (!strcmp(f[sep + 1], "cgroup2"))
			m = &h[0];
		else if (!strcmp(f[sep + 1], "cgroup") && has_word(f[sep + 3], "cpuset", ","))
			m = &h[1];
		if (!m || m->mnt || !m->path)
			continue;
		unescape(f[3]);
		unescape(f[4]);
		const char *rel = below(m->path, f[3]);
		if (rel) {
			m->mnt = f[4];
			m->rel = rel;
		}
	}
}

/* 0 when this process may make cpuset children in dir, else 1 with why in
 * err.  v2 also needs the cpuset controller offered to dir, and dir to hold
 * no other process: v2 lets a cgroup hold processes or give controllers to
 * its children, not both, and yurt moves out of dir before enabling them. */
static int check_delegated(const char *dir, int version, struct yurt_err *err)
{
	static const char *const v1_files[] = { "cgroup.procs", NULL };
	static const char *const v2_files[] = { "cgroup.procs", "cgroup.subtree_control", NULL };
	char path[PATH_MAX];
	struct stat st;
	if (stat(dir, &st) < 0) {
		yurt_fail(err, errno, "%s", dir);
		return 1;
	}
	if (version == 2) {
		_cleanup_free_ char *controllers = NULL;
		if (pathf(path, err, "%s/cgroup.controllers", dir) < 0 || read_file(path, &controllers, err) < 0)
			return 1;
		if (!has_word(controllers, "cpuset", " ")) {
			yurt_fail(err, 0, "%s: cpuset controller not available (cgroup.controllers: \"%s\")",
			          dir, controllers);
			return 1;
		}
	}
	if (st.st_uid != geteuid()) {
		yurt_fail(err, 0, "%s: owned by uid %u, not by uid %u", dir, (unsigned)st.st_uid,
		          (unsigned)geteuid());
		return 1;
	}
	if (access(dir, W_OK) < 0) {
		yurt_fail(err, errno, "%s: not writable", dir);
		return 1;
	}
	for (const char *const *name = version == 2 ? v2_files : v1_files; *name; name++) {
		if (pathf(path, err, "%s/%s", dir, *name) < 0)
			return 1;
		if (access(path, W_OK) < 0) {
			yurt_fail(err, errno, "%s: not writable", path);
			return 1;
		}
	}
	if (version == 2) {
		_cleanup_free_ char *procs = NULL;
		char *save;
		if (pathf(path, err, "%s/cgroup.procs", dir) < 0 || read_file(path, &procs, err) < 0)
			return 1;
		for (char *pid = strtok_r(procs, "\n", &save); pid; pid = strtok_r(NULL, "\n", &save)) {
			if (strtol(pid, NULL, 10) != getpid()) {
				yurt_fail(err, 0, "%s: holds other processes than yurt (pid %s), so cgroup v2 "
				          "cannot give it children with controllers", dir, pid);
				return 1;
			}
		}
	}
	return 0;
}

int yurt_cgroup_find(struct yurt_cgroup_delegation *deleg, const char *proc_cgroup,
                     const char *mountinfo, const char *root_prefix, struct yurt_err *err)
{
	_cleanup_free_ char *cgroups = strdup(proc_cgroup);
	_cleanup_free_ char *mounts = strdup(mountinfo);
	struct hierarchy h[2] = { { .version = 2 }, { .version = 1 } };
	char reasons[sizeof err->msg] = "", text[sizeof err->msg + 64];
	if (!cgroups || !mounts)
		return yurt_fail(err, ENOMEM, "cannot look for a delegated cgroup");
	parse_proc_cgroup(cgroups, h);
	parse_mountinfo(mounts, h);
	for (size_t i = 0; i < 2; i++) {
		char dir[PATH_MAX];
		struct yurt_err why;
		if (!h[i].mnt)
			continue;
		if (pathf(dir, err, "%s%s%s", root_prefix ? root_prefix : "", h[i].mnt, h[i].rel) < 0)
			return -1;
		if (check_delegated(dir, h[i].version, &why) == 0) {
			deleg->version = h[i].version;
			if (!(deleg->dir = strdup(dir)))
				return yurt_fail(err, ENOMEM, "cannot look for a delegated cgroup");
			return 0;
		}
		size_t used = strlen(reasons);
		snprintf(reasons + used, sizeof reasons - used, "%scgroup v%d %s", used ? "; " : "",
		         h[i].version, yurt_err_text(&why, text, sizeof text));
	}
	yurt_fail(err, 0, "%s", reasons[0] ? reasons : "no cgroup v2 or v1 cpuset hierarchy mounted");
	return 1;
}

void yurt_cgroup_delegation_free(struct yurt_cgroup_delegation *deleg)
{
	free(deleg->dir);
	deleg->dir = NULL;
}

/* --- Leftovers of killed yurts --- */

/* Whether name is "yurt-PID-START", the name of a job directory. */
static bool parse_job_name(const char *name, pid_t *pid, unsigned long long *start)
{
	const char *p = name + strlen("yurt-");
	char *end;
	if (strncmp(name, "yurt-", strlen("yurt-")) || *p < '1' || *p > '9')
		return false;
	errno = 0;
	long owner = strtol(p, &end, 10);
	if (errno || owner > INT_MAX || *end != '-' || end[1] < '0' || end[1] > '9')
		return false;
	p = end + 1;
	*start = strtoull(p, &end, 10);
	*pid = (pid_t)owner;
	return !errno && !*end;
}

static bool owner_alive(pid_t pid, unsigned long long start)
{
	unsigned long long now;
	struct yurt_err ignored;
	return proc_starttime(pid, &now, &ignored) == 0 && now == start;
}

/* rmdir of a cgroup tree, children first; a cgroup that still holds
 * processes stays, with its ancestors. */
static int remove_tree(const char *dir)
{
	char path[PATH_MAX], text[2048];
	struct yurt_err err;
	_cleanup_free_ char *procs = NULL;
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;
	if (!d) {
		yurt_verbose("cgroup: cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	while (r == 0 && (e = readdir(d))) {
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = pathf(path, &err, "%s/%s", dir, e->d_name) < 0 ? -1 : remove_tree(path);
	}
	closedir(d);
	if (r < 0)
		return -1;
	if (pathf(path, &err, "%s/cgroup.procs", dir) < 0 || read_file(path, &procs, &err) < 0) {
		yurt_verbose("cgroup: keeping %s: %s", dir, yurt_err_text(&err, text, sizeof text));
		return -1;
	}
	if (procs[0]) {
		yurt_verbose("cgroup: keeping %s: it still holds processes", dir);
		return -1;
	}
	if (rmdir(dir) < 0) {
		yurt_verbose("cgroup: cannot remove %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Removes the job directories in parent whose owner is gone. */
static void clean_stale(const char *parent)
{
	char path[PATH_MAX];
	struct yurt_err err;
	DIR *d = opendir(parent);
	struct dirent *e;
	if (!d) {
		yurt_verbose("cgroup: cannot open %s: %s", parent, strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		pid_t pid;
		unsigned long long start;
		if (e->d_type != DT_DIR || !parse_job_name(e->d_name, &pid, &start) || owner_alive(pid, start))
			continue;
		if (pathf(path, &err, "%s/%s", parent, e->d_name) == 0 && remove_tree(path) == 0)
			yurt_verbose("cgroup: removed %s, left by a yurt that is gone", path);
	}
	closedir(d);
}

/* --- The job's cgroups --- */

/* Appends a copy of an op; value NULL makes it a mkdir. */
static int add_op(struct yurt_cgroup_job *job, const char *path, const char *value,
                  const char *undo_path, const char *undo_value, struct yurt_err *err)
{
	struct yurt_cgroup_op *ops = realloc(job->ops, (job->nops + 1) * sizeof *ops);
	if (!ops)
		return yurt_fail(err, ENOMEM, "cannot plan the cgroup of %s", path);
	job->ops = ops;
	struct yurt_cgroup_op *op = &ops[job->nops++];
	*op = (struct yurt_cgroup_op){
		.path = strdup(path),
		.value = value ? strdup(value) : NULL,
		.undo_path = undo_path ? strdup(undo_path) : NULL,
		.undo_value = undo_value ? strdup(undo_value) : NULL,
	};
	if (!op->path || !op->value != !value || !op->undo_path != !undo_path ||
	    !op->undo_value != !undo_value)
		return yurt_fail(err, ENOMEM, "cannot plan the cgroup of %s", path);
	return 0;
}

/* v1 cpusets start empty and take no task until cpus and mems are set: the
 * job's cpuset gets its parent's, which the task cpusets then narrow. */
static int plan_v1(struct yurt_cgroup_job *job, struct yurt_err *err)
{
	static const char *const names[] = { "cpuset.cpus", "cpuset.mems" };
	char from[PATH_MAX], to[PATH_MAX];
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *value = NULL;
		if (pathf(from, err, "%s/%s", job->parent, names[i]) < 0 ||
		    pathf(to, err, "%s/%s", job->dir, names[i]) < 0 ||
		    read_file(from, &value, err) < 0 || add_op(job, to, value, NULL, NULL, err) < 0)
			return -1;
		if (i == 1)
			job->mems = yurt_steal_ptr(value);
	}
	return 0;
}

/* v2 lets a cgroup hold processes or give controllers to its children, not
 * both: yurt moves from the delegated cgroup into a leaf of its own, then
 * enables cpuset for the children of the delegated cgroup and of the job's. */
static int plan_v2(struct yurt_cgroup_job *job, struct yurt_err *err)
{
	char launcher[PATH_MAX], procs[PATH_MAX], back[PATH_MAX], control[PATH_MAX], pid[24];
	_cleanup_free_ char *enabled = NULL;
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	if (pathf(launcher, err, "%s/launcher", job->dir) < 0 ||
	    pathf(procs, err, "%s/cgroup.procs", launcher) < 0 ||
	    pathf(back, err, "%s/cgroup.procs", job->parent) < 0 ||
	    pathf(control, err, "%s/cgroup.subtree_control", job->parent) < 0 ||
	    read_file(control, &enabled, err) < 0 ||
	    add_op(job, launcher, NULL, NULL, NULL, err) < 0 ||
	    add_op(job, procs, pid, back, pid, err) < 0)
		return -1;
	/* Left alone when already enabled: others may rely on it. */
	if (!has_word(enabled, "cpuset", " ") && add_op(job, control, "+cpuset", control, "-cpuset", err) < 0)
		return -1;
	/* Reverted too, as the parent cannot drop cpuset while a child enables it. */
	if (pathf(control, err, "%s/cgroup.subtree_control", job->dir) < 0 ||
	    add_op(job, control, "+cpuset", control, "-cpuset", err) < 0)
		return -1;
	return 0;
}

static void job_free(struct yurt_cgroup_job *job)
{
	for (size_t i = 0; i < job->nops; i++) {
		free(job->ops[i].path);
		free(job->ops[i].value);
		free(job->ops[i].undo_path);
		free(job->ops[i].undo_value);
	}
	free(job->ops);
	free(job->parent);
	free(job->dir);
	free(job->mems);
	*job = (struct yurt_cgroup_job){ 0 };
}

int yurt_cgroup_plan(struct yurt_cgroup_job *job, const struct yurt_cgroup_delegation *deleg,
                     unsigned ntasks, struct yurt_err *err)
{
	char path[PATH_MAX];
	unsigned long long start;
	*job = (struct yurt_cgroup_job){ .version = deleg->version, .ntasks = ntasks };
	if (proc_starttime(getpid(), &start, err) < 0 ||
	    pathf(path, err, "%s/yurt-%d-%llu", deleg->dir, (int)getpid(), start) < 0)
		return -1;
	job->parent = strdup(deleg->dir);
	job->dir = strdup(path);
	if (!job->parent || !job->dir) {
		job_free(job);
		return yurt_fail(err, ENOMEM, "cannot plan the cgroup of %s", path);
	}
	int r = add_op(job, job->dir, NULL, NULL, NULL, err);
	if (r == 0)
		r = job->version == 2 ? plan_v2(job, err) : plan_v1(job, err);
	for (unsigned task = 0; r == 0 && task < ntasks; task++) {
		r = pathf(path, err, "%s/task-%u", job->dir, task);
		if (r == 0)
			r = add_op(job, path, NULL, NULL, NULL, err);
	}
	if (r < 0)
		job_free(job);
	return r;
}

/* Undoes the ops carried out, last first. */
static void revert(struct yurt_cgroup_job *job)
{
	char text[2048];
	struct yurt_err err;
	while (job->ndone > 0) {
		const struct yurt_cgroup_op *op = &job->ops[--job->ndone];
		if (!op->value && rmdir(op->path) < 0)
			yurt_warn("cannot remove cgroup %s: %s", op->path, strerror(errno));
		else if (op->undo_path && yurt_file_write(op->undo_path, O_TRUNC, 0, op->undo_value, &err) < 0)
			yurt_warn("%s", yurt_err_text(&err, text, sizeof text));
	}
}

int yurt_cgroup_setup(struct yurt_cgroup_job *job, struct yurt_err *err)
{
	clean_stale(job->parent);
	for (; job->ndone < job->nops; job->ndone++) {
		const struct yurt_cgroup_op *op = &job->ops[job->ndone];
		int r;
		if (op->value) {
			yurt_debug("cgroup: %s < %s", op->path, op->value);
			r = yurt_file_write(op->path, O_TRUNC, 0, op->value, err);
		} else {
			yurt_debug("cgroup: mkdir %s", op->path);
			r = mkdir(op->path, 0755) < 0 ? yurt_fail(err, errno, "cannot create cgroup %s", op->path) : 0;
		}
		if (r < 0) {
			revert(job);
			return -1;
		}
	}
	return 0;
}

/* Path of a file in the cgroup of a task. */
static int task_file(char *path, const struct yurt_cgroup_job *job, unsigned task,
                     const char *name, struct yurt_err *err)
{
	if (task >= job->ntasks)
		return yurt_fail(err, EINVAL, "cgroup of task %u: the job has %u tasks", task, job->ntasks);
	return pathf(path, err, "%s/task-%u/%s", job->dir, task, name);
}

int yurt_cgroup_task_configure(const struct yurt_cgroup_job *job, unsigned task,
                               const char *cpus, const char *mems, struct yurt_err *err)
{
	char path[PATH_MAX];
	if (task_file(path, job, task, "cpuset.cpus", err) < 0 ||
	    yurt_file_write(path, O_TRUNC, 0, cpus, err) < 0)
		return -1;
	/* v1 needs mems set, v2 inherits them. */
	if (!mems)
		mems = job->mems;
	if (!mems)
		return 0;
	if (task_file(path, job, task, "cpuset.mems", err) < 0)
		return -1;
	return yurt_file_write(path, O_TRUNC, 0, mems, err);
}

int yurt_cgroup_task_attach(const struct yurt_cgroup_job *job, unsigned task, pid_t pid,
                            struct yurt_err *err)
{
	char path[PATH_MAX], value[24];
	snprintf(value, sizeof value, "%d", (int)pid);
	if (task_file(path, job, task, "cgroup.procs", err) < 0)
		return -1;
	return yurt_file_write(path, O_TRUNC, 0, value, err);
}

void yurt_cgroup_teardown(struct yurt_cgroup_job *job)
{
	revert(job);
	job_free(job);
}

/* Finds, plans and sets up; 1 when there is no delegated cgroup. */
static int use_delegation(struct yurt_cgroup_job *job, unsigned ntasks, struct yurt_err *err)
{
	_cleanup_free_ char *cgroups = NULL, *mounts = NULL;
	struct yurt_cgroup_delegation deleg = { 0 };
	if (read_file("/proc/self/cgroup", &cgroups, err) < 0 ||
	    read_file("/proc/self/mountinfo", &mounts, err) < 0)
		return -1;
	int r = yurt_cgroup_find(&deleg, cgroups, mounts, NULL, err);
	if (r == 0)
		r = yurt_cgroup_plan(job, &deleg, ntasks, err);
	if (r == 0 && yurt_cgroup_setup(job, err) < 0) {
		yurt_cgroup_teardown(job);
		r = -1;
	}
	if (r == 0)
		yurt_verbose("cgroup: tasks confined in %s (cgroup v%d)", job->dir, job->version);
	yurt_cgroup_delegation_free(&deleg);
	return r;
}

int yurt_cgroup_start(struct yurt_cgroup_job *job, enum yurt_cgroup_mode mode, unsigned ntasks,
                      struct yurt_err *err)
{
	char text[2048];
	*job = (struct yurt_cgroup_job){ 0 };
	if (mode == YURT_CGROUP_OFF)
		return 1;
	int r = use_delegation(job, ntasks, err);
	if (r == 0)
		return 0;
	if (mode == YURT_CGROUP_REQUIRE) {
		yurt_err_prefix(err, "--cgroup=require: no usable delegated cgroup");
		yurt_err_hint(err, "yurt needs a cgroup you own with the cpuset controller: a cgroup v2 "
		              "delegation, or a cgroup v1 cpuset directory chowned to you; "
		              "--cgroup=auto binds with sched_setaffinity instead");
		return -1;
	}
	if (r == 1)
		yurt_verbose("cgroup: not used (%s); binding with sched_setaffinity",
		             yurt_err_text(err, text, sizeof text));
	else
		yurt_warn("cgroup: %s; binding with sched_setaffinity instead",
		          yurt_err_text(err, text, sizeof text));
	return 1;
}
