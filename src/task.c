#include <errno.h>
#include <sys/wait.h>

#include "log.h"
#include "task.h"

/* What a job receives from a terminal, a batch system or a user.  SIGTSTP is
 * left out so that yurt stops along with its command under job control. */
static const int forwarded[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT, SIGALRM,
	SIGWINCH, SIGXCPU, SIGPWR,
};

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

static void reap(struct yurt_task *tasks, size_t ntasks, size_t *running)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < ntasks; i++) {
			if (tasks[i].pid != pid || tasks[i].done)
				continue;
			tasks[i].done = true;
			tasks[i].wait_status = status;
			(*running)--;
		}
	}
}

int yurt_tasks_wait(struct yurt_task *tasks, size_t ntasks, struct yurt_err *err)
{
	sigset_t set;
	size_t running = 0;
	forwarded_set(&set);
	for (size_t i = 0; i < ntasks; i++)
		running += !tasks[i].done;
	reap(tasks, ntasks, &running);
	while (running > 0) {
		siginfo_t info;
		int sig = sigwaitinfo(&set, &info);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			return yurt_fail(err, errno, "sigwaitinfo");
		}
		if (sig == SIGCHLD) {
			reap(tasks, ntasks, &running);
			continue;
		}
		yurt_debug("forwarding signal %d", sig);
		for (size_t i = 0; i < ntasks; i++)
			if (!tasks[i].done)
				kill(tasks[i].pid, sig);
	}
	return 0;
}

int yurt_exit_status(int wait_status)
{
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return WEXITSTATUS(wait_status);
}
