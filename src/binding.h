/* Task binding with srun's semantics: --cpu-bind, --distribution, --mem-bind,
 * --cpus-per-task, --overcommit.  A request is planned, purely, from the
 * topology and the allowed cpus into one cpuset (and nodeset) per task; each
 * task process applies its own entry before exec.  Every set holds OS
 * indexes and stays inside the allowed cpus, so under Slurm yurt subdivides
 * the step's allocation and never escapes it. */
#ifndef YURT_BINDING_H
#define YURT_BINDING_H

#include <stdbool.h>
#include <stdio.h>

#include <hwloc.h>

#include "error.h"

enum yurt_cpu_bind {
	YURT_BIND_NONE,       /* each task may use every allowed cpu */
	YURT_BIND_THREADS,
	YURT_BIND_CORES,      /* all allowed PUs of the task's cores */
	YURT_BIND_SOCKETS,    /* the allowed cpus of the packages holding them */
	YURT_BIND_LDOMS,      /* the allowed cpus of the NUMA domains holding them */
	YURT_BIND_MAP_CPU,    /* task i: cpu list entry i % n */
	YURT_BIND_MASK_CPU,   /* task i: mask list entry i % n */
};

/* How tasks are laid out over sockets (Slurm's second level). */
enum yurt_distribution {
	YURT_DIST_CYCLIC,     /* round-robin over sockets, each task's cpus together (default) */
	YURT_DIST_BLOCK,      /* in order: a socket fills before the next */
	YURT_DIST_FCYCLIC,    /* round-robin, each cpu of a task on the next socket */
};

struct yurt_binding_request {
	unsigned ntasks;              /* -n */
	unsigned cpus_per_task;       /* -c: cores, or hardware threads when binding to threads */
	enum yurt_cpu_bind bind;
	enum yurt_distribution dist;
	bool verbose;                 /* report every task's binding before it runs */
	bool mem_local;               /* --mem-bind=local */
	bool overcommit;              /* -O: tasks may share cpus */
	hwloc_cpuset_t *cpu_lists;    /* map_cpu/mask_cpu entries, owned */
	unsigned ncpu_lists;
};

/* One task, one cpu, no binding, cyclic. */
void yurt_binding_request_init(struct yurt_binding_request *r);
void yurt_binding_request_free(struct yurt_binding_request *r);

/* srun's syntax, case-insensitive: "[quiet|verbose,]none|threads|cores|sockets|
 * ldoms|map_cpu:LIST|mask_cpu:LIST" (singular forms too); map_cpu takes
 * decimal or 0x-hex cpu ids, mask_cpu hex masks, either with "*N" repeats.
 * As in Slurm, none and the lists take precedence over a granularity, and a
 * spec without a type ("verbose") keeps the current one. */
int yurt_cpu_bind_parse(struct yurt_binding_request *r, const char *spec, struct yurt_err *err);
/* "[quiet|verbose,]none|local". */
int yurt_mem_bind_parse(struct yurt_binding_request *r, const char *spec, struct yurt_err *err);
/* "block", "cyclic", "fcyclic" or "*" (the default): the socket level, as yurt
 * runs on one node; Slurm's "NODE:SOCKET" form is accepted for its SOCKET. */
int yurt_distribution_parse(enum yurt_distribution *dist, const char *spec, struct yurt_err *err);

struct yurt_task_binding {
	hwloc_cpuset_t cpus;          /* OS indexes */
	hwloc_nodeset_t mems;         /* OS indexes; NULL unless memory is bound */
};

struct yurt_binding_plan {
	unsigned ntasks;
	unsigned cpus_per_task;       /* as laid out: overcommit lowers it as Slurm does */
	bool bind_cpus;               /* false: tasks keep every allowed cpu */
	bool verbose;
	struct yurt_task_binding *tasks;
};

/* Pure: reads topo, changes nothing.  More tasks x cpus than allowed units
 * fail unless r->overcommit, which first lowers cpus per task to
 * max(1, units / tasks) and then wraps tasks round-robin. */
int yurt_binding_plan(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
		      const struct yurt_binding_request *r, struct yurt_binding_plan *plan,
		      struct yurt_err *err);
void yurt_binding_plan_free(struct yurt_binding_plan *plan);

/* "yurt: task N: cpus LIST[, mems LIST]", one line per task. */
void yurt_binding_plan_print(FILE *out, const struct yurt_binding_plan *plan);

/* In the task process, before exec: binds the calling thread's cpus and
 * memory, which the exec'd program inherits. */
int yurt_binding_apply(hwloc_topology_t topo, const struct yurt_binding_plan *plan,
		       unsigned task, struct yurt_err *err);

#endif
