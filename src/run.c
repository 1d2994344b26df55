#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cleanup.h"
#include "env.h"
#include "exec.h"
#include "image.h"
#include "log.h"
#include "munge.h"
#include "ns.h"
#include "passwd.h"
#include "path.h"
#include "plan.h"
#include "rootfs.h"
#include "run.h"
#include "siteconf.h"
#include "sqfs.h"
#include "task.h"

/* Everything a run holds, released in one place on every path. */
struct run {
	const struct yurt_request *req;
	char *const *host_environ;
	struct yurt_siteconf site;
	struct yurt_image image;
	struct yurt_plan plan;
	struct yurt_rootfs fs;
	struct yurt_fuse_server *server;
	struct yurt_env user_env;  /* --env-file and -e, read before any namespace */
	struct yurt_env env;
	char cwd[PATH_MAX];
};

static void run_release(struct run *run)
{
	if (run->server)
		yurt_fuse_server_stop(run->server);
	yurt_env_free(&run->env);
	yurt_env_free(&run->user_env);
	yurt_rootfs_close(&run->fs);
	yurt_plan_free(&run->plan);
	yurt_image_release(&run->image);
	yurt_siteconf_free(&run->site);
}

/* Setup is done: the server now lives as long as the mount. */
static void detach_server(struct run *run)
{
	if (run->server)
		yurt_fuse_server_detach(run->server);
	run->server = NULL;
}

static int gather_host(struct run *run, struct yurt_host *host, struct yurt_err *err)
{
	const char *home = getenv("HOME");
	if (!getcwd(run->cwd, sizeof run->cwd))
		return yurt_fail(err, errno, "getcwd");
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	const char *slurm_conf = getenv("SLURM_CONF");
	*host = (struct yurt_host){
		.uid = getuid(), .gid = getgid(), .home = home, .cwd = run->cwd,
		.munge_socket = yurt_munge_default_socket(),
		.slurm_conf = slurm_conf ? slurm_conf : "/etc/slurm/slurm.conf",
	};
	return 0;
}

/* Reads a whole file of the image, resolving its path inside the image. */
static char *read_image_file(struct run *run, const char *path, struct yurt_err *err)
{
	_cleanup_free_ char *canonical = NULL;
	size_t exists;
	if (yurt_path_resolve(run->fs.img_fd, path, &canonical, &exists, err))
		return NULL;
	if (canonical[exists] != '\0')
		return NULL;
	_cleanup_close_ int fd = openat(run->fs.img_fd, canonical + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	if (!f)
		return NULL;
	fd = -1;
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);
	if (!mem)
		return NULL;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(mem);
	return text;
}

static bool image_has_file(struct run *run, const char *path)
{
	struct yurt_err ignored;
	_cleanup_free_ char *canonical = NULL;
	size_t exists;
	return !yurt_path_resolve(run->fs.img_fd, path, &canonical, &exists, &ignored) &&
	       canonical[exists] == '\0';
}

static int write_stage_file(const char *name, const char *text, struct yurt_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", YURT_STAGE_FILES, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return yurt_fail(err, errno, "create %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return yurt_fail(err, errno, "write %s", path);
	return 0;
}

/* /etc/passwd and /etc/group that name the user inside, from the image's. */
static int generate_identity_files(struct run *run, struct yurt_err *err)
{
	struct yurt_identity id;
	if (yurt_identity_from_host(&id, getuid(), getgid(), run->req->fake_root, err))
		return -1;
	bool shell_in_image = image_has_file(run, id.shell);
	_cleanup_free_ char *image_passwd = read_image_file(run, "/etc/passwd", err);
	_cleanup_free_ char *image_group = read_image_file(run, "/etc/group", err);
	_cleanup_free_ char *passwd = yurt_passwd_generate(image_passwd, &id, shell_in_image, err);
	_cleanup_free_ char *group = passwd ? yurt_group_generate(image_group, &id, err) : NULL;
	yurt_identity_free(&id);
	if (!group)
		return -1;
	return write_stage_file("passwd", passwd, err) || write_stage_file("group", group, err) ? -1 : 0;
}

static int build_env(struct run *run, struct yurt_err *err)
{
	struct yurt_env image_env = { 0 };
	int rc = yurt_env_load_image(&image_env, run->fs.img_fd, err);
	if (!rc)
		rc = yurt_env_build(&run->env, run->host_environ, &image_env, &run->user_env,
				    run->req->clean_env, err);
	yurt_env_free(&image_env);
	return rc;
}

static int enter_workdir(struct run *run, struct yurt_err *err)
{
	const char *dir = run->plan.workdir;
	if (!chdir(dir))
		return 0;
	if (run->plan.workdir_fallback) {
		yurt_verbose("%s does not exist in the container: starting in /", dir);
		return chdir("/") ? yurt_fail(err, errno, "chdir /") : 0;
	}
	return yurt_fail(err, errno, "workdir %s", dir);
}

