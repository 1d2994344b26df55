#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "instance.h"
#include "log.h"
#include "ns.h"

/* After yurt stop's SIGTERM, members get this long before SIGKILL. */
#define STOP_GRACE_S 5
/* How long a joiner waits for the holder to count it; yurt list, for a count. */
#define JOIN_TIMEOUT_MS 30000
#define QUERY_TIMEOUT_MS 1000
/* How soon the holder tries the lock again, and a joiner looks again at an
 * instance that is stopping (doubling up to 320 ms). */
#define RETRY_MS 10

/* A client's message to the holder and the answer, one packet each
 * (SOCK_SEQPACKET). */
enum { HELLO_JOIN = 'J', HELLO_QUERY = 'Q' };
struct hello {
	char op;
	unsigned ntasks;
};
struct answer {
	bool ok;           /* counted (join), or answered (query) */
	unsigned members, tasks;
};

/* What a process that sets a container up reports to the one waiting. */
struct setup_report {
	bool ok;
	struct yurt_err err;
	char workdir[PATH_MAX];
};

#define _cleanup_dir_ __attribute__((cleanup(yurt_state_dir_close)))

/* ---- the holder ---- */

struct client {
	int fd;
	int pidfd;         /* a member's process; -1 until it is counted */
	pid_t pid;
	unsigned ntasks;
};

struct holder {
	const struct yurt_state_dir *dir;
	const char *name;
	struct yurt_container *c;
	bool joined;       /* yurt run --join: ends when its last member leaves */
	int creator_lock;  /* the creator's lock, kept until the state is written */
	int report;        /* to the creator */
	int lock;          /* an open file description of NAME.lock of its own */
	int listen;
	int proc;          /* the host's /proc, still at hand after pivot_root */
	int signals;
	int timer;         /* stopping: when the grace time is over */
	pid_t init;        /* --pid: PID 1 of the container, else 0 */
	char mnt_ns[64];   /* the container's mount namespace, as /proc/PID/ns/mnt reads */
	struct client *clients;
	size_t nclients;
	/* Members that have left but may not have exited yet: they are still in
	 * the mount namespace, and no leftover to kill.  pidfd and pid only. */
	struct client *departed;
	size_t ndeparted;
	unsigned members, tasks;
	bool stopping;
};

