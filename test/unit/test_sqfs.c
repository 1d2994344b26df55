/* The SquashFS FUSE server for real: a forked child plays the launcher
 * (starts the server, enters a new user+mount namespace, mounts, reads), and
 * the test checks what it saw and that the server is gone afterwards. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image.h"
#include "sqfs.h"

#define FUSE_SUPER_MAGIC 0x65735546
#define EXIT_SKIP 77

static char tmp[256];
static struct yurt_image img;

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

static const char *err_text(const struct yurt_err *err)
{
	static char buf[2048];
	return yurt_err_text(err, buf, sizeof buf);
}

static void setup(void)
{
	struct yurt_err err = {0};
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("cannot open /dev/fuse: %s", strerror(errno));
	close(fd);

	snprintf(tmp, sizeof tmp, "%s/yurt-test-sqfs-XXXXXX", base);
	cr_assert_not_null(mkdtemp(tmp));
	sh("cd %s && mkdir -p root/etc root/bin root/lib root/dir ctr && echo hello > root/etc/motd",
	   tmp);
	sh("cd %s/root && head -c 1000000 /dev/urandom > bin/blob && ln -s ../etc/motd lib/link && "
	   "touch dir/a dir/b dir/c && chmod 644 etc/motd", tmp);
	/* Looks like a shared library to the prefetcher: ELF magic, 1 MB. */
	sh("cd %s/root && printf '\\177ELF' > lib/libfake.so && "
	   "head -c 1000000 /dev/urandom >> lib/libfake.so", tmp);
	sh("mksquashfs %s/root %s/img.sqfs -quiet -no-progress -noappend >/dev/null", tmp, tmp);
	char path[512];
	snprintf(path, sizeof path, "%s/img.sqfs", tmp);
	cr_assert_eq(yurt_image_open(&img, path, &err), 0, "%s", err_text(&err));
}

/* Also called before a skip, as Criterion then skips .fini. */
static void teardown(void)
{
	yurt_image_release(&img);
	if (tmp[0])
		sh("rm -rf %s", tmp);
	tmp[0] = '\0';
}

TestSuite(sqfs, .init = setup, .fini = teardown, .timeout = 60);

/* ---- in the launcher child: failures go back to the test as text ---- */

static int report_fd = -1;

static void __attribute__((noreturn, format(printf, 2, 3))) leave(int status, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	dprintf(report_fd, "%s\n", buf);
	_exit(status);
}

#define CHECK(cond, ...) do { if (!(cond)) leave(1, __VA_ARGS__); } while (0)

static const char *in_root(const char *rel)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];
	snprintf(p, 512, "%s/ctr/root%s%s", tmp, rel[0] ? "/" : "", rel);
	return p;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
	      "write %s: %s", path, strerror(errno));
	close(fd);
}

/* What the launcher does before mounting: a user namespace mapping our ids,
 * a private mount namespace and a tmpfs to build the container root in. */
static void enter_container(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64], ctr[300];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		leave(EXIT_SKIP, "unshare: %s", strerror(errno));
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
	write_file("/proc/self/gid_map", map);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make / private: %s",
	      strerror(errno));
	snprintf(ctr, sizeof ctr, "%s/ctr", tmp);
	CHECK(mount("tmpfs", ctr, "tmpfs", 0, "mode=0755") == 0, "tmpfs: %s", strerror(errno));
	CHECK(mkdir(in_root(""), 0755) == 0, "mkdir: %s", strerror(errno));
}

static struct yurt_fuse_server *start_server(int pid_fd)
{
	struct yurt_fuse_server *srv;
	struct yurt_err err = {0};

	CHECK(yurt_fuse_server_start(&srv, &img, &err) == 0, "start: %s", err_text(&err));
	pid_t pid = yurt_fuse_server_pid(srv);
	CHECK(write(pid_fd, &pid, sizeof pid) == sizeof pid, "write pid");
	return srv;
}

static void mount_root(struct yurt_fuse_server *srv)
{
	struct yurt_err err = {0};
	CHECK(yurt_fuse_server_mount(srv, in_root(""), getuid(), getgid(), &err) == 0, "mount: %s",
	      err_text(&err));
}

