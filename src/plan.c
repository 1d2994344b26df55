#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "path.h"
#include "plan.h"
#include "siteconf.h"

/* Trees an image must keep as its own: never bind the current directory there. */
static const char *const system_trees[] = {
	"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
	"/proc", "/run", "/sbin", "/sys", "/usr",
};

bool yurt_is_system_dir(const char *path)
{
	/* "/" and top-level directories such as /home or /opt hold the image's own content. */
	if (!strcmp(path, "/") || !strchr(path + 1, '/'))
		return true;
	for (size_t i = 0; i < sizeof system_trees / sizeof *system_trees; i++)
		if (yurt_path_is_within(path, system_trees[i]))
			return true;
	return false;
}

static int add_mount(struct yurt_plan *plan, enum yurt_mount_kind kind, const char *src,
		     const char *dst, bool readonly, bool optional, const char *origin,
		     struct yurt_err *err)
{
	struct yurt_mount *m = realloc(plan->mounts, (plan->nmounts + 1) * sizeof *m);
	if (!m)
		return yurt_fail(err, ENOMEM, "plan");
	plan->mounts = m;
	m = &m[plan->nmounts];
	*m = (struct yurt_mount){
		.kind = kind, .readonly = readonly, .optional = optional, .origin = origin,
		.src = src ? strdup(src) : NULL, .dst = strdup(dst),
	};
	if ((src && !m->src) || !m->dst) {
		free(m->src);
		free(m->dst);
		return yurt_fail(err, ENOMEM, "plan");
	}
	plan->nmounts++;
	return 0;
}

static int add_bind(struct yurt_plan *plan, const char *path, bool optional, const char *origin,
		    struct yurt_err *err)
{
	return add_mount(plan, YURT_MOUNT_BIND, path, path, false, optional, origin, err);
}

/* True when an earlier bind already shows host PATH at the same path inside. */
static bool shown_at_same_path(const struct yurt_plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->nmounts; i++) {
		const struct yurt_mount *m = &plan->mounts[i];
		if (m->kind == YURT_MOUNT_BIND && !strcmp(m->src, m->dst) &&
		    yurt_path_is_within(path, m->dst))
			return true;
	}
	return false;
}

static int add_defaults(struct yurt_plan *plan, const struct yurt_request *req,
			const struct yurt_host *host, bool mount_home, struct yurt_err *err)
{
	if (add_mount(plan, YURT_MOUNT_BIND, "/dev", "/dev", false, false, "default", err) ||
	    add_mount(plan, req->pid_ns ? YURT_MOUNT_PROC : YURT_MOUNT_BIND,
		      req->pid_ns ? NULL : "/proc", "/proc", false, false, "default", err) ||
	    add_mount(plan, YURT_MOUNT_BIND, "/sys", "/sys", false, false, "default", err))
		return -1;
	if (req->private_tmp ? add_mount(plan, YURT_MOUNT_TMPFS, NULL, "/tmp", false, false, "default", err)
			     : add_bind(plan, "/tmp", false, "default", err))
		return -1;
	if (mount_home && host->home && host->home[0] == '/' && !yurt_is_system_dir(host->home) &&
	    !shown_at_same_path(plan, host->home) && add_bind(plan, host->home, true, "home", err))
		return -1;
	return 0;
}

static int add_slurm(struct yurt_plan *plan, const struct yurt_host *host, struct yurt_err *err)
{
	_cleanup_free_ char *socket_dir = strdup(host->munge_socket);
	_cleanup_free_ char *conf_dir = strdup(host->slurm_conf);
	if (!socket_dir || !conf_dir)
		return yurt_fail(err, ENOMEM, "plan");
	return add_bind(plan, dirname(socket_dir), false, "slurm", err) ||
	       add_bind(plan, dirname(conf_dir), false, "slurm", err) ? -1 : 0;
}

int yurt_plan_build(struct yurt_plan *plan, const struct yurt_request *req,
		    const struct yurt_host *host, const struct yurt_siteconf *site,
		    struct yurt_err *err)
{
	*plan = (struct yurt_plan){
		.uid = req->fake_root ? 0 : host->uid,
		.gid = req->fake_root ? 0 : host->gid,
	};
	bool mount_home = !req->no_home && site->home;
	if (add_defaults(plan, req, host, mount_home, err))
		goto fail;
	for (size_t i = 0; i < site->nbinds; i++) {
		const struct yurt_site_bind *b = &site->binds[i];
		if (add_mount(plan, YURT_MOUNT_BIND, b->bind.src, b->bind.dst, b->bind.readonly,
			      b->if_exists, "site", err))
			goto fail;
	}
	if (req->slurm && add_slurm(plan, host, err))
		goto fail;
	for (size_t i = 0; i < req->nbinds; i++) {
		const struct yurt_bind *b = &req->binds[i];
		if (add_mount(plan, YURT_MOUNT_BIND, b->src, b->dst, b->readonly, false, "user", err))
			goto fail;
	}
	bool bind_cwd = !req->no_cwd && !yurt_is_system_dir(host->cwd);
	if (bind_cwd && !shown_at_same_path(plan, host->cwd) &&
	    add_bind(plan, host->cwd, false, "cwd", err))
		goto fail;
	/* Generated files live in memory: with --writable-tmpfs, writes to them vanish too. */
	bool files_readonly = !req->writable_tmpfs;
	if (add_mount(plan, YURT_MOUNT_FILE, "passwd", "/etc/passwd", files_readonly, false, "default", err) ||
	    add_mount(plan, YURT_MOUNT_FILE, "group", "/etc/group", files_readonly, false, "default", err) ||
	    add_mount(plan, YURT_MOUNT_BIND, "/etc/resolv.conf", "/etc/resolv.conf", true, true, "default", err) ||
	    add_mount(plan, YURT_MOUNT_BIND, "/etc/hosts", "/etc/hosts", true, true, "default", err))
		goto fail;

	if (req->workdir)
		plan->workdir = strdup(req->workdir);
	else if (req->no_cwd)
		plan->workdir = strdup("/");
	else {
		plan->workdir = strdup(host->cwd);
		plan->workdir_fallback = true;
	}
	if (!plan->workdir) {
		yurt_fail(err, ENOMEM, "plan");
		goto fail;
	}
	return 0;
fail:
	yurt_plan_free(plan);
	return -1;
}

void yurt_plan_free(struct yurt_plan *plan)
{
	for (size_t i = 0; i < plan->nmounts; i++) {
		free(plan->mounts[i].src);
		free(plan->mounts[i].dst);
	}
	free(plan->mounts);
	free(plan->workdir);
	*plan = (struct yurt_plan){ 0 };
}
