#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "passwd.h"

/* Entries for the overflow id: the first whose name is free is added. */
struct overflow_entry {
	const char *name;
	const char *line;
};
static const struct overflow_entry overflow_users[] = {
	{ "nobody", "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin" }, { NULL, NULL },
};
static const struct overflow_entry overflow_groups[] = {
	{ "nogroup", "nogroup:x:65534:" }, { "nobody", "nobody:x:65534:" }, { NULL, NULL },
};

/* The fields of a passwd or group line that decide a clash: the name (first
 * field) and the numeric id (third), when there is a valid one. */
struct line_key {
	const char *name;
	size_t name_len;
	bool has_id;
	unsigned long id;
};

static struct line_key line_key(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	struct line_key key = { .name = line, .name_len = colon ? (size_t)(colon - line) : len };
	const char *p = colon ? memchr(colon + 1, ':', len - (colon + 1 - line)) : NULL;
	if (!p)
		return key;
	const char *end = line + len;
	unsigned long id = 0;
	for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
		id = id * 10 + (unsigned long)(*p - '0');
		if (id > UINT32_MAX)
			return key;
	}
	key.has_id = p[-1] != ':' && (p == end || *p == ':' || *p == '\r');
	key.id = id;
	return key;
}

static bool key_is(const struct line_key *key, const char *name)
{
	return key->name_len == strlen(name) && !memcmp(key->name, name, key->name_len);
}

/* Copies IMAGE's lines that do not clash with SELF_NAME and SELF_ID, then
 * SELF (a full line), then the first of OVERFLOW whose name is free, unless
 * the overflow id has an entry already. */
static char *generate(const char *image, const char *file, const char *self_name,
		      unsigned long self_id, const char *self,
		      const struct overflow_entry overflow[], struct yurt_err *err)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	if (!out) {
		yurt_fail(err, errno, "%s", file);
		return NULL;
	}
	bool self_kept = false, have_overflow = self_id == YURT_OVERFLOW_ID;
	unsigned taken = 0;  /* bit k: overflow[k]'s name is in use */
	for (size_t k = 0; overflow[k].name; k++)
		taken |= (unsigned)!strcmp(overflow[k].name, self_name) << k;
	for (const char *p = image; p && *p; ) {
		const char *end = strchrnul(p, '\n');
		struct line_key key = line_key(p, end - p);
		bool same_name = key_is(&key, self_name), same_id = key.has_id && key.id == self_id;
		bool keep = !same_name && !same_id;
		if (self_id == 0 && same_name && same_id && !self_kept)
			keep = self_kept = true;
		if (keep) {
			fwrite(p, 1, end - p, out);
			fputc('\n', out);
			have_overflow |= key.has_id && key.id == YURT_OVERFLOW_ID;
			for (size_t k = 0; overflow[k].name; k++)
				taken |= (unsigned)key_is(&key, overflow[k].name) << k;
		}
		p = *end ? end + 1 : end;
	}
	if (!self_kept)
		fprintf(out, "%s\n", self);
	for (size_t k = 0; !have_overflow && overflow[k].name; k++)
		if (!(taken & 1u << k)) {
			fprintf(out, "%s\n", overflow[k].line);
			break;
		}
	bool failed = ferror(out);
	if (fclose(out) || failed) {
		free(text);
		yurt_fail(err, ENOMEM, "%s", file);
		return NULL;
	}
	return text;
}

static int check_field(const char *file, const char *what, const char *value,
		       struct yurt_err *err)
{
	if (strpbrk(value, ":\n"))
		return yurt_fail(err, 0, "%s: %s '%s' contains ':' or a newline", file, what, value);
	return 0;
}

char *yurt_passwd_generate(const char *image_passwd, const struct yurt_identity *id,
			   bool shell_in_image, struct yurt_err *err)
{
	static const char file[] = "/etc/passwd";
	const char *shell = shell_in_image ? id->shell : "/bin/sh";
	if (check_field(file, "user name", id->name, err) ||
	    check_field(file, "gecos", id->gecos, err) ||
	    check_field(file, "home", id->home, err) ||
	    check_field(file, "shell", shell, err))
		return NULL;
	_cleanup_free_ char *self = NULL;
	if (asprintf(&self, "%s:x:%lu:%lu:%s:%s:%s", id->name, (unsigned long)id->uid,
		     (unsigned long)id->gid, id->gecos, id->home, shell) < 0) {
		yurt_fail(err, ENOMEM, "%s", file);
		return NULL;
	}
	return generate(image_passwd, file, id->name, id->uid, self, overflow_users, err);
}

