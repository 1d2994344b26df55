#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "binding.h"
#include "cleanup.h"
#include "cpulist.h"
#include "topo.h"

/* Bounds what "*N" repeats in a map_cpu or mask_cpu list may allocate. */
#define MAX_LIST_ENTRIES (YURT_CPU_MAX + 1)

static int no_memory(struct yurt_err *err)
{
	return yurt_fail(err, ENOMEM, "cpu binding");
}

/* ---- the request ---- */

void yurt_binding_request_init(struct yurt_binding_request *r)
{
	*r = (struct yurt_binding_request){ .ntasks = 1, .cpus_per_task = 1 };
}

struct cpu_lists {
	hwloc_cpuset_t *v;
	unsigned n;
};

static void cpu_lists_clear(struct cpu_lists *l)
{
	for (unsigned i = 0; i < l->n; i++)
		hwloc_bitmap_free(l->v[i]);
	free(l->v);
	*l = (struct cpu_lists){ 0 };
}

void yurt_binding_request_free(struct yurt_binding_request *r)
{
	struct cpu_lists l = { r->cpu_lists, r->ncpu_lists };
	cpu_lists_clear(&l);
	r->cpu_lists = NULL;
	r->ncpu_lists = 0;
}

static bool is_word(const char *item, const char *a, const char *b)
{
	return !strcasecmp(item, a) || !strcasecmp(item, b);
}

/* The list of "map_cpu:LIST" (":" or "=", and Slurm's "mapcpu" spelling),
 * "" when the list is missing, NULL when item is something else. */
static const char *list_of(const char *item, const char *name, const char *alias)
{
	const char *names[] = { name, alias };
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(names[i]);
		if (strncasecmp(item, names[i], n))
			continue;
		if (item[n] == '\0')
			return item + n;
		if (item[n] == ':' || item[n] == '=')
			return item + n + 1;
	}
	return NULL;
}

/* As Slurm, an item after a list's comma continues the list when it reads
 * as a number (decimal, hex, either with "*N"), so "map_cpu:0,4,verbose" works. */
static bool is_list_value(const char *item)
{
	size_t n = strspn(item, "0123456789abcdefABCDEF");
	return isdigit((unsigned char)item[0]) || (n > 0 && (item[n] == '\0' || item[n] == '*'));
}

/* map_cpu ids are decimal unless "0x" makes them hex. */
static bool parse_cpu_id(const char *s, unsigned *cpu)
{
	const char *digits = "0123456789";
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		digits = "0123456789abcdefABCDEF";
		s += 2;
	}
	/* strtoul alone would take signs, spaces and a second "0x". */
	if (!*s || s[strspn(s, digits)])
		return false;
	errno = 0;
	unsigned long v = strtoul(s, NULL, base);
	if (errno || v > YURT_CPU_MAX)
		return false;
	*cpu = (unsigned)v;
	return true;
}

/* Appends one "VALUE[*N]" entry, N times. */
static int add_entry(struct cpu_lists *l, const char *entry, bool mask, struct yurt_err *err)
{
	_cleanup_free_ char *value = strdup(entry);
	_cleanup_bitmap_ hwloc_cpuset_t cpus = hwloc_bitmap_alloc();
	unsigned long repeat = 1;
	unsigned cpu;

	if (!value || !cpus)
		return no_memory(err);
	char *star = strchr(value, '*');
	if (star) {
		char *end;
		*star = '\0';
		errno = 0;
		repeat = strtoul(star + 1, &end, 10);
		if (!isdigit((unsigned char)star[1]) || *end || errno || repeat == 0 ||
		    repeat > MAX_LIST_ENTRIES)
			return yurt_fail(err, 0, "bad repeat count in \"%s\"", entry);
	}
	if (mask) {
		if (yurt_cpumask_parse(cpus, value, err) < 0)
			return -1;
		if (hwloc_bitmap_iszero(cpus))
			return yurt_fail(err, 0, "cpu mask \"%s\" selects no cpu", value);
	} else {
		if (!parse_cpu_id(value, &cpu))
			return yurt_fail(err, 0, "\"%s\" is not a cpu number (decimal, or hex after 0x, at most %u)",
					 value, YURT_CPU_MAX);
		if (hwloc_bitmap_only(cpus, cpu) < 0)
			return no_memory(err);
	}
	if (l->n + repeat > MAX_LIST_ENTRIES)
		return yurt_fail(err, 0, "the list has more than %u entries", MAX_LIST_ENTRIES);
	hwloc_cpuset_t *v = realloc(l->v, (l->n + repeat) * sizeof *v);
	if (!v)
		return no_memory(err);
	l->v = v;
	for (unsigned long i = 0; i < repeat; i++, l->n++)
		if (!(v[l->n] = hwloc_bitmap_dup(cpus)))
			return no_memory(err);
	return 0;
}

