#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "env.h"
#include "path.h"
#include "lines.h"
#include "log.h"

const char yurt_default_path[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* Kept by --clean-env: the session's identity and terminal, and what MPI
 * launchers and Slurm pass to the job's tasks. */
static const char *const essential_names[] = { "HOME", "USER", "TERM" };
static const char *const essential_prefixes[] = { "SLURM_", "PMI_", "PMIX_", "OMPI_", "HWLOC_" };

/* Length of the name in "NAME=VALUE", or of all of "NAME". */
static size_t name_len(const char *entry)
{
	return strcspn(entry, "=");
}

/* Index of the entry for the first LEN bytes of NAME in the NULL-terminated
 * (or NULL) V, or -1. */
static ssize_t find(char *const *v, const char *name, size_t len)
{
	for (size_t i = 0; v && v[i]; i++)
		if (!strncmp(v[i], name, len) && v[i][len] == '=')
			return i;
	return -1;
}

/* Takes ownership of ENTRY ("NAME=VALUE"), replacing NAME's earlier entry. */
static int put(struct yurt_env *env, char *entry)
{
	ssize_t i = find(env->v, entry, name_len(entry));
	if (i >= 0) {
		free(env->v[i]);
		env->v[i] = entry;
		return 0;
	}
	if (env->n + 1 >= env->cap) {
		size_t cap = env->cap ? 2 * env->cap : 64;
		char **v = realloc(env->v, cap * sizeof *v);
		if (!v) {
			free(entry);
			return -1;
		}
		env->v = v;
		env->cap = cap;
	}
	env->v[env->n++] = entry;
	env->v[env->n] = NULL;
	return 0;
}

static int put_copy(struct yurt_env *env, const char *entry)
{
	char *copy = strdup(entry);
	return copy ? put(env, copy) : -1;
}

int yurt_env_set(struct yurt_env *env, const char *name, const char *value)
{
	char *entry;
	if (asprintf(&entry, "%s=%s", name, value) < 0)
		return -1;
	return put(env, entry);
}

const char *yurt_env_get(const struct yurt_env *env, const char *name)
{
	ssize_t i = find(env->v, name, strlen(name));
	return i < 0 ? NULL : env->v[i] + strlen(name) + 1;
}

static int check_name(const char *name, size_t len, struct yurt_err *err)
{
	const char *why = NULL;
	if (len == 0)
		why = "empty name";
	else if (isdigit((unsigned char)name[0]))
		why = "starts with a digit";
	for (size_t i = 0; !why && i < len; i++)
		if (isspace((unsigned char)name[i]))
			why = "contains whitespace";
	return why ? yurt_fail(err, 0, "invalid variable name '%.*s': %s", (int)len, name, why) : 0;
}

/* "export NAME=VALUE" means NAME=VALUE, as in a shell. */
static const char *skip_export(const char *line)
{
	if (strncmp(line, "export", 6) || (line[6] != ' ' && line[6] != '\t'))
		return line;
	line += 6;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

int yurt_env_set_assignment(struct yurt_env *env, const char *assignment,
			    char *const *host_environ, struct yurt_err *err)
{
	size_t len = name_len(assignment);
	if (check_name(assignment, len, err))
		return -1;
	if (!assignment[len]) {
		ssize_t i = find(host_environ, assignment, len);
		assignment = i < 0 ? NULL : host_environ[i];
	}
	if (assignment && put_copy(env, assignment))
		return yurt_fail(err, errno, "environment");
	return 0;
}

/* An image's line must be a plain NAME=VALUE: there is no host to pass from. */
static int check_image_line(const char *assignment, struct yurt_err *err)
{
	size_t len = name_len(assignment);
	if (!assignment[len])
		return yurt_fail(err, 0, "missing '=': %s", assignment);
	return check_name(assignment, len, err);
}

static int parse(struct yurt_env *env, FILE *f, const char *label, bool from_image,
		 char *const *host_environ, struct yurt_err *err)
{
	struct yurt_lines lines = YURT_LINES_INIT(f, label);
	char *line;
	int rc;
	while ((rc = yurt_lines_next(&lines, &line, err)) > 0) {
		const char *assignment = skip_export(line);
		struct yurt_err bad;
		if (from_image && check_image_line(assignment, &bad)) {
			yurt_warn("%s:%zu: %s; line skipped", label, lines.lineno, bad.msg);
			continue;
		}
		if (yurt_env_set_assignment(env, assignment, host_environ, err)) {
			rc = yurt_err_prefix(err, "%s:%zu", label, lines.lineno);
			break;
		}
	}
	yurt_lines_free(&lines);
	return rc < 0 ? -1 : 0;
}

int yurt_env_parse_file(struct yurt_env *env, FILE *f, const char *label,
			char *const *host_environ, struct yurt_err *err)
{
	return parse(env, f, label, false, host_environ, err);
}

int yurt_env_parse_image_file(struct yurt_env *env, FILE *f, const char *label,
			      struct yurt_err *err)
{
	return parse(env, f, label, true, NULL, err);
}

static int load_image_file(struct yurt_env *env, int root_fd, const char *path,
			   struct yurt_err *err)
{
	char label[64];
	_cleanup_free_ char *canonical = NULL;
	size_t exists;
	snprintf(label, sizeof label, "image env file %s", path);
	/* Resolved inside the image, so that no symlink can point at a host file. */
	if (yurt_path_resolve(root_fd, path, &canonical, &exists, err))
		return err->errnum == ENOTDIR ? 0 : yurt_err_prefix(err, "%s", label);
	if (canonical[exists] != '\0')
		return 0;
	/* O_NONBLOCK: a FIFO planted in the image must not hang the launch. */
	_cleanup_close_ int fd = openat(root_fd, canonical + 1, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return yurt_fail(err, errno, "%s", label);
	struct stat st;
	if (fstat(fd, &st))
		return yurt_fail(err, errno, "%s", label);
	if (!S_ISREG(st.st_mode))
		return yurt_fail(err, 0, "%s: not a regular file", label);
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	if (!f)
		return yurt_fail(err, errno, "%s", label);
	yurt_steal_fd(fd);
	return yurt_env_parse_image_file(env, f, label, err);
}

int yurt_env_load_image(struct yurt_env *env, int root_fd, struct yurt_err *err)
{
	return load_image_file(env, root_fd, "/ch/environment", err) ||
	       load_image_file(env, root_fd, "/.yurt/env", err) ? -1 : 0;
}

static bool essential(const char *entry)
{
	size_t len = name_len(entry);
	for (size_t i = 0; i < sizeof essential_names / sizeof *essential_names; i++)
		if (strlen(essential_names[i]) == len && !strncmp(entry, essential_names[i], len))
			return true;
	for (size_t i = 0; i < sizeof essential_prefixes / sizeof *essential_prefixes; i++)
		if (!strncmp(entry, essential_prefixes[i], strlen(essential_prefixes[i])))
			return true;
	return false;
}

static int apply_env_file(struct yurt_env *env, const char *path, char *const *host_environ,
			  struct yurt_err *err)
{
	_cleanup_free_ char *label = NULL;
	if (asprintf(&label, "env file %s", path) < 0)
		return yurt_fail(err, ENOMEM, "env file %s", path);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return yurt_fail(err, errno, "%s", label);
	return yurt_env_parse_file(env, f, label, host_environ, err);
}

int yurt_env_user(struct yurt_env *user, char *const *host_environ,
		  const struct yurt_request *req, struct yurt_err *err)
{
	*user = (struct yurt_env){ 0 };
	for (size_t i = 0; i < req->env_files.n; i++)
		if (apply_env_file(user, req->env_files.v[i], host_environ, err))
			goto fail;
	/* Values are left out of messages: they may be secrets. */
	for (size_t i = 0; i < req->env_sets.n; i++)
		if (yurt_env_set_assignment(user, req->env_sets.v[i], host_environ, err)) {
			yurt_err_prefix(err, "-e");
			goto fail;
		}
	return 0;
fail:
	yurt_env_free(user);
	return -1;
}

static int put_all(struct yurt_env *env, const struct yurt_env *from, struct yurt_err *err)
{
	for (size_t i = 0; from && i < from->n; i++)
		if (put_copy(env, from->v[i]))
			return yurt_fail(err, errno, "environment");
	return 0;
}

static int build(struct yurt_env *env, char *const *host_environ, const struct yurt_env *image_env,
		 const struct yurt_env *user_env, bool clean_env, struct yurt_err *err)
{
	for (char *const *e = host_environ; e && *e; e++)
		if (strchr(*e, '=') && (!clean_env || essential(*e)) && put_copy(env, *e))
			return yurt_fail(err, errno, "environment");
	if (put_all(env, image_env, err))
		return -1;
	if (!yurt_env_get(env, "PATH") && yurt_env_set(env, "PATH", yurt_default_path))
		return yurt_fail(err, errno, "environment");
	return put_all(env, user_env, err);
}

int yurt_env_build(struct yurt_env *out, char *const *host_environ,
		   const struct yurt_env *image_env, const struct yurt_env *user_env,
		   bool clean_env, struct yurt_err *err)
{
	*out = (struct yurt_env){ 0 };
	if (build(out, host_environ, image_env, user_env, clean_env, err)) {
		yurt_env_free(out);
		return -1;
	}
	return 0;
}

void yurt_env_free(struct yurt_env *env)
{
	for (size_t i = 0; i < env->n; i++)
		free(env->v[i]);
	free(env->v);
	*env = (struct yurt_env){ 0 };
}
