#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "caps.h"
#include "cleanup.h"
#include "cgroup.h"
#include "container.h"
#include "cpulist.h"
#include "exec.h"
#include "instance.h"
#include "log.h"
#include "ns.h"
#include "run.h"
#include "task.h"
#include "topo.h"

/* A run: the container and how its tasks are placed. */
struct launch {
	struct yurt_container c;
	struct yurt_member member;        /* yurt exec and --join: the instance joined */
	unsigned ntasks;
	hwloc_topology_t topology;        /* NULL when tasks are not bound */
	struct yurt_binding_plan binding;
	struct yurt_cgroup_job cgroup;
	bool cgroups;                     /* tasks get cpuset cgroups */
	struct yurt_task *tasks;
};

static void launch_init(struct launch *l, const struct yurt_request *req, char *const *host_environ)
{
	*l = (struct launch){ .ntasks = req->binding.ntasks, .member = YURT_MEMBER_INIT };
	yurt_container_init(&l->c, req, host_environ);
}

static void launch_release(struct launch *l)
{
	free(l->tasks);
	if (l->cgroups)
		yurt_cgroup_teardown(&l->cgroup);
	yurt_binding_plan_free(&l->binding);
	if (l->topology)
		hwloc_topology_destroy(l->topology);
	yurt_container_release(&l->c);
	/* Last: the holder may end the container once its last member has left. */
	yurt_member_release(&l->member);
}

/* Several tasks are bound to cores unless --cpu-bind says otherwise; one task
 * is left where it is. */
static bool wants_binding(const struct yurt_request *req)
{
	return req->cpu_bind_given ? req->binding.bind != YURT_BIND_NONE : req->binding.ntasks > 1;
}

static int plan_binding(struct launch *l, const struct yurt_request *req, struct yurt_err *err)
{
	struct yurt_binding_request r = req->binding;
	_cleanup_bitmap_ hwloc_cpuset_t allowed = hwloc_bitmap_alloc();
	if (!req->cpu_bind_given && r.ntasks > 1)
		r.bind = YURT_BIND_CORES;
	if (!allowed)
		return yurt_fail(err, ENOMEM, "binding");
	if (yurt_topology_load(&l->topology, err) || yurt_allowed_cpus(l->topology, allowed, err) ||
	    yurt_binding_plan(l->topology, allowed, &r, &l->binding, err))
		return -1;
	if (l->binding.cpus_per_task < r.cpus_per_task)
		yurt_warn("--overcommit: %u cpus per task instead of %u", l->binding.cpus_per_task, r.cpus_per_task);
	return 0;
}

/* The tasks' places, planned before any container: 1 when that is all
 * there is to do (--dry-run has printed them). */
static int plan_tasks(struct launch *l, const struct yurt_request *req, struct yurt_err *err)
{
	if (wants_binding(req) && plan_binding(l, req, err))
		return -1;
	if (!req->dry_run)
		return 0;
	if (l->topology)
		yurt_binding_plan_print(stdout, &l->binding);
	return 1;
}

/* Puts each task's cpus and memory nodes into its own cpuset cgroup, where
 * the user has one delegated; else binding is by affinity alone.  On the
 * host, before any namespace: the cgroup is found from its /proc. */
static int setup_cgroups(struct launch *l, struct yurt_err *err)
{
	if (!l->topology || !l->binding.bind_cpus)
		return 0;
	int rc = yurt_cgroup_start(&l->cgroup, l->c.req->cgroup, l->ntasks, err);
	if (rc)
		return rc < 0 ? -1 : 0;
	l->cgroups = true;
	for (unsigned i = 0; i < l->ntasks; i++) {
		_cleanup_free_ char *cpus = yurt_cpulist_format(l->binding.tasks[i].cpus);
		_cleanup_free_ char *mems = l->binding.tasks[i].mems ? yurt_cpulist_format(l->binding.tasks[i].mems) : NULL;
		if (!cpus)
			return yurt_fail(err, ENOMEM, "cgroup");
		if (yurt_cgroup_task_configure(&l->cgroup, i, cpus, mems, err))
			return -1;
	}
	yurt_verbose("binding with cpuset cgroups under %s", l->cgroup.dir);
	return 0;
}

