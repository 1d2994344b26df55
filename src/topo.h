/* The machine as hwloc sees it, and the CPUs this process may use. */
#ifndef YURT_TOPO_H
#define YURT_TOPO_H

#include <stdio.h>

#include <hwloc.h>

#include "error.h"

/* Loads the topology, from HWLOC_SYNTHETIC or HWLOC_XMLFILE when set (as
 * hwloc does, synthetic first), else from this machine.  Unlike hwloc, a bad
 * value is an error instead of a silent fallback to this machine. */
int yurt_topology_load(hwloc_topology_t *topo, struct yurt_err *err);

/* The CPUs tasks may use: the topology's allowed set (its cgroup cpuset) and,
 * when the topology is this machine, this thread's affinity (under Slurm, the
 * step's CPUs).  Fails when that leaves none. */
int yurt_allowed_cpus(hwloc_topology_t topo, hwloc_cpuset_t out, struct yurt_err *err);

/* The core holding pu, or pu itself where hwloc found no cores. */
hwloc_obj_t yurt_topology_core_of(hwloc_topology_t topo, hwloc_obj_t pu);

/* `yurt topology`: counts, the cpus of each package and NUMA domain, and the
 * allowed cpus, as cpu lists of OS indexes. */
void yurt_topology_print(FILE *out, hwloc_topology_t topo, hwloc_const_cpuset_t allowed);

#endif
