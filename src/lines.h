/* Reading line-oriented text files (env files, the site configuration):
 * one place decides what a line, a comment and a line number are. */
#ifndef YURT_LINES_H
#define YURT_LINES_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

struct yurt_lines {
	FILE *f;
	const char *label;  /* names the file in messages, e.g. "env file /x/y" */
	size_t lineno;      /* of the line last returned */
	char *buf;
	size_t size;
};

#define YURT_LINES_INIT(file, what) ((struct yurt_lines){ .f = (file), .label = (what) })

/* Gets the next line that is neither blank nor a comment ('#' after optional
 * whitespace), without its leading whitespace and its "\n" or "\r\n".  Lines
 * may be of any length; the last one needs no newline.  Returns 1 with *line
 * set (valid until the next call), 0 at the end, -1 on a read error or a NUL
 * byte, with "LABEL:N: ..." in err. */
int yurt_lines_next(struct yurt_lines *lines, char **line, struct yurt_err *err);
void yurt_lines_free(struct yurt_lines *lines);

#endif