/* map_cpu:LIST or mask_cpu:LIST: a later list replaces an earlier one. */
static int start_list(struct cpu_lists *l, const char *entries, bool mask, struct yurt_err *err)
{
	cpu_lists_clear(l);
	if (!*entries)
		return yurt_fail(err, 0, "%s needs a list", mask ? "mask_cpu" : "map_cpu");
	return add_entry(l, entries, mask, err);
}

int yurt_cpu_bind_parse(struct yurt_binding_request *r, const char *spec, struct yurt_err *err)
{
	_cleanup_free_ char *copy = strdup(spec);
	struct cpu_lists list = { 0 };
	/* Slurm keeps two fields: none and the lists outrank a granularity. */
	enum yurt_cpu_bind mode = YURT_BIND_NONE, level = YURT_BIND_NONE;
	bool have_mode = false, in_list = false, verbose = r->verbose;
	char *rest = copy, *item;
	const char *entries;
	int rc = 0;

	if (!copy)
		return no_memory(err);
	while (rc == 0 && (item = strsep(&rest, ","))) {
		if (in_list && is_list_value(item)) {
			rc = add_entry(&list, item, mode == YURT_BIND_MASK_CPU, err);
			continue;
		}
		in_list = false;
		if (!*item) {
			rc = yurt_fail(err, 0, "empty element");
		} else if (is_word(item, "q", "quiet")) {
			verbose = false;
		} else if (is_word(item, "v", "verbose")) {
			verbose = true;
		} else if (is_word(item, "no", "none")) {
			cpu_lists_clear(&list);
			mode = YURT_BIND_NONE;
			have_mode = true;
		} else if (is_word(item, "thread", "threads")) {
			level = YURT_BIND_THREADS;
		} else if (is_word(item, "core", "cores")) {
			level = YURT_BIND_CORES;
		} else if (is_word(item, "socket", "sockets")) {
			level = YURT_BIND_SOCKETS;
		} else if (is_word(item, "ldom", "ldoms")) {
			level = YURT_BIND_LDOMS;
		} else if ((entries = list_of(item, "map_cpu", "mapcpu"))) {
			rc = start_list(&list, entries, false, err);
			mode = YURT_BIND_MAP_CPU;
			have_mode = in_list = true;
		} else if ((entries = list_of(item, "mask_cpu", "maskcpu"))) {
			rc = start_list(&list, entries, true, err);
			mode = YURT_BIND_MASK_CPU;
			have_mode = in_list = true;
		} else if (is_list_value(item)) {
			rc = yurt_fail(err, 0, "\"%s\" follows no map_cpu or mask_cpu list", item);
		} else {
			rc = yurt_fail(err, 0, "unknown or unsupported type \"%s\"", item);
			yurt_err_hint(err, "use [verbose,]none|threads|cores|sockets|ldoms|map_cpu:LIST|mask_cpu:LIST");
		}
	}
	if (rc < 0) {
		cpu_lists_clear(&list);
		/* Not the spec: a long map_cpu list would crowd out the reason,
		 * which names the offending item. */
		return yurt_err_prefix(err, "--cpu-bind");
	}
	r->verbose = verbose;
	if (have_mode || level != YURT_BIND_NONE) {
		yurt_binding_request_free(r);
		r->bind = have_mode ? mode : level;
		r->cpu_lists = list.v;
		r->ncpu_lists = list.n;
	}
	return 0;
}

