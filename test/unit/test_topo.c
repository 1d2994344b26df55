#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cleanup.h"
#include "cpulist.h"
#include "topo.h"

#define SMALL "pack:2 core:4 pu:2"
#define BIG "pack:2 numa:2 core:32 pu:2"
/* 2 x 32 x 2 with one NUMA domain per socket, core c holding PUs c and c+64. */
#define INTEL_XML "test/unit/data/intel-2x32x2.xml"

static hwloc_topology_t topo;
static hwloc_bitmap_t allowed;
static struct yurt_err err;

static void setup(void)
{
	unsetenv("HWLOC_SYNTHETIC");
	unsetenv("HWLOC_XMLFILE");
	allowed = hwloc_bitmap_alloc();
}

static void teardown(void)
{
	hwloc_bitmap_free(allowed);
	if (topo)
		hwloc_topology_destroy(topo);
}

TestSuite(topo, .init = setup, .fini = teardown);

static void loaded(void)
{
	cr_assert_eq(yurt_topology_load(&topo, &err), 0, "%s", err.msg);
	cr_assert_eq(yurt_allowed_cpus(topo, allowed, &err), 0, "%s", err.msg);
}

static void cr_assert_set(hwloc_const_bitmap_t set, const char *want)
{
	_cleanup_free_ char *got = yurt_cpulist_format(set);
	cr_assert_str_eq(got, want);
}

static char *printed(void)
{
	char *text = NULL;
	size_t size;
	FILE *out = open_memstream(&text, &size);
	yurt_topology_print(out, topo, allowed);
	fclose(out);
	return text;
}

Test(topo, synthetic_from_the_environment)
{
	setenv("HWLOC_SYNTHETIC", BIG, 1);
	loaded();
	cr_assert_eq(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE), 2);
	cr_assert_eq(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE), 4);
	cr_assert_eq(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE), 128);
	cr_assert_eq(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU), 256);
	cr_assert_not(hwloc_topology_is_thissystem(topo));
	/* Another machine: this process's affinity does not apply. */
	cr_assert_set(allowed, "0-255");
}

Test(topo, xml_from_the_environment)
{
	setenv("HWLOC_XMLFILE", INTEL_XML, 1);
	loaded();
	cr_assert_eq(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU), 128);
	cr_assert_eq(hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, 1)->os_index, 64);
	cr_assert_set(allowed, "0-127");
}

Test(topo, synthetic_wins_over_xml)
{
	setenv("HWLOC_XMLFILE", INTEL_XML, 1);
	setenv("HWLOC_SYNTHETIC", SMALL, 1);
	loaded();
	cr_assert_eq(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU), 16);
}

Test(topo, bad_synthetic_is_an_error)
{
	setenv("HWLOC_SYNTHETIC", "pack:x", 1);
	cr_assert_eq(yurt_topology_load(&topo, &err), -1);
	topo = NULL;
	cr_assert_str_eq(err.msg, "HWLOC_SYNTHETIC=pack:x: not a synthetic topology description");
}

Test(topo, missing_xml_is_an_error)
{
	setenv("HWLOC_XMLFILE", "/nonexistent/topo.xml", 1);
	cr_assert_eq(yurt_topology_load(&topo, &err), -1);
	topo = NULL;
	cr_assert_str_eq(err.msg, "HWLOC_XMLFILE=/nonexistent/topo.xml: cannot read the topology");
	cr_assert_eq(err.errnum, ENOENT);
}

Test(topo, this_machine)
{
	setenv("HWLOC_SYNTHETIC", "", 1);    /* empty: unset */
	loaded();
	cr_assert(hwloc_topology_is_thissystem(topo));

	cpu_set_t affinity;
	cr_assert_eq(sched_getaffinity(0, sizeof affinity, &affinity), 0);
	cr_assert_eq(hwloc_bitmap_weight(allowed), CPU_COUNT(&affinity));
	for (int cpu = hwloc_bitmap_first(allowed); cpu >= 0; cpu = hwloc_bitmap_next(allowed, cpu))
		cr_assert(CPU_ISSET(cpu, &affinity), "cpu %d", cpu);
}

Test(topo, allowed_follows_affinity)
{
	/* What Slurm or taskset does to yurt before it starts. */
	loaded();
	int cpu = hwloc_bitmap_last(allowed);
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
	cr_assert_eq(yurt_allowed_cpus(topo, allowed, &err), 0, "%s", err.msg);
	cr_assert_eq(hwloc_bitmap_weight(allowed), 1);
	cr_assert(hwloc_bitmap_isset(allowed, (unsigned)cpu));
}

Test(topo, print)
{
	setenv("HWLOC_SYNTHETIC", SMALL, 1);
	loaded();
	cr_assert_eq(yurt_cpulist_parse(allowed, "2-5,8", &err), 0);
	_cleanup_free_ char *text = printed();
	cr_assert_str_eq(text,
			 "machine: packages 2, numa domains 1, cores 8, threads 16\n"
			 "package 0: cpus 0-7\n"
			 "package 1: cpus 8-15\n"
			 "numa 0: cpus 0-15\n"
			 "allowed: cpus 2-5,8, cores 3, threads 5\n");
}

Test(topo, print_uses_os_indexes)
{
	setenv("HWLOC_XMLFILE", INTEL_XML, 1);
	loaded();
	cr_assert_eq(yurt_cpulist_parse(allowed, "4-11,68-75", &err), 0);
	_cleanup_free_ char *text = printed();
	cr_assert_str_eq(text,
			 "machine: packages 2, numa domains 2, cores 64, threads 128\n"
			 "package 0: cpus 0-31,64-95\n"
			 "package 1: cpus 32-63,96-127\n"
			 "numa 0: cpus 0-31,64-95\n"
			 "numa 1: cpus 32-63,96-127\n"
			 "allowed: cpus 4-11,68-75, cores 8, threads 16\n");
}

Test(topo, core_of)
{
	setenv("HWLOC_SYNTHETIC", SMALL, 1);
	loaded();
	hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, 3);
	cr_assert_eq(yurt_topology_core_of(topo, pu), hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, 1));
}

Test(topo, core_of_without_cores)
{
	setenv("HWLOC_SYNTHETIC", "pack:2 pu:4", 1);
	loaded();
	hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, 5);
	cr_assert_eq(yurt_topology_core_of(topo, pu), pu);
}
