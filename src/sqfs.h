/* The in-process SquashFS server: libsquashfuse's low-level operations on a
 * libfuse session, in a process of its own that lives exactly as long as the
 * container.  No squashfuse or fusermount binary is involved.
 *
 * Order of calls in the launcher:
 *   yurt_fuse_server_start   host namespaces, before unshare (forks the server)
 *   yurt_fuse_server_mount   inside the new user+mount namespace
 *   yurt_fuse_server_detach  setup done, before exec of the command
 *   yurt_fuse_server_stop    instead of detach, on an error before the exec
 *
 * The server watches the process that called start (through a pidfd) and
 * exits when it exits; exec does not count.  It also exits when the FUSE
 * connection ends (the container's mount namespace is gone).  Needs Linux
 * 5.9 (pidfd_open, close_range) and, for gzip images, libdeflate. */
#ifndef YURT_SQFS_H
#define YURT_SQFS_H

#include <sys/types.h>

#include "error.h"
#include "image.h"

struct yurt_fuse_server;

/* Forks the server (double-forked: it is never a child of the caller) and
 * waits until it has opened the image.  On failure nothing is left running.
 * Call it while the caller is single-threaded. */
int yurt_fuse_server_start(struct yurt_fuse_server **out, const struct yurt_image *img,
                           struct yurt_err *err);

/* Opens /dev/fuse, mounts it read-only at target and hands the connection to
 * the server.  Must run in the user namespace that owns the mount namespace
 * of target: the kernel ties a FUSE mount to the namespace /dev/fuse was
 * opened in.  uid and gid are the owner's ids inside that namespace. */
int yurt_fuse_server_mount(struct yurt_fuse_server *srv, const char *target, uid_t uid,
                           gid_t gid, struct yurt_err *err);

/* The server's pid in the namespace start ran in, for messages and tests. */
pid_t yurt_fuse_server_pid(const struct yurt_fuse_server *srv);

/* Frees the handle and closes its descriptors; the server keeps serving. */
void yurt_fuse_server_detach(struct yurt_fuse_server *srv);

/* Kills the server, waits until it is gone, and frees the handle. */
void yurt_fuse_server_stop(struct yurt_fuse_server *srv);

#endif
