#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static void set_msg(struct yurt_err *err, int status, int errnum, const char *fmt, va_list ap)
{
	err->errnum = errnum;
	err->status = status;
	err->hint[0] = '\0';
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int yurt_fail(struct yurt_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_msg(err, YURT_EXIT_LAUNCH, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int yurt_fail_status(struct yurt_err *err, int status, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_msg(err, status, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int yurt_err_prefix(struct yurt_err *err, const char *fmt, ...)
{
	char prefix[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	size_t plen = strlen(prefix) + 2, mlen = strlen(err->msg) + 1;
	if (plen + mlen > sizeof err->msg)
		mlen = sizeof err->msg - plen;
	memmove(err->msg + plen, err->msg, mlen);
	err->msg[sizeof err->msg - 1] = '\0';
	memcpy(err->msg, prefix, plen - 2);
	memcpy(err->msg + plen - 2, ": ", 2);
	return -1;
}

void yurt_err_hint(struct yurt_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof err->hint, fmt, ap);
	va_end(ap);
}

const char *yurt_err_text(const struct yurt_err *err, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s", err->msg);
	if (err->errnum && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, ": %s", strerror(err->errnum));
	if (err->hint[0] && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - n, " (hint: %s)", err->hint);
	return buf;
}

void yurt_err_print(const struct yurt_err *err)
{
	char buf[2048];
	fprintf(stderr, "yurt: error: %s\n", yurt_err_text(err, buf, sizeof buf));
}
