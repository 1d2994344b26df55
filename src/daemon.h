/* Processes that outlive the yurt that starts them: the FUSE server and an
 * instance's holder. */
#ifndef YURT_DAEMON_H
#define YURT_DAEMON_H

/* Forks twice, the middle child in a session of its own: the grandchild is
 * no yurt process's child (a command that yurt becomes neither reaps nor
 * waits for it) and the terminal's signals (Ctrl-C, hangup) do not reach it.
 * Returns 0 in the grandchild; in the caller, once the middle child is
 * reaped, 1, or -1 with errno when the first fork failed.  A failed second
 * fork shows as a grandchild that never answers. */
int yurt_fork_detached(void);

#endif