int yurt_mem_bind_parse(struct yurt_binding_request *r, const char *spec, struct yurt_err *err)
{
	_cleanup_free_ char *copy = strdup(spec);
	bool verbose = r->verbose, local = r->mem_local;
	char *rest = copy, *item;

	if (!copy)
		return no_memory(err);
	while ((item = strsep(&rest, ","))) {
		if (is_word(item, "q", "quiet")) {
			/* The default; it cannot silence --cpu-bind=verbose, whose
			 * report shows the memory binding too. */
		} else if (is_word(item, "v", "verbose")) {
			verbose = true;
		} else if (is_word(item, "no", "none")) {
			local = false;
		} else if (!strcasecmp(item, "local")) {
			local = true;
		} else {
			yurt_fail(err, 0, "--mem-bind=%s: unknown or unsupported type \"%s\"", spec, item);
			yurt_err_hint(err, "use [verbose,]none|local");
			return -1;
		}
	}
	r->verbose = verbose;
	r->mem_local = local;
	return 0;
}

static bool word_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !strncasecmp(s, word, n);
}

int yurt_distribution_parse(enum yurt_distribution *dist, const char *spec, struct yurt_err *err)
{
	const char *socket = spec, *colon = strchr(spec, ':');

	if (colon) {
		/* NODE:SOCKET: the node level means nothing on one node, but a
		 * typo there should not pass. */
		size_t n = (size_t)(colon - spec);
		if (!word_is(spec, n, "*") && !word_is(spec, n, "block") && !word_is(spec, n, "cyclic"))
			return yurt_fail(err, 0, "--distribution=%s: unknown node distribution \"%.*s\"",
					 spec, (int)n, spec);
		socket = colon + 1;
	}
	if (!strcmp(socket, "*") || !strcasecmp(socket, "cyclic")) {
		*dist = YURT_DIST_CYCLIC;
	} else if (!strcasecmp(socket, "block")) {
		*dist = YURT_DIST_BLOCK;
	} else if (!strcasecmp(socket, "fcyclic")) {
		*dist = YURT_DIST_FCYCLIC;
	} else {
		yurt_fail(err, 0, "--distribution=%s: unknown or unsupported socket distribution \"%s\"",
			  spec, socket);
		yurt_err_hint(err, "use block, cyclic or fcyclic, or NODE:SOCKET with those");
		return -1;
	}
	return 0;
}

/* ---- the plan ---- */

/* Slurm's sockets are packages; where hwloc found none, the machine is one. */
static hwloc_obj_t package_of(hwloc_topology_t topo, hwloc_obj_t obj)
{
	hwloc_obj_t package = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, obj);
	return package ? package : hwloc_get_root_obj(topo);
}

struct socket {
	hwloc_obj_t *units;
	unsigned n, next;            /* next: the first unit no task has taken */
};

/* The units tasks are given, cores or threads, in logical order, with the
 * sockets that hold them; only sockets with usable units appear. */
struct layout {
	hwloc_obj_t *units;
	unsigned n;
	struct socket *sockets;
	unsigned nsockets;
};

static void layout_free(struct layout *l)
{
	free(l->units);
	free(l->sockets);
}

static int layout_init(struct layout *l, hwloc_topology_t topo, hwloc_const_cpuset_t usable,
		       bool threads, struct yurt_err *err)
{
	size_t max = (size_t)hwloc_bitmap_weight(usable);
	hwloc_obj_t pu = NULL, package = NULL;

	*l = (struct layout){ .units = calloc(max, sizeof *l->units),
			      .sockets = calloc(max, sizeof *l->sockets) };
	if (!l->units || !l->sockets)
		return no_memory(err);
	/* Logical order keeps a core's PUs, and a package's cores, together. */
	while ((pu = hwloc_get_next_obj_inside_cpuset_by_type(topo, usable, HWLOC_OBJ_PU, pu))) {
		hwloc_obj_t unit = threads ? pu : yurt_topology_core_of(topo, pu);
		if (l->n > 0 && l->units[l->n - 1] == unit)
			continue;
		if (l->nsockets == 0 || package_of(topo, pu) != package) {
			package = package_of(topo, pu);
			l->sockets[l->nsockets++].units = &l->units[l->n];
		}
		l->units[l->n++] = unit;
		l->sockets[l->nsockets - 1].n++;
	}
	return 0;
}

