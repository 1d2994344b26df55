/* MUNGE self-check: one credential encoded and decoded through the socket
 * Slurm uses, before yurt starts a command that will talk to Slurm. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* libmunge's header is also named munge.h and -Isrc puts ours first on the
 * search path, so <munge.h> would be this file's own header: reach libmunge's
 * through the name of the directory it lives in (/usr/include here). */
#include <../include/munge.h>

#include "cleanup.h"
#include "log.h"
#include "munge.h"

#define SLURM_CONF_DEFAULT "/etc/slurm/slurm.conf"
#define MUNGE_SOCKET_FALLBACK "/run/munge/munge.socket.2"

/* Copies the socket of one AuthInfo value, the way Slurm's
 * slurm_auth_opts_to_socket() reads it: "socket=PATH[,opt=...]" anywhere in
 * the value, or, in the old form, the whole value when it has no '='. */
static int authinfo_socket(const char *value, size_t len, char *buf, size_t size,
			   struct yurt_err *err)
{
	const char *path = NULL;
	size_t path_len = 0;
	for (size_t i = 0; i + 7 <= len; i++) {
		if (!strncmp(value + i, "socket=", 7)) {
			path = value + i + 7;
			const char *comma = memchr(path, ',', len - (i + 7));
			path_len = comma ? (size_t)(comma - path) : len - (i + 7);
			break;
		}
	}
	if (!path) {
		if (memchr(value, '=', len))
			return 0;   /* options, none of them socket= */
		path = value;
		path_len = len;
	}
	if (path_len == 0)
		return 0;
	if (path_len >= size)
		return yurt_fail(err, ENAMETOOLONG, "AuthInfo socket %.*s", (int)path_len, path);
	memcpy(buf, path, path_len);
	buf[path_len] = '\0';
	return 1;
}

/* Finds the value of the last AuthInfo= in slurm.conf text: keys are
 * case-insensitive, several key=value pairs may share a line, '#' starts a
 * comment, and a value may be double-quoted. */
static bool find_authinfo(FILE *f, char **value, size_t *len)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	bool found = false;
	while (getline(&line, &cap, f) >= 0) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		for (char *p = line; *p;) {
			while (isspace((unsigned char)*p))
				p++;
			char *token = p;
			bool quoted = false;
			while (*p && (quoted || !isspace((unsigned char)*p))) {
				if (*p == '"')
					quoted = !quoted;
				p++;
			}
			if (p - token > 9 && !strncasecmp(token, "AuthInfo=", 9)) {
				char *v = token + 9, *end = p;
				if (end - v >= 2 && v[0] == '"' && end[-1] == '"')
					v++, end--;
				free(*value);
				*value = strndup(v, (size_t)(end - v));
				*len = *value ? (size_t)(end - v) : 0;
				found = *value != NULL;
			}
		}
	}
	return found;
}

int yurt_munge_slurm_conf_socket(const char *conf_path, char *buf, size_t size,
				 struct yurt_err *err)
{
	_cleanup_fclose_ FILE *f = fopen(conf_path, "re");
	if (!f) {
		yurt_debug("munge: %s: %s; not looking for AuthInfo there", conf_path, strerror(errno));
		return 0;
	}
	_cleanup_free_ char *value = NULL;
	size_t len = 0;
	if (!find_authinfo(f, &value, &len))
		return 0;
	int found = authinfo_socket(value, len, buf, size, err);
	if (found < 0)
		return yurt_err_prefix(err, "%s", conf_path);
	return found;
}

static char default_socket[4096];
static pthread_once_t default_socket_once = PTHREAD_ONCE_INIT;

static void find_default_socket(void)
{
	struct yurt_err err;
	const char *conf = getenv("SLURM_CONF");
	if (!conf || !*conf)
		conf = SLURM_CONF_DEFAULT;
	int found = yurt_munge_slurm_conf_socket(conf, default_socket, sizeof default_socket, &err);
	if (found > 0) {
		yurt_debug("munge: socket %s from AuthInfo in %s", default_socket, conf);
		return;
	}
	if (found < 0)
		yurt_warn("ignoring AuthInfo: %s", err.msg);

	/* libmunge's compiled-in default, as a fresh context reports it. */
	const char *lib_default = NULL;
	munge_ctx_t ctx = munge_ctx_create();
	if (ctx && munge_ctx_get(ctx, MUNGE_OPT_SOCKET, &lib_default) != EMUNGE_SUCCESS)
		lib_default = NULL;
	snprintf(default_socket, sizeof default_socket, "%s",
		 lib_default ? lib_default : MUNGE_SOCKET_FALLBACK);
	if (ctx)
		munge_ctx_destroy(ctx);
}

