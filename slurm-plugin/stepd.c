/* slurmstepd and the job epilog: the step's container on this node.
 *
 * slurmstepd is multithreaded and, once switched to the user, not dumpable,
 * so no namespace can be made in it.  user_init (once per step and node)
 * runs `yurt start` as the user, in a child that has dropped root for good:
 * its holder mounts the image once and keeps the namespaces.  task_init, in
 * each task as the user before exec, joins them with setns, so the tasks
 * stay slurmstepd's children and Slurm keeps binding, signals and exit
 * codes.  exit stops the step's container; the epilog stops --container-name
 * ones, which live as long as the job.  Root here only makes the per-user
 * directory under runtime_path; it never mounts, unshares or opens images. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "cleanup.h"
#include "instance.h"
#include "plugin.h"

/* What this step's slurmstepd knows of the job. */
static struct {
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	int ngids;
	uint32_t job, step;
	char name[YURT_NAME_MAX + 1];  /* the instance */
	char runtime_dir[PATH_MAX];    /* XDG_RUNTIME_DIR for yurt: runtime_path/UID */
	char job_cwd[PATH_MAX], home[PATH_MAX], path[4096], slurm_conf[PATH_MAX], user[256];
	bool started;                  /* this step made the instance */
	/* Why the container could not be made: told to the user by the tasks,
	 * on their stderr, since Slurm 22.05's srun exits 0 when user_init fails. */
	char failure[2048];
} job = { .uid = (uid_t)-1 };

static void copy_env(spank_t sp, const char *name, char *buf, size_t size)
{
	if (spank_getenv(sp, name, buf, (int)size) != ESPANK_SUCCESS)
		buf[0] = '\0';
}

/* A step whose tasks may run in a container: not the extern step. */
static bool container_step(void)
{
	return job.step != SLURM_EXTERN_CONT;
}

static int job_ids(spank_t sp, struct yurt_err *err)
{
	if (spank_get_item(sp, S_JOB_UID, &job.uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &job.gid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &job.job) != ESPANK_SUCCESS)
		return yurt_fail(err, 0, "cannot read the job's ids from Slurm");
	return 0;
}

/* runtime_path with %n replaced by NODE: several slurmd on one host (as in
 * test clusters) need a directory each. */
static void runtime_root(char *buf, size_t size, const char *node)
{
	size_t len = 0;
	for (const char *p = yurt_site.runtime_path; *p && len + 1 < size; p++) {
		if (p[0] == '%' && p[1] == 'n') {
			len += (size_t)snprintf(buf + len, size - len, "%s", node ? node : "");
			p++;
		} else {
			buf[len++] = *p;
		}
		if (len >= size)
			len = size - 1;
	}
	buf[len] = '\0';
}

static void set_runtime_dir(const char *node)
{
	char root[PATH_MAX - 16];
	runtime_root(root, sizeof root, node);
	snprintf(job.runtime_dir, sizeof job.runtime_dir, "%s/%u", root, (unsigned)job.uid);
}

/* runtime_path/UID, the user's own, made by root where missing. */
static int runtime_dir(const char *node, struct yurt_err *err)
{
	struct stat st;
	char root[PATH_MAX];
	runtime_root(root, sizeof root, node);
	set_runtime_dir(node);
	/* Root's, up to the user's own directory. */
	for (char *slash = root + 1; ; slash++) {
		bool end = !*slash;
		if (*slash == '/' || end) {
			*slash = '\0';
			if (mkdir(root, 0755) && errno != EEXIST)
				return yurt_fail(err, errno, "runtime_path %s", root);
			if (end)
				break;
			*slash = '/';
		}
	}
	if (mkdir(job.runtime_dir, 0700) == 0 && chown(job.runtime_dir, job.uid, job.gid))
		return yurt_fail(err, errno, "chown %s", job.runtime_dir);
	if (lstat(job.runtime_dir, &st))
		return yurt_fail(err, errno, "%s", job.runtime_dir);
	return yurt_state_dir_check(&st, job.uid, job.runtime_dir, err);
}

/* Runs ARGV as the job's user with ENVP, in DIR; its stderr is captured and,
 * when it fails, replayed through Slurm: successful steps print nothing.
 * Returns its exit status, or -1. */