static int set_task_env(struct yurt_env *env, unsigned task, unsigned ntasks)
{
	char id[16], n[16];
	snprintf(id, sizeof id, "%u", task);
	snprintf(n, sizeof n, "%u", ntasks);
	return yurt_env_set(env, "YURT_TASK_ID", id) || yurt_env_set(env, "YURT_LOCAL_ID", id) ||
	       yurt_env_set(env, "YURT_NTASKS", n);
}

/* In the task's own process: its identity, cpus and privileges, then exec. */
static int start_task(struct launch *l, unsigned task, struct yurt_err *err)
{
	const struct yurt_request *req = l->c.req;
	if (set_task_env(&l->c.env, task, l->ntasks))
		return yurt_fail(err, errno, "task environment");
	if (l->cgroups && yurt_cgroup_task_attach(&l->cgroup, task, getpid(), err))
		return -1;
	if (l->topology && yurt_binding_apply(l->topology, &l->binding, task, err))
		return -1;
	if (yurt_caps_lock_down(req->fake_root, err))
		return -1;
	return yurt_exec(req->argv, l->c.env.v, err);
}

static void task_main(struct launch *l, unsigned task, const sigset_t *saved, pid_t monitor,
		      int out, int errfd)
{
	struct yurt_err err;
	sigprocmask(SIG_SETMASK, saved, NULL);
	if ((out >= 0 && dup2(out, 1) < 0) || (errfd >= 0 && dup2(errfd, 2) < 0))
		_exit(YURT_EXIT_LAUNCH);
	/* A member's tasks end with it, as the holder stops counting them then.
	 * Its parent, outside a PID namespace the task may be in, reads as 0. */
	if (l->member.sock >= 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) ||
				    (getppid() != monitor && getppid() != 0)))
		_exit(YURT_EXIT_LAUNCH);
	start_task(l, task, &err);
	yurt_err_print(&err);
	_exit(err.status);
}

/* Opens a pipe for a labelled stream: the task writes, the monitor reads. */
static int label_pipe(struct yurt_task_stream *s, int to, int *write_end, struct yurt_err *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return yurt_fail(err, errno, "pipe");
	*s = (struct yurt_task_stream){ .fd = p[0], .to = to };
	*write_end = p[1];
	return 0;
}

/* Forks every task, then waits for them all. */
static int run_tasks(struct launch *l, struct yurt_err *err)
{
	const struct yurt_request *req = l->c.req;
	pid_t monitor = getpid();
	sigset_t saved;
	if (!(l->tasks = calloc(l->ntasks, sizeof *l->tasks)))
		return yurt_fail(err, ENOMEM, "tasks");
	if (yurt_signals_block(&saved, err))
		return -1;
	if (l->topology && (l->binding.verbose || yurt_verbosity > 0))
		yurt_binding_plan_print(stderr, &l->binding);
	for (unsigned i = 0; i < l->ntasks; i++) {
		struct yurt_task *t = &l->tasks[i];
		int out = -1, errfd = -1;
		t->out.fd = t->err.fd = -1;
		if (req->label && (label_pipe(&t->out, 1, &out, err) || label_pipe(&t->err, 2, &errfd, err)))
			return -1;
		t->pid = fork();
		if (t->pid < 0)
			return yurt_fail(err, errno, "fork task %u", i);
		if (t->pid == 0)
			task_main(l, i, &saved, monitor, out, errfd);
		if (out >= 0)
			close(out), close(errfd);
	}
	struct yurt_wait_options opts = {
		.label = req->label, .kill_on_bad_exit = req->kill_on_bad_exit, .report = l->ntasks > 1,
	};
	if (yurt_tasks_wait(l->tasks, l->ntasks, &opts, err))
		return -1;
	return yurt_tasks_status(l->tasks, l->ntasks);
}

/* PID 1 of the new PID namespace: builds the container, starts the tasks as
 * its children and reaps every orphan until they end. */
static int pid_namespace_init(struct launch *l, struct yurt_err *err)
{
	if (yurt_container_build(&l->c, err))
		return -1;
	yurt_container_detach_server(&l->c);
	return run_tasks(l, err);
}

/* The launcher side of --pid: waits for the namespace's init, passing
 * signals on. */
