#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "path.h"
#include "rootfs.h"

#define STAGE_ROOT YURT_STAGE "/root"
#define STAGE_SKEL YURT_STAGE_LAYERS "/skel"
#define STAGE_UPPER YURT_STAGE_LAYERS "/upper"
#define STAGE_WORK YURT_STAGE_LAYERS "/work"

static void fd_path(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

int yurt_rootfs_open(struct yurt_rootfs *fs, const struct yurt_plan *plan, const char *dir_image,
		     struct yurt_err *err)
{
	*fs = (struct yurt_rootfs){ .plan = plan, .image_fd = -1, .img_fd = -1, .skel_fd = -1, .root_fd = -1 };
	if (!(fs->src_fds = malloc((plan->nmounts + 1) * sizeof *fs->src_fds)))
		return yurt_fail(err, ENOMEM, "rootfs");
	for (size_t i = 0; i < plan->nmounts; i++)
		fs->src_fds[i] = -1;
	if (dir_image && (fs->image_fd = open(dir_image, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return yurt_fail(err, errno, "image %s", dir_image);
	for (size_t i = 0; i < plan->nmounts; i++) {
		const struct yurt_mount *m = &plan->mounts[i];
		if (m->kind != YURT_MOUNT_BIND)
			continue;
		fs->src_fds[i] = open(m->src, O_PATH | O_CLOEXEC);
		if (fs->src_fds[i] >= 0)
			continue;
		if (m->optional && errno == ENOENT) {
			yurt_debug("skip %s bind %s: not on this host", m->origin, m->src);
			continue;
		}
		return yurt_fail(err, errno, "bind source %s", m->src);
	}
	return 0;
}

int yurt_rootfs_stage(struct yurt_rootfs *fs, struct yurt_err *err)
{
	static const char *const dirs[] = { YURT_STAGE_IMAGE, STAGE_ROOT, YURT_STAGE_LAYERS };
	static const char *const layers[] = { STAGE_SKEL, STAGE_UPPER, STAGE_WORK, YURT_STAGE_FILES };
	if (mount("yurt", YURT_STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700"))
		return yurt_fail(err, errno, "mount staging tmpfs on %s", YURT_STAGE);
	/* Recursive binds of host directories (/tmp itself, or -b /) must not
	 * copy the stage into the container. */
	if (mount(NULL, YURT_STAGE, NULL, MS_UNBINDABLE, NULL))
		return yurt_fail(err, errno, "make %s unbindable", YURT_STAGE);
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		if (mkdir(dirs[i], 0755))
			return yurt_fail(err, errno, "mkdir %s", dirs[i]);
	if (mount("yurt", YURT_STAGE_LAYERS, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"))
		return yurt_fail(err, errno, "mount tmpfs on %s", YURT_STAGE_LAYERS);
	for (size_t i = 0; i < sizeof layers / sizeof *layers; i++)
		if (mkdir(layers[i], 0755))
			return yurt_fail(err, errno, "mkdir %s", layers[i]);
	if ((fs->skel_fd = open(STAGE_SKEL, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return yurt_fail(err, errno, "open %s", STAGE_SKEL);
	return 0;
}

/* Makes the mount at fd read-only, with its submounts.  Remounting an
 * inherited bind must keep its locked flags (nosuid, nodev...), which
 * mount_setattr leaves alone; the old remount is the fallback. */
static int make_readonly(int fd, const char *what, struct yurt_err *err)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (!mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr))
		return 0;
	if (errno != ENOSYS)
		return yurt_fail(err, errno, "make %s read-only", what);
	char path[64];
	struct statvfs sv;
	fd_path(path, sizeof path, fd);
	if (fstatvfs(fd, &sv))
		return yurt_fail(err, errno, "statvfs %s", what);
	unsigned long locked = sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked, NULL))
		return yurt_fail(err, errno, "make %s read-only", what);
	return 0;
}

int yurt_rootfs_mount_dir_image(struct yurt_rootfs *fs, struct yurt_err *err)
{
	char src[64];
	fd_path(src, sizeof src, fs->image_fd);
	if (mount(src, YURT_STAGE_IMAGE, NULL, MS_BIND | MS_REC, NULL))
		return yurt_fail(err, errno, "bind image");
	_cleanup_close_ int fd = open(YURT_STAGE_IMAGE, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return yurt_fail(err, errno, "open %s", YURT_STAGE_IMAGE);
	if (make_readonly(fd, "image", err))
		return -1;
	if (mount(NULL, YURT_STAGE_IMAGE, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL))
		return yurt_fail(err, errno, "remount image nosuid,nodev");
	return yurt_rootfs_open_image(fs, err);
}

int yurt_rootfs_open_image(struct yurt_rootfs *fs, struct yurt_err *err)
{
	if ((fs->img_fd = open(YURT_STAGE_IMAGE, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return yurt_fail(err, errno, "open image root");
	return 0;
}

/* True when the mount's source is not a directory, so its mount point is a file. */
static bool mounts_a_file(const struct yurt_rootfs *fs, size_t i)
{
	const struct yurt_mount *m = &fs->plan->mounts[i];
	struct stat st;
	if (m->kind == YURT_MOUNT_FILE)
		return true;
	return fs->src_fds[i] >= 0 && !fstat(fs->src_fds[i], &st) && !S_ISDIR(st.st_mode);
}

static bool skipped(const struct yurt_rootfs *fs, size_t i)
{
	return fs->plan->mounts[i].kind == YURT_MOUNT_BIND && fs->src_fds[i] < 0;
}

int yurt_rootfs_assemble(struct yurt_rootfs *fs, bool writable, struct yurt_err *err)
{
	const struct yurt_plan *plan = fs->plan;
	fs->overlay = writable;
	for (size_t i = 0; i < plan->nmounts; i++) {
		_cleanup_free_ char *canonical = NULL;
		size_t exists;
		if (skipped(fs, i))
			continue;
		if (yurt_path_resolve(fs->img_fd, plan->mounts[i].dst, &canonical, &exists, err))
			return yurt_err_prefix(err, "mount point");
		if (canonical[exists] == '\0')
			continue;
		yurt_debug("image lacks %s: adding it beneath the image", canonical);
		if (yurt_path_create(fs->skel_fd, canonical, mounts_a_file(fs, i), err))
			return -1;
		fs->overlay = true;
	}
	if (!fs->overlay)
		return (fs->root_fd = fcntl(fs->img_fd, F_DUPFD_CLOEXEC, 0)) < 0
			       ? yurt_fail(err, errno, "dup image root") : 0;

	/* The skeleton lies above the image, so it only adds the missing paths. */
	const char *opts = writable
		? "lowerdir=" STAGE_SKEL ":" YURT_STAGE_IMAGE ",upperdir=" STAGE_UPPER ",workdir=" STAGE_WORK ",userxattr"
		: "lowerdir=" STAGE_SKEL ":" YURT_STAGE_IMAGE;
	unsigned long flags = MS_NOSUID | MS_NODEV | (writable ? 0 : MS_RDONLY);
	yurt_verbose("overlay: %s", opts);
	if (mount("overlay", STAGE_ROOT, "overlay", flags, opts)) {
		yurt_fail(err, errno, "mount overlay on the image");
		yurt_err_hint(err, "unprivileged overlayfs needs Linux 5.11 or newer");
		return -1;
	}
	if ((fs->root_fd = open(STAGE_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return yurt_fail(err, errno, "open %s", STAGE_ROOT);
	return 0;
}

/* Opens the mount point of DST inside the assembled root, resolving DST
 * there so that no symlink leads outside. */
static int open_target(const struct yurt_rootfs *fs, const char *dst, struct yurt_err *err)
{
	_cleanup_free_ char *canonical = NULL;
	size_t exists;
	if (yurt_path_resolve(fs->root_fd, dst, &canonical, &exists, err))
		return yurt_err_prefix(err, "mount point");
	if (canonical[exists] != '\0')
		return yurt_fail(err, ENOENT, "mount point %s (as %s, inside an earlier bind)", dst, canonical);
	const char *rel = canonical[1] ? canonical + 1 : ".";
	int fd = openat(fs->root_fd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return yurt_fail(err, errno, "mount point %s", canonical);
	return fd;
}

static int mount_one(struct yurt_rootfs *fs, size_t i, struct yurt_err *err)
{
	const struct yurt_mount *m = &fs->plan->mounts[i];
	char target[64], source[PATH_MAX];
	_cleanup_close_ int tfd = open_target(fs, m->dst, err);
	if (tfd < 0)
		return -1;
	fd_path(target, sizeof target, tfd);
	switch (m->kind) {
	case YURT_MOUNT_BIND:
		fd_path(source, sizeof source, fs->src_fds[i]);
		yurt_verbose("bind %s -> %s%s (%s)", m->src, m->dst, m->readonly ? " ro" : "", m->origin);
		if (mount(source, target, NULL, MS_BIND | MS_REC, NULL))
			return yurt_fail(err, errno, "bind %s to %s", m->src, m->dst);
		break;
	case YURT_MOUNT_FILE:
		snprintf(source, sizeof source, "%s/%s", YURT_STAGE_FILES, m->src);
		yurt_verbose("generated %s", m->dst);
		if (mount(source, target, NULL, MS_BIND, NULL))
			return yurt_fail(err, errno, "bind %s to %s", source, m->dst);
		break;
	case YURT_MOUNT_TMPFS:
		yurt_verbose("tmpfs on %s", m->dst);
		if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"))
			return yurt_fail(err, errno, "mount tmpfs on %s", m->dst);
		break;
	case YURT_MOUNT_PROC:
		yurt_verbose("proc on %s", m->dst);
		if (mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
			return yurt_fail(err, errno, "mount proc on %s", m->dst);
		break;
	}
	if (!m->readonly)
		return 0;
	/* The fd still names the covered directory; reopen to reach the new mount. */
	_cleanup_close_ int mfd = open_target(fs, m->dst, err);
	return mfd < 0 ? -1 : make_readonly(mfd, m->dst, err);
}

int yurt_rootfs_mount_all(struct yurt_rootfs *fs, struct yurt_err *err)
{
	for (size_t i = 0; i < fs->plan->nmounts; i++)
		if (!skipped(fs, i) && mount_one(fs, i, err))
			return -1;
	return 0;
}

int yurt_rootfs_pivot(struct yurt_rootfs *fs, struct yurt_err *err)
{
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it
	 * leaves the container's tree alone, without a directory to hide it in. */
	if (fchdir(fs->root_fd))
		return yurt_fail(err, errno, "chdir to the new root");
	if (syscall(SYS_pivot_root, ".", "."))
		return yurt_fail(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH))
		return yurt_fail(err, errno, "detach the host root");
	if (chdir("/"))
		return yurt_fail(err, errno, "chdir /");
	return 0;
}

void yurt_rootfs_close(struct yurt_rootfs *fs)
{
	if (fs->src_fds)
		for (size_t i = 0; i < fs->plan->nmounts; i++)
			yurt_closep(&fs->src_fds[i]);
	free(fs->src_fds);
	yurt_closep(&fs->image_fd);
	yurt_closep(&fs->img_fd);
	yurt_closep(&fs->skel_fd);
	yurt_closep(&fs->root_fd);
	fs->src_fds = NULL;
}
