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
#include "file.h"
#include "image.h"
#include "log.h"
#include "munge.h"
#include "ns.h"
#include "passwd.h"
#include "path.h"
#include "plan.h"
#include "rootfs.h"
#include "container.h"
#include "siteconf.h"
#include "sqfs.h"


void yurt_container_release(struct yurt_container *c)
{
	if (c->server)
		yurt_fuse_server_stop(c->server);
	yurt_env_free(&c->env);
	yurt_env_free(&c->user_env);
	yurt_rootfs_close(&c->fs);
	yurt_plan_free(&c->plan);
	yurt_image_release(&c->image);
	yurt_siteconf_free(&c->site);
}

void yurt_container_detach_server(struct yurt_container *c)
{
	if (c->server)
		yurt_fuse_server_detach(c->server);
	c->server = NULL;
}

static int gather_host(struct yurt_container *c, struct yurt_host *host, struct yurt_err *err)
{
	const char *home = getenv("HOME");
	if (!getcwd(c->cwd, sizeof c->cwd))
		return yurt_fail(err, errno, "getcwd");
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	const char *slurm_conf = getenv("SLURM_CONF");
	*host = (struct yurt_host){
		.uid = getuid(), .gid = getgid(), .home = home, .cwd = c->cwd,
		.munge_socket = yurt_munge_default_socket(),
		.slurm_conf = slurm_conf ? slurm_conf : "/etc/slurm/slurm.conf",
	};
	return 0;
}

/* Reads a whole file of the image, resolving its path inside the image. */
static char *read_image_file(struct yurt_container *c, const char *path, struct yurt_err *err)
{
	_cleanup_free_ char *canonical = NULL;
	size_t exists;
	if (yurt_path_resolve(c->fs.img_fd, path, &canonical, &exists, err))
		return NULL;
	if (canonical[exists] != '\0')
		return NULL;
	_cleanup_close_ int fd = openat(c->fs.img_fd, canonical + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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

static bool image_has_file(struct yurt_container *c, const char *path)
{
	struct yurt_err ignored;
	_cleanup_free_ char *canonical = NULL;
	size_t exists;
	return !yurt_path_resolve(c->fs.img_fd, path, &canonical, &exists, &ignored) &&
	       canonical[exists] == '\0';
}

static int write_stage_file(const char *name, const char *text, struct yurt_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", YURT_STAGE_FILES, name);
	return yurt_file_write(path, O_CREAT | O_EXCL, 0644, text, err);
}

/* /etc/passwd and /etc/group that name the user inside, from the image's. */
static int generate_identity_files(struct yurt_container *c, struct yurt_err *err)
{
	struct yurt_identity id;
	if (yurt_identity_from_host(&id, getuid(), getgid(), c->req->fake_root, err))
		return -1;
	bool shell_in_image = image_has_file(c, id.shell);
	_cleanup_free_ char *image_passwd = read_image_file(c, "/etc/passwd", err);
	_cleanup_free_ char *image_group = read_image_file(c, "/etc/group", err);
	_cleanup_free_ char *passwd = yurt_passwd_generate(image_passwd, &id, shell_in_image, err);
	_cleanup_free_ char *group = passwd ? yurt_group_generate(image_group, &id, err) : NULL;
	yurt_identity_free(&id);
	if (!group)
		return -1;
	return write_stage_file("passwd", passwd, err) || write_stage_file("group", group, err) ? -1 : 0;
}

/* The image's environment files are read through ROOT_FD, the image's root. */
static int build_env(struct yurt_container *c, int root_fd, struct yurt_err *err)
{
	struct yurt_env image_env = { 0 };
	int rc = yurt_env_load_image(&image_env, root_fd, err);
	if (!rc)
		rc = yurt_env_build(&c->env, c->host_environ, &image_env, &c->user_env,
				    c->req->clean_env, err);
	yurt_env_free(&image_env);
	return rc;
}

static int enter_workdir(struct yurt_container *c, struct yurt_err *err)
{
	const char *dir = c->plan.workdir;
	if (!chdir(dir))
		return 0;
	if (c->plan.workdir_fallback) {
		yurt_verbose("%s does not exist in the container: starting in /", dir);
		return chdir("/") ? yurt_fail(err, errno, "chdir /") : 0;
	}
	return yurt_fail(err, errno, "workdir %s", dir);
}

int yurt_container_build(struct yurt_container *c, struct yurt_err *err)
{
	const struct yurt_request *req = c->req;
	bool squashfs = c->image.type == YURT_IMAGE_SQUASHFS;

	if (yurt_rootfs_open(&c->fs, &c->plan, squashfs ? NULL : c->image.path, err) ||
	    yurt_rootfs_stage(&c->fs, err))
		return -1;
	if (squashfs) {
		if (yurt_fuse_server_mount(c->server, YURT_STAGE_IMAGE, c->plan.uid, c->plan.gid, err) ||
		    yurt_rootfs_open_image(&c->fs, err))
			return -1;
	} else if (yurt_rootfs_mount_dir_image(&c->fs, err)) {
		return -1;
	}
	if (generate_identity_files(c, err) || build_env(c, c->fs.img_fd, err) ||
	    yurt_rootfs_assemble(&c->fs, req->writable_tmpfs, err) ||
	    yurt_rootfs_mount_all(&c->fs, err) || yurt_rootfs_pivot(&c->fs, err) ||
	    enter_workdir(c, err))
		return -1;
	if (req->slurm && yurt_munge_check(yurt_munge_default_socket(), err))
		return yurt_err_prefix(err, "--slurm");
	return 0;
}

int yurt_container_join_env(struct yurt_container *c, struct yurt_err *err)
{
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return yurt_fail(err, errno, "open /");
	return build_env(c, root, err);
}

void yurt_container_init(struct yurt_container *c, const struct yurt_request *req,
			 char *const *host_environ)
{
	*c = (struct yurt_container){
		.req = req, .host_environ = host_environ,
		.fs = { .image_fd = -1, .img_fd = -1, .skel_fd = -1, .root_fd = -1 },
	};
}

int yurt_container_configure(struct yurt_container *c, struct yurt_err *err)
{
	const struct yurt_request *req = c->req;
	if (yurt_siteconf_load(&c->site, YURT_SITECONF_FILE, err))
		return -1;
	if (c->site.max_tasks && req->binding.ntasks > c->site.max_tasks) {
		yurt_fail(err, 0, "--ntasks %u: this site allows at most %lu tasks", req->binding.ntasks, c->site.max_tasks);
		yurt_err_hint(err, "see max-tasks in %s", YURT_SITECONF_FILE);
		return -1;
	}
	return yurt_env_user(&c->user_env, c->host_environ, req, err);
}

int yurt_container_plan(struct yurt_container *c, struct yurt_err *err)
{
	struct yurt_host host;
	if (yurt_container_configure(c, err) || gather_host(c, &host, err) ||
	    yurt_plan_build(&c->plan, c->req, &host, &c->site, err) ||
	    yurt_image_open(&c->image, c->req->image, err))
		return -1;
	if (!yurt_siteconf_image_allowed(&c->site, c->image.path)) {
		yurt_fail(err, 0, "image %s: not under a directory this site allows", c->image.path);
		yurt_err_hint(err, "see allow-images in %s", YURT_SITECONF_FILE);
		return -1;
	}
	return 0;
}

int yurt_container_serve(struct yurt_container *c, struct yurt_err *err)
{
	if (c->image.type == YURT_IMAGE_SQUASHFS)
		return yurt_fuse_server_start(&c->server, &c->image, err);
	return 0;
}
