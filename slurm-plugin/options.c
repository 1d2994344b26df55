#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "state.h"

const struct yurt_spank_opt_info yurt_spank_opt_infos[YURT_OPT_COUNT] = {
	[YURT_OPT_IMAGE] = { "container-image", "YURT_CONTAINER_IMAGE", "PATH",
		"[yurt] run the tasks in a container of image PATH (SquashFS file or directory)" },
	[YURT_OPT_MOUNTS] = { "container-mounts", "YURT_CONTAINER_MOUNTS", "SRC[:DST[:ro]][,...]",
		"[yurt] bind host paths into the container" },
	[YURT_OPT_WORKDIR] = { "container-workdir", "YURT_CONTAINER_WORKDIR", "DIR",
		"[yurt] start the tasks in DIR (default: the job's directory when mounted, else the image's)" },
	[YURT_OPT_NAME] = { "container-name", "YURT_CONTAINER_NAME", "NAME",
		"[yurt] keep the container for later steps of the job that name it" },
	[YURT_OPT_ENV] = { "container-env", "YURT_CONTAINER_ENV", "NAME[,NAME...]",
		"[yurt] these job variables win over the image's" },
	[YURT_OPT_REMAP_ROOT] = { "container-remap-root", "YURT_CONTAINER_REMAP_ROOT", NULL,
		"[yurt] be root inside the container" },
	[YURT_OPT_WRITABLE] = { "container-writable", "YURT_CONTAINER_WRITABLE", NULL,
		"[yurt] let writes to the image succeed, in memory" },
	[YURT_OPT_MOUNT_HOME] = { "container-mount-home", "YURT_CONTAINER_MOUNT_HOME", NULL,
		"[yurt] bind the home directory into the container" },
	[YURT_OPT_NO_MOUNT_HOME] = { "no-container-mount-home", "YURT_CONTAINER_NO_MOUNT_HOME", NULL,
		"[yurt] do not bind the home directory" },
	[YURT_OPT_SLURM] = { "container-slurm", "YURT_CONTAINER_SLURM", NULL,
		"[yurt] make Slurm and MUNGE usable inside the container" },
};

void yurt_spank_opts_init(struct yurt_spank_opts *o)
{
	*o = (struct yurt_spank_opts){ .mount_home = -1 };
}

void yurt_spank_opts_free(struct yurt_spank_opts *o)
{
	free(o->image);
	free(o->workdir);
	free(o->name);
	yurt_strv_free(&o->mounts);
	yurt_strv_free(&o->env);
	yurt_spank_opts_init(o);
}

static int replace(char **field, const char *arg, const char *option, struct yurt_err *err)
{
	char *copy = strdup(arg);
	if (!copy)
		return yurt_fail(err, ENOMEM, "--%s", option);
	free(*field);
	*field = copy;
	return 0;
}

/* Splits a comma-separated LIST into SV (emptied first), checking each item.
 * LABEL names it in errors: "--container-mounts", or plugstack's "mounts". */
static int split_list(struct yurt_strv *sv, const char *list, const char *label,
		      int (*check)(const char *item, const char *label, struct yurt_err *err),
		      struct yurt_err *err)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return yurt_fail(err, ENOMEM, "%s", label);
	yurt_strv_free(sv);
	int rc = 0;
	for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
		if (check && check(item, label, err))
			rc = -1;
		else if (yurt_strv_push(sv, item))
			rc = yurt_fail(err, ENOMEM, "%s", label);
	}
	if (!rc && !sv->n)
		rc = yurt_fail(err, 0, "%s: empty list", label);
	free(copy);
	return rc;
}

/* Syntax only: sources are resolved on the node, against the job's directory. */
static int check_mount(const char *spec, const char *label, struct yurt_err *err)
{
	struct yurt_bind b;
	if (yurt_bind_parse(&b, spec, "/", err))
		return yurt_err_prefix(err, "%s", label);
	yurt_bind_free(&b);
	return 0;
}

static int check_env_name(const char *name, const char *label, struct yurt_err *err)
{
	if (!*name || (name[0] >= '0' && name[0] <= '9') || strpbrk(name, "= \t\n"))
		return yurt_fail(err, 0, "%s: invalid variable name '%s'", label, name);
	return 0;
}