char *yurt_group_generate(const char *image_group, const struct yurt_identity *id,
			  struct yurt_err *err)
{
	static const char file[] = "/etc/group";
	if (check_field(file, "group name", id->group, err) ||
	    check_field(file, "user name", id->name, err))
		return NULL;
	_cleanup_free_ char *self = NULL;
	if (asprintf(&self, "%s:x:%lu:%s", id->group, (unsigned long)id->gid, id->name) < 0) {
		yurt_fail(err, ENOMEM, "%s", file);
		return NULL;
	}
	return generate(image_group, file, id->group, id->gid, self, overflow_groups, err);
}

/* getpwuid_r and getgrgid_r, with a buffer grown until the entry fits. */
struct nss_query {
	bool group;
	unsigned long id;
	struct passwd pw, *pw_result;
	struct group gr, *gr_result;
};

static int nss_lookup(struct nss_query *q, char **buf)
{
	for (size_t size = 1024;; size *= 2) {
		char *b = realloc(*buf, size);
		if (!b)
			return ENOMEM;
		*buf = b;
		int rc = q->group ? getgrgid_r(q->id, &q->gr, b, size, &q->gr_result)
				  : getpwuid_r(q->id, &q->pw, b, size, &q->pw_result);
		if (rc != ERANGE || size >= 1 << 20)
			return rc;
	}
}

/* Looks Q up; 0 with a NULL result when the database has no such entry. */
static int nss_get(struct nss_query *q, char **buf, struct yurt_err *err)
{
	int rc = nss_lookup(q, buf);
	/* getpwuid_r(3): these mean "not found" on some systems. */
	if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
		return 0;
	return yurt_fail(err, rc, "user database: %s %lu", q->group ? "gid" : "uid", q->id);
}

static char *made_up_name(const char *kind, unsigned long id)
{
	char *name;
	yurt_warn("user database: no entry for %s %lu; calling it %s%lu", kind, id, kind, id);
	return asprintf(&name, "%s%lu", kind, id) < 0 ? NULL : name;
}

static int from_host(struct yurt_identity *id, uid_t uid, gid_t gid, struct yurt_err *err)
{
	_cleanup_free_ char *buf = NULL;
	struct nss_query q = { .id = uid };
	if (nss_get(&q, &buf, err))
		return -1;
	const struct passwd *pw = q.pw_result;
	id->name = pw ? strdup(pw->pw_name) : made_up_name("uid", uid);
	id->gecos = strdup(pw ? pw->pw_gecos : "");
	id->home = strdup(pw ? pw->pw_dir : "/");
	id->shell = strdup(pw && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh");
	q = (struct nss_query){ .group = true, .id = gid };
	if (nss_get(&q, &buf, err))
		return -1;
	const struct group *gr = q.gr_result;
	id->group = gr ? strdup(gr->gr_name) : made_up_name("gid", gid);
	if (!id->name || !id->gecos || !id->home || !id->shell || !id->group)
		return yurt_fail(err, ENOMEM, "user database");
	return 0;
}

int yurt_identity_from_host(struct yurt_identity *id, uid_t uid, gid_t gid, bool fake_root,
			    struct yurt_err *err)
{
	*id = (struct yurt_identity){ .uid = fake_root ? 0 : uid, .gid = fake_root ? 0 : gid };
	if (fake_root) {
		id->name = strdup("root");
		id->gecos = strdup("root");
		id->home = strdup("/root");
		id->shell = strdup("/bin/sh");
		id->group = strdup("root");
		if (id->name && id->gecos && id->home && id->shell && id->group)
			return 0;
		yurt_fail(err, ENOMEM, "user database");
	} else if (!from_host(id, uid, gid, err))
		return 0;
	yurt_identity_free(id);
	return -1;
}

void yurt_identity_free(struct yurt_identity *id)
{
	free(id->name);
	free(id->gecos);
	free(id->home);
	free(id->shell);
	free(id->group);
	*id = (struct yurt_identity){ 0 };
}
