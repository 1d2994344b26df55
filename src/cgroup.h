/* Per-task cpuset cgroups in a cgroup the user was delegated, so a task cannot
 * widen the binding it was given (sched_setaffinity cannot leave a cpuset).
 * The layout under the delegated cgroup D is
 *     D/yurt-PID-START/launcher   (v2 only: yurt itself, see yurt_cgroup_plan)
 *     D/yurt-PID-START/task-N     (one leaf per task)
 * where PID and START (its start time in /proc/PID/stat) name the owner, so a
 * later yurt can tell the leftovers of a killed one from a live one even when
 * the pid was reused.  Every path comes from the texts of /proc/self/cgroup
 * and /proc/self/mountinfo plus a root prefix, so unit tests use a fake tree. */
#ifndef YURT_CGROUP_H
#define YURT_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum yurt_cgroup_mode {
	YURT_CGROUP_AUTO,     /* use a delegated cgroup when there is one */
	YURT_CGROUP_REQUIRE,  /* fail (status 125) when there is none */
	YURT_CGROUP_OFF,
};

/* Parses the argument of --cgroup: "auto", "require" or "off". */
int yurt_cgroup_mode_parse(enum yurt_cgroup_mode *mode, const char *arg, struct yurt_err *err);

struct yurt_cgroup_delegation {
	int version;  /* 1 (a cpuset hierarchy) or 2 */
	char *dir;    /* the process's own cgroup, absolute, under the root prefix */
};

/* Finds the cgroup this process may create cpuset children in, from the texts
 * of /proc/self/cgroup and /proc/self/mountinfo; root_prefix (NULL for none)
 * is put in front of every mount point.  v2 is preferred over v1.  Returns 0
 * when found, 1 when not (err holds why, for --verbose), -1 on error. */
int yurt_cgroup_find(struct yurt_cgroup_delegation *deleg, const char *proc_cgroup,
                     const char *mountinfo, const char *root_prefix, struct yurt_err *err);
void yurt_cgroup_delegation_free(struct yurt_cgroup_delegation *deleg);

/* One step of the setup: mkdir PATH when value is NULL, else write value to
 * PATH.  undo_path/undo_value, when set, is the write that reverts it. */
struct yurt_cgroup_op {
	char *path;
	char *value;
	char *undo_path;
	char *undo_value;
};

struct yurt_cgroup_job {
	int version;
	char *parent;   /* the delegated cgroup */
	char *dir;      /* parent/yurt-PID-START */
	char *mems;     /* v1: the parent's cpuset.mems, for tasks given none */
	unsigned ntasks;
	struct yurt_cgroup_op *ops;  /* the setup, in order */
	size_t nops;
	size_t ndone;   /* ops carried out, which teardown reverts */
};

/* Plans the setup for ntasks tasks owned by this process; reads the parent's
 * cpuset files (v1) or cgroup.subtree_control (v2) and changes nothing.  On
 * failure the job is left empty. */
int yurt_cgroup_plan(struct yurt_cgroup_job *job, const struct yurt_cgroup_delegation *deleg,
                     unsigned ntasks, struct yurt_err *err);
/* Removes the leftovers of dead yurts beside the job, then carries out the
 * plan; on failure reverts what it did.  A planned job is torn down in every
 * case. */
int yurt_cgroup_setup(struct yurt_cgroup_job *job, struct yurt_err *err);
/* Confines task (0 <= task < ntasks) to kernel cpu-list strings such as
 * "0-3,8"; mems NULL keeps the parent's memory nodes. */
int yurt_cgroup_task_configure(const struct yurt_cgroup_job *job, unsigned task,
                               const char *cpus, const char *mems, struct yurt_err *err);
/* Moves process pid into the task's cgroup; call before it runs user code. */
int yurt_cgroup_task_attach(const struct yurt_cgroup_job *job, unsigned task, pid_t pid,
                            struct yurt_err *err);
/* Reverts the setup (after the tasks are reaped) and frees the job; best
 * effort: a cgroup that cannot go is reported with a warning and left for
 * the stale cleanup of a later yurt.  A no-op on a zeroed job. */
void yurt_cgroup_teardown(struct yurt_cgroup_job *job);

/* The whole sequence on the live system for --cgroup=MODE: returns 0 when the
 * tasks get cgroups, 1 when they do not (the caller binds them with
 * sched_setaffinity; --verbose says why), -1 when MODE is require and no
 * delegated cgroup can be used.  The job is to be torn down in every case. */
int yurt_cgroup_start(struct yurt_cgroup_job *job, enum yurt_cgroup_mode mode, unsigned ntasks,
                      struct yurt_err *err);

#endif
