#include <stdarg.h>
#include <stdio.h>

#include "log.h"

int yurt_verbosity;

static void emit(const char *kind, const char *fmt, va_list ap)
{
	char line[2048];
	vsnprintf(line, sizeof line, fmt, ap);
	/* One write per line, so lines from parallel yurt processes never interleave. */
	fprintf(stderr, "yurt: %s%s\n", kind, line);
}

void yurt_log(int level, const char *fmt, ...)
{
	if (yurt_verbosity < level)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}

void yurt_warn(const char *fmt, ...)
{
	if (yurt_verbosity < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit("warning: ", fmt, ap);
	va_end(ap);
}
