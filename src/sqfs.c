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
#include <unistd.h>

#include <libdeflate.h>

#include "cleanup.h"
#include "daemon.h"
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

/* ---- the socketpair between launcher and server ---- */

/* Sends one message, with descriptor fd attached unless it is -1. */
static ssize_t send_with_fd(int sock, const void *buf, size_t size, int fd)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = size};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof control.buf;
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL);
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

/* ---- the server process ---- */

/* A read-only image never changes behind the kernel's back: cache for good. */
static const double forever = DBL_MAX;

/* libsquashfuse caches 8 metadata blocks, 1 data block and 3 fragment blocks:
 * importing numpy then inflates 900 blocks where 330 would do, as a program
 * start walks much metadata and reads small files, packed together in
 * fragments, in no particular order.  Sized in bytes (24 MiB in all), so that
 * big-block images cost no more. */
enum { MD_CACHE_BYTES = 8 << 20, DATA_CACHE_BYTES = 4 << 20, FRAG_CACHE_BYTES = 12 << 20 };

static struct {
	sqfs_ll *ll;
	struct fuse_session *se;
	bool no_open;       /* the kernel may skip OPEN, see op_open */
	bool no_opendir;
} server;

/* Shared libraries and executables are mapped, then faulted in at random
 * offsets, one synchronous 128 KiB read (and block inflation) at a time; but
 * most of their blocks are needed before a program gets going.  So the first
 * read of an ELF file makes a second thread stream its first PREFETCH_MAX
 * bytes into the page cache, on another CPU.  (As an idle-class thread it
 * starved behind any other load and gained nothing.) */
enum { PREFETCH_MAX = 16 << 20, PREFETCH_QUEUE = 64 };

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	fuse_ino_t queue[PREFETCH_QUEUE];
	unsigned head, tail;
	sqfs_ll ll;         /* its own caches: libsquashfuse is not thread-safe */
} prefetch = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void prefetch_file(fuse_ino_t ino)
{
	pthread_mutex_lock(&prefetch.lock);
	if (prefetch.tail - prefetch.head < PREFETCH_QUEUE) {
		prefetch.queue[prefetch.tail++ % PREFETCH_QUEUE] = ino;
		pthread_cond_signal(&prefetch.wake);
	}
	pthread_mutex_unlock(&prefetch.lock);
}

static void *prefetcher(void *arg)
{
	static char block[SQUASHFS_FILE_MAX_SIZE];
	sqfs *fs = &prefetch.ll.fs;
	sqfs_inode inode;
	(void)arg;

	for (;;) {
		pthread_mutex_lock(&prefetch.lock);
		while (prefetch.head == prefetch.tail)
			pthread_cond_wait(&prefetch.wake, &prefetch.lock);
		fuse_ino_t ino = prefetch.queue[prefetch.head++ % PREFETCH_QUEUE];
		pthread_mutex_unlock(&prefetch.lock);

		if (sqfs_ll_inode(&prefetch.ll, &inode, ino) || !S_ISREG(inode.base.mode))
			continue;
		uint64_t size = inode.xtra.reg.file_size;
		for (uint64_t off = 0; off < size && off < PREFETCH_MAX; off += fs->sb.block_size) {
			sqfs_off_t n = fs->sb.block_size;
			if (sqfs_read_range(fs, &inode, off, &n, block) || n <= 0)
				break;
			if (off == 0 && (n < 4 || memcmp(block, "\177ELF", 4) != 0))
				break;
			struct fuse_bufvec data = FUSE_BUFVEC_INIT(n);
			data.buf[0].mem = block;
			if (fuse_lowlevel_notify_store(server.se, ino, off, &data, 0) < 0)
				break;
		}
	}
	return NULL;
}

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
	if (off == 0 && ((sqfs_inode *)opened.fh)->xtra.reg.file_size > size)
		prefetch_file(ino);
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

/* libdeflate inflates about twice as fast as the zlib libsquashfuse calls,
 * and inflating is most of the server's work on a gzip image. */
static __thread struct libdeflate_decompressor *inflater;

static sqfs_err inflate_zlib(void *in, size_t insz, void *out, size_t *outsz)
{
	size_t n;
	if (!inflater && !(inflater = libdeflate_alloc_decompressor()))
		return SQFS_ERR;
	if (libdeflate_zlib_decompress(inflater, in, insz, out, *outsz, &n) != LIBDEFLATE_SUCCESS)
		return SQFS_ERR;
	*outsz = n;
	return SQFS_OK;
}

/* Lookups in a libsquashfuse cache are linear: keep them short. */
static size_t cache_entries(size_t bytes, size_t block_size)
{
	size_t n = bytes / block_size;
	return n < 4 ? 4 : n > 1024 ? 1024 : n;
}

static int grow_caches(sqfs *fs)
{
	size_t block = fs->sb.block_size;

	sqfs_cache_destroy(&fs->md_cache);
	sqfs_cache_destroy(&fs->data_cache);
	sqfs_cache_destroy(&fs->frag_cache);
	return sqfs_block_cache_init(&fs->md_cache,
	                             cache_entries(MD_CACHE_BYTES, SQUASHFS_METADATA_SIZE)) ||
	       sqfs_block_cache_init(&fs->data_cache, cache_entries(DATA_CACHE_BYTES, block)) ||
	       sqfs_block_cache_init(&fs->frag_cache, cache_entries(FRAG_CACHE_BYTES, block))
	       ? -1 : 0;
}

