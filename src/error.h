/* Errors as values: a failing function fills a struct yurt_err and returns -1;
 * callers may prefix context on the way up and only the top level prints it,
 * as one line: "yurt: error: WHAT: WHY (hint: ...)". */
#ifndef YURT_ERROR_H
#define YURT_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* Exit statuses of the launcher itself. */
enum {
	YURT_EXIT_LAUNCH = 125,        /* yurt could not set up the container */
	YURT_EXIT_NOT_EXECUTABLE = 126,
	YURT_EXIT_NOT_FOUND = 127,
};

struct yurt_err {
	int errnum;          /* errno of the failure, 0 when none applies */
	int status;          /* exit status this error maps to */
	char msg[1024];      /* "WHAT: WHY" without the errno text */
	char hint[512];
};

/* Records a failure and returns -1; errnum may be 0. */
int yurt_fail(struct yurt_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, with an explicit exit status (126, 127...). */
int yurt_fail_status(struct yurt_err *err, int status, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Adds "CONTEXT: " in front of the message; returns -1 for tail calls. */
int yurt_err_prefix(struct yurt_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void yurt_err_hint(struct yurt_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Formats the full one-line message (without "yurt: error: ") into buf. */
const char *yurt_err_text(const struct yurt_err *err, char *buf, size_t size);
/* Prints "yurt: error: ..." on stderr. */
void yurt_err_print(const struct yurt_err *err);

#endif
