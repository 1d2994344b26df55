#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "task.h"

/* What a job receives from a terminal, a batch system or a user.  SIGTSTP is
 * left out so that yurt stops along with its command under job control. */
static const int forwarded[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT, SIGALRM,
	SIGWINCH, SIGXCPU, SIGPWR,
};

/* After -K's SIGTERM, tasks get this long before SIGKILL. */
#define KILL_GRACE_MS 5000

static void forwarded_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
		sigaddset(set, forwarded[i]);
	sigaddset(set, SIGCHLD);
}

int yurt_signals_block(sigset_t *saved, struct yurt_err *err)
{
	sigset_t set;
	forwarded_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, saved))
		return yurt_fail(err, errno, "sigprocmask");
	return 0;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Writes "TASK: LINE" in one write(2), so lines of tasks never interleave. */
static void emit_line(int to, size_t task, const char *line, size_t len)
{
	char prefix[24];
	int plen = snprintf(prefix, sizeof prefix, "%zu: ", task);
	_cleanup_free_ char *out = malloc((size_t)plen + len);
	if (!out)
		return;
	memcpy(out, prefix, (size_t)plen);
	memcpy(out + plen, line, len);
	write_all(to, out, (size_t)plen + len);
}

/* Reads what the stream has; emits whole lines, keeps the rest.  At end of
 * file the last, unterminated line goes out as it is. */
static void stream_read(struct yurt_task_stream *s, size_t task)
{
	char chunk[65536];
	ssize_t n = read(s->fd, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (s->len)
			emit_line(s->to, task, s->buf, s->len);
		free(s->buf);
		s->buf = NULL;
		s->len = 0;
		close(s->fd);
		s->fd = -1;
		return;
	}
	char *buf = realloc(s->buf, s->len + (size_t)n);
	if (!buf)
		return;
	memcpy(buf + s->len, chunk, (size_t)n);
	s->buf = buf;
	s->len += (size_t)n;
	size_t start = 0;
	for (size_t i = 0; i < s->len; i++) {
		if (buf[i] != '\n')
			continue;
		emit_line(s->to, task, buf + start, i + 1 - start);
		start = i + 1;
	}
	memmove(buf, buf + start, s->len - start);
	s->len -= start;
}

static void report_failure(const struct yurt_task *t, size_t i)
{
	int st = t->wait_status;
	if (WIFSIGNALED(st))
		yurt_warn("task %zu: killed by signal %d (%s)", i, WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st))
		yurt_warn("task %zu: exited with status %d", i, WEXITSTATUS(st));
}

static void signal_all(struct yurt_task *tasks, size_t ntasks, int sig)
{
	for (size_t i = 0; i < ntasks; i++)
		if (!tasks[i].done)
			kill(tasks[i].pid, sig);
}

struct waiter {
	struct yurt_task *tasks;
	size_t ntasks, running;
	const struct yurt_wait_options *opts;
	long kill_deadline_ms;  /* -K: when SIGKILL follows SIGTERM; 0: none yet */
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reap(struct waiter *w)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < w->ntasks; i++) {
			struct yurt_task *t = &w->tasks[i];
			if (t->pid != pid || t->done)
				continue;
			t->done = true;
			t->wait_status = status;
			w->running--;
			if (w->opts->report)
				report_failure(t, i);
			if (w->opts->kill_on_bad_exit && status && !w->kill_deadline_ms && w->running) {
				yurt_warn("task %zu failed: ending the other tasks (-K)", i);
				signal_all(w->tasks, w->ntasks, SIGTERM);
				w->kill_deadline_ms = now_ms() + KILL_GRACE_MS;
			}
		}
	}
}

int yurt_tasks_wait(struct yurt_task *tasks, size_t ntasks, const struct yurt_wait_options *opts,
		    struct yurt_err *err)
{
	struct waiter w = { .tasks = tasks, .ntasks = ntasks, .opts = opts };
	sigset_t set;
	forwarded_set(&set);
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return yurt_fail(err, errno, "signalfd");
	_cleanup_free_ struct pollfd *fds = calloc(1 + 2 * ntasks, sizeof *fds);
	if (!fds)
		return yurt_fail(err, ENOMEM, "poll");
	for (size_t i = 0; i < ntasks; i++)
		w.running += !tasks[i].done;
	reap(&w);
	for (;;) {
		size_t nfds = 1, open_streams = 0;
		fds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (size_t i = 0; i < 2 * ntasks; i++) {
			struct yurt_task_stream *s = i % 2 ? &tasks[i / 2].err : &tasks[i / 2].out;
			fds[nfds++] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
			open_streams += s->fd >= 0;
		}
		/* Done when every task has ended and told all it had to say; output
		 * of a task's leftover children is drained, not waited for. */
		if (!w.running && !open_streams)
			break;
		int timeout = -1;
		if (!w.running)
			timeout = 0;
		else if (w.kill_deadline_ms && w.kill_deadline_ms != LONG_MAX)
			timeout = w.kill_deadline_ms > now_ms() ? (int)(w.kill_deadline_ms - now_ms()) : 0;
		int n = poll(fds, nfds, timeout);
		if (n < 0 && errno != EINTR)
			return yurt_fail(err, errno, "poll");
		if (w.kill_deadline_ms && w.kill_deadline_ms != LONG_MAX && now_ms() >= w.kill_deadline_ms) {
			signal_all(tasks, ntasks, SIGKILL);
			w.kill_deadline_ms = LONG_MAX;
		}
		if (n == 0 && !w.running) {
			for (size_t i = 0; i < 2 * ntasks; i++) {
				struct yurt_task_stream *s = i % 2 ? &tasks[i / 2].err : &tasks[i / 2].out;
				if (s->fd >= 0) {
					close(s->fd);
					s->fd = -1;
					if (s->len)
						emit_line(s->to, i / 2, s->buf, s->len);
					free(s->buf);
					s->buf = NULL;
				}
			}
			break;
		}
		for (size_t i = 1; i < nfds; i++)
			if (fds[i].revents)
				stream_read(i % 2 ? &tasks[(i - 1) / 2].out : &tasks[(i - 1) / 2].err, (i - 1) / 2);
		if (!(fds[0].revents & POLLIN))
			continue;
		struct signalfd_siginfo info;
		if (read(sfd, &info, sizeof info) != sizeof info)
			continue;
		if (info.ssi_signo == SIGCHLD) {
			reap(&w);
			continue;
		}
		yurt_debug("forwarding signal %u", info.ssi_signo);
		signal_all(tasks, ntasks, (int)info.ssi_signo);
	}
	return 0;
}

int yurt_exit_status(int wait_status)
{
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return WEXITSTATUS(wait_status);
}

int yurt_tasks_status(const struct yurt_task *tasks, size_t ntasks)
{
	int status = 0;
	for (size_t i = 0; i < ntasks; i++) {
		int s = yurt_exit_status(tasks[i].wait_status);
		if (s > status)
			status = s;
	}
	return status;
}
