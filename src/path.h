/* Paths inside a root filesystem: resolved as the container would see them,
 * so a symlink in an image can never lead a mount onto a host path. */
#ifndef YURT_PATH_H
#define YURT_PATH_H

#include <stddef.h>

#include "error.h"

/* Resolves the absolute container PATH under the directory ROOT_FD: symlinks
 * are followed with ROOT_FD as "/", ".." stops at the root.  *canonical gets
 * the resolved path (absolute, no symlinks, no "." or ".."); *exists_len the
 * length of its longest prefix that exists (all of it when the path exists).
 * Components past the first missing one are taken literally. */
int yurt_path_resolve(int root_fd, const char *path, char **canonical, size_t *exists_len,
		      struct yurt_err *err);

/* True when PATH is, or is beneath, PREFIX (both canonical, absolute). */
int yurt_path_is_within(const char *path, const char *prefix);

/* Creates the directories of the container PATH beneath ROOT_FD (mkdir -p);
 * when LAST_IS_FILE, the final component is an empty regular file. */
int yurt_path_create(int root_fd, const char *path, int last_is_file, struct yurt_err *err);

#endif
