/* The container's environment: host, image, --env-file and -e, later wins.
 *
 * Env file syntax (--env-file, /.yurt/env, /ch/environment), as Docker's:
 *   - one NAME=VALUE per line, split at the first '='; the value is the rest
 *     of the line verbatim: no quote removal, no escapes, no $expansion, no
 *     trailing comments, trailing whitespace kept;
 *   - leading whitespace is skipped; blank lines and lines whose first
 *     non-blank character is '#' are ignored; "\r\n" endings are accepted;
 *   - "export NAME=VALUE" is read as NAME=VALUE, so a file can also be sourced
 *     by a shell (mind the quotes, which yurt keeps);
 *   - a line "NAME" without '=' passes the host's NAME through (nothing when
 *     the host has none), as -e NAME does;
 *   - a name must be non-empty and must neither start with a digit nor
 *     contain whitespace ("FOO = bar" is a mistake worth reporting).
 * In the user's files and in -e, a bad name is an error.  In the image's
 * files, bad lines and NAME-only lines are skipped with a warning: an image is
 * not the user's to fix, and a broken line must not stop the job. */
#ifndef YURT_ENV_H
#define YURT_ENV_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "request.h"

/* "/usr/local/sbin:...:/bin", the PATH when neither host nor image sets one. */
extern const char yurt_default_path[];

/* "NAME=VALUE" strings, each name once; v is NULL or NULL-terminated, ready
 * for execve.  A zeroed struct is an empty environment. */
struct yurt_env {
	char **v;
	size_t n, cap;
};

/* Sets NAME to VALUE, replacing an earlier value.  -1 with errno on failure. */
int yurt_env_set(struct yurt_env *env, const char *name, const char *value);
/* The value of NAME, or NULL. */
const char *yurt_env_get(const struct yurt_env *env, const char *name);

/* Applies "NAME=VALUE", or "NAME" (HOST_ENVIRON's value, if any; HOST_ENVIRON
 * may be NULL).  A bad name is an error: "invalid variable name 'X': WHY". */
int yurt_env_set_assignment(struct yurt_env *env, const char *assignment,
			    char *const *host_environ, struct yurt_err *err);

/* Applies a user's env file, read from F; LABEL names it in messages
 * ("env file /x/y" gives "env file /x/y:3: invalid variable name ..."). */
int yurt_env_parse_file(struct yurt_env *env, FILE *f, const char *label,
			char *const *host_environ, struct yurt_err *err);
/* Applies an image's env file: bad lines are warned about and skipped. */
int yurt_env_parse_image_file(struct yurt_env *env, FILE *f, const char *label,
			      struct yurt_err *err);

/* Reads the image's environment from /ch/environment (Charliecloud's) then
 * /.yurt/env (yurt's, so it wins) of the image whose root directory is
 * ROOT_FD, resolving the paths inside the image.  Absent files are no error. */
int yurt_env_load_image(struct yurt_env *env, int root_fd, struct yurt_err *err);

/* Reads what the user asks for into USER (empty on entry): each of
 * req->env_files (relative to the current directory), then each of
 * req->env_sets (-e), later wins.  Called before any namespace is entered,
 * so that errors come early and paths mean what they mean on the host. */
int yurt_env_user(struct yurt_env *user, char *const *host_environ,
		  const struct yurt_request *req, struct yurt_err *err);

/* Builds the command's environment into OUT (empty on entry), in this order,
 * later wins:
 *   1. HOST_ENVIRON, all of it; or with CLEAN_ENV only HOME, USER, TERM and
 *      every SLURM_*, PMI_*, PMIX_*, OMPI_* and HWLOC_* variable;
 *   2. IMAGE_ENV (may be NULL), so the image's PATH replaces the host's;
 *      PATH is then yurt_default_path when still unset;
 *   3. USER_ENV (may be NULL), from yurt_env_user. */
int yurt_env_build(struct yurt_env *out, char *const *host_environ,
		   const struct yurt_env *image_env, const struct yurt_env *user_env,
		   bool clean_env, struct yurt_err *err);

void yurt_env_free(struct yurt_env *env);

#endif
