/* Processes yurt waits for: signal forwarding, reaping and exit statuses. */
#ifndef YURT_TASK_H
#define YURT_TASK_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct yurt_task {
	pid_t pid;
	int wait_status;   /* as waitpid(2) reports it, once done */
	bool done;
};

/* Blocks the signals yurt forwards, and SIGCHLD, before children are forked
 * so that none arrives unseen; SAVED gets the mask to restore in children. */
int yurt_signals_block(sigset_t *saved, struct yurt_err *err);

/* Waits until every task has ended, forwarding the forwarded signals to the
 * tasks still running and reaping any other child (the duty of a PID
 * namespace's init). */
int yurt_tasks_wait(struct yurt_task *tasks, size_t ntasks, struct yurt_err *err);

/* A wait status as a shell reports it: the exit code, or 128+N for signal N. */
int yurt_exit_status(int wait_status);

#endif