static void expect_content(const char *rel, const char *host, size_t size)
{
	static char want[1 << 20], got[1 << 20];
	FILE *f = fopen(host, "rb");
	CHECK(f && fread(want, 1, sizeof want, f) == size, "read %s", host);
	fclose(f);
	int fd = open(in_root(rel), O_RDONLY);
	CHECK(fd >= 0, "open %s: %s", rel, strerror(errno));
	size_t n = 0;
	for (ssize_t r; (r = read(fd, got + n, sizeof got - n)) > 0;)
		n += r;
	close(fd);
	CHECK(n == size && memcmp(want, got, size) == 0, "%s: content differs (%zu bytes)", rel, n);
}

/* want 0: the path exists. */
static void expect_errno(const char *rel, int want)
{
	struct stat st;
	int r = lstat(in_root(rel), &st);
	int got = r < 0 ? errno : 0;
	CHECK(got == want, "lstat %s: got %s, want %s", rel, strerror(got), strerror(want));
}

/* ---- in the test ---- */

struct launcher {
	pid_t pid;          /* the launcher child */
	int report;         /* its report pipe */
	int server;         /* pidfd of the server */
	int server_pid;
};

/* Forks the launcher running body; returns once it reported the server pid. */
static struct launcher launch(void (*body)(int pid_fd, void *arg), void *arg)
{
	struct launcher l = {.server = -1};
	int report[2], pids[2];