static void use_libdeflate(sqfs *fs)
{
	if (sqfs_compression(fs) == ZLIB_COMPRESSION)
		fs->decompressor = inflate_zlib;
}

static void send_reply(int sock, const struct yurt_err *err, int pidfd)
{
	struct reply reply = {.ok = !err, .pid = getpid()};
	if (err)
		reply.err = *err;
	/* Nobody to tell if the launcher is gone; the pidfd watch ends us then. */
	(void)send_with_fd(sock, &reply, sizeof reply, pidfd);
}

static int above_stdio(int fd)
{
	return fd > STDERR_FILENO ? fd : fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
}

/* The server runs for the container's whole life in the host namespaces, so
 * it keeps nothing of the launcher's: not the terminal or pipes on 0-2 (else
 * `yurt run ... | cat` would not see end of file), not the cwd, not the
 * session (yurt_fork_detached made it its own), to which job-control
 * signals (Ctrl-C, Ctrl-Z, hangup) are sent.  It ignores every signal a job may be sent; only
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

/* The prefetcher reads through an instance of its own on the same file. */
static int open_image(const char *image, struct yurt_err *err)
{
	server.ll = sqfs_ll_open(image, 0);
	if (!server.ll)
		return yurt_fail(err, 0, "image %s: libsquashfuse cannot open it", image);
	use_libdeflate(&server.ll->fs);
	if (grow_caches(&server.ll->fs) < 0 ||
	    sqfs_init(&prefetch.ll.fs, server.ll->fs.fd, 0) != SQFS_OK ||
	    sqfs_ll_init(&prefetch.ll) != SQFS_OK)
		return yurt_fail(err, ENOMEM, "FUSE server for %s", image);
	use_libdeflate(&prefetch.ll.fs);
	return 0;
}

static int start_session(int fd, int launcher, const char *image, struct yurt_err *err)
{
	char *argv[] = {"yurt", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_lowlevel_ops ops =
		server_ops(server.ll->fs.sb.xattr_id_table_start != (uint64_t)SQUASHFS_INVALID_BLK);
	pthread_t thread;
	char dev[32];

	server.se = fuse_session_new(&args, &ops, sizeof ops, server.ll);
	/* libfuse takes an already mounted connection as the mount point /dev/fd/N. */
	snprintf(dev, sizeof dev, "/dev/fd/%d", fd);
	if (!server.se || fuse_session_mount(server.se, dev) < 0)
		return yurt_fail(err, 0, "FUSE server for %s: cannot start a libfuse session", image);
	int e = pthread_create(&thread, NULL, watch_launcher, (void *)(intptr_t)launcher);
	if (!e)
		e = pthread_create(&thread, NULL, prefetcher, NULL);
	if (e)
		return yurt_fail(err, e, "FUSE server for %s: threads", image);
	return 0;
}

static void __attribute__((noreturn)) serve(int sock, int launcher, const char *image)
{
	struct yurt_err err = {0};

	isolate(&sock, &launcher);
	int self = pidfd_open(getpid(), 0);
	if (open_image(image, &err) < 0) {
		send_reply(sock, &err, self);
		_exit(1);
	}
	send_reply(sock, NULL, self);
	close(self);

	int fd = wait_fuse_fd(sock, launcher);
	if (fd < 0)
		_exit(0);
	if (start_session(fd, launcher, image, &err) < 0) {
		send_reply(sock, &err, -1);
		_exit(1);
	}
	send_reply(sock, NULL, -1);
	close(sock);

	/* Returns when the connection ends: the last mount of it is gone. */
	fuse_session_loop(server.se);
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

/* Reads the server's answer, and the pidfd it carries if pidfd is not NULL;
 * on failure err says why. */
static int recv_reply(int sock, const char *image, struct reply *reply, int *pidfd,
                      struct yurt_err *err)
{
	int fd;
	ssize_t n = recv_with_fd(sock, reply, sizeof *reply, &fd);
	if (pidfd)
		*pidfd = fd;
	else if (fd >= 0)
		close(fd);
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
	int sv[2];

	/* Opened before the fork, so the server watches this very process even
	 * if it dies before the server runs.  The empty close_range checks that
	 * the server will be able to shed the launcher's descriptors. */
	_cleanup_close_ int self = pidfd_open(getpid(), 0);
	if (self < 0 || close_range(~0U, ~0U, 0) < 0) {
		yurt_fail(err, errno, "FUSE server: %s", self < 0 ? "pidfd_open" : "close_range");
		yurt_err_hint(err, "yurt needs Linux 5.9 or later");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return yurt_fail(err, errno, "FUSE server: socketpair");
	_cleanup_close_ int sock = sv[0], theirs = sv[1];

	int forked = yurt_fork_detached();
	if (forked < 0)
		return yurt_fail(err, errno, "FUSE server: fork");
	if (forked == 0)
		serve(theirs, self, img->path);
	close(yurt_steal_fd(theirs));   /* so that the server's exit reads as end of file */

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

	if (send_with_fd(srv->sock, "", 1, fd) < 0)
		return yurt_fail(err, errno, "FUSE server for %s", srv->source);
	if (recv_reply(srv->sock, srv->source, &reply, NULL, err) < 0)
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