static int run_as_user(char *const *argv, char *const *envp, const char *dir, bool stopping,
		       bool (*done)(void), struct yurt_err *err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC))
		return yurt_fail(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]), close(pipefd[1]);
		return yurt_fail(err, errno, "fork");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		/* slurmstepd may have dropped only its effective ids: take root
		 * back, then leave it for good, so the user can trace and kill
		 * what runs here, and nothing runs with more than the user has. */
		if (seteuid(0) && geteuid() != 0) { /* already fully root, or not allowed */ }
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(pipefd[1], 2) < 0 ||
		    setgroups((size_t)job.ngids, job.gids) || setgid(job.gid) || setuid(job.uid) ||
		    setuid(0) == 0) {
			fprintf(stderr, "yurt: error: cannot switch to uid %u\n", (unsigned)job.uid);
			_exit(YURT_EXIT_LAUNCH);
		}
		/* The step's end signals slurmstepd's children: `yurt stop` must
		 * finish, or the container outlives the step.  (Not `yurt start`:
		 * its holder must hear yurt stop's SIGTERM.) */
		if (stopping) {
			signal(SIGTERM, SIG_IGN);
			signal(SIGINT, SIG_IGN);
			signal(SIGHUP, SIG_IGN);
		}
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (!dir || chdir(dir))
			chdir("/");
		if (done && done())
			_exit(0);
		if (!argv)  /* only the check */
			_exit(1);
		execve(argv[0], argv, envp);
		fprintf(stderr, "yurt: error: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(YURT_EXIT_NOT_FOUND);
	}
	close(pipefd[1]);
	char out[8192];
	size_t len = 0;
	ssize_t n;
	while ((n = read(pipefd[0], out + len, sizeof out - 1 - len)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && (len += (size_t)n) == sizeof out - 1) {
			/* Full: keep the later half, where the error is. */
			memmove(out, out + len / 2, len - len / 2);
			len -= len / 2;
		}
	out[len] = '\0';
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return yurt_fail(err, errno, "waitpid");
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (code) {
		/* yurt's error line (the last, if warnings came first), else the
		 * first line; the prefix is added again when it is reported. */
		char *line = out;
		for (char *e = out; (e = strstr(e, "yurt: error: ")); e += 13)
			line = e + 13;
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (*line)
			yurt_fail(err, 0, "%s", line);
		else
			yurt_fail(err, 0, "%s exited with status %d", argv ? argv[0] : "check", code);
	}
	return code;
}

/* The environment of the yurt processes: little of the job's; the tasks get
 * the rest from Slurm. */
static void yurt_environ(char env[6][PATH_MAX + 32], char *envp[7])
{
	int n = 0;
	snprintf(env[n++], PATH_MAX + 32, "XDG_RUNTIME_DIR=%s", job.runtime_dir);
	snprintf(env[n++], PATH_MAX + 32, "HOME=%s", job.home);
	snprintf(env[n++], PATH_MAX + 32, "USER=%s", job.user);
	snprintf(env[n++], PATH_MAX + 32, "PATH=%s", job.path[0] ? job.path : "/usr/local/bin:/usr/bin:/bin");
	if (job.slurm_conf[0])
		snprintf(env[n++], PATH_MAX + 32, "SLURM_CONF=%s", job.slurm_conf);
	for (int i = 0; i < n; i++)
		envp[i] = env[i];
	envp[n] = NULL;
}

static const char *yurt_path(void)
{
	return yurt_site.yurt ? yurt_site.yurt : YURT_BINDIR "/yurt";
}

/* Whether the named instance already runs, as the user sees it: checked by
 * `yurt start` failing with "already exists" would parse words; instead the
 * record and its holder are read the way members do. */
static bool named_instance_live(void)
{
	struct yurt_instance_info info;
	struct yurt_state_dir dir = { .fd = -1 };
	struct yurt_err ignored;
	char path[PATH_MAX + 8];
	snprintf(path, sizeof path, "%s/yurt", job.runtime_dir);
	dir.fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir.fd < 0)
		return false;
	int fd = yurt_state_read(&dir, job.name, &info, &ignored) ? -1 : yurt_holder_open(&info, &ignored);
	close(dir.fd);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* This node's name, for %n: slurmstepd has no item for it and the job's
 * environment gets SLURMD_NODENAME only at exec, so it is the step's
 * NODEIDth node. */
static void node_name(spank_t sp, char *buf, size_t size)
{
	static const char *const lists[] = { "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST" };
	char list[8192];
	uint32_t id = 0;
	buf[0] = '\0';
	if (spank_get_item(sp, S_JOB_NODEID, &id) != ESPANK_SUCCESS)
		return;
	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
		copy_env(sp, lists[i], list, sizeof list);
		if (list[0])
			break;
	}
	hostlist_t hl = list[0] ? slurm_hostlist_create(list) : NULL;
	if (!hl)
		return;
	for (uint32_t i = 0; i <= id; i++) {
		char *host = slurm_hostlist_shift(hl);
		if (host && i == id)
			snprintf(buf, size, "%s", host);
		free(host);
	}
	slurm_hostlist_destroy(hl);
}

