/* What the plugin's files share: the options of this process and the
 * site's arguments, parsed once in slurm_spank_init. */
#ifndef YURT_SPANK_PLUGIN_H
#define YURT_SPANK_PLUGIN_H

#include <slurm/spank.h>
#include <sys/types.h>

#include "options.h"

extern struct yurt_spank_opts yurt_opts;
extern struct yurt_spank_site yurt_site;

/* Reports ERR as one "yurt: ..." line through Slurm (which reaches the user). */
void yurt_spank_report(const struct yurt_err *err);

/* slurmstepd and the epilog (stepd.c).  prepare runs as root, in
 * init_post_opt: the rest of slurmstepd's work is the user's. */
int yurt_stepd_prepare(spank_t sp);
int yurt_stepd_user_init(spank_t sp);
int yurt_stepd_task_init(spank_t sp);
void yurt_stepd_exit(spank_t sp);
int yurt_stepd_job_epilog(spank_t sp);

#endif