	cr_assert_eq(pipe2(report, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pids, O_CLOEXEC), 0);
	l.pid = fork();
	cr_assert_geq(l.pid, 0);
	if (l.pid == 0) {
		/* Never outlive the test, even when it times out. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		report_fd = report[1];
		body(pids[1], arg);
		_exit(0);
	}
	close(report[1]);
	close(pids[1]);
	l.report = report[0];
	if (read(pids[0], &l.server_pid, sizeof l.server_pid) == sizeof l.server_pid)
		l.server = pidfd_open(l.server_pid, 0);
	close(pids[0]);
	return l;
}

/* Reads the report until end of file: that only comes if no process, the
 * server included, kept the pipe open. */
static void finish(struct launcher *l, int killed_by)
{
	char text[4096] = "";
	size_t n = 0;
	struct pollfd p = {.fd = l->report, .events = POLLIN};
	int status;

	for (;;) {
		cr_assert_gt(poll(&p, 1, 20000), 0, "launcher's report pipe stays open");
		ssize_t r = read(l->report, text + n, sizeof text - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	text[n] = '\0';
	close(l->report);
	cr_assert_eq(waitpid(l->pid, &status, 0), l->pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SKIP) {
		teardown();
		cr_skip_test("%s", text);
	}
	if (killed_by)
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == killed_by,
		          "launcher (status %#x): %s", status, text);
	else
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		          "launcher failed (status %#x): %s", status, text);
}

static void expect_server_gone(struct launcher *l)
{
	struct pollfd p = {.fd = l->server, .events = POLLIN};
	if (l->server < 0)
		return;   /* already gone when we looked it up */
	cr_expect_eq(poll(&p, 1, 10000), 1, "FUSE server %d still running", l->server_pid);
	close(l->server);
}

static void serve_and_read(int pid_fd, void *arg)
{
	struct yurt_fuse_server *srv = start_server(pid_fd);
	char host[512], link[64];
	struct stat st;
	struct statfs sfs;
	(void)arg;

	enter_container();
	mount_root(srv);

	snprintf(host, sizeof host, "%s/root/etc/motd", tmp);
	expect_content("etc/motd", host, 6);
	snprintf(host, sizeof host, "%s/root/bin/blob", tmp);
	expect_content("bin/blob", host, 1000000);
	CHECK(stat(in_root("etc/motd"), &st) == 0 && S_ISREG(st.st_mode) &&
	      (st.st_mode & 07777) == 0644 && st.st_size == 6 && st.st_uid == getuid(),
	      "stat etc/motd: mode %o size %lld uid %u", st.st_mode, (long long)st.st_size, st.st_uid);

	/* Twice: the second answer comes from the kernel's negative dentry. */
	expect_errno("missing", ENOENT);
	expect_errno("missing", ENOENT);
	expect_errno("etc/missing", ENOENT);
	expect_errno("etc/motd/x", ENOTDIR);

	ssize_t n = readlink(in_root("lib/link"), link, sizeof link - 1);
	CHECK(n == 11 && memcmp(link, "../etc/motd", 11) == 0, "readlink lib/link: %zd", n);

	DIR *d = opendir(in_root("dir"));
	CHECK(d, "opendir dir: %s", strerror(errno));
	int seen = 0;
	for (struct dirent *e; (e = readdir(d));)
		seen |= strcmp(e->d_name, "a") == 0 ? 1 : strcmp(e->d_name, "b") == 0 ? 2 :
		        strcmp(e->d_name, "c") == 0 ? 4 : 0;
	closedir(d);
	CHECK(seen == 7, "readdir dir: saw %#x", seen);

	CHECK(open(in_root("etc/motd"), O_WRONLY) < 0 && errno == EROFS, "open for writing: %s",
	      strerror(errno));
	CHECK(statfs(in_root(""), &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC, "statfs");
	yurt_fuse_server_detach(srv);
}

Test(sqfs, serves_the_image)
{
	struct launcher l = launch(serve_and_read, NULL);
	finish(&l, 0);
	expect_server_gone(&l);
}

/* After stop the connection is gone: only what the kernel cached answers. */
static void negative_entries_cached(int pid_fd, void *arg)
{
	struct yurt_fuse_server *srv = start_server(pid_fd);
	(void)arg;

	enter_container();
	mount_root(srv);
	expect_errno("missing", ENOENT);
	expect_errno("etc", 0);
	yurt_fuse_server_stop(srv);
	expect_errno("missing", ENOENT);
	expect_errno("etc", 0);
	expect_errno("other", ENOTCONN);
}

Test(sqfs, negative_entries_are_cached)
{
	struct launcher l = launch(negative_entries_cached, NULL);
	finish(&l, 0);
	expect_server_gone(&l);
}

/* The launcher execs the command: the server keeps serving it, and holds no
 * copy of its stdout, so a reader sees end of file when the command exits. */
static void exec_command(int pid_fd, void *arg)
{
	struct yurt_fuse_server *srv = start_server(pid_fd);
	char script[1200];

	enter_container();
	mount_root(srv);
	yurt_fuse_server_detach(srv);
	snprintf(script, sizeof script, "cat %s/etc/motd && ls %s/dir", in_root(""), in_root(""));
	dup2(*(int *)arg, STDOUT_FILENO);
	execl("/bin/sh", "sh", "-c", script, (char *)NULL);
	leave(1, "exec /bin/sh: %s", strerror(errno));
}

Test(sqfs, serves_across_exec)
{
	int out[2];
	char text[256] = "";
	size_t n = 0;

	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	struct launcher l = launch(exec_command, &out[1]);
	close(out[1]);
	struct pollfd p = {.fd = out[0], .events = POLLIN};
	for (ssize_t r = 1; r > 0; n += r) {
		cr_assert_gt(poll(&p, 1, 20000), 0, "command's stdout stays open");
		r = read(out[0], text + n, sizeof text - 1 - n);
		if (r < 0)
			break;
	}
	close(out[0]);
	finish(&l, 0);
	cr_expect_str_eq(text, "hello\na\nb\nc\n");
	expect_server_gone(&l);
}

/* kill -9 of the launcher while another process keeps the mount namespace,
 * and so the FUSE connection, alive: the server must still go. */
static void killed_launcher(int pid_fd, void *arg)
{
	int *hold = arg;
	struct yurt_fuse_server *srv = start_server(pid_fd);
	char byte;

	close(hold[1]);
	enter_container();
	mount_root(srv);
	yurt_fuse_server_detach(srv);
	if (fork() == 0) {
		/* Stays in the namespace until the test closes its end of hold. */
		close(report_fd);
		while (read(hold[0], &byte, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	expect_errno("etc/motd", 0);
	close(report_fd);   /* tells the test we are mounted */
	pause();
}

Test(sqfs, dies_with_the_launcher)
{
	int hold[2];
	char byte;

	cr_assert_eq(pipe2(hold, O_CLOEXEC), 0);
	struct launcher l = launch(killed_launcher, hold);
	close(hold[0]);
	if (read(l.report, &byte, 1) != 0)
		finish(&l, 0);   /* it failed before mounting: report that */
	cr_assert_eq(kill(l.pid, SIGKILL), 0);
	finish(&l, SIGKILL);
	expect_server_gone(&l);
	close(hold[1]);
}

/* The signals a job gets (Ctrl-C reaches the whole foreground process
 * group; Slurm signals the step) must not end the server. */
struct sync {
	int ready[2];   /* launcher -> test: mounted */
	int go[2];      /* test -> launcher: carry on */
};

static void signalled(int pid_fd, void *arg)
{
	struct sync *sync = arg;
	struct yurt_fuse_server *srv = start_server(pid_fd);
	char byte;

	enter_container();
	mount_root(srv);
	yurt_fuse_server_detach(srv);
	/* A request the server answers from its loop, so its setup is over. */
	expect_errno("etc", 0);
	CHECK(write(sync->ready[1], "", 1) == 1, "tell the test");
	CHECK(read(sync->go[0], &byte, 1) == 1, "wait for the test");
	expect_errno("etc/motd", 0);
	expect_errno("bin/blob", 0);
}

/* The server keeps nothing of the launcher's: no terminal or pipe, no cwd,
 * not its session (job-control signals go to the session's groups). */
static void expect_isolated(pid_t pid)
{
	char dir[64], path[PATH_MAX], target[PATH_MAX];

	cr_expect_neq(getsid(pid), getsid(0), "server shares our session");
	snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
	ssize_t n = readlink(path, target, sizeof target - 1);
	cr_assert_gt(n, 0);
	target[n] = '\0';
	cr_expect_str_eq(target, "/");

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof target - 1);
		cr_assert_gt(n, 0);
		target[n] = '\0';
		if (atoi(e->d_name) <= 2)
			cr_expect_str_eq(target, "/dev/null", "fd %s", e->d_name);
		else
			cr_expect(strcmp(target, "/dev/fuse") == 0 || strcmp(target, img.path) == 0 ||
			          strcmp(target, "anon_inode:[pidfd]") == 0,
			          "server holds fd %s: %s", e->d_name, target);
	}
	closedir(d);
}

Test(sqfs, ignores_job_signals)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE,
	                           SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT, SIGWINCH};
	struct sync sync;
	char byte;

	cr_assert_eq(pipe2(sync.ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(sync.go, O_CLOEXEC), 0);
	struct launcher l = launch(signalled, &sync);
	close(sync.ready[1]);
	close(sync.go[0]);
	if (read(sync.ready[0], &byte, 1) != 1)
		finish(&l, 0);   /* it failed before mounting: report that */
	cr_assert_geq(l.server, 0);
	expect_isolated(l.server_pid);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		cr_assert_eq(pidfd_send_signal(l.server, sigs[i], NULL, 0), 0);
	struct pollfd p = {.fd = l.server, .events = POLLIN};
	cr_expect_eq(poll(&p, 1, 200), 0, "server died of a signal");
	cr_assert_eq(write(sync.go[1], "", 1), 1);
	close(sync.go[1]);
	close(sync.ready[0]);
	finish(&l, 0);
	expect_server_gone(&l);
}

/* Before any mount: stop kills the server, detach lets it exit by itself,
 * and so does the launcher's death even while a forked copy of the launcher
 * (holding the handle's socket) lives on. */
enum ending { STOP, DETACH, DIE };

struct ending_arg {
	enum ending how;
	int hold[2];    /* DIE: the copy lives until the test closes hold[1] */
};

static void start_then(int pid_fd, void *arg)
{
	struct ending_arg *a = arg;
	struct yurt_fuse_server *srv = start_server(pid_fd);
	char byte;

	close(a->hold[1]);
	switch (a->how) {
	case STOP:
		yurt_fuse_server_stop(srv);
		break;
	case DETACH:
		yurt_fuse_server_detach(srv);
		break;
	case DIE:
		if (fork() == 0) {
			close(report_fd);
			while (read(a->hold[0], &byte, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		close(report_fd);   /* tells the test the copy exists */
		break;
	}
	pause();   /* outlive the server: only stop, detach or our death may end it */
}

static void unmounted_server_ends(enum ending how)
{
	struct ending_arg a = {.how = how};
	cr_assert_eq(pipe2(a.hold, O_CLOEXEC), 0);
	struct launcher l = launch(start_then, &a);
	close(a.hold[0]);
	cr_assert_geq(l.server, 0, "launcher failed");
	struct pollfd p = {.fd = l.server, .events = POLLIN};
	char byte;
	if (how == DIE && read(l.report, &byte, 1) != 0)
		finish(&l, 0);   /* it failed: report that */
	if (how != DIE)
		cr_expect_eq(poll(&p, 1, 10000), 1, "FUSE server %d still running", l.server_pid);
	kill(l.pid, SIGKILL);
	finish(&l, SIGKILL);
	if (how == DIE)
		cr_expect_eq(poll(&p, 1, 10000), 1, "FUSE server %d still running", l.server_pid);
	close(a.hold[1]);
	close(l.server);
}

Test(sqfs, stop_before_mount)
{
	unmounted_server_ends(STOP);
}

Test(sqfs, detach_before_mount)
{
	unmounted_server_ends(DETACH);
}

Test(sqfs, dies_with_the_launcher_before_mount)
{
	unmounted_server_ends(DIE);
}

/* The image was checked, yet libsquashfuse refuses it: the error comes back
 * and no process stays behind. */
Test(sqfs, start_failure)
{
	struct yurt_fuse_server *srv = NULL;
	struct yurt_err err = {0};
	char path[512], want[600];

	snprintf(path, sizeof path, "%s/root/etc/motd", tmp);
	struct yurt_image bad = {.type = YURT_IMAGE_SQUASHFS, .path = path};
	cr_assert_eq(yurt_fuse_server_start(&srv, &bad, &err), -1);
	snprintf(want, sizeof want, "image %s: libsquashfuse cannot open it", path);
	cr_expect_str_eq(err_text(&err), want);
	cr_expect_null(srv);
	cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left");
	cr_expect_eq(errno, ECHILD);
}

/* The first read of an ELF file streams the rest of it into the page cache:
 * its last page becomes resident without being read, and holds the right
 * bytes. */
static void prefetched(int pid_fd, void *arg)
{
	struct yurt_fuse_server *srv = start_server(pid_fd);
	static char want[1000004];
	char host[512], head[16];
	unsigned char resident = 0;
	(void)arg;

	enter_container();
	mount_root(srv);
	yurt_fuse_server_detach(srv);

	int fd = open(in_root("lib/libfake.so"), O_RDONLY);
	CHECK(fd >= 0 && pread(fd, head, sizeof head, 0) == sizeof head, "read lib/libfake.so");
	size_t size = sizeof want;
	char *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED, "mmap: %s", strerror(errno));
	char *last = map + ((size - 1) & ~(size_t)(sysconf(_SC_PAGESIZE) - 1));
	for (int i = 0; i < 200 && !resident; i++) {
		CHECK(mincore(last, 1, &resident) == 0, "mincore: %s", strerror(errno));
		if (!resident)
			usleep(50000);
	}
	CHECK(resident & 1, "the end of lib/libfake.so was not prefetched");

	snprintf(host, sizeof host, "%s/root/lib/libfake.so", tmp);
	FILE *f = fopen(host, "rb");
	CHECK(f && fread(want, 1, size, f) == size, "read %s", host);
	fclose(f);
	CHECK(memcmp(map, want, size) == 0, "lib/libfake.so: prefetched content differs");
	munmap(map, size);
	close(fd);
}

Test(sqfs, prefetches_elf_files)
{
	struct launcher l = launch(prefetched, NULL);
	finish(&l, 0);
	expect_server_gone(&l);
}