/* From socket s on, the first with a unit left.  When all are taken (only
 * with overcommit), every socket starts over, as Slurm does. */
static unsigned socket_with_room(struct layout *l, unsigned s)
{
	for (unsigned i = 0; i < l->nsockets; i++, s = (s + 1) % l->nsockets)
		if (l->sockets[s].next < l->sockets[s].n)
			return s;
	for (unsigned i = 0; i < l->nsockets; i++)
		l->sockets[i].next = 0;
	return s;
}

/* Slurm's task/affinity layout (_task_layout_lllp_block and _cyclic): picks
 * receives cpt units per task. */
static void lay_out(struct layout *l, enum yurt_distribution dist, unsigned ntasks, unsigned cpt,
		    hwloc_obj_t *picks)
{
	unsigned s = 0;
	for (size_t t = 0; t < ntasks; t++) {
		for (size_t j = 0, k = t * cpt; j < cpt; j++, k++) {
			if (dist == YURT_DIST_BLOCK) {
				picks[k] = l->units[k % l->n];
				continue;
			}
			/* A task that runs out of socket goes on on the next one. */
			s = socket_with_room(l, s);
			picks[k] = l->sockets[s].units[l->sockets[s].next++];
			if (dist == YURT_DIST_FCYCLIC)
				s = (s + 1) % l->nsockets;
		}
		if (dist == YURT_DIST_CYCLIC)
			s = (s + 1) % l->nsockets;
	}
}

/* Widens a task's units to the requested granularity, within usable. */
static int task_cpus(hwloc_topology_t topo, enum yurt_cpu_bind bind, hwloc_const_cpuset_t usable,
		     hwloc_obj_t *units, unsigned n, hwloc_cpuset_t cpus, struct yurt_err *err)
{
	for (unsigned i = 0; i < n; i++) {
		hwloc_obj_t obj = bind == YURT_BIND_SOCKETS ? package_of(topo, units[i]) : units[i];
		if (hwloc_bitmap_or(cpus, cpus, obj->cpuset) < 0)
			return no_memory(err);
	}
	if (bind == YURT_BIND_LDOMS) {
		_cleanup_bitmap_ hwloc_nodeset_t nodes = hwloc_bitmap_alloc();
		if (!nodes || hwloc_cpuset_to_nodeset(topo, cpus, nodes) < 0 ||
		    hwloc_cpuset_from_nodeset(topo, cpus, nodes) < 0)
			return no_memory(err);
	}
	if (hwloc_bitmap_and(cpus, cpus, usable) < 0)
		return no_memory(err);
	return 0;
}

static int plan_layout(hwloc_topology_t topo, hwloc_const_cpuset_t usable,
		       const struct yurt_binding_request *r, struct yurt_binding_plan *plan,
		       struct yurt_err *err)
{
	bool threads = r->bind == YURT_BIND_THREADS;
	__attribute__((cleanup(layout_free))) struct layout l = { 0 };

	if (layout_init(&l, topo, usable, threads, err) < 0)
		return -1;
	uint64_t need = (uint64_t)r->ntasks * r->cpus_per_task;
	if (need > l.n) {
		if (!r->overcommit) {
			_cleanup_free_ char *list = yurt_cpulist_format(usable);
			yurt_fail(err, 0, "%u task%s x %u cpu%s: need %llu %s, only %u allowed (cpus %s)",
				  r->ntasks, r->ntasks == 1 ? "" : "s",
				  r->cpus_per_task, r->cpus_per_task == 1 ? "" : "s",
				  (unsigned long long)need, threads ? "threads" : "cores", l.n,
				  list ? list : "?");
			yurt_err_hint(err, "use fewer tasks or cpus per task, or --overcommit to let tasks share cpus");
			return -1;
		}
		/* As Slurm: narrow the tasks first, then let them share. */
		plan->cpus_per_task = l.n / r->ntasks > 0 ? l.n / r->ntasks : 1;
	}

