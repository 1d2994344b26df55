#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "binding.h"
#include "cleanup.h"
#include "cpulist.h"
#include "topo.h"

/* OS index = logical index in these synthetic machines. */
#define SMALL "pack:2 core:4 pu:2"                      /* 2 sockets x 4 cores x 2 threads */
#define BIG "pack:2 numa:2 core:32 pu:2"                /* 2 x 64 x 2, 4 NUMA domains */
#define NO_SMT "pack:1 core:8 pu:1"
/* As BIG, but numbered like real x86 nodes: core c holds PUs c and c+128. */
#define BIG_SPLIT "pack:2 numa:2 core:32 pu:2(indexes=2*128:1*2)"
/* 2 x 32 x 2 with one NUMA domain per socket, core c holding PUs c and c+64. */
#define INTEL_XML "test/unit/data/intel-2x32x2.xml"

static hwloc_topology_t topo;
static hwloc_bitmap_t allowed;
static struct yurt_binding_request req;
static struct yurt_binding_plan plan;
static struct yurt_err err;

static void use_allowed(const char *list)
{
	if (list)
		cr_assert_eq(yurt_cpulist_parse(allowed, list, &err), 0, "%s", err.msg);
	else
		hwloc_bitmap_copy(allowed, hwloc_topology_get_allowed_cpuset(topo));
}

/* A synthetic machine; allowed_list NULL allows all of it. */
static void machine(const char *synthetic, const char *allowed_list)
{
	cr_assert_eq(hwloc_topology_init(&topo), 0);
	cr_assert_eq(hwloc_topology_set_synthetic(topo, synthetic), 0, "%s", synthetic);
	cr_assert_eq(hwloc_topology_load(topo), 0);
	allowed = hwloc_bitmap_alloc();
	use_allowed(allowed_list);
	yurt_binding_request_init(&req);
}