int yurt_stepd_prepare(spank_t sp)
{
	struct yurt_err err;
	char step[16];
	if (!yurt_spank_opts_active(&yurt_opts))
		return 0;
	if (job_ids(sp, &err) || spank_get_item(sp, S_JOB_STEPID, &job.step) != ESPANK_SUCCESS)
		goto fail;
	if (!container_step())
		return 0;
	spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &job.gids, &job.ngids);
	if (job.step == SLURM_BATCH_SCRIPT)
		snprintf(step, sizeof step, "batch");
	else if (job.step == SLURM_INTERACTIVE_STEP)
		snprintf(step, sizeof step, "interactive");
	else
		snprintf(step, sizeof step, "%u", job.step);
	char node[256];
	node_name(sp, node, sizeof node);
	if (yurt_spank_instance_name(job.name, sizeof job.name, &yurt_opts, job.job, step, &err) ||
	    runtime_dir(node, &err))
		goto fail;
	return 0;
fail:
	yurt_spank_report(&err);
	return -1;
}

int yurt_stepd_user_init(spank_t sp)
{
	struct yurt_err err;
	_cleanup_free_ char *workdir = NULL;
	if (!yurt_spank_opts_active(&yurt_opts) || !container_step())
		return 0;
	copy_env(sp, "PWD", job.job_cwd, sizeof job.job_cwd);
	copy_env(sp, "HOME", job.home, sizeof job.home);
	copy_env(sp, "USER", job.user, sizeof job.user);
	copy_env(sp, "PATH", job.path, sizeof job.path);
	copy_env(sp, "SLURM_CONF", job.slurm_conf, sizeof job.slurm_conf);
	if (!job.slurm_conf[0] && getenv("SLURM_CONF"))
		snprintf(job.slurm_conf, sizeof job.slurm_conf, "%s", getenv("SLURM_CONF"));
	if (!job.home[0] || !job.user[0]) {
		struct passwd *pw = getpwuid(job.uid);
		if (pw && !job.home[0])
			snprintf(job.home, sizeof job.home, "%s", pw->pw_dir);
		if (pw && !job.user[0])
			snprintf(job.user, sizeof job.user, "%s", pw->pw_name);
	}
	setenv("XDG_RUNTIME_DIR", job.runtime_dir, 1);
	if (!yurt_opts.image) {
		if (!run_as_user(NULL, NULL, "/", false, named_instance_live, &err))
			return 0;
		yurt_fail(&err, 0, "--container-name %s: no such container in job %u, and no --container-image to make it",
			  yurt_opts.name, job.job);
		goto fail;
	}
	if (yurt_site.allow_images.n) {
		/* Canonical, as the user resolves it: no symlink leads out. */
		char real[PATH_MAX], abs[PATH_MAX];
		if (yurt_opts.image[0] != '/')
			snprintf(abs, sizeof abs, "%s/%s", job.job_cwd, yurt_opts.image);
		else
			snprintf(abs, sizeof abs, "%s", yurt_opts.image);
		if (!realpath(abs, real)) {
			yurt_fail(&err, errno, "image %s", yurt_opts.image);
			goto fail;
		}
		if (!yurt_spank_image_allowed(&yurt_site, real)) {
			yurt_fail(&err, 0, "image %s is not in a directory this site allows (allow_images)", yurt_opts.image);
			goto fail;
		}
	}
	workdir = yurt_opts.workdir ? strdup(yurt_opts.workdir)
		: yurt_spank_default_workdir(&yurt_opts, &yurt_site, job.job_cwd, job.home);
	/* The batch step's task is its script, which slurmd wrote in its spool:
	 * no image has it, so the container gets it where slurmstepd execs it. */
	const char *script = NULL;
	if (job.step == SLURM_BATCH_SCRIPT) {
		int argc = 0;
		char **args = NULL;
		if (spank_get_item(sp, S_JOB_ARGV, &argc, &args) == ESPANK_SUCCESS && argc > 0 && args)
			script = args[0];
	}
	struct yurt_strv argv = { 0 };
	if (yurt_spank_start_argv(&argv, &yurt_opts, &yurt_site, job.name, workdir, script, &err)) {
		yurt_strv_free(&argv);
		goto fail;
	}
	free(argv.v[0]);
	argv.v[0] = strdup(yurt_path());
	char env[6][PATH_MAX + 32], *envp[7];
	yurt_environ(env, envp);
	/* A later step naming the container joins it as it is: checked as
	 * the user, whose holder it must be. */
	int code = argv.v[0] ? run_as_user(argv.v, envp, job.job_cwd, false,
					   yurt_opts.name ? named_instance_live : NULL, &err) : -1;
	yurt_strv_free(&argv);
	if (code)
		goto fail;
	job.started = !yurt_opts.name;
	return 0;
fail:
	yurt_err_text(&err, job.failure, sizeof job.failure);
	return 0;
}

