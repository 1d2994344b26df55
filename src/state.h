/* The per-user state directory of instances: where it is, who may use it,
 * what an instance's files hold, and how a holder read from them is checked
 * before anything trusts it.
 *
 * The directory is $XDG_RUNTIME_DIR/yurt, or /tmp/yurt-UID where
 * XDG_RUNTIME_DIR is unset or missing on this node (Slurm passes the login
 * node's on).  It must be the user's own, mode 0700 and not a symlink: other
 * users can neither see an instance nor reach its socket.  For instance NAME:
 *   NAME.lock   flock(2): shared to join, exclusive to create or remove
 *   NAME.state  the record below, renamed into place once the container is up
 *   NAME.env    the container's environment, NUL-separated, for yurt exec
 *   NAME.sock   the holder's socket; a member stays connected while it runs
 * Everything but the socket address goes through the directory's fd, so a
 * path swapped after the checks cannot redirect it. */
#ifndef YURT_STATE_H
#define YURT_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include "error.h"
#include "plan.h"
#include "request.h"

/* Longest instance name or --join key. */
#define YURT_NAME_MAX 64

struct yurt_state_dir {
	int fd;
	char path[PATH_MAX];
};

/* Opens the state directory, creating it 0700 when missing. */
int yurt_state_dir_open(struct yurt_state_dir *dir, struct yurt_err *err);
/* Whether ST, the state directory at PATH, may be used by UID: a directory
 * of UID's with no access for others. */
int yurt_state_dir_check(const struct stat *st, uid_t uid, const char *path, struct yurt_err *err);
void yurt_state_dir_close(struct yurt_state_dir *dir);

/* Checks an instance name or --join key (WHAT names it in messages): 1 to
 * YURT_NAME_MAX letters, digits, '.', '_', '+' or '-', not starting with '.'. */
int yurt_state_name_check(const char *what, const char *name, struct yurt_err *err);

/* Opens NAME.lock, creating it if CREATE (else an instance that has none
 * does not exist: -1 with err->errnum ENOENT); returns the fd. */
int yurt_state_lock_open(const struct yurt_state_dir *dir, const char *name, bool create,
			 struct yurt_err *err);
/* Opens NAME.lock and takes OP (LOCK_SH or LOCK_EX) on it; returns the fd.
 * Whoever removes the lock file does so while holding it exclusively, so a
 * lock taken on a file that is no longer at its path is dropped and taken
 * again on the current one. */
int yurt_state_lock(const struct yurt_state_dir *dir, const char *name, int op, bool create,
		    struct yurt_err *err);

/* What NAME.state records of a running instance. */
struct yurt_instance_info {
	pid_t pid;                    /* the holder, in the host PID namespace */
	unsigned long long start_time; /* the holder's, field 22 of /proc/PID/stat */
	long long started;            /* when it was ready, seconds since the epoch */
	bool joined;                  /* made by yurt run --join, not yurt start */
	bool fake_root;               /* --root: tasks keep their capabilities */
	bool pid_ns;                  /* --pid */
	uint64_t signature;           /* of what the container was built from */
	char image[PATH_MAX];
	char workdir[PATH_MAX];       /* where commands start, inside */
};

/* The record as text, "key=value" lines; -1 when a path holds a newline. */
int yurt_instance_info_format(const struct yurt_instance_info *info, char *buf, size_t size,
			      struct yurt_err *err);
/* Parses the text of yurt_instance_info_format; unknown keys are ignored. */
int yurt_instance_info_parse(struct yurt_instance_info *info, const char *text, struct yurt_err *err);

/* Reads NAME.state: 0 with INFO filled, 1 when there is none, -1 when it
 * cannot be read or parsed (err says why; such a record is stale). */
int yurt_state_read(const struct yurt_state_dir *dir, const char *name,
		    struct yurt_instance_info *info, struct yurt_err *err);
/* Writes NAME.state whole: readers see the old record or the new one. */
int yurt_state_write(const struct yurt_state_dir *dir, const char *name,
		     const struct yurt_instance_info *info, struct yurt_err *err);
/* Writes NAME.env: ENV's entries, each followed by a NUL. */
int yurt_state_write_env(const struct yurt_state_dir *dir, const char *name, char *const *env,
			 struct yurt_err *err);
/* Reads NAME.env into ENV (empty on entry). */
int yurt_state_read_env(const struct yurt_state_dir *dir, const char *name, struct yurt_strv *env,
			struct yurt_err *err);
/* Removes NAME's files; the lock file too when WITH_LOCK (its holder must
 * hold it exclusively and give it up right after). */
void yurt_state_remove(const struct yurt_state_dir *dir, const char *name, bool with_lock);

/* The address of NAME.sock, through /proc/self/fd: short whatever the
 * directory's path, and bound to the directory checked at open. */
void yurt_state_sock_addr(const struct yurt_state_dir *dir, const char *name,
			  struct sockaddr_un *addr, socklen_t *len);

/* From the text of /proc/PID/stat: the start time and the state letter
 * ('Z' for a zombie).  The command name may hold spaces and parentheses. */
int yurt_proc_stat_parse(const char *text, unsigned long long *start_time, char *state);
/* Opens /proc/PID of INFO's holder as a directory fd, once it is proven to be
 * the holder: a live process of this user started at the recorded time.  An
 * fd keeps naming that process, so files opened through it (its namespaces)
 * are the holder's even if the pid is reused meanwhile.  -1 when the record
 * is stale, err saying why. */
int yurt_holder_open(const struct yurt_instance_info *info, struct yurt_err *err);
/* This process's start time, as yurt_holder_open compares it. */
int yurt_proc_self_start_time(unsigned long long *start_time, struct yurt_err *err);

/* A digest of what a container is built from: the image, every mount of the
 * plan, the workdir, the ids inside and --writable-tmpfs.  yurt run --join
 * only joins a container whose signature is its own. */
uint64_t yurt_instance_signature(const struct yurt_plan *plan, const char *image, bool writable_tmpfs);

#endif
