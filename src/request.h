/* The parsed request: what the CLI (or the Slurm plugin) asks for.  It flows
 * request -> plan (pure) -> realize (syscalls). */
#ifndef YURT_REQUEST_H
#define YURT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "binding.h"
#include "cgroup.h"
#include "error.h"

struct yurt_bind {
	char *src;      /* host path, absolute */
	char *dst;      /* path inside the container, absolute */
	bool readonly;
};

struct yurt_strv {
	char **v;
	size_t n;
};

struct yurt_request {
	char *image;                 /* path as given */
	char **argv;                 /* command and arguments (NULL-terminated, not owned) */
	struct yurt_bind *binds;     /* user binds (-b), in order */
	size_t nbinds;
	struct yurt_strv env_sets;   /* -e NAME=VALUE, in order */
	struct yurt_strv env_files;  /* --env-file FILE, in order */
	char *workdir;               /* -w, NULL for the default */
	bool clean_env;
	bool no_cwd;
	bool no_home;
	bool fake_root;              /* --root */
	bool pid_ns;                 /* --pid */
	bool writable_tmpfs;
	bool private_tmp;
	bool slurm;                  /* --slurm: MUNGE socket and Slurm config inside */

	/* Tasks: -n copies of the command in the one container. */
	struct yurt_binding_request binding;  /* -n, -c, --cpu-bind, --distribution... */
	bool cpu_bind_given;         /* else: cores for several tasks, none for one */
	enum yurt_cgroup_mode cgroup;
	bool label;                  /* prefix output lines with the task id */
	bool kill_on_bad_exit;       /* -K */
	bool dry_run;                /* print the binding plan, start nothing */
};

void yurt_request_init(struct yurt_request *req);
void yurt_request_free(struct yurt_request *req);

/* Parses "SRC[:DST[:ro|rw]]"; relative SRC is made absolute against cwd. */
int yurt_bind_parse(struct yurt_bind *bind, const char *spec, const char *cwd, struct yurt_err *err);
int yurt_request_add_bind(struct yurt_request *req, const char *spec, const char *cwd, struct yurt_err *err);
void yurt_bind_free(struct yurt_bind *bind);

int yurt_strv_push(struct yurt_strv *sv, const char *s);
void yurt_strv_free(struct yurt_strv *sv);

#endif
