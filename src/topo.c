#include <errno.h>
#include <stdlib.h>

#include <hwloc/linux.h>

#include "cleanup.h"
#include "cpulist.h"
#include "topo.h"

int yurt_topology_load(hwloc_topology_t *topo, struct yurt_err *err)
{
	const char *synthetic = getenv("HWLOC_SYNTHETIC"), *xml = getenv("HWLOC_XMLFILE");
	hwloc_topology_t t;

	if (hwloc_topology_init(&t) < 0)
		return yurt_fail(err, errno, "hwloc: cannot create a topology");
	if (synthetic && *synthetic) {
		if (hwloc_topology_set_synthetic(t, synthetic) < 0) {
			yurt_fail(err, 0, "HWLOC_SYNTHETIC=%s: not a synthetic topology description", synthetic);
			goto fail;
		}
	} else if (xml && *xml && hwloc_topology_set_xml(t, xml) < 0) {
		yurt_fail(err, errno, "HWLOC_XMLFILE=%s: cannot read the topology", xml);
		goto fail;
	}
	if (hwloc_topology_load(t) < 0) {
		yurt_fail(err, errno, "hwloc: cannot load the topology");
		goto fail;
	}
	*topo = t;
	return 0;
fail:
	hwloc_topology_destroy(t);
	return -1;
}

int yurt_allowed_cpus(hwloc_topology_t topo, hwloc_cpuset_t out, struct yurt_err *err)
{
	hwloc_const_cpuset_t topo_allowed = hwloc_topology_get_allowed_cpuset(topo);

	if (hwloc_bitmap_copy(out, topo_allowed) < 0)
		return yurt_fail(err, errno, "allowed cpus");
	/* A synthetic or XML topology describes some other machine, on which
	 * this thread's affinity means nothing. */
	if (hwloc_topology_is_thissystem(topo)) {
		_cleanup_bitmap_ hwloc_cpuset_t affinity = hwloc_bitmap_alloc();
		if (!affinity)
			return yurt_fail(err, errno, "allowed cpus");
		if (hwloc_linux_get_tid_cpubind(topo, 0, affinity) < 0)
			return yurt_fail(err, errno, "sched_getaffinity");
		if (hwloc_bitmap_and(out, out, affinity) < 0)
			return yurt_fail(err, errno, "allowed cpus");
		if (hwloc_bitmap_iszero(out)) {
			_cleanup_free_ char *mine = yurt_cpulist_format(affinity);
			_cleanup_free_ char *cgroup = yurt_cpulist_format(topo_allowed);
			return yurt_fail(err, 0, "no usable cpus: affinity %s and cgroup cpus %s do not meet",
					 mine ? mine : "?", cgroup ? cgroup : "?");
		}
	}
	return 0;
}

hwloc_obj_t yurt_topology_core_of(hwloc_topology_t topo, hwloc_obj_t pu)
{
	hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
	return core ? core : pu;
}

static void print_cpus(FILE *out, const char *what, unsigned index, hwloc_const_cpuset_t cpus)
{
	_cleanup_free_ char *list = yurt_cpulist_format(cpus);
	fprintf(out, "%s %u: cpus %s\n", what, index, list ? list : "?");
}

void yurt_topology_print(FILE *out, hwloc_topology_t topo, hwloc_const_cpuset_t allowed)
{
	hwloc_obj_t obj = NULL, core = NULL;
	unsigned cores = 0, threads = 0;

	fprintf(out, "machine: packages %d, numa domains %d, cores %d, threads %d\n",
		hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE),
		hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE),
		hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE),
		hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU));
	/* Packages by logical index, as Slurm numbers sockets; NUMA domains by
	 * OS index, as mems lists and numactl do. */
	while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PACKAGE, obj)))
		print_cpus(out, "package", obj->logical_index, obj->cpuset);
	while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, obj)))
		print_cpus(out, "numa", obj->os_index, obj->cpuset);

	/* A core's PUs are consecutive in logical order, so counting changes
	 * of core counts the cores. */
	while ((obj = hwloc_get_next_obj_inside_cpuset_by_type(topo, allowed, HWLOC_OBJ_PU, obj))) {
		hwloc_obj_t c = yurt_topology_core_of(topo, obj);
		cores += c != core;
		core = c;
		threads++;
	}
	_cleanup_free_ char *list = yurt_cpulist_format(allowed);
	fprintf(out, "allowed: cpus %s, cores %u, threads %u\n", list ? list : "?", cores, threads);
}
