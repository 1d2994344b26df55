/* A container: prepared on the host, then built inside new namespaces by the
 * process that will start its commands. */
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

/* On the host: reads the site configuration, the user's environment files,
 * plans the mounts, opens the image and starts its FUSE server.  Everything
 * that can be wrong with a request is found here, before any namespace. */
int yurt_container_prepare(struct yurt_container *c, const struct yurt_request *req,
			   char *const *host_environ, struct yurt_err *err);
/* In the new user and mount namespaces: mounts the image, makes the plan's
 * mounts, pivots into the new root, enters the workdir and builds the
 * command's environment (c->env). */
int yurt_container_build(struct yurt_container *c, struct yurt_err *err);
/* Setup is done: the FUSE server now lives as long as the mount. */
void yurt_container_detach_server(struct yurt_container *c);
void yurt_container_release(struct yurt_container *c);

#endif
