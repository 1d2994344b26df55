/* The MUNGE self-check, against the munged of the test cluster
 * (test/slurm/cluster.sh start) when one is up, and against sockets that
 * cannot work.  The live tests skip, saying why, when no munged answers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "munge.h"

static struct yurt_err err;
static char tmpdir[] = "/tmp/yurt-test-munge.XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(munge, .init = setup, .fini = teardown);

static bool is_socket(const char *path)
{
	struct stat st;
	return !stat(path, &st) && S_ISSOCK(st.st_mode);
}

/* The test cluster's socket: $YURT_MUNGE_SOCKET (cluster.sh prints it), else
 * where cluster.sh puts it under $YURT_SLURM_DIR (default /tmp/yurt-slurm),
 * else the system's. */
static const char *live_socket(void)
{
	static char path[4096];
	const char *env = getenv("YURT_MUNGE_SOCKET");
	if (env && *env)
		return env;
	const char *dir = getenv("YURT_SLURM_DIR");
	snprintf(path, sizeof path, "%s/munge/munge.socket.2", dir && *dir ? dir : "/tmp/yurt-slurm");
	if (is_socket(path))
		return path;
	return yurt_munge_default_socket();
}

#define SKIP_WITHOUT_MUNGED(socket)                                                 \
	do {                                                                        \
		if (!is_socket(socket))                                             \
			cr_skip_test("no munged socket at %s; run test/slurm/"       \
				     "cluster.sh start (or set YURT_MUNGE_SOCKET)", socket); \
	} while (0)

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* For the forked child, where Criterion's asserts cannot report. */
static bool write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = write(fd, text, strlen(text));
	return !close(fd) && n == (ssize_t)strlen(text);
}

Test(munge, live_munged_answers)
{
	const char *socket = live_socket();
	SKIP_WITHOUT_MUNGED(socket);
	cr_assert_eq(yurt_munge_check(socket, &err), 0, "%s", err.msg);
}

/* Inside a user namespace our uid reads differently from what munged saw;
 * the check maps it out through uid_map, as it must inside the container.
 * unshare(CLONE_NEWUSER) wants a single thread: a forked child has one. */
Test(munge, live_munged_from_user_namespace)
{
	const char *socket = live_socket();
	SKIP_WITHOUT_MUNGED(socket);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		unsigned long uid = geteuid(), gid = getegid();
		char map[64], msg[sizeof err.msg + 32];
		int len;
		if (unshare(CLONE_NEWUSER)) {
			len = snprintf(msg, sizeof msg, "skip: unshare(CLONE_NEWUSER): %s", strerror(errno));
			_exit(write(fds[1], msg, len) == len ? 2 : 3);
		}
		snprintf(map, sizeof map, "4242 %lu 1\n", uid);
		if (!write_proc("/proc/self/setgroups", "deny") || !write_proc("/proc/self/uid_map", map))
			_exit(4);
		snprintf(map, sizeof map, "4343 %lu 1\n", gid);
		if (!write_proc("/proc/self/gid_map", map) || geteuid() != 4242)
			_exit(5);
		if (yurt_munge_check(socket, &err)) {
			len = snprintf(msg, sizeof msg, "%s", err.msg);
			_exit(write(fds[1], msg, len) == len ? 1 : 3);
		}
		_exit(0);
	}
	close(fds[1]);
	char msg[sizeof err.msg + 32] = "";
	ssize_t n = read(fds[0], msg, sizeof msg - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died");
	if (WEXITSTATUS(status) == 2)
		cr_skip_test("%s", msg + strlen("skip: "));
	cr_assert_eq(WEXITSTATUS(status), 0, "exit %d: %s", WEXITSTATUS(status), msg);
}

Test(munge, cluster_slurm_conf_names_its_socket)
{
	const char *dir = getenv("YURT_SLURM_DIR");
	char conf[4096], socket[4096], found[4096];
	snprintf(conf, sizeof conf, "%s/etc/slurm.conf", dir && *dir ? dir : "/tmp/yurt-slurm");
	snprintf(socket, sizeof socket, "%s/munge/munge.socket.2", dir && *dir ? dir : "/tmp/yurt-slurm");
	if (access(conf, R_OK))
		cr_skip_test("no test cluster config at %s; run test/slurm/cluster.sh start", conf);
	cr_assert_eq(yurt_munge_slurm_conf_socket(conf, found, sizeof found, &err), 1);
	cr_assert_str_eq(found, socket);
}

