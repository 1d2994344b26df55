#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

int yurt_lines_next(struct yurt_lines *lines, char **line, struct yurt_err *err)
{
	ssize_t n;
	errno = 0;
	while ((n = getline(&lines->buf, &lines->size, lines->f)) >= 0) {
		char *s = lines->buf;
		lines->lineno++;
		/* getline counts bytes past a NUL that C strings would silently drop. */
		if (strlen(s) != (size_t)n)
			return yurt_fail(err, 0, "%s:%zu: contains a NUL byte", lines->label,
					 lines->lineno);
		if (n > 0 && s[n - 1] == '\n')
			s[--n] = '\0';
		if (n > 0 && s[n - 1] == '\r')
			s[--n] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (*s && *s != '#') {
			*line = s;
			return 1;
		}
	}
	if (ferror(lines->f) || errno == ENOMEM)
		return yurt_fail(err, errno, "%s:%zu", lines->label, lines->lineno + 1);
	return 0;
}

void yurt_lines_free(struct yurt_lines *lines)
{
	free(lines->buf);
	lines->buf = NULL;
	lines->size = 0;
}