	_cleanup_free_ hwloc_obj_t *picks = NULL;
	if (r->bind != YURT_BIND_NONE) {
		picks = calloc((size_t)r->ntasks * plan->cpus_per_task, sizeof *picks);
		if (!picks)
			return no_memory(err);
		lay_out(&l, r->dist, r->ntasks, plan->cpus_per_task, picks);
	}
	for (size_t t = 0; t < r->ntasks; t++) {
		hwloc_cpuset_t cpus = plan->tasks[t].cpus = hwloc_bitmap_alloc();
		if (!cpus)
			return no_memory(err);
		if (r->bind == YURT_BIND_NONE) {
			if (hwloc_bitmap_copy(cpus, usable) < 0)
				return no_memory(err);
		} else if (task_cpus(topo, r->bind, usable, &picks[t * plan->cpus_per_task],
				     plan->cpus_per_task, cpus, err) < 0) {
			return -1;
		}
	}
	return 0;
}

static int plan_lists(const struct yurt_binding_request *r, hwloc_const_cpuset_t usable,
		      struct yurt_binding_plan *plan, struct yurt_err *err)
{
	const char *kind = r->bind == YURT_BIND_MAP_CPU ? "map_cpu" : "mask_cpu";

	if (r->ncpu_lists == 0)
		return yurt_fail(err, 0, "--cpu-bind=%s: empty list", kind);
	/* Fewer entries than tasks: Slurm starts the list over. */
	for (unsigned t = 0; t < r->ntasks; t++) {
		hwloc_const_cpuset_t entry = r->cpu_lists[t % r->ncpu_lists];
		if (!hwloc_bitmap_isincluded(entry, usable)) {
			_cleanup_bitmap_ hwloc_cpuset_t outside = hwloc_bitmap_alloc();
			if (!outside || hwloc_bitmap_andnot(outside, entry, usable) < 0)
				return no_memory(err);
			_cleanup_free_ char *bad = yurt_cpulist_format(outside);
			_cleanup_free_ char *ok = yurt_cpulist_format(usable);
			return yurt_fail(err, 0, "--cpu-bind=%s: task %u would get cpus %s, outside the allowed cpus %s",
					 kind, t, bad ? bad : "?", ok ? ok : "?");
		}
		if (!(plan->tasks[t].cpus = hwloc_bitmap_dup(entry)))
			return no_memory(err);
	}
	return 0;
}

/* --mem-bind=local: the allowed NUMA domains local to each task's cpus. */
static int plan_mems(hwloc_topology_t topo, struct yurt_binding_plan *plan, struct yurt_err *err)
{
	for (unsigned t = 0; t < plan->ntasks; t++) {
		struct yurt_task_binding *b = &plan->tasks[t];
		if (!(b->mems = hwloc_bitmap_alloc()) || hwloc_cpuset_to_nodeset(topo, b->cpus, b->mems) < 0 ||
		    hwloc_bitmap_and(b->mems, b->mems, hwloc_topology_get_allowed_nodeset(topo)) < 0)
			return no_memory(err);
		if (hwloc_bitmap_iszero(b->mems)) {
			_cleanup_free_ char *cpus = yurt_cpulist_format(b->cpus);
			return yurt_fail(err, 0, "--mem-bind=local: task %u: no allowed NUMA domain is local to cpus %s",
					 t, cpus ? cpus : "?");
		}
	}
	return 0;
}

int yurt_binding_plan(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
		      const struct yurt_binding_request *r, struct yurt_binding_plan *plan,
		      struct yurt_err *err)
{
	_cleanup_bitmap_ hwloc_cpuset_t usable = hwloc_bitmap_alloc();
	int rc;