static void xml_machine(const char *path, const char *allowed_list)
{
	cr_assert_eq(hwloc_topology_init(&topo), 0);
	cr_assert_eq(hwloc_topology_set_xml(topo, path), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(hwloc_topology_load(topo), 0);
	allowed = hwloc_bitmap_alloc();
	use_allowed(allowed_list);
	yurt_binding_request_init(&req);
}

static void this_machine(void)
{
	unsetenv("HWLOC_SYNTHETIC");
	unsetenv("HWLOC_XMLFILE");
	cr_assert_eq(yurt_topology_load(&topo, &err), 0, "%s", err.msg);
	allowed = hwloc_bitmap_alloc();
	cr_assert_eq(yurt_allowed_cpus(topo, allowed, &err), 0, "%s", err.msg);
	yurt_binding_request_init(&req);
}

static void teardown(void)
{
	yurt_binding_plan_free(&plan);
	yurt_binding_request_free(&req);
	hwloc_bitmap_free(allowed);
	if (topo)
		hwloc_topology_destroy(topo);
}

TestSuite(plan, .fini = teardown);
TestSuite(apply, .fini = teardown);
TestSuite(parse, .fini = teardown);

static void request(unsigned ntasks, unsigned cpus_per_task, const char *cpu_bind, const char *dist)
{
	req.ntasks = ntasks;
	req.cpus_per_task = cpus_per_task;
	cr_assert_eq(yurt_cpu_bind_parse(&req, cpu_bind, &err), 0, "%s", err.msg);
	if (dist)
		cr_assert_eq(yurt_distribution_parse(&req.dist, dist, &err), 0, "%s", err.msg);
}

static void planned(void)
{
	cr_assert_eq(yurt_binding_plan(topo, allowed, &req, &plan, &err), 0, "%s", err.msg);
	cr_assert_eq(plan.ntasks, req.ntasks);
}

static void plan_fails(const char *msg)
{
	cr_assert_eq(yurt_binding_plan(topo, allowed, &req, &plan, &err), -1, "planned");
	cr_assert_str_eq(err.msg, msg);
	cr_assert_null(plan.tasks);
}

static void expect_sets(const char *what, const char *const *want, size_t n)
{
	cr_assert_eq(plan.ntasks, n, "%u tasks planned, %zu expected", plan.ntasks, n);
	for (size_t t = 0; t < n; t++) {
		hwloc_const_bitmap_t set = !strcmp(what, "cpus") ? plan.tasks[t].cpus : plan.tasks[t].mems;
		cr_assert_not_null(set, "task %zu has no %s", t, what);
		_cleanup_free_ char *got = yurt_cpulist_format(set);
		cr_assert_str_eq(got, want[t], "task %zu: %s %s, expected %s", t, what, got, want[t]);
	}
}

#define LIST(...) (const char *[]){ __VA_ARGS__ }, sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(char *)
#define expect_cpus(...) expect_sets("cpus", LIST(__VA_ARGS__))
#define expect_mems(...) expect_sets("mems", LIST(__VA_ARGS__))

/* ---- the two examples from the issue ---- */

Test(plan, cores_block)
{
	machine(SMALL, NULL);
	request(4, 1, "cores", "block");
	planned();
	expect_cpus("0-1", "2-3", "4-5", "6-7");
	cr_assert(plan.bind_cpus);
}

Test(plan, cores_cyclic)
{
	machine(SMALL, NULL);
	request(4, 1, "cores", "cyclic");
	planned();
	expect_cpus("0-1", "8-9", "2-3", "10-11");
}

Test(plan, cyclic_is_the_default)
{
	machine(SMALL, NULL);
	request(4, 1, "cores", NULL);
	planned();
	expect_cpus("0-1", "8-9", "2-3", "10-11");
}

/* ---- granularities ---- */

Test(plan, threads_cyclic_fills_a_core_before_the_next)
{
	machine(SMALL, NULL);
	request(4, 1, "threads", "cyclic");
	planned();
	expect_cpus("0", "8", "1", "9");
}

Test(plan, threads_block)
{
	machine(SMALL, NULL);
	request(4, 1, "threads", "block");
	planned();
	expect_cpus("0", "1", "2", "3");
}

Test(plan, threads_count_threads)
{
	machine(SMALL, NULL);
	request(4, 3, "threads", "block");
	planned();
	expect_cpus("0-2", "3-5", "6-8", "9-11");
}

Test(plan, sockets)
{
	machine(SMALL, NULL);
	request(4, 1, "sockets", "cyclic");
	planned();
	expect_cpus("0-7", "8-15", "0-7", "8-15");
}

Test(plan, sockets_block_keeps_tasks_on_the_first_socket)
{
	machine(SMALL, NULL);
	request(4, 1, "sockets", "block");
	planned();
	expect_cpus("0-7", "0-7", "0-7", "0-7");
}

Test(plan, ldoms_cyclic)
{
	machine(BIG, NULL);
	request(4, 1, "ldoms", "cyclic");
	planned();
	expect_cpus("0-63", "128-191", "0-63", "128-191");
}

Test(plan, ldoms_block_one_domain_per_task)
{
	machine(BIG, NULL);
	request(4, 32, "ldoms", "block");
	planned();
	expect_cpus("0-63", "64-127", "128-191", "192-255");
}

Test(plan, ldoms_spanning_two_domains)
{
	machine(BIG, NULL);
	request(2, 33, "ldoms", "block");
	planned();
	expect_cpus("0-127", "64-191");
}

Test(plan, none_gives_every_task_the_allowed_cpus)
{
	machine(SMALL, "2-13");
	request(3, 1, "none", NULL);
	planned();
	expect_cpus("2-13", "2-13", "2-13");
	cr_assert_not(plan.bind_cpus);
}

/* ---- cpus per task ---- */

Test(plan, two_cores_per_task_cyclic)
{
	machine(SMALL, NULL);
	request(4, 2, "cores", "cyclic");
	planned();
	expect_cpus("0-3", "8-11", "4-7", "12-15");
}

Test(plan, three_cores_per_task)
{
	machine(SMALL, NULL);
	request(2, 3, "cores", "block");
	planned();
	expect_cpus("0-5", "6-11");

	yurt_binding_plan_free(&plan);
	req.dist = YURT_DIST_CYCLIC;
	planned();
	expect_cpus("0-5", "8-13");
}

Test(plan, cyclic_task_spills_to_the_next_socket)
{
	/* Task 2 finds two cores left on socket 0 and takes its third on socket 1. */
	machine("pack:2 core:5 pu:1", NULL);
	request(3, 3, "cores", "cyclic");
	planned();
	expect_cpus("0-2", "5-7", "3-4,8");
}

Test(plan, task_larger_than_a_socket_spans_sockets)
{
	machine(SMALL, NULL);
	request(1, 6, "cores", "cyclic");
	planned();
	expect_cpus("0-11");

	yurt_binding_plan_free(&plan);
	req.bind = YURT_BIND_SOCKETS;
	planned();
	expect_cpus("0-15");

	yurt_binding_plan_free(&plan);
	req.bind = YURT_BIND_CORES;
	req.dist = YURT_DIST_BLOCK;
	planned();
	expect_cpus("0-11");
}

Test(plan, fcyclic_spreads_each_task)
{
	machine(SMALL, NULL);
	request(2, 2, "cores", "*:fcyclic");
	planned();
	expect_cpus("0-1,8-9", "2-3,10-11");
}

Test(plan, no_smt_node)
{
	machine(NO_SMT, NULL);
	request(3, 1, "cores", "cyclic");
	planned();
	expect_cpus("0", "1", "2");

	yurt_binding_plan_free(&plan);
	req.ntasks = 2;
	req.cpus_per_task = 3;
	req.bind = YURT_BIND_THREADS;
	planned();
	expect_cpus("0-2", "3-5");
}

/* ---- OS indexes ---- */

Test(plan, os_indexes_of_split_siblings)
{
	machine(BIG_SPLIT, NULL);
	request(2, 1, "cores", "cyclic");
	planned();
	expect_cpus("0,128", "64,192");

	yurt_binding_plan_free(&plan);
	req.cpus_per_task = 2;
	planned();
	expect_cpus("0-1,128-129", "64-65,192-193");

	yurt_binding_plan_free(&plan);
	req.bind = YURT_BIND_THREADS;
	planned();
	expect_cpus("0,128", "64,192");
}

Test(plan, slurm_allocation_on_an_intel_node)
{
	/* What Slurm gives a job of 8 cores on socket 0. */
	xml_machine(INTEL_XML, "4-11,68-75");
	request(4, 1, "cores", "cyclic");
	planned();
	expect_cpus("4,68", "5,69", "6,70", "7,71");

	yurt_binding_plan_free(&plan);
	req.ntasks = 4;
	req.bind = YURT_BIND_THREADS;
	req.dist = YURT_DIST_BLOCK;
	planned();
	expect_cpus("4", "68", "5", "69");

	yurt_binding_plan_free(&plan);
	req.bind = YURT_BIND_SOCKETS;
	planned();
	expect_cpus("4-11,68-75", "4-11,68-75", "4-11,68-75", "4-11,68-75");

	yurt_binding_plan_free(&plan);
	req.bind = YURT_BIND_LDOMS;
	req.mem_local = true;
	planned();
	expect_cpus("4-11,68-75", "4-11,68-75", "4-11,68-75", "4-11,68-75");
	expect_mems("0", "0", "0", "0");
}

Test(plan, allocation_spread_over_both_sockets)
{
	xml_machine(INTEL_XML, "30-33,94-97");
	request(4, 1, "cores", "cyclic");
	planned();
	expect_cpus("30,94", "32,96", "31,95", "33,97");
	req.mem_local = true;
	yurt_binding_plan_free(&plan);
	planned();
	expect_mems("0", "1", "0", "1");
}

Test(plan, half_cores_are_bound_to_their_allowed_thread)
{
	/* Cores whose sibling is outside the allocation still count, as one thread. */
	xml_machine(INTEL_XML, "0-3");
	request(2, 2, "cores", "block");
	planned();
	expect_cpus("0-1", "2-3");
}

/* ---- too many tasks, overcommit ---- */

Test(plan, too_many_tasks)
{
	machine(NO_SMT, "0-5");
	request(4, 2, "cores", NULL);
	plan_fails("4 tasks x 2 cpus: need 8 cores, only 6 allowed (cpus 0-5)");
	cr_assert(strstr(err.hint, "--overcommit"));
}

Test(plan, too_many_threads)
{
	xml_machine(INTEL_XML, "4-11,68-75");
	request(17, 1, "threads", NULL);
	plan_fails("17 tasks x 1 cpu: need 17 threads, only 16 allowed (cpus 4-11,68-75)");
}

Test(plan, too_many_cores_even_without_binding)
{
	machine(SMALL, NULL);
	request(1, 9, "none", NULL);
	plan_fails("1 task x 9 cpus: need 9 cores, only 8 allowed (cpus 0-15)");
}

Test(plan, overcommit_wraps_round_robin)
{
	machine(SMALL, NULL);
	request(10, 1, "cores", "cyclic");
	req.overcommit = true;
	planned();
	expect_cpus("0-1", "8-9", "2-3", "10-11", "4-5", "12-13", "6-7", "14-15", "0-1", "8-9");

	yurt_binding_plan_free(&plan);
	req.dist = YURT_DIST_BLOCK;
	planned();
	expect_cpus("0-1", "2-3", "4-5", "6-7", "8-9", "10-11", "12-13", "14-15", "0-1", "2-3");
}

Test(plan, overcommit_narrows_tasks_first)
{
	machine(SMALL, NULL);
	request(4, 4, "cores", "cyclic");
	req.overcommit = true;
	planned();
	cr_assert_eq(plan.cpus_per_task, 2);
	expect_cpus("0-3", "8-11", "4-7", "12-15");
}

Test(plan, overcommit_within_the_allocation)
{
	xml_machine(INTEL_XML, "4-5,68-69");
	request(3, 1, "cores", "cyclic");
	req.overcommit = true;
	planned();
	expect_cpus("4,68", "5,69", "4,68");
}

/* ---- map_cpu, mask_cpu ---- */

Test(plan, map_cpu_wraps)
{
	machine(SMALL, NULL);
	request(4, 1, "map_cpu:3,9", NULL);
	planned();
	expect_cpus("3", "9", "3", "9");
	cr_assert(plan.bind_cpus);
}

Test(plan, map_cpu_hex_and_repeats)
{
	machine(SMALL, NULL);
	request(4, 1, "map_cpu:0xa*2,1", NULL);
	planned();
	expect_cpus("10", "10", "1", "10");
}

Test(plan, map_cpu_outside_the_allowed_cpus)
{
	machine(SMALL, "0-7");
	request(2, 1, "map_cpu:1,9", NULL);
	plan_fails("--cpu-bind=map_cpu: task 1 would get cpus 9, outside the allowed cpus 0-7");
}

Test(plan, map_cpu_unused_entries_are_not_checked)
{
	machine(SMALL, "0-7");
	request(1, 1, "map_cpu:1,9", NULL);
	planned();
	expect_cpus("1");
}

Test(plan, map_cpu_uses_os_indexes)
{
	machine(BIG_SPLIT, NULL);
	request(2, 1, "map_cpu:128,1", NULL);
	req.mem_local = true;
	planned();
	expect_cpus("128", "1");
	expect_mems("0", "0");
}

Test(plan, mask_cpu)
{
	machine(SMALL, NULL);
	request(3, 1, "mask_cpu:0x3,C", NULL);
	planned();
	expect_cpus("0-1", "2-3", "0-1");
}

Test(plan, mask_cpu_outside_the_allowed_cpus)
{
	machine(SMALL, "0-3");
	request(1, 1, "mask_cpu:0x3c", NULL);
	plan_fails("--cpu-bind=mask_cpu: task 0 would get cpus 4-5, outside the allowed cpus 0-3");
}

Test(plan, map_cpu_ignores_the_cpu_count)
{
	machine(NO_SMT, "0-1");
	request(4, 2, "map_cpu:0,1", NULL);
	planned();
	expect_cpus("0", "1", "0", "1");
}

/* ---- memory ---- */

Test(plan, mem_local)
{
	machine(BIG, NULL);
	request(4, 1, "cores", "cyclic");
	req.mem_local = true;
	planned();
	expect_mems("0", "2", "0", "2");
}

Test(plan, mem_local_spanning_domains)
{
	machine(BIG, NULL);
	request(1, 40, "cores", "block");
	req.mem_local = true;
	planned();
	expect_cpus("0-79");
	expect_mems("0-1");
}

Test(plan, mem_local_unbound)
{
	machine(BIG, "0-63,192-255");
	request(2, 1, "none", NULL);
	req.mem_local = true;
	planned();
	expect_mems("0,3", "0,3");
}

Test(plan, no_mems_unless_asked)
{
	machine(BIG, NULL);
	request(1, 1, "cores", NULL);
	planned();
	cr_assert_null(plan.tasks[0].mems);
}

/* ---- bad requests ---- */

Test(plan, zero_tasks)
{
	machine(SMALL, NULL);
	request(0, 1, "cores", NULL);
	plan_fails("0 tasks x 1 cpus: both must be at least 1");
}

Test(plan, allowed_cpus_outside_the_topology)
{
	machine(SMALL, "16-31");
	request(1, 1, "cores", NULL);
	plan_fails("cpu binding: the allowed cpus 16-31 are not in the topology's 0-15");
}

Test(plan, print)
{
	machine(BIG, NULL);
	request(2, 1, "verbose,cores", NULL);
	req.mem_local = true;
	planned();
	cr_assert(plan.verbose);

	char *text = NULL;
	size_t size;
	FILE *out = open_memstream(&text, &size);
	yurt_binding_plan_print(out, &plan);
	fclose(out);
	cr_assert_str_eq(text, "yurt: task 0: cpus 0-1, mems 0\nyurt: task 1: cpus 128-129, mems 2\n");
	free(text);

	yurt_binding_plan_free(&plan);
	req.mem_local = false;
	planned();
	out = open_memstream(&text, &size);
	yurt_binding_plan_print(out, &plan);
	fclose(out);
	cr_assert_str_eq(text, "yurt: task 0: cpus 0-1\nyurt: task 1: cpus 128-129\n");
	free(text);
}

/* ---- applying, on this machine (each test runs in its own process) ---- */

Test(apply, binds_the_calling_thread)
{
	this_machine();
	int cpu = hwloc_bitmap_last(allowed);
	char spec[32];
	snprintf(spec, sizeof spec, "map_cpu:%d", cpu);
	request(1, 1, spec, NULL);
	planned();
	cr_assert_eq(yurt_binding_apply(topo, &plan, 0, &err), 0, "%s", err.msg);

	cpu_set_t set;
	cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
	cr_assert_eq(CPU_COUNT(&set), 1);
	cr_assert(CPU_ISSET(cpu, &set));
}

Test(apply, binds_memory)
{
	this_machine();
	request(1, 1, "cores", NULL);
	req.mem_local = true;
	planned();
	cr_assert_eq(yurt_binding_apply(topo, &plan, 0, &err), 0, "%s: %s", err.msg, strerror(err.errnum));

	_cleanup_bitmap_ hwloc_nodeset_t mems = hwloc_bitmap_alloc();
	hwloc_membind_policy_t policy;
	cr_assert_eq(hwloc_get_membind(topo, mems, &policy, HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET), 0);
	cr_assert(hwloc_bitmap_isequal(mems, plan.tasks[0].mems));
}

Test(apply, unbound_changes_nothing)
{
	this_machine();
	cpu_set_t before, after;
	cr_assert_eq(sched_getaffinity(0, sizeof before, &before), 0);
	request(1, 1, "none", NULL);
	planned();
	cr_assert_eq(yurt_binding_apply(topo, &plan, 0, &err), 0, "%s", err.msg);
	cr_assert_eq(sched_getaffinity(0, sizeof after, &after), 0);
	cr_assert(CPU_EQUAL(&before, &after));
}

Test(apply, refuses_another_machines_topology)
{
	machine(SMALL, NULL);
	request(1, 1, "cores", NULL);
	planned();
	cr_assert_eq(yurt_binding_apply(topo, &plan, 0, &err), -1);
	cr_assert_str_eq(err.msg, "task 0: cannot bind: the topology is not this machine's");
}

/* ---- parsing ---- */

static void parsed(const char *spec)
{
	cr_assert_eq(yurt_cpu_bind_parse(&req, spec, &err), 0, "%s: %s", spec, err.msg);
}

static void entries(const char *const *want, size_t n)
{
	cr_assert_eq(req.ncpu_lists, n, "%u entries, %zu expected", req.ncpu_lists, n);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *got = yurt_cpulist_format(req.cpu_lists[i]);
		cr_assert_str_eq(got, want[i], "entry %zu: %s, expected %s", i, got, want[i]);
	}
}

