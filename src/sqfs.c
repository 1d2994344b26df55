#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "sqfs.h"

/* Last: libsquashfuse's config.h defines FUSE_USE_VERSION and autoconf macros. */
#include <squashfuse/ll.h>

struct yurt_fuse_server {
	int sock;       /* our end of the socketpair with the server */
	int pidfd;      /* the server process */
	pid_t pid;
	char *source;   /* image path, the mount's source */
};

/* The server's answer to each step; SOCK_SEQPACKET keeps it in one piece.  A
 * pidfd of the server rides along with the answer to start. */
struct reply {
	bool ok;
	pid_t pid;
	struct yurt_err err;
};

/* ---- the server process ---- */

/* A read-only image never changes behind the kernel's back: cache for good. */
static const double forever = DBL_MAX;

/* libsquashfuse caches 8 metadata blocks, 1 data block and 3 fragment blocks.
 * Starting a program walks far more metadata than that and reads small files,
 * packed together in fragments, in no particular order.  At most ~28 MiB. */
enum { MD_CACHE_BLOCKS = 1024, DATA_CACHE_BLOCKS = 32, FRAG_CACHE_BLOCKS = 96 };

static struct {
	sqfs_ll *ll;
	bool no_open;       /* the kernel may skip OPEN, see op_open */
	bool no_opendir;
} server;

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	conn->want |= conn->capable & (FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_ASYNC_READ);
	server.no_open = conn->capable & FUSE_CAP_NO_OPEN_SUPPORT;
	server.no_opendir = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
}

/* libsquashfuse answers a missing name with ENOENT, which the kernel does not
 * cache; an entry with inode 0 is a negative dentry that it keeps, and a
 * program start probes many missing paths (library and module search). */
static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	sqfs_ll_i dir;
	sqfs_name namebuf;
	sqfs_dir_entry entry;
	bool found;

	if (sqfs_ll_iget(req, &dir, parent))
		return;
	sqfs_dentry_init(&entry, namebuf);
	if (S_ISDIR(dir.inode.base.mode) &&
	    sqfs_dir_lookup(&dir.ll->fs, &dir.inode, name, strlen(name), &entry, &found) == SQFS_OK &&
	    !found) {
		struct fuse_entry_param negative = {.ino = 0, .entry_timeout = forever};
		fuse_reply_entry(req, &negative);
		return;
	}
	sqfs_ll_op_lookup(req, parent, name);
}

/* Answering ENOSYS once makes the kernel stop sending OPEN and RELEASE and
 * keep page (and directory) caches across opens: two round trips less per
 * open(2).  Reads then come without a handle. */
static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (server.no_open)
		fuse_reply_err(req, ENOSYS);
	else
		sqfs_ll_op_open(req, ino, fi);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (server.no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	sqfs_ll_op_opendir(req, ino, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct fuse_file_info opened = *fi;
	sqfs_inode inode;

	if (!fi->fh) {
		if (sqfs_ll_inode(server.ll, &inode, ino)) {
			fuse_reply_err(req, EIO);
			return;
		}
		opened.fh = (uintptr_t)&inode;
	}
	sqfs_ll_op_read(req, ino, size, off, &opened);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	struct fuse_file_info opened = *fi;
	sqfs_ll_i dir;

	if (!fi->fh) {
		if (sqfs_ll_iget(req, &dir, ino))
			return;
		opened.fh = (uintptr_t)&dir;
	}
	sqfs_ll_op_readdir(req, ino, size, off, &opened);
}

static struct fuse_lowlevel_ops server_ops(bool xattrs)
{
	struct fuse_lowlevel_ops ops = {
		.init = op_init,
		.lookup = op_lookup,
		.forget = sqfs_ll_op_forget,
		.getattr = sqfs_ll_op_getattr,
		.readlink = sqfs_ll_op_readlink,
		.open = op_open,
		.read = op_read,
		.release = sqfs_ll_op_release,
		.opendir = op_opendir,
		.readdir = op_readdir,
		.releasedir = sqfs_ll_op_releasedir,
		.statfs = stfs_ll_op_statfs,
	};
	/* Without xattr operations the kernel hears ENOSYS once and stops asking,
	 * instead of asking for security.capability at every exec. */
	if (xattrs) {
		ops.getxattr = sqfs_ll_op_getxattr;
		ops.listxattr = sqfs_ll_op_listxattr;
	}
	return ops;
}

static int grow_caches(sqfs *fs)
{
	sqfs_cache_destroy(&fs->md_cache);
	sqfs_cache_destroy(&fs->data_cache);
	sqfs_cache_destroy(&fs->frag_cache);
	return sqfs_block_cache_init(&fs->md_cache, MD_CACHE_BLOCKS) ||
	       sqfs_block_cache_init(&fs->data_cache, DATA_CACHE_BLOCKS) ||
	       sqfs_block_cache_init(&fs->frag_cache, FRAG_CACHE_BLOCKS) ? -1 : 0;
}

static void send_reply(int sock, const struct yurt_err *err, int pidfd)
{
	struct reply reply = {.ok = !err, .pid = getpid()};
	struct iovec iov = {.iov_base = &reply, .iov_len = sizeof reply};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (err)
		reply.err = *err;
	if (pidfd >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof control.buf;
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &pidfd, sizeof(int));
	}
	/* Nobody to tell if the launcher is gone; the pidfd watch ends us then. */
	(void)sendmsg(sock, &msg, MSG_NOSIGNAL);
}