/* Twins of flags: "1", "yes", "true" or "" set them; "0", "no", "false" not. */
static int env_flag(const char *arg, const char *env, bool *on, struct yurt_err *err)
{
	if (!arg || !*arg || !strcmp(arg, "1") || !strcasecmp(arg, "yes") || !strcasecmp(arg, "true"))
		*on = true;
	else if (!strcmp(arg, "0") || !strcasecmp(arg, "no") || !strcasecmp(arg, "false"))
		*on = false;
	else
		return yurt_fail(err, 0, "%s=%s: expected 1 or 0", env, arg);
	return 0;
}

int yurt_spank_opt_set(struct yurt_spank_opts *o, enum yurt_spank_opt opt, const char *arg,
		       bool from_env, struct yurt_err *err)
{
	const struct yurt_spank_opt_info *info = &yurt_spank_opt_infos[opt];
	char label[64];
	bool on = true;
	snprintf(label, sizeof label, "--%s", info->name);
	if (from_env && o->given[opt])
		return 0;
	if (info->arginfo && (!arg || !*arg))
		return yurt_fail(err, 0, "--%s needs a value", info->name);
	if (!info->arginfo && from_env && env_flag(arg, info->env, &on, err))
		return -1;
	if (!from_env)
		o->given[opt] = true;
	switch (opt) {
	case YURT_OPT_IMAGE:
		return replace(&o->image, arg, info->name, err);
	case YURT_OPT_MOUNTS:
		return split_list(&o->mounts, arg, label, check_mount, err);
	case YURT_OPT_WORKDIR:
		if (arg[0] != '/')
			return yurt_fail(err, 0, "--%s %s: must be an absolute path", info->name, arg);
		return replace(&o->workdir, arg, info->name, err);
	case YURT_OPT_NAME:
		if (yurt_state_name_check("--container-name", arg, err))
			return -1;
		/* "slurm-JOB-" comes in front of it. */
		if (strlen(arg) > YURT_NAME_MAX - 22)
			return yurt_fail(err, 0, "--%s %s: longer than %d characters", info->name, arg,
					 YURT_NAME_MAX - 22);
		return replace(&o->name, arg, info->name, err);
	case YURT_OPT_ENV:
		return split_list(&o->env, arg, label, check_env_name, err);
	case YURT_OPT_REMAP_ROOT: o->remap_root = on; return 0;
	case YURT_OPT_WRITABLE: o->writable = on; return 0;
	case YURT_OPT_SLURM: o->slurm = on; return 0;
	case YURT_OPT_MOUNT_HOME:
	case YURT_OPT_NO_MOUNT_HOME: {
		int want = (opt == YURT_OPT_MOUNT_HOME) == on;
		enum yurt_spank_opt other = opt == YURT_OPT_MOUNT_HOME ? YURT_OPT_NO_MOUNT_HOME
								       : YURT_OPT_MOUNT_HOME;
		if (!from_env && o->given[other] && o->mount_home != want)
			return yurt_fail(err, 0, "--container-mount-home and --no-container-mount-home contradict each other");
		if (from_env && o->given[other])
			return 0;
		o->mount_home = want;
		return 0;
	}
	case YURT_OPT_COUNT:
		break;
	}
	return yurt_fail(err, 0, "unknown option %d", (int)opt);
}

int yurt_spank_opts_from_env(struct yurt_spank_opts *o, const char *(*getenv_fn)(const char *, void *),
			     void *data, struct yurt_err *err)
{
	for (int i = 0; i < YURT_OPT_COUNT; i++) {
		const char *value = getenv_fn(yurt_spank_opt_infos[i].env, data);
		if (value && yurt_spank_opt_set(o, i, value, true, err))
			return -1;
	}
	return 0;
}

bool yurt_spank_opts_active(const struct yurt_spank_opts *o)
{
	return o->image || o->name;
}

int yurt_spank_opts_check(const struct yurt_spank_opts *o, struct yurt_err *err)
{
	if (yurt_spank_opts_active(o))
		return 0;
	/* Any other option given without a container is a mistake worth
	 * stopping for.  Not a twin: twins are defaults for the steps that have
	 * a container, and an exported YURT_CONTAINER_MOUNTS must not fail every
	 * plain srun of the job (the mount-home twins never did). */
	for (int i = 0; i < YURT_OPT_COUNT; i++)
		if (o->given[i])
			return yurt_fail(err, 0, "--%s needs --container-image (or --container-name)",
					 yurt_spank_opt_infos[i].name);
	return 0;
}

