/* Namespaces: the unprivileged user namespace with its single id mapping, and
 * the private mount namespace every container mount lives and dies in. */
#ifndef YURT_NS_H
#define YURT_NS_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* Unshares user and mount namespaces in the calling (single-threaded) process,
 * maps host uid/gid to UID/GID inside, and makes every mount private so that
 * nothing the container mounts propagates back to the host.  With PID_NS,
 * the next child forked is PID 1 of a new PID namespace. */
int yurt_ns_enter(uid_t uid, gid_t gid, bool pid_ns, struct yurt_err *err);

/* fork(2) whose child is PID 1 of a new PID namespace, in a mount namespace
 * of its own for the container.  This process stays where it is: its /proc
 * still shows it, and what it forks later (a sanitizer's helper at exit) is
 * not born into a namespace whose init may be gone. */
pid_t yurt_fork_container_init(void);

#endif