/* Receives one message carrying at most one descriptor; returns the bytes
 * read (0 at end of file) or -1, and *fd = the descriptor or -1. */
static ssize_t recv_with_fd(int sock, void *buf, size_t size, int *fd)
{
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof control.buf,
	};
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	struct cmsghdr *cmsg = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
	    cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(cmsg), sizeof(int));
	return n;
}

static int above_stdio(int fd)
{
	return fd > STDERR_FILENO ? fd : fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
}

/* The server runs for the container's whole life in the host namespaces, so
 * it keeps nothing of the launcher's: not the terminal or pipes on 0-2 (else
 * `yurt run ... | cat` would not see end of file), not the cwd, not the
 * process group or session, which job-control signals (Ctrl-C, Ctrl-Z,
 * hangup) are sent to.  It ignores every signal a job may be sent; only
 * SIGKILL and its own faults end it. */
static void isolate(int *sock, int *launcher)
{
	*sock = above_stdio(*sock);
	*launcher = above_stdio(*launcher);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = STDIN_FILENO; null >= 0 && fd <= STDERR_FILENO; fd++)
		dup2(null, fd);
	unsigned lo = *sock < *launcher ? *sock : *launcher;
	unsigned hi = *sock < *launcher ? *launcher : *sock;
	close_range(STDERR_FILENO + 1, lo - 1, 0);
	close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);

	setsid();
	if (chdir("/") < 0)
		_exit(1);

	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++) {
		switch (sig) {
		case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGABRT: case SIGTRAP:
		case SIGSYS: case SIGCHLD:
			continue;
		}
		signal(sig, SIG_IGN);   /* fails harmlessly for SIGKILL, SIGSTOP, libc's own */
	}
}

/* Waits for the /dev/fuse descriptor from yurt_fuse_server_mount; -1 when the
 * launcher exits or drops the handle first. */