#define expect_entries(...) entries(LIST(__VA_ARGS__))

static void parse_fails(const char *spec, const char *msg)
{
	struct yurt_binding_request before = req;
	cr_assert_eq(yurt_cpu_bind_parse(&req, spec, &err), -1, "%s was accepted", spec);
	cr_assert_str_eq(err.msg, msg);
	/* A failed parse changes nothing. */
	cr_assert_eq(req.bind, before.bind);
	cr_assert_eq(req.verbose, before.verbose);
	cr_assert_eq(req.cpu_lists, before.cpu_lists);
}

Test(parse, defaults)
{
	yurt_binding_request_init(&req);
	cr_assert_eq(req.ntasks, 1);
	cr_assert_eq(req.cpus_per_task, 1);
	cr_assert_eq(req.bind, YURT_BIND_NONE);
	cr_assert_eq(req.dist, YURT_DIST_CYCLIC);
	cr_assert_not(req.verbose || req.mem_local || req.overcommit);
}

Test(parse, granularities)
{
	yurt_binding_request_init(&req);
	const struct { const char *spec; enum yurt_cpu_bind bind; } cases[] = {
		{ "threads", YURT_BIND_THREADS }, { "thread", YURT_BIND_THREADS },
		{ "cores", YURT_BIND_CORES }, { "Core", YURT_BIND_CORES },
		{ "sockets", YURT_BIND_SOCKETS }, { "socket", YURT_BIND_SOCKETS },
		{ "ldoms", YURT_BIND_LDOMS }, { "LDOM", YURT_BIND_LDOMS },
		{ "none", YURT_BIND_NONE }, { "no", YURT_BIND_NONE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		parsed(cases[i].spec);
		cr_assert_eq(req.bind, cases[i].bind, "%s", cases[i].spec);
		cr_assert_not(req.verbose);
	}
}

Test(parse, verbose)
{
	yurt_binding_request_init(&req);
	parsed("verbose,cores");
	cr_assert(req.verbose);
	cr_assert_eq(req.bind, YURT_BIND_CORES);
	parsed("q");
	cr_assert_not(req.verbose);
	cr_assert_eq(req.bind, YURT_BIND_CORES, "a spec without a type keeps the type");
	parsed("v");
	cr_assert(req.verbose);
}

Test(parse, none_and_lists_outrank_granularities)
{
	yurt_binding_request_init(&req);
	parsed("cores,none");
	cr_assert_eq(req.bind, YURT_BIND_NONE);
	parsed("none,cores");
	cr_assert_eq(req.bind, YURT_BIND_NONE);
	parsed("threads,map_cpu:1");
	cr_assert_eq(req.bind, YURT_BIND_MAP_CPU);
	parsed("map_cpu:1,sockets");
	cr_assert_eq(req.bind, YURT_BIND_MAP_CPU);
	parsed("map_cpu:1,none");
	cr_assert_eq(req.bind, YURT_BIND_NONE);
	cr_assert_eq(req.ncpu_lists, 0);
	parsed("cores,threads");
	cr_assert_eq(req.bind, YURT_BIND_THREADS, "the last granularity wins");
}

Test(parse, map_cpu)
{
	yurt_binding_request_init(&req);
	parsed("v,map_cpu:0,4,8");
	cr_assert_eq(req.bind, YURT_BIND_MAP_CPU);
	cr_assert(req.verbose);
	expect_entries("0", "4", "8");

	parsed("map_cpu:0x10,2,verbose");
	expect_entries("16", "2");

	parsed("MAP_CPU=3*2,0x1*3");
	expect_entries("3", "3", "1", "1", "1");

	parsed("mapcpu:7");
	expect_entries("7");
}

Test(parse, mask_cpu)
{
	yurt_binding_request_init(&req);
	parsed("mask_cpu:0x3,C,f0*2");
	cr_assert_eq(req.bind, YURT_BIND_MASK_CPU);
	expect_entries("0-1", "2-3", "4-7", "4-7");

	parsed("mask_cpu:1,cores");
	expect_entries("0");
	cr_assert_eq(req.bind, YURT_BIND_MASK_CPU);

	parsed("mask_cpu:3,map_cpu:5");
	cr_assert_eq(req.bind, YURT_BIND_MAP_CPU, "a later list replaces an earlier one");
	expect_entries("5");
}

Test(parse, bad_cpu_binds)
{
	yurt_binding_request_init(&req);
	parsed("cores");
	parse_fails("", "--cpu-bind: empty element");
	parse_fails("cores,", "--cpu-bind: empty element");
	parse_fails("rank", "--cpu-bind: unknown or unsupported type \"rank\"");
	cr_assert(strstr(err.hint, "map_cpu:LIST"));
	parse_fails("verbose,boards", "--cpu-bind: unknown or unsupported type \"boards\"");
	parse_fails("map_cpu", "--cpu-bind: map_cpu needs a list");
	parse_fails("mask_cpu:", "--cpu-bind: mask_cpu needs a list");
	parse_fails("map_cpu:x",
		    "--cpu-bind: \"x\" is not a cpu number (decimal, or hex after 0x, at most 65535)");
	parse_fails("map_cpu:65536",
		    "--cpu-bind: \"65536\" is not a cpu number (decimal, or hex after 0x, at most 65535)");
	parse_fails("map_cpu:-1", "--cpu-bind: \"-1\" is not a cpu number (decimal, or hex after 0x, at most 65535)");
	parse_fails("map_cpu:0x", "--cpu-bind: \"0x\" is not a cpu number (decimal, or hex after 0x, at most 65535)");
	parse_fails("map_cpu:0x0x5", "--cpu-bind: \"0x0x5\" is not a cpu number (decimal, or hex after 0x, at most 65535)");
	parse_fails("map_cpu:0x10000", "--cpu-bind: \"0x10000\" is not a cpu number (decimal, or hex after 0x, at most 65535)");
	parse_fails("map_cpu:99999999999999999999999", "--cpu-bind: \"99999999999999999999999\" is not a cpu number (decimal, or hex after 0x, at most 65535)");
	parse_fails("map_cpu:1*0", "--cpu-bind: bad repeat count in \"1*0\"");
	parse_fails("map_cpu:1*x", "--cpu-bind: bad repeat count in \"1*x\"");
	parse_fails("map_cpu:1*", "--cpu-bind: bad repeat count in \"1*\"");
	parse_fails("map_cpu:1*99999", "--cpu-bind: bad repeat count in \"1*99999\"");
	parse_fails("map_cpu:1*40000,2*40000", "--cpu-bind: the list has more than 65536 entries");
	/* After a keyword, a number is no longer in the list. */
	parse_fails("map_cpu:0,verbose,1", "--cpu-bind: \"1\" follows no map_cpu or mask_cpu list");
	parse_fails("cores,3", "--cpu-bind: \"3\" follows no map_cpu or mask_cpu list");
	parse_fails("mask_cpu:0", "--cpu-bind: cpu mask \"0\" selects no cpu");
	parse_fails("mask_cpu:0x3g", "--cpu-bind: cpu mask \"0x3g\": 'g' is not a hex digit");
	parse_fails("mask_cpu:0x", "--cpu-bind: cpu mask \"0x\": no hex digits");
	cr_assert_eq(req.bind, YURT_BIND_CORES);
}

Test(parse, mem_bind)
{
	yurt_binding_request_init(&req);
	cr_assert_eq(yurt_mem_bind_parse(&req, "local", &err), 0);
	cr_assert(req.mem_local);
	cr_assert_not(req.verbose);
	cr_assert_eq(yurt_mem_bind_parse(&req, "none", &err), 0);
	cr_assert_not(req.mem_local);
	cr_assert_eq(yurt_mem_bind_parse(&req, "verbose,LOCAL", &err), 0);
	cr_assert(req.mem_local && req.verbose);
	cr_assert_eq(yurt_mem_bind_parse(&req, "q,no", &err), 0);
	cr_assert_not(req.mem_local);
	cr_assert(req.verbose, "quiet does not silence --cpu-bind=verbose");

	cr_assert_eq(yurt_mem_bind_parse(&req, "map_mem:0", &err), -1);
	cr_assert_str_eq(err.msg, "--mem-bind=map_mem:0: unknown or unsupported type \"map_mem:0\"");
	cr_assert_eq(yurt_mem_bind_parse(&req, "local,rank", &err), -1);
	cr_assert_not(req.mem_local, "a failed parse changes nothing");
	cr_assert_eq(yurt_mem_bind_parse(&req, "", &err), -1);
}

Test(parse, distribution)
{
	const struct { const char *spec; enum yurt_distribution dist; } cases[] = {
		{ "block", YURT_DIST_BLOCK }, { "cyclic", YURT_DIST_CYCLIC },
		{ "fcyclic", YURT_DIST_FCYCLIC }, { "*", YURT_DIST_CYCLIC },
		{ "Block", YURT_DIST_BLOCK }, { "block:block", YURT_DIST_BLOCK },
		{ "cyclic:block", YURT_DIST_BLOCK }, { "*:cyclic", YURT_DIST_CYCLIC },
		{ "block:*", YURT_DIST_CYCLIC }, { "block:fcyclic", YURT_DIST_FCYCLIC },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		enum yurt_distribution dist = 99;
		cr_assert_eq(yurt_distribution_parse(&dist, cases[i].spec, &err), 0, "%s: %s",
			     cases[i].spec, err.msg);
		cr_assert_eq(dist, cases[i].dist, "%s", cases[i].spec);
	}
}

Test(parse, bad_distributions)
{
	const struct { const char *spec, *msg; } cases[] = {
		{ "", "--distribution=: unknown or unsupported socket distribution \"\"" },
		{ "plane=4", "--distribution=plane=4: unknown or unsupported socket distribution \"plane=4\"" },
		{ "arbitrary", "--distribution=arbitrary: unknown or unsupported socket distribution \"arbitrary\"" },
		{ "block,Pack", "--distribution=block,Pack: unknown or unsupported socket distribution \"block,Pack\"" },
		{ "foo:block", "--distribution=foo:block: unknown node distribution \"foo\"" },
		{ ":block", "--distribution=:block: unknown node distribution \"\"" },
		{ "block:cyclic:cyclic",
		  "--distribution=block:cyclic:cyclic: unknown or unsupported socket distribution \"cyclic:cyclic\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		enum yurt_distribution dist = YURT_DIST_BLOCK;
		cr_assert_eq(yurt_distribution_parse(&dist, cases[i].spec, &err), -1, "%s accepted", cases[i].spec);
		cr_assert_str_eq(err.msg, cases[i].msg);
		cr_assert_eq(dist, YURT_DIST_BLOCK);
	}
}

/* ---- machines hwloc describes without packages or cores ---- */

Test(plan, no_packages_is_one_socket)
{
	machine("core:4 pu:2", NULL);
	request(2, 1, "sockets", "cyclic");
	planned();
	expect_cpus("0-7", "0-7");

	yurt_binding_plan_free(&plan);
	req.bind = YURT_BIND_CORES;
	planned();
	expect_cpus("0-1", "2-3");
}

Test(plan, no_cores_makes_threads_the_cores)
{
	machine("pack:2 pu:4", NULL);
	request(4, 1, "cores", "cyclic");
	planned();
	expect_cpus("0", "4", "1", "5");
}
