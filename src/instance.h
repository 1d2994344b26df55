/* Instances: containers that outlive the yurt that made them, kept by a
 * process of their own, the holder, so that other yurt processes can run
 * commands in them.
 *
 *   yurt start --name NAME  makes one that lives until yurt stop NAME;
 *   yurt run --join=KEY     joins KEY's container, making it if there is
 *                           none; it ends when its last member has left;
 *   yurt exec NAME          runs a command in NAME's container.
 *
 * The holder starts the image's FUSE server (which exits with it), enters
 * the new namespaces and builds the container; with --pid it forks the
 * namespace's init to build it, which dies with the holder.  It runs in a
 * session of its own, on /dev/null, away from its creator's terminal, fds
 * and lock, and answers on NAME.sock.  Its files: see state.h.
 *
 * Joining: a member takes NAME.lock shared, checks the holder NAME.state
 * names (a live process of the user's, started at the recorded time), opens
 * its namespaces through /proc/PID, connects to NAME.sock and sends its task
 * count; once the holder has counted it (its answer), it lets the lock go.
 * It then enters the namespaces (user, mount, then PID for its tasks) and
 * stays connected until its tasks have ended.  yurt list asks the holder for
 * its count: TASKS is the sum of its members' tasks.
 *
 * Races, and why they cannot hurt:
 *   - Two yurts find no instance: making one takes the lock exclusively and
 *     looks again, so the second finds the first one's.
 *   - The last member leaves as another one joins: the holder ends a joined
 *     instance only once it holds the lock exclusively, which it cannot while
 *     a joiner is between reading the state and being counted; then no member
 *     can appear, and it removes the files before it lets the lock go.  A
 *     later joiner finds nothing and makes a new instance.  The holder only
 *     tries the lock (again after 10 ms), never waits for it, so joiners that
 *     wait under the lock for its answer cannot deadlock with it.
 *   - The holder is stopping (yurt stop): it accepts nobody any more; joiners
 *     back off and look again until its state is gone; yurt exec fails.
 *   - The creating yurt dies during setup: the holder keeps the creator's
 *     lock (its open file description) until the state is written, so nobody
 *     sees the instance half made.
 *   - The holder dies (kill -9): its state is stale, known as such by the pid
 *     and start time, removed under the exclusive lock, never entered.
 *   - A lock file removed while others wait on it: see yurt_state_lock.
 *   - A member is killed: its connection closes, the holder no longer counts
 *     it, and its tasks die with it (PR_SET_PDEATHSIG). */
#ifndef YURT_INSTANCE_H
#define YURT_INSTANCE_H

#include <stdio.h>

#include "container.h"
#include "request.h"
#include "state.h"

/* A process that has joined an instance. */
struct yurt_member {
	int sock;                     /* to the holder: open as long as it is a member */
	int user_ns, mnt_ns, pid_ns;  /* the container's; pid_ns is -1 without --pid */
	struct yurt_instance_info info;
	struct yurt_strv env;         /* the container's environment, for yurt exec */
	bool entered;                 /* this process is in the container's namespaces */
};

#define YURT_MEMBER_INIT { .sock = -1, .user_ns = -1, .mnt_ns = -1, .pid_ns = -1 }

/* yurt start: makes instance NAME of C (planned, see yurt_container_plan). */
int yurt_instance_start(const char *name, struct yurt_container *c, struct yurt_err *err);

/* The key of --join: GIVEN, or without one the Slurm step on this node,
 * "SLURM_JOB_ID.SLURM_STEP_ID". */
int yurt_join_key(const char *given, char key[YURT_NAME_MAX + 1], struct yurt_err *err);
/* yurt run --join: joins KEY's container as a member with NTASKS tasks,
 * making it from C (planned) if there is none.  Joining needs a container
 * made from the same signature (state.h). */
int yurt_instance_join(struct yurt_member *m, const char *key, struct yurt_container *c,
		       unsigned ntasks, struct yurt_err *err);
/* yurt exec: joins instance NAME as a member with NTASKS tasks, and reads
 * its environment. */
int yurt_instance_attach(struct yurt_member *m, const char *name, unsigned ntasks,
			 struct yurt_err *err);
/* Enters the member's container and WORKDIR inside (NULL: the container's). */
int yurt_member_enter(struct yurt_member *m, const char *workdir, struct yurt_err *err);
/* Leaves: the holder no longer counts this process (once it exits or
 * execs, when it has entered). */
void yurt_member_release(struct yurt_member *m);

/* yurt stop: the members get SIGTERM, which they pass on to their tasks,
 * then SIGKILL after a grace time; returns once the holder is gone. */
int yurt_instance_stop(const char *name, struct yurt_err *err);
/* yurt list: NAME IMAGE PID STARTED TASKS, one line per live instance;
 * stale ones are removed on the way. */
int yurt_instance_list(FILE *out, struct yurt_err *err);

#endif
