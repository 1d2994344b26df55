/* The plugin's options (srun/salloc/sbatch --container-*), their environment
 * twins (YURT_CONTAINER_*) and the site's plugstack.conf arguments: parsing
 * and checking only, no Slurm calls, so unit tests link this alone. */
#ifndef YURT_SPANK_OPTIONS_H
#define YURT_SPANK_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "request.h"

enum yurt_spank_opt {
	YURT_OPT_IMAGE, YURT_OPT_MOUNTS, YURT_OPT_WORKDIR, YURT_OPT_NAME, YURT_OPT_ENV,
	YURT_OPT_REMAP_ROOT, YURT_OPT_WRITABLE, YURT_OPT_MOUNT_HOME, YURT_OPT_NO_MOUNT_HOME,
	YURT_OPT_SLURM, YURT_OPT_COUNT,
};

/* One option: its srun name, its environment twin, whether it takes a value. */
struct yurt_spank_opt_info {
	const char *name;     /* "container-image" */
	const char *env;      /* "YURT_CONTAINER_IMAGE" */
	const char *arginfo;  /* NULL for a flag */
	const char *usage;
};
extern const struct yurt_spank_opt_info yurt_spank_opt_infos[YURT_OPT_COUNT];

struct yurt_spank_opts {
	char *image;
	struct yurt_strv mounts;   /* "SRC[:DST[:ro]]" as given, each checked */
	char *workdir;
	char *name;
	struct yurt_strv env;      /* host variables that win over the image's */
	bool remap_root, writable, slurm;
	int mount_home;            /* -1: the site's default */
	bool given[YURT_OPT_COUNT]; /* set on the command line: its twin is ignored */
};

/* The site's plugstack.conf arguments:
 *   yurt=PATH            the yurt binary (default: the one installed with the plugin)
 *   mounts=SPEC[,SPEC]   mounts every container gets, as --container-mounts
 *   allow_images=DIR[:DIR] images must lie under one of these (canonical) prefixes
 *   mount_home=0|1       home mounted by default (default 1)
 *   runtime_path=DIR     node-local root of the per-user state (default /run/yurt);
 *                        %n stands for the node name (several slurmd on one host) */
struct yurt_spank_site {
	char *yurt;
	struct yurt_strv mounts;
	struct yurt_strv allow_images;
	bool mount_home;
	char *runtime_path;
	/* Not an argument: this plugin's file as Slurm loaded it (absolute),
	 * which --container-slurm brings into the container, since the Slurm
	 * configuration it brings in names it (plugstack.conf). */
	char *plugin;
};

void yurt_spank_opts_init(struct yurt_spank_opts *o);
void yurt_spank_opts_free(struct yurt_spank_opts *o);
/* Applies option OPT with ARG (NULL for flags).  FROM_ENV: from its twin,
 * which the command line's value overrides. */
int yurt_spank_opt_set(struct yurt_spank_opts *o, enum yurt_spank_opt opt, const char *arg,
		       bool from_env, struct yurt_err *err);
/* Applies the twins GETENV finds for options not given on the command line. */
int yurt_spank_opts_from_env(struct yurt_spank_opts *o, const char *(*getenv_fn)(const char *, void *),
			     void *data, struct yurt_err *err);
/* Whether the options ask for a container at all. */
bool yurt_spank_opts_active(const struct yurt_spank_opts *o);
/* Checks that the options make sense together. */
int yurt_spank_opts_check(const struct yurt_spank_opts *o, struct yurt_err *err);

void yurt_spank_site_init(struct yurt_spank_site *s);
void yurt_spank_site_free(struct yurt_spank_site *s);
int yurt_spank_site_parse(struct yurt_spank_site *s, int argc, char **argv, struct yurt_err *err);
/* True when canonical IMAGE lies under one of the allowed prefixes (or none are set). */
bool yurt_spank_image_allowed(const struct yurt_spank_site *s, const char *image);

/* The instance that holds a step's container on a node: "slurm-JOB.STEP", or
 * with --container-name "slurm-JOB-NAME", which every step of the job shares. */
int yurt_spank_instance_name(char *buf, size_t size, const struct yurt_spank_opts *o,
			     unsigned job, const char *step, struct yurt_err *err);

/* Where a step starts when no --container-workdir is given: CWD as the
 * container sees it when a mount (site's, user's, or HOME when mounted)
 * brings it in, else NULL (the image's).  Returns a malloc'd path or NULL. */
char *yurt_spank_default_workdir(const struct yurt_spank_opts *o, const struct yurt_spank_site *s,
				 const char *cwd, const char *home);

/* The argv of `yurt start` that makes the container (NULL-terminated, in
 * ARGV, which the caller frees with yurt_strv_free).  SCRIPT: the batch
 * step's script, in slurmd's spool, bound in where slurmstepd runs it
 * (NULL for other steps). */
int yurt_spank_start_argv(struct yurt_strv *argv, const struct yurt_spank_opts *o,
			  const struct yurt_spank_site *s, const char *name, const char *workdir,
			  const char *script, struct yurt_err *err);

/* Whether the image's value of NAME may replace the job's in a task:
 * not for --container-env names, nor for the variables the plugin sets. */
bool yurt_spank_env_from_image(const struct yurt_spank_opts *o, const char *name);

#endif
