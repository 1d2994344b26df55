/* The plan: a request turned into an ordered list of mounts and the facts the
 * container starts with.  Building it touches nothing, so tests can read it. */
#ifndef YURT_PLAN_H
#define YURT_PLAN_H

#include <stdbool.h>
#include <sys/types.h>

#include "request.h"

struct yurt_siteconf;

/* What the plan needs to know of the host, gathered by the caller. */
struct yurt_host {
	uid_t uid;
	gid_t gid;
	const char *home;        /* $HOME or the passwd entry's home; may be NULL */
	const char *cwd;         /* canonical current directory */
	const char *munge_socket;
	const char *slurm_conf;  /* Slurm's configuration file */
};

enum yurt_mount_kind {
	YURT_MOUNT_BIND,   /* host path onto a container path */
	YURT_MOUNT_PROC,   /* a new procfs, for a new PID namespace */
	YURT_MOUNT_TMPFS,
	YURT_MOUNT_FILE,   /* a file yurt generates (src names it) */
};

struct yurt_mount {
	enum yurt_mount_kind kind;
	char *src;
	char *dst;
	bool readonly;
	bool optional;     /* skipped when the host source is missing */
	const char *origin; /* "default", "site", "user", "cwd", "slurm": for messages */
};

struct yurt_plan {
	struct yurt_mount *mounts;
	size_t nmounts;
	char *workdir;          /* where the command starts */
	bool workdir_fallback;  /* workdir is the host cwd: "/" when the image lacks it */
	uid_t uid;              /* ids inside the container */
	gid_t gid;
};

int yurt_plan_build(struct yurt_plan *plan, const struct yurt_request *req,
		    const struct yurt_host *host, const struct yurt_siteconf *site,
		    struct yurt_err *err);
void yurt_plan_free(struct yurt_plan *plan);

/* True for "/" and the directories an image must keep as its own (/usr, /etc...). */
bool yurt_is_system_dir(const char *path);

#endif
