/* Processes yurt waits for: signal forwarding, reaping, output labels and
 * exit statuses. */
#ifndef YURT_TASK_H
#define YURT_TASK_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* An output stream of a task, read by the monitor to label its lines. */
struct yurt_task_stream {
	int fd;            /* read end of the task's pipe, -1 when closed */
	int to;            /* where labelled lines go: 1 or 2 */
	char *buf;         /* the incomplete last line */
	size_t len;
};

struct yurt_task {
	pid_t pid;
	int wait_status;   /* as waitpid(2) reports it, once done */
	bool done;
	struct yurt_task_stream out, err;  /* fds -1 unless labelled */
};

struct yurt_wait_options {
	bool label;             /* prefix each output line with "TASK: " */
	bool kill_on_bad_exit;  /* end the others when one fails */
	bool report;            /* name each failing task on stderr */
};

/* Blocks the signals yurt forwards, and SIGCHLD, before children are forked
 * so that none arrives unseen; SAVED gets the mask to restore in children. */
int yurt_signals_block(sigset_t *saved, struct yurt_err *err);

/* Waits until every task has ended, forwarding the forwarded signals to the
 * tasks still running, reaping any other child (the duty of a PID
 * namespace's init) and, with labels, copying the tasks' output. */
int yurt_tasks_wait(struct yurt_task *tasks, size_t ntasks, const struct yurt_wait_options *opts,
		    struct yurt_err *err);

/* The status yurt reports for its tasks: the highest, as srun does. */
int yurt_tasks_status(const struct yurt_task *tasks, size_t ntasks);

/* A wait status as a shell reports it: the exit code, or 128+N for signal N. */
int yurt_exit_status(int wait_status);

#endif
