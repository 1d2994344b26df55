/* The container's root: a staging tmpfs in the private mount namespace holds
 * the image mount, a skeleton of missing mount points and yurt's generated
 * files; the plan's mounts are made into the assembled root, then pivot_root. */
#ifndef YURT_ROOTFS_H
#define YURT_ROOTFS_H

#include <stdbool.h>

#include "plan.h"

/* Where the staging tmpfs is mounted, hiding the host's directory in the
 * container's mount namespace only. */
#define YURT_STAGE "/tmp"
#define YURT_STAGE_IMAGE YURT_STAGE "/image"
/* The stage is unbindable, so that recursive binds of host directories do not
 * copy it; overlay layers and files to bind need a tmpfs of their own. */
#define YURT_STAGE_LAYERS YURT_STAGE "/layers"
#define YURT_STAGE_FILES YURT_STAGE_LAYERS "/files"

struct yurt_rootfs {
	const struct yurt_plan *plan;
	int *src_fds;     /* per mount: O_PATH fd of the host source, -1 when none */
	int image_fd;     /* O_PATH fd of the image, for directory images */
	int img_fd;       /* the mounted image, at YURT_STAGE_IMAGE */
	int skel_fd;      /* missing mount points, layered above the image */
	int root_fd;      /* the assembled root */
	bool overlay;
};

/* Opens every host source of the plan, and a directory image, as O_PATH fds.
 * Called in the new mount namespace before anything is mounted over the host
 * tree: mount(2) takes sources only from the caller's mount namespace, and fds
 * keep host symlinks resolving against the host. */
int yurt_rootfs_open(struct yurt_rootfs *fs, const struct yurt_plan *plan, const char *dir_image,
		     struct yurt_err *err);
/* Mounts the staging tmpfs. */
int yurt_rootfs_stage(struct yurt_rootfs *fs, struct yurt_err *err);
/* Binds the directory image read-only at YURT_STAGE_IMAGE (SquashFS images
 * are mounted there by the FUSE server's caller instead), and opens it. */
int yurt_rootfs_mount_dir_image(struct yurt_rootfs *fs, struct yurt_err *err);
int yurt_rootfs_open_image(struct yurt_rootfs *fs, struct yurt_err *err);
/* Creates what the image lacks for the plan's mounts and assembles the root:
 * the image itself, or an overlay of skeleton and image (with a tmpfs upper
 * layer when WRITABLE). */
int yurt_rootfs_assemble(struct yurt_rootfs *fs, bool writable, struct yurt_err *err);
/* Carries out the plan's mounts, in order. */
int yurt_rootfs_mount_all(struct yurt_rootfs *fs, struct yurt_err *err);
/* Makes the assembled root the namespace's root and detaches the host tree. */
int yurt_rootfs_pivot(struct yurt_rootfs *fs, struct yurt_err *err);
void yurt_rootfs_close(struct yurt_rootfs *fs);

#endif