void yurt_spank_site_init(struct yurt_spank_site *s)
{
	*s = (struct yurt_spank_site){ .mount_home = true };
}

void yurt_spank_site_free(struct yurt_spank_site *s)
{
	free(s->yurt);
	free(s->runtime_path);
	free(s->plugin);
	yurt_strv_free(&s->mounts);
	yurt_strv_free(&s->allow_images);
	yurt_spank_site_init(s);
}

static int check_absolute(const char *path, const char *option, struct yurt_err *err)
{
	if (path[0] != '/')
		return yurt_fail(err, 0, "%s=%s: must be an absolute path", option, path);
	return 0;
}

int yurt_spank_site_parse(struct yurt_spank_site *s, int argc, char **argv, struct yurt_err *err)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *eq = strchr(arg, '=');
		if (!eq)
			return yurt_fail(err, 0, "plugstack.conf argument '%s': expected KEY=VALUE", arg);
		size_t klen = (size_t)(eq - arg);
		const char *value = eq + 1;
#define KEY(k) (klen == strlen(k) && !strncmp(arg, k, klen))
		if (KEY("yurt")) {
			if (check_absolute(value, "yurt", err) || replace(&s->yurt, value, "yurt", err))
				return -1;
		} else if (KEY("runtime_path")) {
			if (check_absolute(value, "runtime_path", err) ||
			    replace(&s->runtime_path, value, "runtime_path", err))
				return -1;
		} else if (KEY("mounts")) {
			if (split_list(&s->mounts, value, "mounts", check_mount, err))
				return yurt_err_prefix(err, "plugstack.conf");
		} else if (KEY("allow_images")) {
			/* ':' separates, as in PATH. */
			char *copy = strdup(value), *save = NULL;
			int rc = copy ? 0 : yurt_fail(err, ENOMEM, "allow_images");
			yurt_strv_free(&s->allow_images);
			for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d && !rc; d = strtok_r(NULL, ":", &save))
				if (check_absolute(d, "allow_images", err))
					rc = -1;
				else if (yurt_strv_push(&s->allow_images, d))
					rc = yurt_fail(err, ENOMEM, "allow_images");
			free(copy);
			/* An empty list must not read as "no policy". */
			if (!rc && !s->allow_images.n)
				rc = yurt_fail(err, 0, "plugstack.conf: allow_images is empty (leave it out to allow every image)");
			if (rc)
				return -1;
		} else if (KEY("mount_home")) {
			if (env_flag(value, "mount_home", &s->mount_home, err))
				return yurt_err_prefix(err, "plugstack.conf");
		} else {
			return yurt_fail(err, 0, "plugstack.conf argument '%s': unknown key", arg);
		}
#undef KEY
	}
	if (!s->runtime_path && !(s->runtime_path = strdup("/run/yurt")))
		return yurt_fail(err, ENOMEM, "runtime_path");
	return 0;
}

/* True when PATH is PREFIX or lies under it. */
static const char *under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n == 1 && prefix[0] == '/')
		return path;
	if (strncmp(path, prefix, n) || (path[n] && path[n] != '/'))
		return NULL;
	return path + n;
}

bool yurt_spank_image_allowed(const struct yurt_spank_site *s, const char *image)
{
	if (!s->allow_images.n)
		return true;
	for (size_t i = 0; i < s->allow_images.n; i++)
		if (under(image, s->allow_images.v[i]))
			return true;
	return false;
}

int yurt_spank_instance_name(char *buf, size_t size, const struct yurt_spank_opts *o,
			     unsigned job, const char *step, struct yurt_err *err)
{
	int n = o->name ? snprintf(buf, size, "slurm-%u-%s", job, o->name)
			: snprintf(buf, size, "slurm-%u.%s", job, step);
	if (n < 0 || (size_t)n >= size)
		return yurt_fail(err, 0, "container name for job %u too long", job);
	return yurt_state_name_check("container name", buf, err);
}

