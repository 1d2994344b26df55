/* `yurt run`: the request carried out, one step after the other. */
#ifndef YURT_RUN_H
#define YURT_RUN_H

#include "request.h"

/* Runs the request's command in a new container.  Returns the exit status to
 * report (the command's, 128+N for signal N, 126/127 when it cannot be
 * started), or -1 with ERR filled when yurt itself failed (status 125).  In
 * the default case this does not return at all: the calling process becomes
 * the command. */
int yurt_run(const struct yurt_request *req, char *const *host_environ, struct yurt_err *err);

#endif
