#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpulist.h"

/* Error messages quote at most this much of the input, so that the reason
 * after it fits. */
#define QUOTE_MAX 64

static int quote_len(size_t len)
{
	return (int)(len > QUOTE_MAX ? QUOTE_MAX : len);
}

static const char *quote_cut(size_t len)
{
	return len > QUOTE_MAX ? "..." : "";
}

/* "WHAT \"INPUT\": WHY", the input cut to QUOTE_MAX. */
static int bad_input(struct yurt_err *err, const char *what, const char *input, size_t len,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int bad_input(struct yurt_err *err, const char *what, const char *input, size_t len,
		     const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return yurt_fail(err, 0, "%s \"%.*s%s\": %s", what, quote_len(len), input, quote_cut(len), why);
}

#define bad_list(err, list, len, ...) bad_input(err, "cpu list", list, len, __VA_ARGS__)
#define bad_mask(err, mask, ...) bad_input(err, "cpu mask", mask, strlen(mask), __VA_ARGS__)

static const char *skip_digits(const char *s)
{
	while (isdigit((unsigned char)*s))
		s++;
	return s;
}

/* Reads the decimal number in [s, end); false when it exceeds YURT_CPU_MAX. */
static bool read_cpu(const char *s, const char *end, unsigned *cpu)
{
	unsigned long v = 0;
	for (; s < end; s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > YURT_CPU_MAX)
			return false;
	}
	*cpu = (unsigned)v;
	return true;
}

/* One element, "N" or "N-M", in [elem, end). */
static int parse_element(hwloc_bitmap_t set, const char *elem, const char *end,
			 const char *list, size_t len, struct yurt_err *err)
{
	int n = (int)(end - elem);
	const char *first_end = skip_digits(elem), *last = elem, *last_end = first_end;
	unsigned lo, hi;

	if (n == 0)
		return bad_list(err, list, len, "empty element");
	if (memchr(elem, ':', (size_t)n))
		return bad_list(err, list, len, "stride form \"%.*s\" is not supported", n, elem);
	if (first_end == elem)
		return bad_list(err, list, len, "\"%.*s\" is not a cpu number or range", n, elem);
	if (*first_end == '-') {
		last = first_end + 1;
		last_end = skip_digits(last);
		if (last == end)
			return bad_list(err, list, len, "range \"%.*s\" has no end", n, elem);
	}
	if (last_end != end)
		return bad_list(err, list, len, "\"%.*s\" is not a cpu number or range", n, elem);
	if (!read_cpu(elem, first_end, &lo) || !read_cpu(last, last_end, &hi))
		return bad_list(err, list, len, "\"%.*s\" is beyond the largest cpu number %u",
				n, elem, YURT_CPU_MAX);
	if (hi < lo)
		return bad_list(err, list, len, "range \"%.*s\" ends before it starts", n, elem);
	if (hwloc_bitmap_set_range(set, lo, hi) < 0)
		return yurt_fail(err, errno, "cpu list");
	return 0;
}

int yurt_cpulist_parse(hwloc_bitmap_t set, const char *list, struct yurt_err *err)
{
	size_t len = strlen(list);
	if (len > 0 && list[len - 1] == '\n')
		len--;

	hwloc_bitmap_zero(set);
	if (len == 0)
		return 0;
	for (const char *p = list, *end = list + len;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		if (parse_element(set, p, comma ? comma : end, list, len, err) < 0)
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

char *yurt_cpulist_format(hwloc_const_bitmap_t set)
{
	char *s;
	/* hwloc writes an infinite set as "N-", which no kernel interface takes. */
	if (hwloc_bitmap_weight(set) < 0) {
		errno = EINVAL;
		return NULL;
	}
	/* For finite sets hwloc's list form is the kernel's: "0-1,8-9", "3", "". */
	if (hwloc_bitmap_list_asprintf(&s, set) < 0)
		return NULL;
	return s;
}

int yurt_cpumask_parse(hwloc_bitmap_t set, const char *mask, struct yurt_err *err)
{
	const char *digits = mask;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		digits += 2;
	size_t n = strlen(digits);
	if (n == 0)
		return bad_mask(err, mask, "no hex digits");

	hwloc_bitmap_zero(set);
	/* The last digit holds cpus 0-3. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)digits[n - 1 - i];
		if (!isxdigit(c))
			return bad_mask(err, mask, "'%c' is not a hex digit", c);
		unsigned v = (unsigned)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
		for (unsigned bit = 0; bit < 4; bit++) {
			size_t cpu = 4 * i + bit;
			if (!(v & (1u << bit)))
				continue;
			if (cpu > YURT_CPU_MAX)
				return bad_mask(err, mask, "sets cpu %zu, beyond the largest cpu number %u",
						cpu, YURT_CPU_MAX);
			if (hwloc_bitmap_set(set, (unsigned)cpu) < 0)
				return yurt_fail(err, errno, "cpu mask");
		}
	}
	return 0;
}
