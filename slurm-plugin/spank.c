/* The SPANK entry points: each hands its context's work to the file that
 * does it.  Options are registered in every context, so that srun, salloc
 * and sbatch check them before submission and slurmstepd receives them. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

SPANK_PLUGIN(yurt, 1);

struct yurt_spank_opts yurt_opts = { .mount_home = -1 };
struct yurt_spank_site yurt_site = { .mount_home = true };

void yurt_spank_report(const struct yurt_err *err)
{
	char text[2048];
	slurm_error("yurt: error: %s", yurt_err_text(err, text, sizeof text));
}

/* Each option's callback: its index is the option's val. */
static int option_cb(int val, const char *optarg, int remote)
{
	struct yurt_err err;
	(void)remote;
	if (val < 0 || val >= YURT_OPT_COUNT)
		return -1;
	if (yurt_spank_opt_set(&yurt_opts, val, optarg, false, &err)) {
		yurt_spank_report(&err);
		return -1;
	}
	return 0;
}

static const char *local_getenv(const char *name, void *data)
{
	(void)data;
	return getenv(name);
}

/* In slurmstepd the job's environment is not ours: ask Slurm. */
static const char *job_getenv(const char *name, void *data)
{
	static char buf[4096];
	return spank_getenv(data, name, buf, sizeof buf) == ESPANK_SUCCESS ? buf : NULL;
}

/* This plugin's file, as Slurm named it when it loaded it (plugstack.conf's
 * path, or one under PluginDir): NULL when not absolute. */
static char *plugin_path(void)
{
	Dl_info info;
	if (!dladdr((void *)&yurt_site, &info) || !info.dli_fname || info.dli_fname[0] != '/')
		return NULL;
	return strdup(info.dli_fname);
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	struct yurt_err err;
	spank_context_t ctx = spank_context();
	yurt_spank_site_free(&yurt_site);
	if (yurt_spank_site_parse(&yurt_site, ac, av, &err)) {
		yurt_spank_report(&err);
		return -1;
	}
	yurt_site.plugin = plugin_path();
	/* The prolog and epilog see no options. */
	if (ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE && ctx != S_CTX_ALLOCATOR)
		return 0;
	for (int i = 0; i < YURT_OPT_COUNT; i++) {
		const struct yurt_spank_opt_info *info = &yurt_spank_opt_infos[i];
		struct spank_option opt = {
			.name = (char *)info->name, .arginfo = (char *)info->arginfo,
			.usage = (char *)info->usage, .has_arg = info->arginfo ? 1 : 0,
			.val = i, .cb = option_cb,
		};
		if (spank_option_register(sp, &opt) != ESPANK_SUCCESS) {
			slurm_error("yurt: error: cannot register --%s", info->name);
			return -1;
		}
	}
	return 0;
}

/* Options are all in: the environment twins fill in what the command line
 * left, then everything is checked, before submission in srun/sbatch/salloc. */
int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	struct yurt_err err;
	spank_context_t ctx = spank_context();
	(void)ac, (void)av;
	if (ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE && ctx != S_CTX_ALLOCATOR)
		return 0;
	if (yurt_spank_opts_from_env(&yurt_opts, ctx == S_CTX_REMOTE ? job_getenv : local_getenv,
				     sp, &err) ||
	    yurt_spank_opts_check(&yurt_opts, &err)) {
		yurt_spank_report(&err);
		return -1;
	}
	return ctx == S_CTX_REMOTE ? yurt_stepd_prepare(sp) : 0;
}

int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	return yurt_stepd_user_init(sp);
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	return yurt_stepd_task_init(sp);
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	(void)ac, (void)av;
	if (spank_context() == S_CTX_REMOTE)
		yurt_stepd_exit(sp);
	yurt_spank_opts_free(&yurt_opts);
	yurt_spank_site_free(&yurt_site);
	return 0;
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	struct yurt_err err;
	/* The epilog's process may not have run slurm_spank_init. */
	if (!yurt_site.runtime_path && yurt_spank_site_parse(&yurt_site, ac, av, &err)) {
		yurt_spank_report(&err);
		return 0;
	}
	return yurt_stepd_job_epilog(sp);
}