int yurt_stepd_task_init(spank_t sp)
{
	struct yurt_member m = YURT_MEMBER_INIT;
	struct yurt_err err;
	if (!yurt_spank_opts_active(&yurt_opts) || !container_step())
		return 0;
	/* The task's stderr is the user's now: say it there, once per node. */
	if (job.failure[0]) {
		uint32_t id = 0;
		if (spank_get_item(sp, S_TASK_ID, &id) == ESPANK_SUCCESS && id == 0)
			fprintf(stderr, "yurt: error: %s\n", job.failure);
		_exit(YURT_EXIT_LAUNCH);
	}
	if (yurt_instance_attach(&m, job.name, 1, &err))
		goto fail;
	for (size_t i = 0; i < m.env.n; i++) {
		char *eq = strchr(m.env.v[i], '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (yurt_spank_env_from_image(&yurt_opts, m.env.v[i]))
			spank_setenv(sp, m.env.v[i], eq + 1, 1);
		*eq = '=';
	}
	if (yurt_member_enter(&m, NULL, &err))
		goto fail;
	/* The connection closes at exec (close-on-exec): a `yurt start`
	 * instance does not end with its members; exit stops it. */
	yurt_member_release(&m);
	return 0;
fail:
	{
		char text[2048];
		fprintf(stderr, "yurt: error: %s\n", yurt_err_text(&err, text, sizeof text));
	}
	_exit(YURT_EXIT_LAUNCH);
}

static void stop(const char *name)
{
	struct yurt_err err;
	char *argv[] = { (char *)yurt_path(), "stop", "-q", (char *)name, NULL };
	char env[6][PATH_MAX + 32], *envp[7];
	yurt_environ(env, envp);
	if (run_as_user(argv, envp, "/", true, NULL, &err))
		yurt_spank_report(&err);
}

/* Removes the user's directories when nothing is left in them. */
static void tidy_runtime_dir(void)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof path, "%s/yurt", job.runtime_dir);
	rmdir(path);
	rmdir(job.runtime_dir);
}

void yurt_stepd_exit(spank_t sp)
{
	(void)sp;
	if (!job.started)
		return;
	stop(job.name);
	tidy_runtime_dir();
}

/* The job is over on this node: its named containers end, and whatever its
 * steps left behind if their slurmstepd died. */
int yurt_stepd_job_epilog(spank_t sp)
{
	char path[PATH_MAX + 8], prefix[2][32];
	/* The epilog's environment, not spank_get_item: in this context
	 * Slurm 22.05 answers few items, and not reliably. */
	const char *uid = getenv("SLURM_JOB_UID"), *id = getenv("SLURM_JOB_ID");
	(void)sp;
	if (!uid || !id)
		return 0;
	job.uid = (uid_t)strtoul(uid, NULL, 10);
	job.job = (uint32_t)strtoul(id, NULL, 10);
	struct passwd *pw = getpwuid(job.uid);
	if (!pw)
		return 0;
	job.gid = pw->pw_gid;
	set_runtime_dir(getenv("SLURMD_NODENAME"));
	snprintf(path, sizeof path, "%s/yurt", job.runtime_dir);
	snprintf(prefix[0], sizeof prefix[0], "slurm-%u-", job.job);
	snprintf(prefix[1], sizeof prefix[1], "slurm-%u.", job.job);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	snprintf(job.home, sizeof job.home, "%s", pw->pw_dir);
	snprintf(job.user, sizeof job.user, "%s", pw->pw_name);
	gid_t gid = job.gid;
	job.gids = &gid;
	job.ngids = 1;
	struct yurt_strv names = { 0 };
	for (struct dirent *e; (e = readdir(d)); ) {
		size_t len = strlen(e->d_name);
		if ((strncmp(e->d_name, prefix[0], strlen(prefix[0])) &&
		     strncmp(e->d_name, prefix[1], strlen(prefix[1]))) ||
		    len < 6 || strcmp(e->d_name + len - 5, ".lock"))
			continue;
		e->d_name[len - 5] = '\0';
		yurt_strv_push(&names, e->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < names.n; i++)
		stop(names.v[i]);
	yurt_strv_free(&names);
	tidy_runtime_dir();
	return 0;
}
