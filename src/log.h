/* Progress messages on stderr, gated by the verbosity the CLI sets. */
#ifndef YURT_LOG_H
#define YURT_LOG_H

/* -1 quiet, 0 default (errors and warnings), 1 setup steps, 2 and more: details. */
extern int yurt_verbosity;

void yurt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void yurt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define yurt_verbose(...) yurt_log(1, __VA_ARGS__)
#define yurt_debug(...) yurt_log(2, __VA_ARGS__)

#endif