/* Closes every fd above 2 but the N of KEEP. */
static void close_fds_except(int *keep, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned from = STDERR_FILENO + 1;
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

static int holder_fds(struct holder *h, struct yurt_err *err)
{
	static const int handled[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD };
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof handled / sizeof *handled; i++)
		sigaddset(&set, handled[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return yurt_fail(err, errno, "sigprocmask");
	if ((h->signals = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return yurt_fail(err, errno, "signalfd");
	if ((h->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
		return yurt_fail(err, errno, "timerfd");
	if ((h->proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return yurt_fail(err, errno, "open /proc");
	if ((h->lock = yurt_state_lock_open(h->dir, h->name, false, err)) < 0)
		return -1;

	struct sockaddr_un addr;
	socklen_t len;
	yurt_state_sock_addr(h->dir, h->name, &addr, &len);
	h->listen = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->listen < 0 || bind(h->listen, (struct sockaddr *)&addr, len) ||
	    listen(h->listen, SOMAXCONN))
		return yurt_fail(err, errno, "socket %s/%s.sock", h->dir->path, h->name);
	return 0;
}

/* In the process that builds the container: the holder, or with --pid the
 * namespace's init.  It writes the environment; WORKDIR gets where the
 * build ended, inside. */
static int build(struct holder *h, char *workdir, struct yurt_err *err)
{
	if (yurt_container_build(h->c, err))
		return -1;
	yurt_container_detach_server(h->c);
	if (!getcwd(workdir, PATH_MAX))
		return yurt_fail(err, errno, "getcwd");
	return yurt_state_write_env(h->dir, h->name, h->c->env.v, err);
}

static void __attribute__((noreturn)) reap_forever(void)
{
	sigset_t chld;
	int sig;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_SETMASK, &chld, NULL);
	for (;;) {
		sigwait(&chld, &sig);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* --pid: forks PID 1 of the new namespace, which builds the container (a
 * new /proc is mounted from inside) and then reaps the orphans of every
 * member's tasks.  It dies with the holder, and the namespace with it. */
static int start_init(struct holder *h, char *workdir, struct yurt_err *err)
{
	struct setup_report r = { .ok = true };
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return yurt_fail(err, errno, "socketpair");
	_cleanup_close_ int ours = sv[0], theirs = sv[1];
	h->init = fork();
	if (h->init < 0)
		return yurt_fail(err, errno, "fork");
	if (h->init == 0) {
		/* Not the holder's fds: the creator's lock above all.  The FUSE
		 * server's, which the build needs, are not among them. */
		int fds[] = { h->creator_lock, h->report, h->lock, h->listen, h->proc, h->signals,
			      h->timer, yurt_steal_fd(ours) };
		for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
			close(fds[i]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(YURT_EXIT_LAUNCH);
		r.ok = !build(h, r.workdir, &r.err);
		send(theirs, &r, sizeof r, MSG_NOSIGNAL);
		if (!r.ok)
			_exit(YURT_EXIT_LAUNCH);
		close(yurt_steal_fd(theirs));
		reap_forever();
	}
	close(yurt_steal_fd(theirs));
	ssize_t n;
	while ((n = recv(ours, &r, sizeof r, 0)) < 0 && errno == EINTR)
		;
	if (n != sizeof r)
		return yurt_fail(err, 0, "the container's init exited during setup");
	if (!r.ok) {
		*err = r.err;
		return -1;
	}
	memcpy(workdir, r.workdir, PATH_MAX);
	return 0;
}

static int holder_setup(struct holder *h, struct yurt_err *err)
{
	const struct yurt_request *req = h->c->req;
	struct yurt_instance_info info = {
		.pid = getpid(), .joined = h->joined, .fake_root = req->fake_root, .pid_ns = req->pid_ns,
		.signature = yurt_instance_signature(&h->c->plan, h->c->image.path, req->writable_tmpfs),
	};
	snprintf(info.image, sizeof info.image, "%s", h->c->image.path);
	if (yurt_proc_self_start_time(&info.start_time, err) || holder_fds(h, err) ||
	    yurt_container_serve(h->c, err) ||
	    yurt_ns_enter(h->c->plan.uid, h->c->plan.gid, req->pid_ns, err) ||
	    (req->pid_ns ? start_init(h, info.workdir, err) : build(h, info.workdir, err)))
		return -1;
	yurt_container_detach_server(h->c);
	/* Keep no directory of the container busy. */
	if (chdir("/"))
		return yurt_fail(err, errno, "chdir /");
	ssize_t n = readlinkat(h->proc, "self/ns/mnt", h->mnt_ns, sizeof h->mnt_ns - 1);
	if (n < 0)
		return yurt_fail(err, errno, "/proc/self/ns/mnt");
	h->mnt_ns[n] = '\0';
	info.started = time(NULL);
	return yurt_state_write(h->dir, h->name, &info, err);
}

static bool has_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	return poll(&p, 1, 0) != 0;
}

/* Forgets the departed members that have exited. */
static void prune_departed(struct holder *h)
{
	for (size_t i = h->ndeparted; i-- > 0; )
		if (has_exited(h->departed[i].pidfd)) {
			close(h->departed[i].pidfd);
			h->departed[i] = h->departed[--h->ndeparted];
		}
}

static bool departed(struct holder *h, pid_t pid)
{
	for (size_t i = 0; i < h->ndeparted; i++)
		if (h->departed[i].pid == pid)
			return true;
	return false;
}

/* Without a PID namespace, what the tasks left running in the background is
 * found by its mount namespace: every process of ours in the container's
 * but this one and the members on their way out. */
static void kill_left_in_mount_ns(struct holder *h)
{
	char self[16];
	int fd = openat(h->proc, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	snprintf(self, sizeof self, "%d", (int)getpid());
	prune_departed(h);
	for (struct dirent *e; (e = readdir(d)); ) {
		char path[300], ns[64];
		if (!isdigit((unsigned char)e->d_name[0]) || !strcmp(e->d_name, self) ||
		    departed(h, atoi(e->d_name)))
			continue;
		/* The pidfd first: the check below then holds for the process it
		 * names, or that process is gone and the signal goes nowhere. */
		_cleanup_close_ int pidfd = pidfd_open(atoi(e->d_name), 0);
		snprintf(path, sizeof path, "%s/ns/mnt", e->d_name);
		ssize_t n = readlinkat(h->proc, path, ns, sizeof ns - 1);
		if (pidfd < 0 || n <= 0)
			continue;
		ns[n] = '\0';
		if (!strcmp(ns, h->mnt_ns))
			pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	}
	closedir(d);
}

/* SIGKILL for the members and for all that is left in the container. */
static void holder_kill(struct holder *h)
{
	for (size_t i = 0; i < h->nclients; i++)
		if (h->clients[i].pidfd >= 0)
			pidfd_send_signal(h->clients[i].pidfd, SIGKILL, NULL, 0);
	if (h->init > 0)
		kill(h->init, SIGKILL);
	else
		kill_left_in_mount_ns(h);
}

/* yurt stop: the members pass SIGTERM on to their tasks and have the grace
 * time to end; joiners are refused from now on. */
static void holder_stop(struct holder *h)
{
	struct itimerspec grace = { .it_value = { .tv_sec = STOP_GRACE_S } };
	if (h->stopping)
		return;
	h->stopping = true;
	close(h->listen);
	h->listen = -1;
	for (size_t i = 0; i < h->nclients; i++)
		if (h->clients[i].pidfd >= 0)
			pidfd_send_signal(h->clients[i].pidfd, SIGTERM, NULL, 0);
	timerfd_settime(h->timer, 0, &grace, NULL);
}

/* Ends the instance unless someone is joining it: see instance.h. */
static bool holder_try_end(struct holder *h)
{
	struct yurt_instance_info info;
	struct yurt_err ignored;
	if (flock(h->lock, LOCK_EX | LOCK_NB))
		return false;
	holder_kill(h);
	/* Only its own files: a record someone found stale may have a successor. */
	if (!yurt_state_read(h->dir, h->name, &info, &ignored) && info.pid == getpid())
		yurt_state_remove(h->dir, h->name, true);
	return true;
}

static void client_drop(struct holder *h, size_t i)
{
	struct client *cl = &h->clients[i];
	if (cl->pidfd >= 0) {
		h->members--;
		h->tasks -= cl->ntasks;
		prune_departed(h);
		struct client *more = realloc(h->departed, (h->ndeparted + 1) * sizeof *more);
		if (more) {
			h->departed = more;
			h->departed[h->ndeparted++] = *cl;
		} else {
			close(cl->pidfd);
		}
	}
	close(cl->fd);
	*cl = h->clients[--h->nclients];
}

/* Counts the client as a member if it is one of ours: a pidfd of it, which
 * waits for our answer, so its pid is still its own. */
static bool client_count(struct holder *h, struct client *cl, unsigned ntasks)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(cl->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != getuid() ||
	    (cl->pidfd = pidfd_open(cred.pid, 0)) < 0)
		return false;
	cl->pid = cred.pid;
	cl->ntasks = ntasks;
	h->members++;
	h->tasks += ntasks;
	return true;
}

static void client_read(struct holder *h, size_t i)
{
	struct client *cl = &h->clients[i];
	struct hello hello;
	ssize_t n = recv(cl->fd, &hello, sizeof hello, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* End of file: a member has left.  A member has nothing more to say. */
	if (n != sizeof hello || cl->pidfd >= 0) {
		client_drop(h, i);
		return;
	}
	struct answer a = { .ok = hello.op == HELLO_QUERY };
	if (hello.op == HELLO_JOIN && !h->stopping)
		a.ok = client_count(h, cl, hello.ntasks);
	a.members = h->members;
	a.tasks = h->tasks;
	if (send(cl->fd, &a, sizeof a, MSG_NOSIGNAL) != sizeof a || cl->pidfd < 0)
		client_drop(h, i);
}

static void holder_accept(struct holder *h)
{
	int fd;
	while ((fd = accept4(h->listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct client *more = realloc(h->clients, (h->nclients + 1) * sizeof *more);
		if (!more) {
			close(fd);
			return;
		}
		h->clients = more;
		h->clients[h->nclients++] = (struct client){ .fd = fd, .pidfd = -1 };
	}
}

static void holder_signal(struct holder *h)
{
	struct signalfd_siginfo si;
	pid_t pid;
	while (read(h->signals, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo != SIGCHLD) {
			holder_stop(h);
			continue;
		}
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			if (pid == h->init) {
				/* The PID namespace is gone, and every task in it. */
				h->init = 0;
				holder_stop(h);
			}
	}
}

/* Serves members and queries until the instance ends. */
static void holder_serve(struct holder *h)
{
	_cleanup_free_ struct pollfd *fds = NULL;
	for (;;) {
		bool idle = !h->members && (h->joined || h->stopping);
		if (idle && holder_try_end(h))
			return;
		struct pollfd *more = realloc(fds, (3 + h->nclients) * sizeof *fds);
		if (!more) {
			poll(NULL, 0, RETRY_MS);
			continue;
		}
		fds = more;
		fds[0] = (struct pollfd){ .fd = h->signals, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = h->timer, .events = POLLIN };
		fds[2] = (struct pollfd){ .fd = h->listen, .events = POLLIN };
		size_t n = h->nclients;
		for (size_t i = 0; i < n; i++)
			fds[3 + i] = (struct pollfd){ .fd = h->clients[i].fd, .events = POLLIN };
		if (poll(fds, 3 + n, idle ? RETRY_MS : -1) < 0)
			continue;
		/* Backwards: a dropped client's place goes to the last one, seen already. */
		for (size_t i = n; i-- > 0; )
			if (fds[3 + i].revents)
				client_read(h, i);
		if (fds[0].revents)
			holder_signal(h);
		uint64_t expired;
		if (fds[1].revents && read(h->timer, &expired, sizeof expired) == sizeof expired)
			holder_kill(h);
		if (fds[2].revents)
			holder_accept(h);
	}
}

static void __attribute__((noreturn)) holder_main(struct holder *h)
{
	struct setup_report r = { .ok = true };
	int keep[] = { h->dir->fd, h->creator_lock, h->report };
	close_fds_except(keep, sizeof keep / sizeof *keep);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0) {
		yurt_fail(&r.err, errno, "/dev/null");
		r.ok = false;
	}
	/* Setup messages (-v) still go to the creator's stderr. */
	if (r.ok && holder_setup(h, &r.err))
		r.ok = false;
	if (!r.ok) {
		send(h->report, &r, sizeof r, MSG_NOSIGNAL);
		yurt_state_remove(h->dir, h->name, false);
		yurt_container_release(h->c);
		_exit(YURT_EXIT_LAUNCH);
	}
	dup2(null, STDERR_FILENO);
	close(null);
	/* Closed, not unlocked: the creator still holds it, until it is a member. */
	close(h->creator_lock);
	send(h->report, &r, sizeof r, MSG_NOSIGNAL);
	close(h->report);
	holder_serve(h);
	_exit(0);
}

/* Makes NAME's container from C while holding NAME's lock exclusively
 * (LOCK), and returns once it is ready. */
static int make(const struct yurt_state_dir *dir, const char *name, int lock,
		struct yurt_container *c, bool joined, struct yurt_err *err)
{
	struct holder h = {
		.dir = dir, .name = name, .c = c, .joined = joined, .creator_lock = lock, .report = -1,
		.lock = -1, .listen = -1, .proc = -1, .signals = -1, .timer = -1,
	};
	int sv[2];
	yurt_state_remove(dir, name, false);  /* what a stale instance left */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return yurt_fail(err, errno, "socketpair");
	_cleanup_close_ int ours = sv[0], theirs = sv[1];
	int forked = yurt_fork_detached();
	if (forked < 0)
		return yurt_fail(err, errno, "fork");
	if (forked == 0) {
		h.report = yurt_steal_fd(theirs);
		holder_main(&h);
	}
	close(yurt_steal_fd(theirs));
	struct setup_report r;
	ssize_t n;
	while ((n = recv(ours, &r, sizeof r, 0)) < 0 && errno == EINTR)
		;
	if (n != sizeof r)
		return yurt_fail(err, n < 0 ? errno : 0, "instance %s: its holder exited during setup", name);
	if (!r.ok) {
		*err = r.err;
		return -1;
	}
	return 0;
}

/* ---- everyone else ---- */

enum found { FOUND_NONE, FOUND_STALE, FOUND_LIVE };

/* Reads NAME's record and checks its holder; with HOLDER, keeps its /proc
 * directory open.  WHY says why a record is stale. */
static enum found inspect(const struct yurt_state_dir *dir, const char *name,
			  struct yurt_instance_info *info, int *holder, struct yurt_err *why)
{
	int r = yurt_state_read(dir, name, info, why);
	if (r == 1)
		return FOUND_NONE;
	int fd = r ? -1 : yurt_holder_open(info, why);
	if (fd < 0) {
		char text[2048];
		yurt_verbose("instance %s is stale: %s", name, yurt_err_text(why, text, sizeof text));
		return FOUND_STALE;
	}
	if (holder)
		*holder = fd;
	else
		close(fd);
	return FOUND_LIVE;
}

/* Removes NAME's files if its holder is gone. */
static void remove_if_stale(const struct yurt_state_dir *dir, const char *name)
{
	struct yurt_instance_info info;
	struct yurt_err why;
	_cleanup_close_ int lock = yurt_state_lock(dir, name, LOCK_EX, false, &why);
	if (lock >= 0 && inspect(dir, name, &info, NULL, &why) != FOUND_LIVE)
		yurt_state_remove(dir, name, true);
}

/* Connects to NAME's holder and says HELLO; returns the connection, or -1
 * with errno ETIMEDOUT when the holder does not answer in TIMEOUT_MS, else
 * ECONNREFUSED (it is stopping, or gone). */
static int ask_holder(const struct yurt_state_dir *dir, const char *name, const struct hello *hello,
		      struct answer *a, int timeout_ms)
{
	struct sockaddr_un addr;
	socklen_t len;
	int r;
	yurt_state_sock_addr(dir, name, &addr, &len);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, len) ||
	    send(fd, hello, sizeof *hello, MSG_NOSIGNAL) != sizeof *hello) {
		errno = ECONNREFUSED;
		return -1;
	}
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (r < 0 || recv(fd, a, sizeof *a, 0) != sizeof *a || !a->ok) {
		errno = ECONNREFUSED;
		return -1;
	}
	return yurt_steal_fd(fd);
}

static void member_reset(struct yurt_member *m)
{
	int *fds[] = { &m->sock, &m->user_ns, &m->mnt_ns, &m->pid_ns };
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
		yurt_closep(fds[i]);
		*fds[i] = -1;
	}
	yurt_strv_free(&m->env);
}

void yurt_member_release(struct yurt_member *m)
{
	/* A process inside the container stays a member until it exits or
	 * execs (the connection is close-on-exec): its root is the container's,
	 * which must outlive all it still does, exit handlers included. */
	if (m->entered)
		m->sock = -1;
	member_reset(m);
}

/* What a joiner asks of an instance. */
struct wanted {
	const char *name;
	bool join;           /* yurt run --join: made by one, from the same signature */
	uint64_t signature;
	unsigned ntasks;
	struct yurt_container *make_from;  /* make it if there is none */
};

enum { JOINED, NOT_THERE, STOPPING };

/* Under NAME's lock: joins its live instance, if there is one. */
static int try_join(struct yurt_member *m, const struct yurt_state_dir *dir, const struct wanted *w,
		    struct yurt_err *err)
{
	struct yurt_err why;
	struct answer a;
	_cleanup_close_ int holder = -1;
	member_reset(m);
	if (inspect(dir, w->name, &m->info, &holder, &why) != FOUND_LIVE)
		return NOT_THERE;
	if (w->join && !m->info.joined) {
		yurt_fail(err, 0, "--join=%s: an instance of that name was made by 'yurt start'", w->name);
		yurt_err_hint(err, "run commands in it with 'yurt exec %s'", w->name);
		return -1;
	}
	if (w->join && m->info.signature != w->signature) {
		yurt_fail(err, 0, "--join=%s: its container was made from other options (image, binds, workdir, --root, --pid, --writable-tmpfs...)", w->name);
		yurt_err_hint(err, "give every yurt run --join=%s the same options, or use another key", w->name);
		return -1;
	}
	/* Through the holder's /proc directory: its namespaces, or nothing. */
	m->user_ns = openat(holder, "ns/user", O_RDONLY | O_CLOEXEC);
	m->mnt_ns = openat(holder, "ns/mnt", O_RDONLY | O_CLOEXEC);
	/* The holder made the PID namespace for its children, not for itself. */
	if (m->info.pid_ns)
		m->pid_ns = openat(holder, "ns/pid_for_children", O_RDONLY | O_CLOEXEC);
	if (m->user_ns < 0 || m->mnt_ns < 0 || (m->info.pid_ns && m->pid_ns < 0))
		return NOT_THERE;
	struct hello hello = { .op = HELLO_JOIN, .ntasks = w->ntasks };
	if ((m->sock = ask_holder(dir, w->name, &hello, &a, JOIN_TIMEOUT_MS)) < 0) {
		if (errno != ETIMEDOUT)
			return STOPPING;
		return yurt_fail(err, 0, "instance %s: its holder, process %d, does not answer",
				 w->name, (int)m->info.pid);
	}
	if (!w->join && yurt_state_read_env(dir, w->name, &m->env, err))
		return -1;
	return JOINED;
}

static int join(struct yurt_member *m, const struct wanted *w, struct yurt_err *err)
{
	_cleanup_dir_ struct yurt_state_dir dir = { .fd = -1 };
	if (yurt_state_dir_open(&dir, err))
		return -1;
	for (unsigned backoff = RETRY_MS; ; backoff = backoff < 320 ? 2 * backoff : backoff) {
		/* Shared: joiners of a live instance need not wait for each other. */
		_cleanup_close_ int lock = yurt_state_lock(&dir, w->name, LOCK_SH, w->make_from != NULL, err);
		if (lock < 0 && err->errnum == ENOENT)
			goto none;
		if (lock < 0)
			return -1;
		int r = try_join(m, &dir, w, err);
		if (r == NOT_THERE && w->make_from) {
			/* Exclusive to make it; another yurt may have made it meanwhile. */
			close(yurt_steal_fd(lock));
			if ((lock = yurt_state_lock(&dir, w->name, LOCK_EX, true, err)) < 0)
				return -1;
			if ((r = try_join(m, &dir, w, err)) == NOT_THERE) {
				if (make(&dir, w->name, lock, w->make_from, true, err)) {
					yurt_state_remove(&dir, w->name, true);
					return -1;
				}
				yurt_verbose("created instance %s", w->name);
				if ((r = try_join(m, &dir, w, err)) == JOINED)
					return 0;
				if (r != -1)
					return yurt_fail(err, 0, "instance %s ended as soon as it started", w->name);
			}
		}
		if (r == -1)
			return -1;
		if (r == JOINED) {
			yurt_verbose("joined instance %s (holder %d)", w->name, (int)m->info.pid);
			return 0;
		}
		if (r == NOT_THERE)
			goto none;
		if (!w->make_from)
			return yurt_fail(err, 0, "instance %s is stopping", w->name);
		/* Stopping: it is gone once its holder has removed its state. */
		close(yurt_steal_fd(lock));
		poll(NULL, 0, (int)backoff);
	}
none:
	yurt_fail(err, 0, "no instance %s", w->name);
	yurt_err_hint(err, "'yurt list' shows yours; 'yurt start --name %s IMAGE' makes one", w->name);
	return -1;
}

int yurt_join_key(const char *given, char key[YURT_NAME_MAX + 1], struct yurt_err *err)
{
	if (given) {
		snprintf(key, YURT_NAME_MAX + 1, "%s", given);
		return yurt_state_name_check("--join key", given, err);
	}
	const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID");
	if (!job || !*job || !step || !*step) {
		yurt_fail(err, 0, "--join without a key, outside a Slurm step (no SLURM_JOB_ID and SLURM_STEP_ID)");
		yurt_err_hint(err, "name the container to share: --join=KEY");
		return -1;
	}
	if (snprintf(key, YURT_NAME_MAX + 1, "%s.%s", job, step) > YURT_NAME_MAX)
		return yurt_fail(err, 0, "--join: the key %s.%s is longer than %d characters", job, step, YURT_NAME_MAX);
	return yurt_state_name_check("--join key (SLURM_JOB_ID.SLURM_STEP_ID)", key, err);
}

int yurt_instance_join(struct yurt_member *m, const char *key, struct yurt_container *c,
		       unsigned ntasks, struct yurt_err *err)
{
	struct wanted w = {
		.name = key, .join = true, .ntasks = ntasks, .make_from = c,
		.signature = yurt_instance_signature(&c->plan, c->image.path, c->req->writable_tmpfs),
	};
	return join(m, &w, err);
}

int yurt_instance_attach(struct yurt_member *m, const char *name, unsigned ntasks,
			 struct yurt_err *err)
{
	struct wanted w = { .name = name, .ntasks = ntasks };
	if (yurt_state_name_check("instance name", name, err))
		return -1;
	return join(m, &w, err);
}

int yurt_member_enter(struct yurt_member *m, const char *workdir, struct yurt_err *err)
{
	/* The user namespace first: in it this process has the capabilities
	 * that entering the other namespaces takes. */
	if (setns(m->user_ns, CLONE_NEWUSER))
		return yurt_fail(err, errno, "enter the container's user namespace");
	/* This also makes the container's root our root and working directory. */
	if (setns(m->mnt_ns, CLONE_NEWNS))
		return yurt_fail(err, errno, "enter the container's mount namespace");
	/* Only the children, the tasks, are in the PID namespace. */
	if (m->pid_ns >= 0 && setns(m->pid_ns, CLONE_NEWPID))
		return yurt_fail(err, errno, "enter the container's PID namespace");
	const char *dir = workdir ? workdir : m->info.workdir;
	m->entered = true;
	if (chdir(dir))
		return yurt_fail(err, errno, "workdir %s", dir);
	return 0;
}

int yurt_instance_start(const char *name, struct yurt_container *c, struct yurt_err *err)
{
	_cleanup_dir_ struct yurt_state_dir dir = { .fd = -1 };
	struct yurt_instance_info info;
	struct yurt_err why;
	if (yurt_state_name_check("instance name", name, err) || yurt_state_dir_open(&dir, err))
		return -1;
	_cleanup_close_ int lock = yurt_state_lock(&dir, name, LOCK_EX, true, err);
	if (lock < 0)
		return -1;
	if (inspect(&dir, name, &info, NULL, &why) == FOUND_LIVE) {
		yurt_fail(err, 0, "instance %s already exists (holder %d, image %s)", name, (int)info.pid, info.image);
		yurt_err_hint(err, "'yurt stop %s' ends it", name);
		return -1;
	}
	if (make(&dir, name, lock, c, false, err)) {
		yurt_state_remove(&dir, name, true);
		return -1;
	}
	yurt_verbose("started instance %s", name);
	return 0;
}

/* Waits up to TIMEOUT_MS (-1: forever) for the process of PIDFD to end. */
static bool wait_gone(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;
	while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	return r > 0;
}

int yurt_instance_stop(const char *name, struct yurt_err *err)
{
	_cleanup_dir_ struct yurt_state_dir dir = { .fd = -1 };
	struct yurt_instance_info info;
	struct yurt_err why;
	char text[2048];
	if (yurt_state_name_check("instance name", name, err) || yurt_state_dir_open(&dir, err))
		return -1;
	enum found found = FOUND_NONE;
	_cleanup_close_ int pidfd = -1;
	int lock = yurt_state_lock(&dir, name, LOCK_SH, false, err);
	if (lock < 0 && err->errnum != ENOENT)
		return -1;
	if (lock >= 0) {
		found = inspect(&dir, name, &info, NULL, &why);
		/* Opened, then the holder checked again: if it is still alive, the
		 * pidfd is the holder's and not a later process's with its pid. */
		if (found == FOUND_LIVE && ((pidfd = pidfd_open(info.pid, 0)) < 0 ||
					    inspect(&dir, name, &info, NULL, &why) != FOUND_LIVE))
			found = FOUND_STALE;
		close(lock);
	}
	if (found == FOUND_NONE) {
		yurt_fail(err, 0, "no instance %s", name);
		yurt_err_hint(err, "'yurt list' shows yours");
		return -1;
	}
	if (found == FOUND_STALE) {
		remove_if_stale(&dir, name);
		yurt_warn("instance %s had already ended (%s); removed what it left", name,
			  yurt_err_text(&why, text, sizeof text));
		return 0;
	}
	yurt_verbose("stopping instance %s (holder %d)", name, (int)info.pid);
	pidfd_send_signal(pidfd, SIGTERM, NULL, 0);
	/* The holder ends its members within its grace time, then itself. */
	if (!wait_gone(pidfd, (STOP_GRACE_S + 5) * 1000)) {
		yurt_warn("instance %s: its holder %d does not end; killing it", name, (int)info.pid);
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		wait_gone(pidfd, -1);
		remove_if_stale(&dir, name);
	}
	return 0;
}

struct row {
	char name[YURT_NAME_MAX + 1];
	struct yurt_instance_info info;
	char tasks[16];
};

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name, ((const struct row *)b)->name);
}

/* Reads the live instance NAME into ROW; false when there is none. */
static bool list_one(const struct yurt_state_dir *dir, const char *name, struct row *row)
{
	struct yurt_err why;
	struct answer a;
	struct hello hello = { .op = HELLO_QUERY };
	_cleanup_close_ int lock = yurt_state_lock(dir, name, LOCK_SH, false, &why);
	if (lock < 0)
		return false;
	switch (inspect(dir, name, &row->info, NULL, &why)) {
	case FOUND_NONE:
		return false;
	case FOUND_STALE:
		close(yurt_steal_fd(lock));
		remove_if_stale(dir, name);
		return false;
	case FOUND_LIVE:
		break;
	}
	snprintf(row->name, sizeof row->name, "%s", name);
	/* A holder that is stopping answers nobody. */
	int fd = ask_holder(dir, name, &hello, &a, QUERY_TIMEOUT_MS);
	if (fd < 0) {
		strcpy(row->tasks, "-");
		return true;
	}
	snprintf(row->tasks, sizeof row->tasks, "%u", a.tasks);
	close(fd);
	return true;
}

int yurt_instance_list(FILE *out, struct yurt_err *err)
{
	_cleanup_dir_ struct yurt_state_dir dir = { .fd = -1 };
	_cleanup_free_ struct row *rows = NULL;
	size_t nrows = 0;
	if (yurt_state_dir_open(&dir, err))
		return -1;
	int fd = openat(dir.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return yurt_fail(err, errno, "state directory %s", dir.path);
	}
	for (struct dirent *e; (e = readdir(d)); ) {
		char name[YURT_NAME_MAX + 1];
		size_t len = strlen(e->d_name);
		struct yurt_err ignored;
		if (len <= 6 || len - 6 > YURT_NAME_MAX || strcmp(e->d_name + len - 6, ".state"))
			continue;
		memcpy(name, e->d_name, len - 6);
		name[len - 6] = '\0';
		if (yurt_state_name_check("", name, &ignored))
			continue;
		struct row *more = realloc(rows, (nrows + 1) * sizeof *rows);
		if (!more) {
			closedir(d);
			return yurt_fail(err, ENOMEM, "list");
		}
		rows = more;
		if (list_one(&dir, name, &rows[nrows]))
			nrows++;
	}
	closedir(d);
	if (nrows)
		qsort(rows, nrows, sizeof *rows, row_cmp);

	int wname = 4, wimage = 5;
	for (size_t i = 0; i < nrows; i++) {
		int n = (int)strlen(rows[i].name), m = (int)strlen(rows[i].info.image);
		wname = n > wname ? n : wname;
		wimage = m > wimage ? m : wimage;
	}
	fprintf(out, "%-*s  %-*s  %8s  %-19s  %s\n", wname, "NAME", wimage, "IMAGE", "PID", "STARTED", "TASKS");
	for (size_t i = 0; i < nrows; i++) {
		char started[32];
		time_t t = (time_t)rows[i].info.started;
		struct tm tm;
		strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
		fprintf(out, "%-*s  %-*s  %8d  %-19s  %s\n", wname, rows[i].name, wimage, rows[i].info.image,
			(int)rows[i].info.pid, started, rows[i].tasks);
	}
	return 0;
}
