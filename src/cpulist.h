/* CPU sets as text: the kernel's cpu-list form ("0-3,8,10-11", as in
 * /proc/self/status Cpus_allowed_list and cpuset.cpus) and the hex masks of
 * Slurm's --cpu-bind=mask_cpu.  Numbers are OS indexes; the same list form
 * serves NUMA node sets (cpuset.mems). */
#ifndef YURT_CPULIST_H
#define YURT_CPULIST_H

#include <hwloc.h>

#include "error.h"

/* Larger than any kernel's NR_CPUS; bounds what a typo can allocate. */
#define YURT_CPU_MAX 65535u

/* Frees a bitmap when it goes out of scope. */
static inline void yurt_bitmap_freep(hwloc_bitmap_t *set) { hwloc_bitmap_free(*set); }
#define _cleanup_bitmap_ __attribute__((cleanup(yurt_bitmap_freep)))

/* Parses a cpu list into set (replacing its contents).  "" is the empty set;
 * one trailing newline is accepted, as read from sysfs.  Stride groups
 * ("0-7:2/4") are rejected. */
int yurt_cpulist_parse(hwloc_bitmap_t set, const char *list, struct yurt_err *err);

/* Formats set as a cpu list ("" when empty); malloc'd, NULL with errno set on
 * allocation failure or an infinite set. */
char *yurt_cpulist_format(hwloc_const_bitmap_t set);

/* Parses a hex mask, "0x" prefix optional, bit 0 = cpu 0 (Slurm's mask_cpu). */
int yurt_cpumask_parse(hwloc_bitmap_t set, const char *mask, struct yurt_err *err);

#endif