/* Builds the container in this process's new namespaces, up to the point
 * where only the command is left to start. */
static int setup_container(struct run *run, struct yurt_err *err)
{
	const struct yurt_request *req = run->req;
	bool squashfs = run->image.type == YURT_IMAGE_SQUASHFS;

	if (yurt_rootfs_open(&run->fs, &run->plan, squashfs ? NULL : run->image.path, err) ||
	    yurt_rootfs_stage(&run->fs, err))
		return -1;
	if (squashfs) {
		if (yurt_fuse_server_mount(run->server, YURT_STAGE_IMAGE, run->plan.uid, run->plan.gid, err) ||
		    yurt_rootfs_open_image(&run->fs, err))
			return -1;
	} else if (yurt_rootfs_mount_dir_image(&run->fs, err)) {
		return -1;
	}
	if (generate_identity_files(run, err) || build_env(run, err) ||
	    yurt_rootfs_assemble(&run->fs, req->writable_tmpfs, err) ||
	    yurt_rootfs_mount_all(&run->fs, err) || yurt_rootfs_pivot(&run->fs, err) ||
	    enter_workdir(run, err))
		return -1;
	if (req->slurm && yurt_munge_check(yurt_munge_default_socket(), err))
		return yurt_err_prefix(err, "--slurm");
	return 0;
}

static int start_command(struct run *run, struct yurt_err *err)
{
	if (yurt_caps_lock_down(run->req->fake_root, err))
		return -1;
	return yurt_exec(run->req->argv, run->env.v, err);
}

/* PID 1 of the new PID namespace: builds the container, starts the command
 * as its child and reaps every orphan until the command ends. */
static int pid_namespace_init(struct run *run, struct yurt_err *err)
{
	sigset_t saved;
	if (setup_container(run, err))
		return -1;
	detach_server(run);
	if (yurt_signals_block(&saved, err))
		return -1;
	struct yurt_task task = { .pid = fork() };
	if (task.pid < 0)
		return yurt_fail(err, errno, "fork");
	if (task.pid == 0) {
		sigprocmask(SIG_SETMASK, &saved, NULL);
		start_command(run, err);
		yurt_err_print(err);
		_exit(err->status);
	}
	if (yurt_tasks_wait(&task, 1, err))
		return -1;
	return yurt_exit_status(task.wait_status);
}

/* The launcher side of --pid: waits for the namespace's init, passing
 * signals on. */
static int run_in_pid_namespace(struct run *run, struct yurt_err *err)
{
	sigset_t saved;
	if (yurt_signals_block(&saved, err))
		return -1;
	struct yurt_task init = { .pid = fork() };
	if (init.pid < 0)
		return yurt_fail(err, errno, "fork");
	if (init.pid == 0) {
		/* The namespace, and all in it, ends with the launcher, even on kill -9.
		 * (getppid() is 0 in a new PID namespace: no check of a parent that
		 * died before this line is possible, and the window is a few µs.) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(YURT_EXIT_LAUNCH);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		int status = pid_namespace_init(run, err);
		if (status < 0) {
			yurt_err_print(err);
			status = err->status;
		}
		_exit(status);
	}
	if (yurt_tasks_wait(&init, 1, err))
		return -1;
	/* init reports its own failures; its status is the one to pass on. */
	return yurt_exit_status(init.wait_status);
}

static int prepare(struct run *run, struct yurt_err *err)
{
	const struct yurt_request *req = run->req;
	struct yurt_host host;
	if (yurt_siteconf_load(&run->site, YURT_SITECONF_FILE, err) ||
	    gather_host(run, &host, err) ||
	    yurt_plan_build(&run->plan, req, &host, &run->site, err) ||
	    yurt_env_user(&run->user_env, run->host_environ, req, err) ||
	    yurt_image_open(&run->image, req->image, err))
		return -1;
	if (!yurt_siteconf_image_allowed(&run->site, run->image.path)) {
		yurt_fail(err, 0, "image %s: not under a directory this site allows", run->image.path);
		yurt_err_hint(err, "see allow-images in %s", YURT_SITECONF_FILE);
		return -1;
	}
	if (run->image.type == YURT_IMAGE_SQUASHFS &&
	    yurt_fuse_server_start(&run->server, &run->image, err))
		return -1;
	return 0;
}

int yurt_run(const struct yurt_request *req, char *const *host_environ, struct yurt_err *err)
{
	struct run run = { .req = req, .host_environ = host_environ };
	int status = -1;

	if (prepare(&run, err) || yurt_ns_enter(run.plan.uid, run.plan.gid, req->pid_ns, err))
		goto out;
	if (req->pid_ns) {
		status = run_in_pid_namespace(&run, err);
		goto out;
	}
	if (setup_container(&run, err))
		goto out;
	detach_server(&run);
	start_command(&run, err);
out:
	run_release(&run);
	return status;
}