static int wait_fuse_fd(int sock, int launcher)
{
	struct pollfd fds[] = {{.fd = sock, .events = POLLIN}, {.fd = launcher, .events = POLLIN}};
	char byte;
	int fd;

	while (poll(fds, 2, -1) < 0)
		if (errno != EINTR)
			return -1;
	if (fds[1].revents)
		return -1;
	if (recv_with_fd(sock, &byte, sizeof byte, &fd) <= 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The launcher execs the command, so its exit is the container's end even
 * while other processes keep the mount namespace (and our connection) alive. */
static void *watch_launcher(void *arg)
{
	struct pollfd fd = {.fd = (int)(intptr_t)arg, .events = POLLIN};
	while (poll(&fd, 1, -1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static void __attribute__((noreturn)) serve(int sock, int launcher, const char *image)
{
	struct yurt_err err = {0};
	pthread_t watcher;
	char dev[32];

	isolate(&sock, &launcher);
	int self = pidfd_open(getpid(), 0);
	server.ll = sqfs_ll_open(image, 0);
	if (!server.ll) {
		yurt_fail(&err, 0, "image %s: libsquashfuse cannot open it", image);
		send_reply(sock, &err, self);
		_exit(1);
	}
	if (grow_caches(&server.ll->fs) < 0) {
		yurt_fail(&err, ENOMEM, "FUSE server for %s: caches", image);
		send_reply(sock, &err, self);
		_exit(1);
	}
	send_reply(sock, NULL, self);
	close(self);

	int fd = wait_fuse_fd(sock, launcher);
	if (fd < 0)
		_exit(0);
	char *argv[] = {"yurt", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_lowlevel_ops ops =
		server_ops(server.ll->fs.sb.xattr_id_table_start != (uint64_t)SQUASHFS_INVALID_BLK);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, server.ll);
	/* libfuse takes an already mounted connection as the mount point /dev/fd/N. */
	snprintf(dev, sizeof dev, "/dev/fd/%d", fd);
	if (!se || fuse_session_mount(se, dev) < 0) {
		yurt_fail(&err, 0, "FUSE server for %s: cannot start a libfuse session", image);
		send_reply(sock, &err, -1);
		_exit(1);
	}
	int e = pthread_create(&watcher, NULL, watch_launcher, (void *)(intptr_t)launcher);
	if (e) {
		yurt_fail(&err, e, "FUSE server for %s: thread", image);
		send_reply(sock, &err, -1);
		_exit(1);
	}
	send_reply(sock, NULL, -1);
	close(sock);

	/* Returns when the connection ends: the last mount of it is gone. */
	fuse_session_loop(se);
	_exit(0);
}

/* ---- the launcher's side ---- */

static void free_handle(struct yurt_fuse_server *srv)
{
	close(srv->sock);
	close(srv->pidfd);
	free(srv->source);
	free(srv);
}

/* Waits until the process behind pidfd has exited (it need not be our child). */
static void wait_gone(int pidfd)
{
	struct pollfd fd = {.fd = pidfd, .events = POLLIN};
	while (poll(&fd, 1, -1) < 0 && errno == EINTR)
		;
}

/* Reads the server's answer; on failure err says why. */
static int recv_reply(int sock, const char *image, struct reply *reply, int *pidfd,
                      struct yurt_err *err)
{
	ssize_t n = recv_with_fd(sock, reply, sizeof *reply, pidfd);
	if (n < 0)
		return yurt_fail(err, errno, "FUSE server for %s", image);
	if (n != sizeof *reply)
		return yurt_fail(err, 0, "FUSE server for %s exited unexpectedly", image);
	if (!reply->ok) {
		*err = reply->err;
		return -1;
	}
	return 0;
}

int yurt_fuse_server_start(struct yurt_fuse_server **out, const struct yurt_image *img,
                           struct yurt_err *err)
{
	struct reply reply;
	int sv[2], status;

	/* Opened before the fork, so the server watches this very process even
	 * if it dies before the server runs. */
	_cleanup_close_ int self = pidfd_open(getpid(), 0);
	if (self < 0) {
		yurt_fail(err, errno, "FUSE server: pidfd_open");
		yurt_err_hint(err, "yurt needs Linux 5.9 or later");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return yurt_fail(err, errno, "FUSE server: socketpair");
	_cleanup_close_ int sock = sv[0], theirs = sv[1];

	pid_t child = fork();
	if (child < 0)
		return yurt_fail(err, errno, "FUSE server: fork");
	if (child == 0) {
		/* Double fork: the server must not be a child of the launcher,
		 * whose command would otherwise reap it or wait for it. */
		pid_t server_pid = fork();
		if (server_pid == 0)
			serve(theirs, self, img->path);
		if (server_pid < 0) {
			struct yurt_err fork_err;
			yurt_fail(&fork_err, errno, "FUSE server: fork");
			send_reply(theirs, &fork_err, -1);
		}
		_exit(0);
	}
	close(yurt_steal_fd(theirs));   /* so that the server's exit reads as end of file */
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;

	_cleanup_close_ int pidfd = -1;
	if (recv_reply(sock, img->path, &reply, &pidfd, err) < 0) {
		if (pidfd >= 0)
			wait_gone(pidfd);
		return -1;
	}
	if (pidfd < 0)
		return yurt_fail(err, 0, "FUSE server for %s: no pidfd in its answer", img->path);

	struct yurt_fuse_server *srv = calloc(1, sizeof *srv);
	char *source = strdup(img->path);
	if (!srv || !source) {
		free(srv);
		free(source);
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		wait_gone(pidfd);
		return yurt_fail(err, ENOMEM, "FUSE server for %s", img->path);
	}
	*srv = (struct yurt_fuse_server){
		.sock = yurt_steal_fd(sock),
		.pidfd = yurt_steal_fd(pidfd),
		.pid = reply.pid,
		.source = source,
	};
	yurt_verbose("FUSE server %d serves %s", (int)srv->pid, srv->source);
	*out = srv;
	return 0;
}

int yurt_fuse_server_mount(struct yurt_fuse_server *srv, const char *target, uid_t uid,
                           gid_t gid, struct yurt_err *err)
{
	struct reply reply;
	char opts[160];
	char byte = 0;

	_cleanup_close_ int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		yurt_fail(err, e, "open /dev/fuse");
		if (e == EACCES || e == ENOENT)
			yurt_err_hint(err, "/dev/fuse must exist and be mode 0666");
		return -1;
	}
	snprintf(opts, sizeof opts,
	         "fd=%d,rootmode=40000,user_id=%u,group_id=%u,allow_other,default_permissions",
	         fd, (unsigned)uid, (unsigned)gid);
	if (mount(srv->source, target, "fuse.squashfuse", MS_NOSUID | MS_NODEV | MS_RDONLY,
	          opts) < 0)
		return yurt_fail(err, errno, "mount %s on %s", srv->source, target);

	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof control.buf,
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	if (sendmsg(srv->sock, &msg, MSG_NOSIGNAL) < 0)
		return yurt_fail(err, errno, "FUSE server for %s", srv->source);
	_cleanup_close_ int none = -1;
	if (recv_reply(srv->sock, srv->source, &reply, &none, err) < 0)
		return -1;
	yurt_verbose("mounted %s on %s", srv->source, target);
	return 0;
}

pid_t yurt_fuse_server_pid(const struct yurt_fuse_server *srv)
{
	return srv->pid;
}

void yurt_fuse_server_detach(struct yurt_fuse_server *srv)
{
	free_handle(srv);
}

void yurt_fuse_server_stop(struct yurt_fuse_server *srv)
{
	if (pidfd_send_signal(srv->pidfd, SIGKILL, NULL, 0) == 0)
		wait_gone(srv->pidfd);
	free_handle(srv);
}
