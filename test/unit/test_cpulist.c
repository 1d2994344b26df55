#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cleanup.h"
#include "cpulist.h"

static struct yurt_err err;

/* Parses list, formats the result back. */
static char *roundtrip(const char *list)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	cr_assert_eq(yurt_cpulist_parse(set, list, &err), 0, "\"%s\": %s", list, err.msg);
	char *s = yurt_cpulist_format(set);
	cr_assert_not_null(s);
	return s;
}

static void expect_bad_list(const char *list, const char *why)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	cr_assert_eq(yurt_cpulist_parse(set, list, &err), -1, "\"%s\" was accepted", list);
	cr_assert(strstr(err.msg, why), "\"%s\": got \"%s\", want \"%s\"", list, err.msg, why);
}

static char *mask(const char *hex)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	cr_assert_eq(yurt_cpumask_parse(set, hex, &err), 0, "\"%s\": %s", hex, err.msg);
	char *s = yurt_cpulist_format(set);
	cr_assert_not_null(s);
	return s;
}

static void expect_bad_mask(const char *hex, const char *why)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	cr_assert_eq(yurt_cpumask_parse(set, hex, &err), -1, "\"%s\" was accepted", hex);
	cr_assert(strstr(err.msg, why), "\"%s\": got \"%s\", want \"%s\"", hex, err.msg, why);
}

#define cr_assert_list(got, want) do { \
	_cleanup_free_ char *_g = (got); \
	cr_assert_str_eq(_g, (want)); \
} while (0)

Test(cpulist, kernel_forms_round_trip)
{
	const char *forms[] = { "0", "3", "0-1", "0-1,8-9", "0,2,4", "0-2,4", "4-11,68-75", "65535", "" };
	for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
		cr_assert_list(roundtrip(forms[i]), forms[i]);
}

Test(cpulist, parse_normalises)
{
	cr_assert_list(roundtrip("5-5"), "5");
	cr_assert_list(roundtrip("3,1,2"), "1-3");
	cr_assert_list(roundtrip("0-3,2-5"), "0-5");
	cr_assert_list(roundtrip("0-3\n"), "0-3");      /* as read from sysfs */
	cr_assert_list(roundtrip("\n"), "");
}

Test(cpulist, parse_replaces_contents)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	hwloc_bitmap_set_range(set, 0, 99);
	cr_assert_eq(yurt_cpulist_parse(set, "7", &err), 0);
	cr_assert_eq(hwloc_bitmap_weight(set), 1);
	cr_assert(hwloc_bitmap_isset(set, 7));
}

Test(cpulist, bad_lists)
{
	expect_bad_list("1-", "range \"1-\" has no end");
	expect_bad_list("0,4-", "range \"4-\" has no end");
	expect_bad_list("a", "\"a\" is not a cpu number or range");
	expect_bad_list("-1", "\"-1\" is not a cpu number or range");
	expect_bad_list("1-a", "\"1-a\" is not a cpu number or range");
	expect_bad_list("1-2-3", "\"1-2-3\" is not a cpu number or range");
	expect_bad_list(" 1", "\" 1\" is not a cpu number or range");
	expect_bad_list("1 ", "\"1 \" is not a cpu number or range");
	expect_bad_list("0x3", "\"0x3\" is not a cpu number or range");
	expect_bad_list("+1", "\"+1\" is not a cpu number or range");
	expect_bad_list("5-3", "range \"5-3\" ends before it starts");
	expect_bad_list("99999999999", "\"99999999999\" is beyond the largest cpu number 65535");
	expect_bad_list("0-99999999999999999999999", "is beyond the largest cpu number");
	expect_bad_list("65536", "beyond the largest cpu number 65535");
	expect_bad_list("0-7:2/4", "stride form \"0-7:2/4\" is not supported");
	expect_bad_list("0,,1", "empty element");
	expect_bad_list("0,", "empty element");
	expect_bad_list(",0", "empty element");
	expect_bad_list("0\n\n", "not a cpu number");
	/* The whole list leads the message. */
	cr_assert_str_eq(err.msg, "cpu list \"0\n\": \"0\n\" is not a cpu number or range");
}

Test(cpulist, bad_list_message_names_list_and_element)
{
	expect_bad_list("0-3,5-3", "");
	cr_assert_str_eq(err.msg, "cpu list \"0-3,5-3\": range \"5-3\" ends before it starts");
}

Test(cpulist, format_empty_and_infinite)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	cr_assert_list(yurt_cpulist_format(set), "");
	hwloc_bitmap_fill(set);
	errno = 0;
	cr_assert_null(yurt_cpulist_format(set));
	cr_assert_eq(errno, EINVAL);
}

Test(cpulist, hex_masks)
{
	cr_assert_list(mask("0x3"), "0-1");
	cr_assert_list(mask("3"), "0-1");
	cr_assert_list(mask("0XfF"), "0-7");
	cr_assert_list(mask("C"), "2-3");
	cr_assert_list(mask("0x00000001"), "0");
	cr_assert_list(mask("0x0"), "");
	cr_assert_list(mask("0x10000000000000000"), "64");
	cr_assert_list(mask("f0f"), "0-3,8-11");
}

Test(cpulist, hex_mask_long_leading_zeros)
{
	char hex[20003] = "0x";
	memset(hex + 2, '0', 20000);
	hex[20001] = '5';
	cr_assert_list(mask(hex), "0,2");
}

Test(cpulist, bad_hex_masks)
{
	expect_bad_mask("", "cpu mask \"\": no hex digits");
	expect_bad_mask("0x", "cpu mask \"0x\": no hex digits");
	expect_bad_mask("xyz", "'z' is not a hex digit");
	expect_bad_mask("0x3g", "cpu mask \"0x3g\": 'g' is not a hex digit");
	expect_bad_mask("-1", "'-' is not a hex digit");

	/* bit 65536 */
	char hex[16386] = "1";
	memset(hex + 1, '0', 16384);
	expect_bad_mask(hex, "sets cpu 65536, beyond the largest cpu number 65535");
}

Test(cpulist, long_lists_are_cut_in_messages)
{
	char list[400] = "";
	for (int i = 0; i < 100; i++)
		strcat(list, "1,");
	strcat(list, "x");
	expect_bad_list(list, "");
	cr_assert_str_eq(err.msg, "cpu list \"1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,...\": "
			 "\"x\" is not a cpu number or range");
}