Test(munge, missing_socket_is_a_clear_error)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/no/munge.socket.2", tmpdir);
	cr_assert_eq(yurt_munge_check(path, &err), -1);
	cr_assert(strstr(err.msg, path), "message names the socket: %s", err.msg);
	cr_assert(strstr(err.msg, "Socket communication error"), "munge_strerror: %s", err.msg);
	cr_assert(strstr(err.hint, "munged running"), "hint: %s", err.hint);
	cr_assert_eq(err.status, YURT_EXIT_LAUNCH);
}

Test(munge, plain_file_is_not_a_socket)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/plain", tmpdir);
	write_file(path, "");
	cr_assert_eq(yurt_munge_check(path, &err), -1);
	cr_assert(strstr(err.msg, path), "%s", err.msg);
}

Test(munge, default_socket_is_absolute_and_stable)
{
	const char *a = yurt_munge_default_socket();
	cr_assert_not_null(a);
	cr_assert_eq(a[0], '/', "%s", a);
	cr_assert_eq(yurt_munge_default_socket(), a);
}

/* Without AuthInfo, libmunge's own default, as munged --help shows it. */
Test(munge, default_socket_without_slurm_conf)
{
	char conf[4200];
	snprintf(conf, sizeof conf, "%s/slurm.conf", tmpdir);
	write_file(conf, "ClusterName=x\nAuthType=auth/munge\n");
	setenv("SLURM_CONF", conf, 1);
	const char *socket = yurt_munge_default_socket();
	cr_assert(!strcmp(socket, "/run/munge/munge.socket.2") ||   /* Debian 12 */
		  !strcmp(socket, "/var/run/munge/munge.socket.2"), "%s", socket);
}

Test(munge, default_socket_from_authinfo)
{
	char conf[4200];
	snprintf(conf, sizeof conf, "%s/slurm.conf", tmpdir);
	write_file(conf, "AuthType=auth/munge\nAuthInfo=socket=/var/run/m/sock,ttl=60\n");
	setenv("SLURM_CONF", conf, 1);
	cr_assert_str_eq(yurt_munge_default_socket(), "/var/run/m/sock");
}

struct conf_case {
	const char *text;
	int rc;
	const char *socket;
};

Test(munge, slurm_conf_authinfo_forms)
{
	static const struct conf_case cases[] = {
		{ "AuthInfo=socket=/a/b.sock\n", 1, "/a/b.sock" },
		{ "AuthInfo=cred_expire=60,socket=/a/c.sock,ttl=5\n", 1, "/a/c.sock" },
		{ "authinfo=/old/form.sock\n", 1, "/old/form.sock" },   /* pre-socket= form */
		{ "AuthType=auth/munge AuthInfo=\"socket=/q/s\"  # quoted\n", 1, "/q/s" },
		{ "  AuthInfo=socket=/first\nAuthInfo=socket=/last\n", 1, "/last" },
		{ "AuthInfo=ttl=60\n", 0, NULL },
		{ "#AuthInfo=socket=/commented\nAuthType=auth/munge\n", 0, NULL },
		{ "AuthAltTypes=auth/jwt\nAuthInfoX=socket=/no\n", 0, NULL },
		{ "AuthInfo=socket=\n", 0, NULL },
		{ "", 0, NULL },
	};
	char conf[4200], found[256];
	snprintf(conf, sizeof conf, "%s/slurm.conf", tmpdir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_file(conf, cases[i].text);
		strcpy(found, "unchanged");
		int rc = yurt_munge_slurm_conf_socket(conf, found, sizeof found, &err);
		cr_expect_eq(rc, cases[i].rc, "case %zu: rc %d", i, rc);
		if (cases[i].socket)
			cr_expect_str_eq(found, cases[i].socket, "case %zu", i);
	}
}

Test(munge, slurm_conf_missing_or_too_long)
{
	char conf[4200], small[8];
	snprintf(conf, sizeof conf, "%s/absent.conf", tmpdir);
	cr_assert_eq(yurt_munge_slurm_conf_socket(conf, small, sizeof small, &err), 0);
	snprintf(conf, sizeof conf, "%s/slurm.conf", tmpdir);
	write_file(conf, "AuthInfo=socket=/a/rather/long/path\n");
	cr_assert_eq(yurt_munge_slurm_conf_socket(conf, small, sizeof small, &err), -1);
	cr_assert_eq(err.errnum, ENAMETOOLONG);
	cr_assert(strstr(err.msg, conf), "%s", err.msg);
}
