#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "file.h"
#include "log.h"
#include "ns.h"

static void hint_userns(struct yurt_err *err)
{
	int fd = open("/proc/sys/kernel/unprivileged_userns_clone", O_RDONLY | O_CLOEXEC);
	char c = '1';
	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '1';
		close(fd);
	}
	if (c == '0')
		yurt_err_hint(err, "unprivileged user namespaces are disabled; an administrator can enable them with 'sysctl kernel.unprivileged_userns_clone=1'");
	else if (err->errnum == ENOSPC)
		yurt_err_hint(err, "the user namespace limit is reached; see 'sysctl user.max_user_namespaces'");
	else
		yurt_err_hint(err, "user namespaces may be disabled: check 'sysctl user.max_user_namespaces' (must be > 0) and, on Ubuntu, 'kernel.apparmor_restrict_unprivileged_userns'");
}

int yurt_ns_enter(uid_t uid, gid_t gid, bool pid_ns, struct yurt_err *err)
{
	uid_t host_uid = getuid();
	gid_t host_gid = getgid();
	char map[64];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | (pid_ns ? CLONE_NEWPID : 0))) {
		yurt_fail(err, errno, "cannot create a user namespace");
		hint_userns(err);
		return -1;
	}
	/* An unprivileged process may write its gid_map only after giving up setgroups(2). */
	if (yurt_file_write("/proc/self/setgroups", 0, 0, "deny", err))
		return -1;
	snprintf(map, sizeof map, "%u %u 1\n", uid, host_uid);
	if (yurt_file_write("/proc/self/uid_map", 0, 0, map, err))
		return -1;
	snprintf(map, sizeof map, "%u %u 1\n", gid, host_gid);
	if (yurt_file_write("/proc/self/gid_map", 0, 0, map, err))
		return -1;
	yurt_debug("user namespace: uid %u -> %u, gid %u -> %u", host_uid, uid, host_gid, gid);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return yurt_fail(err, errno, "make mounts private");
	return 0;
}

pid_t yurt_fork_container_init(void)
{
	/* clone(2) as fork(2), with flags: glibc's fork takes none. */
	return (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0);
}
