#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "lines.h"
#include "path.h"
#include "siteconf.h"

void yurt_siteconf_init(struct yurt_siteconf *site)
{
	*site = (struct yurt_siteconf){ .home = true };
}

void yurt_siteconf_free(struct yurt_siteconf *site)
{
	for (size_t i = 0; i < site->nbinds; i++)
		yurt_bind_free(&site->binds[i].bind);
	free(site->binds);
	yurt_strv_free(&site->allow_images);
	yurt_siteconf_init(site);
}

static int add_bind(struct yurt_siteconf *site, const char *spec, bool if_exists,
		    struct yurt_err *err)
{
	/* No current directory applies to a site file: relative sources would
	 * depend on where each user happens to start yurt. */
	if (spec[0] != '/')
		return yurt_fail(err, 0, "bind '%s': source must be an absolute path", spec);
	struct yurt_bind bind;
	if (yurt_bind_parse(&bind, spec, "/", err))
		return -1;
	struct yurt_site_bind *binds = realloc(site->binds, (site->nbinds + 1) * sizeof *binds);
	if (!binds) {
		yurt_bind_free(&bind);
		return yurt_fail(err, ENOMEM, "bind %s", spec);
	}
	site->binds = binds;
	site->binds[site->nbinds++] = (struct yurt_site_bind){ .bind = bind, .if_exists = if_exists };
	return 0;
}

static int set_max_tasks(struct yurt_siteconf *site, const char *value, struct yurt_err *err)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(value, &end, 10);
	/* strtoul would take "-1" as ULONG_MAX, and " 5" or "5x" as 5. */
	if (!isdigit((unsigned char)value[0]) || *end || errno || n == 0)
		return yurt_fail(err, 0, "max-tasks: expected a positive integer, not '%s'", value);
	site->max_tasks = n;
	return 0;
}

static int add_allowed_images(struct yurt_siteconf *site, const char *value, struct yurt_err *err)
{
	_cleanup_free_ char *copy = strdup(value);
	if (!copy)
		return yurt_fail(err, ENOMEM, "allow-images");
	char *rest = copy, *prefix;
	while ((prefix = strsep(&rest, ":"))) {
		if (prefix[0] != '/')
			return yurt_fail(err, 0, "allow-images: '%s' is not an absolute path", prefix);
		/* "/images/" means "/images": prefixes are compared as canonical paths. */
		for (size_t n = strlen(prefix); n > 1 && prefix[n - 1] == '/'; n--)
			prefix[n - 1] = '\0';
		if (yurt_strv_push(&site->allow_images, prefix))
			return yurt_fail(err, ENOMEM, "allow-images");
	}
	return 0;
}

static int set_home(struct yurt_siteconf *site, const char *value, struct yurt_err *err)
{
	if (strcmp(value, "yes") && strcmp(value, "no"))
		return yurt_fail(err, 0, "home: expected yes or no, not '%s'", value);
	site->home = !strcmp(value, "yes");
	return 0;
}

static char *trim_end(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* LINE is "key = value", without leading whitespace. */
static int parse_line(struct yurt_siteconf *site, char *line, struct yurt_err *err)
{
	char *eq = strchr(line, '=');
	if (!eq)
		return yurt_fail(err, 0, "missing '=': %s", trim_end(line));
	*eq = '\0';
	char *key = trim_end(line), *value = eq + 1;
	while (isspace((unsigned char)*value))
		value++;
	trim_end(value);
	if (!*value)
		return yurt_fail(err, 0, "%s: empty value", key);
	if (!strcmp(key, "bind"))
		return add_bind(site, value, false, err);
	if (!strcmp(key, "bind-if-exists"))
		return add_bind(site, value, true, err);
	if (!strcmp(key, "max-tasks"))
		return set_max_tasks(site, value, err);
	if (!strcmp(key, "allow-images"))
		return add_allowed_images(site, value, err);
	if (!strcmp(key, "home"))
		return set_home(site, value, err);
	return yurt_fail(err, 0, "unknown key '%s'", key);
}

int yurt_siteconf_parse(struct yurt_siteconf *site, FILE *f, const char *label,
			struct yurt_err *err)
{
	struct yurt_lines lines = YURT_LINES_INIT(f, label);
	char *line;
	int rc;
	while ((rc = yurt_lines_next(&lines, &line, err)) > 0)
		if (parse_line(site, line, err)) {
			rc = yurt_err_prefix(err, "%s:%zu", label, lines.lineno);
			break;
		}
	yurt_lines_free(&lines);
	return rc < 0 ? -1 : 0;
}

int yurt_siteconf_load(struct yurt_siteconf *site, const char *path, struct yurt_err *err)
{
	yurt_siteconf_init(site);
	_cleanup_free_ char *label = NULL;
	if (asprintf(&label, "site config %s", path) < 0)
		return yurt_fail(err, ENOMEM, "site config %s", path);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f && errno == ENOENT)
		return 0;
	if (!f)
		return yurt_fail(err, errno, "%s", label);
	if (yurt_siteconf_parse(site, f, label, err)) {
		yurt_siteconf_free(site);
		return -1;
	}
	return 0;
}

bool yurt_siteconf_image_allowed(const struct yurt_siteconf *site, const char *image)
{
	if (site->allow_images.n == 0)
		return true;
	for (size_t i = 0; i < site->allow_images.n; i++)
		if (yurt_path_is_within(image, site->allow_images.v[i]))
			return true;
	return false;
}
