#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

void yurt_request_init(struct yurt_request *req)
{
	memset(req, 0, sizeof *req);
	yurt_binding_request_init(&req->binding);
}

void yurt_bind_free(struct yurt_bind *bind)
{
	free(bind->src);
	free(bind->dst);
	bind->src = bind->dst = NULL;
}

void yurt_request_free(struct yurt_request *req)
{
	for (size_t i = 0; i < req->nbinds; i++)
		yurt_bind_free(&req->binds[i]);
	free(req->binds);
	free(req->image);
	free(req->workdir);
	yurt_strv_free(&req->env_sets);
	yurt_strv_free(&req->env_files);
	yurt_binding_request_free(&req->binding);
	yurt_request_init(req);
}

int yurt_strv_push(struct yurt_strv *sv, const char *s)
{
	char **v = realloc(sv->v, (sv->n + 2) * sizeof *v);
	if (!v)
		return -1;
	sv->v = v;
	if (!(v[sv->n] = strdup(s)))
		return -1;
	v[++sv->n] = NULL;
	return 0;
}

void yurt_strv_free(struct yurt_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/* Joins cwd and a relative path; absolute paths are copied. */
static char *absolute_path(const char *path, const char *cwd)
{
	char *out;
	if (path[0] == '/')
		return strdup(path);
	if (asprintf(&out, "%s/%s", strcmp(cwd, "/") ? cwd : "", path) < 0)
		return NULL;
	return out;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

int yurt_bind_parse(struct yurt_bind *bind, const char *spec, const char *cwd, struct yurt_err *err)
{
	char *copy = strdup(spec);
	if (!copy)
		return yurt_fail(err, ENOMEM, "bind %s", spec);
	char *src = copy, *dst = NULL, *mode = NULL;
	char *colon = strchr(src, ':');
	if (colon) {
		*colon = '\0';
		dst = colon + 1;
		if ((colon = strchr(dst, ':'))) {
			*colon = '\0';
			mode = colon + 1;
		}
	}
	int rc = -1;
	memset(bind, 0, sizeof *bind);
	if (!*src)
		yurt_fail(err, 0, "bind '%s': empty source", spec);
	else if (dst && !*dst)
		yurt_fail(err, 0, "bind '%s': empty destination", spec);
	else if (dst && dst[0] != '/')
		yurt_fail(err, 0, "bind '%s': destination must be an absolute path", spec);
	else if (dst && has_dotdot(dst))
		yurt_fail(err, 0, "bind '%s': '..' is not allowed in a destination", spec);
	else if (mode && strcmp(mode, "ro") && strcmp(mode, "rw"))
		yurt_fail(err, 0, "bind '%s': mode must be ro or rw, not '%s'", spec, mode);
	else if (!(bind->src = absolute_path(src, cwd)) || !(bind->dst = strdup(dst ? dst : bind->src)))
		yurt_fail(err, ENOMEM, "bind %s", spec);
	else {
		if (!dst && has_dotdot(bind->dst))
			yurt_fail(err, 0, "bind '%s': '..' is not allowed in a destination", spec);
		else {
			bind->readonly = mode && !strcmp(mode, "ro");
			rc = 0;
		}
	}
	if (rc)
		yurt_bind_free(bind);
	free(copy);
	return rc;
}

int yurt_request_add_bind(struct yurt_request *req, const char *spec, const char *cwd, struct yurt_err *err)
{
	struct yurt_bind bind;
	if (yurt_bind_parse(&bind, spec, cwd, err))
		return -1;
	struct yurt_bind *binds = realloc(req->binds, (req->nbinds + 1) * sizeof *binds);
	if (!binds) {
		yurt_bind_free(&bind);
		return yurt_fail(err, ENOMEM, "bind %s", spec);
	}
	req->binds = binds;
	req->binds[req->nbinds++] = bind;
	return 0;
}
