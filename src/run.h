/* `yurt run` and `yurt exec`: the request carried out, one step after the
 * other. */
#ifndef YURT_RUN_H
#define YURT_RUN_H

#include "request.h"

/* Runs the request's command in a new container.  Returns the exit status to
 * report (the command's, 128+N for signal N, 126/127 when it cannot be
 * started), or -1 with ERR filled when yurt itself failed (status 125).  In
 * the default case this does not return at all: the calling process becomes
 * the command. */
int yurt_run(const struct yurt_request *req, char *const *host_environ, struct yurt_err *err);

/* yurt run --join[=KEY] (KEY NULL: the Slurm step's): runs the request's
 * tasks in the container shared by every yurt run --join with that key,
 * making it if there is none (instance.h).  Returns as yurt_run does. */
int yurt_run_joined(const struct yurt_request *req, const char *key, char *const *host_environ,
		    struct yurt_err *err);

/* yurt exec: runs the request's tasks in instance NAME, in its environment
 * with -e and --env-file on top, in -w or its workdir.  Returns as yurt_run
 * does. */
int yurt_run_in_instance(const struct yurt_request *req, const char *name,
			 char *const *host_environ, struct yurt_err *err);

#endif