const char *yurt_munge_default_socket(void)
{
	pthread_once(&default_socket_once, find_default_socket);
	return default_socket;
}

/* munged names the uid it saw on its end of the socket, which is ours as
 * seen from its user namespace: map our id out through MAP_FILE
 * (/proc/self/uid_map or gid_map) when we are in a user namespace ourselves.
 * One level only: munged runs in the namespace right above yurt's. */
static unsigned long outside_id(const char *map_file, unsigned long id)
{
	_cleanup_fclose_ FILE *f = fopen(map_file, "re");
	unsigned long inside, outside, count;
	while (f && fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3) {
		if (id >= inside && id - inside < count)
			return outside + (id - inside);
	}
	return id;
}

static bool same_id(const char *map_file, unsigned long ours, unsigned long reported)
{
	return ours == reported || outside_id(map_file, ours) == reported;
}

static int munge_failure(struct yurt_err *err, const char *socket, const char *what,
			 munge_err_t e, munge_ctx_t ctx)
{
	const char *detail = munge_ctx_strerror(ctx);
	if (detail)
		yurt_fail(err, 0, "MUNGE socket %s: %s: %s (%s)", socket, what, munge_strerror(e), detail);
	else
		yurt_fail(err, 0, "MUNGE socket %s: %s: %s", socket, what, munge_strerror(e));
	switch (e) {
	case EMUNGE_SOCKET:
	case EMUNGE_TIMEOUT:
		yurt_err_hint(err, "is munged running on this node? test: munge -n -S %s | unmunge -S %s",
			      socket, socket);
		break;
	case EMUNGE_CRED_EXPIRED:
	case EMUNGE_CRED_REWOUND:
		yurt_err_hint(err, "munged's clock jumped; check the node's time");
		break;
	default:
		yurt_err_hint(err, "see munged's log on this node");
		break;
	}
	return -1;
}

int yurt_munge_check(const char *socket_path, struct yurt_err *err)
{
	const char *socket = socket_path ? socket_path : yurt_munge_default_socket();
	munge_ctx_t ctx = munge_ctx_create();
	if (!ctx)
		return yurt_fail(err, ENOMEM, "MUNGE socket %s: cannot create a munge context", socket);

	/* A payload of our own, so a credential from anywhere else cannot pass. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	char payload[96];
	int payload_len = snprintf(payload, sizeof payload, "yurt munge check pid %ld at %lld.%09ld",
				   (long)getpid(), (long long)now.tv_sec, now.tv_nsec);

	char *cred = NULL;
	void *back = NULL;
	int back_len = 0;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int rc = -1;
	munge_err_t e = munge_ctx_set(ctx, MUNGE_OPT_SOCKET, socket);
	if (e != EMUNGE_SUCCESS) {
		munge_failure(err, socket, "setting the socket", e, ctx);
		goto out;
	}
	e = munge_encode(&cred, ctx, payload, payload_len);
	if (e != EMUNGE_SUCCESS) {
		munge_failure(err, socket, "encoding a credential", e, ctx);
		goto out;
	}
	e = munge_decode(cred, ctx, &back, &back_len, &uid, &gid);
	if (e != EMUNGE_SUCCESS) {
		munge_failure(err, socket, "decoding our own credential", e, ctx);
		goto out;
	}
	if (back_len != payload_len || memcmp(back, payload, (size_t)payload_len)) {
		yurt_fail(err, 0, "MUNGE socket %s: the decoded credential does not carry the payload encoded", socket);
		yurt_err_hint(err, "more than one munged behind that socket? see munged's log");
		goto out;
	}
	if (!same_id("/proc/self/uid_map", geteuid(), uid) || !same_id("/proc/self/gid_map", getegid(), gid)) {
		yurt_fail(err, 0, "MUNGE socket %s: munged names uid %lu gid %lu, but we are uid %lu gid %lu",
			  socket, (unsigned long)uid, (unsigned long)gid,
			  (unsigned long)geteuid(), (unsigned long)getegid());
		yurt_err_hint(err, "Slurm would take us for someone else; is that munged in another user namespace?");
		goto out;
	}
	yurt_debug("munge: socket %s answers (uid %lu, gid %lu)", socket, (unsigned long)uid, (unsigned long)gid);
	rc = 0;
out:
	free(cred);
	free(back);   /* allocated for some decode errors too */
	munge_ctx_destroy(ctx);
	return rc;
}