	*plan = (struct yurt_binding_plan){ .ntasks = r->ntasks, .cpus_per_task = r->cpus_per_task,
					    .bind_cpus = r->bind != YURT_BIND_NONE, .verbose = r->verbose };
	if (r->ntasks == 0 || r->cpus_per_task == 0)
		return yurt_fail(err, 0, "%u tasks x %u cpus: both must be at least 1",
				 r->ntasks, r->cpus_per_task);
	if (!usable || hwloc_bitmap_and(usable, allowed, hwloc_topology_get_allowed_cpuset(topo)) < 0)
		return no_memory(err);
	if (hwloc_bitmap_iszero(usable)) {
		_cleanup_free_ char *mine = yurt_cpulist_format(allowed);
		_cleanup_free_ char *all = yurt_cpulist_format(hwloc_topology_get_allowed_cpuset(topo));
		return yurt_fail(err, 0, "cpu binding: the allowed cpus %s are not in the topology's %s",
				 mine ? mine : "?", all ? all : "?");
	}
	if (!(plan->tasks = calloc(r->ntasks, sizeof *plan->tasks)))
		return no_memory(err);

	if (r->bind == YURT_BIND_MAP_CPU || r->bind == YURT_BIND_MASK_CPU)
		rc = plan_lists(r, usable, plan, err);
	else
		rc = plan_layout(topo, usable, r, plan, err);
	if (rc == 0 && r->mem_local)
		rc = plan_mems(topo, plan, err);
	if (rc < 0)
		yurt_binding_plan_free(plan);
	return rc;
}

void yurt_binding_plan_free(struct yurt_binding_plan *plan)
{
	for (unsigned t = 0; plan->tasks && t < plan->ntasks; t++) {
		hwloc_bitmap_free(plan->tasks[t].cpus);
		hwloc_bitmap_free(plan->tasks[t].mems);
	}
	free(plan->tasks);
	plan->tasks = NULL;
}

void yurt_binding_plan_print(FILE *out, const struct yurt_binding_plan *plan)
{
	for (unsigned t = 0; t < plan->ntasks; t++) {
		const struct yurt_task_binding *b = &plan->tasks[t];
		_cleanup_free_ char *cpus = yurt_cpulist_format(b->cpus);
		_cleanup_free_ char *mems = b->mems ? yurt_cpulist_format(b->mems) : NULL;
		fprintf(out, "yurt: task %u: cpus %s", t, cpus ? cpus : "?");
		if (b->mems)
			fprintf(out, ", mems %s", mems ? mems : "?");
		fputc('\n', out);
	}
}

/* ---- the edge ---- */

int yurt_binding_apply(hwloc_topology_t topo, const struct yurt_binding_plan *plan,
		       unsigned task, struct yurt_err *err)
{
	const struct yurt_task_binding *b = &plan->tasks[task];

	if (!plan->bind_cpus && !b->mems)
		return 0;
	/* hwloc only pretends to bind when the topology is another machine's. */
	if (!hwloc_topology_is_thissystem(topo)) {
		yurt_fail(err, 0, "task %u: cannot bind: the topology is not this machine's", task);
		yurt_err_hint(err, "unset HWLOC_SYNTHETIC and HWLOC_XMLFILE, or set HWLOC_THISSYSTEM=1 if the XML describes this machine");
		return -1;
	}
	/* The task is a single thread about to exec: what it binds, the
	 * program inherits. */
	if (plan->bind_cpus && hwloc_set_cpubind(topo, b->cpus, HWLOC_CPUBIND_THREAD) < 0) {
		_cleanup_free_ char *cpus = yurt_cpulist_format(b->cpus);
		return yurt_fail(err, errno, "task %u: binding to cpus %s", task, cpus ? cpus : "?");
	}
	if (b->mems && hwloc_set_membind(topo, b->mems, HWLOC_MEMBIND_BIND,
					 HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT) < 0) {
		_cleanup_free_ char *mems = yurt_cpulist_format(b->mems);
		return yurt_fail(err, errno, "task %u: binding memory to NUMA domains %s", task, mems ? mems : "?");
	}
	return 0;
}
