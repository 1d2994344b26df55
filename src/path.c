#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "path.h"

/* The kernel's own limit on symlinks followed in one lookup. */
#define MAX_SYMLINKS 40

/* Canonical path under construction: "/a/b" ("" stands for "/"). */
struct canon {
	char buf[PATH_MAX];
	size_t len;
};

static int canon_push(struct canon *c, const char *name, size_t n)
{
	if (c->len + 1 + n >= sizeof c->buf)
		return -1;
	c->buf[c->len++] = '/';
	memcpy(c->buf + c->len, name, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return 0;
}

static void canon_pop(struct canon *c)
{
	while (c->len > 0 && c->buf[c->len - 1] != '/')
		c->len--;
	if (c->len > 0)
		c->len--;
	c->buf[c->len] = '\0';
}

/* The canonical path relative to the root fd, for *at() calls. */
static const char *canon_rel(const struct canon *c)
{
	return c->len ? c->buf + 1 : ".";
}

int yurt_path_resolve(int root_fd, const char *path, char **canonical, size_t *exists_len,
		      struct yurt_err *err)
{
	struct canon c = { .len = 0 };
	/* Remaining components; a symlink's target is spliced in front of the rest. */
	_cleanup_free_ char *todo = strdup(path);
	size_t exists = SIZE_MAX;
	int links = 0;

	if (!todo)
		return yurt_fail(err, ENOMEM, "resolve %s", path);
	c.buf[0] = '\0';
	char *rest = todo;
	while (*rest) {
		char *slash = strchr(rest, '/');
		size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
		char *name = rest;
		rest = slash ? slash + 1 : rest + n;
		if (n == 0 || (n == 1 && name[0] == '.'))
			continue;
		if (n == 2 && name[0] == '.' && name[1] == '.') {
			canon_pop(&c);
			if (exists != SIZE_MAX && c.len <= exists)
				exists = SIZE_MAX;
			continue;
		}
		if (canon_push(&c, name, n))
			return yurt_fail(err, ENAMETOOLONG, "resolve %s", path);
		if (exists != SIZE_MAX)
			continue;
		struct stat st;
		if (fstatat(root_fd, canon_rel(&c), &st, AT_SYMLINK_NOFOLLOW)) {
			if (errno != ENOENT)
				return yurt_fail(err, errno, "resolve %s: %s", path, c.buf);
			canon_pop(&c);
			exists = c.len;
			canon_push(&c, name, n);
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			if (++links > MAX_SYMLINKS)
				return yurt_fail(err, ELOOP, "resolve %s", path);
			ssize_t len = readlinkat(root_fd, canon_rel(&c), target, sizeof target - 1);
			if (len < 0)
				return yurt_fail(err, errno, "resolve %s: readlink %s", path, c.buf);
			target[len] = '\0';
			canon_pop(&c);
			if (target[0] == '/')
				c.len = 0, c.buf[0] = '\0';
			char *spliced;
			if (asprintf(&spliced, "%s/%s", target, rest) < 0)
				return yurt_fail(err, ENOMEM, "resolve %s", path);
			free(todo);
			todo = rest = spliced;
			continue;
		}
		if (!S_ISDIR(st.st_mode) && *rest)
			return yurt_fail(err, ENOTDIR, "resolve %s: %s", path, c.buf);
	}
	if (!(*canonical = strdup(c.len ? c.buf : "/")))
		return yurt_fail(err, ENOMEM, "resolve %s", path);
	*exists_len = exists == SIZE_MAX ? strlen(*canonical) : exists;
	return 0;
}

int yurt_path_is_within(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (n == 1 && prefix[0] == '/')
		return 1;
	return !strncmp(path, prefix, n) && (path[n] == '\0' || path[n] == '/');
}

int yurt_path_create(int root_fd, const char *path, int last_is_file, struct yurt_err *err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return yurt_fail(err, ENOMEM, "create %s", path);
	for (char *p = copy + 1; p && *p; ) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		bool last = !slash || !slash[1];
		const char *rel = copy + 1;
		if (last && last_is_file) {
			int fd = openat(root_fd, rel, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd < 0)
				return yurt_fail(err, errno, "create %s", copy);
			close(fd);
		} else if (mkdirat(root_fd, rel, 0755) && errno != EEXIST) {
			return yurt_fail(err, errno, "mkdir %s", copy);
		}
		if (slash)
			*slash = '/';
		p = slash ? slash + 1 : NULL;
	}
	return 0;
}