static int run_in_pid_namespace(struct launch *l, struct yurt_err *err)
{
	sigset_t saved;
	if (yurt_signals_block(&saved, err))
		return -1;
	struct yurt_task init = { .pid = yurt_fork_container_init(), .out.fd = -1, .err.fd = -1 };
	if (init.pid < 0)
		return yurt_fail(err, errno, "fork");
	if (init.pid == 0) {
		/* The namespace, and all in it, ends with the launcher, even on kill -9.
		 * (getppid() is 0 in a new PID namespace: no check of a parent that
		 * died before this line is possible, and the window is a few µs.) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(YURT_EXIT_LAUNCH);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		int status = pid_namespace_init(l, err);
		if (status < 0) {
			yurt_err_print(err);
			status = err->status;
		}
		_exit(status);
	}
	/* init reports its own failures; its status is the one to pass on. */
	struct yurt_wait_options opts = { 0 };
	if (yurt_tasks_wait(&init, 1, &opts, err))
		return -1;
	return yurt_exit_status(init.wait_status);
}

int yurt_run(const struct yurt_request *req, char *const *host_environ, struct yurt_err *err)
{
	struct launch l;
	int status = -1;

	launch_init(&l, req, host_environ);
	int planned = plan_tasks(&l, req, err);
	if (planned) {
		status = planned > 0 ? 0 : -1;
		goto out;
	}
	if (setup_cgroups(&l, err) || yurt_container_plan(&l.c, err) ||
	    yurt_container_serve(&l.c, err) ||
	    yurt_ns_enter(l.c.plan.uid, l.c.plan.gid, false, err))
		goto out;
	if (req->pid_ns) {
		status = run_in_pid_namespace(&l, err);
		goto out;
	}
	if (yurt_container_build(&l.c, err))
		goto out;
	yurt_container_detach_server(&l.c);
	/* One plain task needs no monitor: this process becomes the command. */
	if (l.ntasks == 1 && !req->label && !l.cgroups) {
		if (l.topology && (l.binding.verbose || yurt_verbosity > 0))
			yurt_binding_plan_print(stderr, &l.binding);
		start_task(&l, 0, err);
		goto out;
	}
	status = run_tasks(&l, err);
out:
	launch_release(&l);
	return status;
}

int yurt_run_joined(const struct yurt_request *req, const char *key, char *const *host_environ,
		    struct yurt_err *err)
{
	char name[YURT_NAME_MAX + 1];
	struct launch l;
	int status = -1;

	launch_init(&l, req, host_environ);
	if (yurt_join_key(key, name, err))
		goto out;
	int planned = plan_tasks(&l, req, err);
	if (planned) {
		status = planned > 0 ? 0 : -1;
		goto out;
	}
	/* The joiner's own environment (its SLURM_PROCID...), on the image's:
	 * read once inside, as the image is only there. */
	if (yurt_container_plan(&l.c, err) ||
	    yurt_instance_join(&l.member, name, &l.c, l.ntasks, err) || setup_cgroups(&l, err) ||
	    yurt_member_enter(&l.member, NULL, err) || yurt_container_join_env(&l.c, err))
		goto out;
	/* A monitor always: it is the member, and must outlive the tasks. */
	status = run_tasks(&l, err);
out:
	launch_release(&l);
	return status;
}

int yurt_run_in_instance(const struct yurt_request *req, const char *name,
			 char *const *host_environ, struct yurt_err *err)
{
	/* The instance's --root, not the request's, decides what tasks keep. */
	struct yurt_request in = *req;
	struct launch l;
	int status = -1;

	launch_init(&l, &in, host_environ);
	int planned = plan_tasks(&l, req, err);
	if (planned) {
		status = planned > 0 ? 0 : -1;
		goto out;
	}
	if (yurt_container_configure(&l.c, err) ||
	    yurt_instance_attach(&l.member, name, l.ntasks, err))
		goto out;
	in.fake_root = l.member.info.fake_root;
	/* The container's environment as yurt start made it, with -e on top. */
	if (setup_cgroups(&l, err) || yurt_member_enter(&l.member, req->workdir, err) ||
	    yurt_env_build(&l.c.env, l.member.env.v, NULL, &l.c.user_env, false, err))
		goto out;
	status = run_tasks(&l, err);
out:
	launch_release(&l);
	return status;
}