char *yurt_spank_default_workdir(const struct yurt_spank_opts *o, const struct yurt_spank_site *s,
				 const char *cwd, const char *home)
{
	bool home_mounted = o->mount_home < 0 ? s->mount_home : o->mount_home;
	char *found = NULL;
	/* Later mounts cover earlier ones: the user's last, checked first. */
	const struct yurt_strv *lists[] = { &o->mounts, &s->mounts };
	for (size_t l = 0; l < 2 && !found; l++)
		for (size_t i = lists[l]->n; i-- > 0 && !found; ) {
			struct yurt_bind b;
			struct yurt_err ignored;
			if (yurt_bind_parse(&b, lists[l]->v[i], cwd, &ignored))
				continue;
			const char *rest = under(cwd, b.src);
			if (rest && asprintf(&found, "%s%s", strcmp(b.dst, "/") || !*rest ? b.dst : "", rest) < 0)
				found = NULL;
			yurt_bind_free(&b);
		}
	if (!found && home_mounted && home && *home && under(cwd, home))
		found = strdup(cwd);
	return found;
}

static int push_all(struct yurt_strv *argv, struct yurt_err *err, ...)
{
	va_list ap;
	va_start(ap, err);
	for (const char *s; (s = va_arg(ap, const char *)); )
		if (yurt_strv_push(argv, s)) {
			va_end(ap);
			return yurt_fail(err, ENOMEM, "yurt start");
		}
	va_end(ap);
	return 0;
}

/* "-b PATH:PATH:ro": host file PATH at the same path inside, read-only.
 * Only absolute paths without ':', which a bind spec cannot carry. */
static int bind_same(struct yurt_strv *argv, const char *path, struct yurt_err *err)
{
	char *spec = NULL;
	if (path[0] != '/' || strchr(path, ':'))
		return 0;
	if (asprintf(&spec, "%s:%s:ro", path, path) < 0)
		return yurt_fail(err, ENOMEM, "yurt start");
	int rc = push_all(argv, err, "-b", spec, (char *)NULL);
	free(spec);
	return rc;
}

int yurt_spank_start_argv(struct yurt_strv *argv, const struct yurt_spank_opts *o,
			  const struct yurt_spank_site *s, const char *name, const char *workdir,
			  const char *script, struct yurt_err *err)
{
	bool home = o->mount_home < 0 ? s->mount_home : o->mount_home;
	/* --clean-env: the tasks keep the job's environment; the instance's
	 * only carries the image's, which task_init lays over it. */
	if (push_all(argv, err, s->yurt ? s->yurt : "yurt", "start", "-q", "--name", name,
		     "--no-cwd", "--clean-env", (char *)NULL))
		return -1;
	const struct yurt_strv *lists[] = { &s->mounts, &o->mounts };
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++)
			if (push_all(argv, err, "-b", lists[l]->v[i], (char *)NULL))
				return -1;
	/* Files the container needs from the host, last so that no mount of
	 * the user's hides them.  This plugin's: Slurm's commands inside read
	 * the configuration --slurm brings in, whose plugstack.conf requires
	 * it, and without it they refuse to run (the image's Slurm lacks it).
	 * The batch script: slurmstepd execs it from slurmd's spool. */
	if ((o->slurm && s->plugin && bind_same(argv, s->plugin, err)) ||
	    (script && bind_same(argv, script, err)))
		return -1;
	if ((workdir && push_all(argv, err, "-w", workdir, (char *)NULL)) ||
	    (!home && push_all(argv, err, "--no-home", (char *)NULL)) ||
	    (o->remap_root && push_all(argv, err, "--root", (char *)NULL)) ||
	    (o->writable && push_all(argv, err, "--writable-tmpfs", (char *)NULL)) ||
	    (o->slurm && push_all(argv, err, "--slurm", (char *)NULL)) ||
	    push_all(argv, err, "--", o->image, (char *)NULL))
		return -1;
	return 0;
}

bool yurt_spank_env_from_image(const struct yurt_spank_opts *o, const char *name)
{
	static const char *const own[] = { "XDG_RUNTIME_DIR", "HOME", "USER", "SLURM_CONF" };
	for (size_t i = 0; i < sizeof own / sizeof *own; i++)
		if (!strcmp(name, own[i]))
			return false;
	for (size_t i = 0; i < o->env.n; i++)
		if (!strcmp(name, o->env.v[i]))
			return false;
	return true;
}
