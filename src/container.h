/* A container: planned on the host, then built inside new namespaces by the
 * process that will start its commands, or by an instance's holder, which
 * other processes join (instance.h). */
#ifndef YURT_CONTAINER_H
#define YURT_CONTAINER_H

#include <limits.h>

#include "env.h"
#include "image.h"
#include "plan.h"
#include "request.h"
#include "rootfs.h"
#include "siteconf.h"

struct yurt_fuse_server;

/* Everything a container holds, released in one place on every path. */
struct yurt_container {
	const struct yurt_request *req;
	char *const *host_environ;
	struct yurt_siteconf site;
	struct yurt_image image;
	struct yurt_plan plan;
	struct yurt_rootfs fs;
	struct yurt_fuse_server *server;
	struct yurt_env user_env;  /* --env-file and -e, read before any namespace */
	struct yurt_env env;
	char cwd[PATH_MAX];
};

/* An empty container for REQ, safe to release. */
void yurt_container_init(struct yurt_container *c, const struct yurt_request *req,
			 char *const *host_environ);
/* On the host: reads the site configuration, checks the request against it
 * and reads the user's environment files: all that a command in a container
 * that already runs needs (yurt exec). */
int yurt_container_configure(struct yurt_container *c, struct yurt_err *err);
/* On the host: configures, plans the mounts and checks the image, so that
 * everything that can be wrong with a request is found before any namespace.
 * Enough to join a container that another process built (yurt run --join). */
int yurt_container_plan(struct yurt_container *c, struct yurt_err *err);
/* On the host, in the process that will build and hold the container:
 * starts the image's FUSE server, which watches this process. */
int yurt_container_serve(struct yurt_container *c, struct yurt_err *err);
/* In the new user and mount namespaces: mounts the image, makes the plan's
 * mounts, pivots into the new root, enters the workdir and builds the
 * command's environment (c->env). */
int yurt_container_build(struct yurt_container *c, struct yurt_err *err);
/* In a container joined with setns (its root is "/"): builds the command's
 * environment (c->env) as yurt_container_build does. */
int yurt_container_join_env(struct yurt_container *c, struct yurt_err *err);
/* Setup is done: the FUSE server now lives as long as the mount. */
void yurt_container_detach_server(struct yurt_container *c);
void yurt_container_release(struct yurt_container *c);

#endif
