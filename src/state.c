#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cleanup.h"
#include "state.h"

void yurt_state_dir_close(struct yurt_state_dir *dir)
{
	yurt_closep(&dir->fd);
	dir->fd = -1;
}

int yurt_state_dir_check(const struct stat *st, uid_t uid, const char *path, struct yurt_err *err)
{
	if (!S_ISDIR(st->st_mode)) {
		yurt_fail(err, 0, "state directory %s: not a directory", path);
		yurt_err_hint(err, "remove it; yurt makes the directory itself");
		return -1;
	}
	if (st->st_uid != uid) {
		yurt_fail(err, 0, "state directory %s: owned by uid %u, not by you (uid %u)", path,
			  (unsigned)st->st_uid, (unsigned)uid);
		yurt_err_hint(err, "another user made it: have it removed, or set XDG_RUNTIME_DIR to a directory of yours");
		return -1;
	}
	if (st->st_mode & 077) {
		yurt_fail(err, 0, "state directory %s: mode %04o lets other users in; it must be 0700", path,
			  (unsigned)(st->st_mode & 07777));
		yurt_err_hint(err, "chmod 700 %s", path);
		return -1;
	}
	return 0;
}

int yurt_state_dir_open(struct yurt_state_dir *dir, struct yurt_err *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	*dir = (struct yurt_state_dir){ .fd = -1 };
	/* Slurm hands tasks the login node's XDG_RUNTIME_DIR, which a compute
	 * node may lack. */
	if (xdg && xdg[0] == '/' && !stat(xdg, &st) && S_ISDIR(st.st_mode))
		snprintf(dir->path, sizeof dir->path, "%s/yurt", xdg);
	else
		snprintf(dir->path, sizeof dir->path, "/tmp/yurt-%u", (unsigned)getuid());
	if (mkdir(dir->path, 0700) && errno != EEXIST)
		return yurt_fail(err, errno, "state directory %s", dir->path);
	dir->fd = open(dir->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir->fd < 0) {
		int e = errno;
		if (e != ELOOP && e != ENOTDIR)
			return yurt_fail(err, e, "state directory %s", dir->path);
		yurt_fail(err, 0, "state directory %s: a symlink or a file, not a directory", dir->path);
		yurt_err_hint(err, "remove it; yurt makes the directory itself");
		return -1;
	}
	if (fstat(dir->fd, &st)) {
		yurt_fail(err, errno, "state directory %s", dir->path);
		yurt_state_dir_close(dir);
		return -1;
	}
	if (yurt_state_dir_check(&st, getuid(), dir->path, err)) {
		yurt_state_dir_close(dir);
		return -1;
	}
	return 0;
}

int yurt_state_name_check(const char *what, const char *name, struct yurt_err *err)
{
	size_t len = strlen(name);
	if (!len)
		return yurt_fail(err, 0, "%s '': must not be empty", what);
	if (len > YURT_NAME_MAX)
		return yurt_fail(err, 0, "%s '%.16s...': longer than %d characters", what, name, YURT_NAME_MAX);
	if (name[0] == '.')
		return yurt_fail(err, 0, "%s '%s': must not start with '.'", what, name);
	for (const char *p = name; *p; p++)
		if (!isascii((unsigned char)*p) || (!isalnum((unsigned char)*p) && !strchr("._+-", *p)))
			return yurt_fail(err, 0, "%s '%s': only letters, digits and . _ + - are allowed", what, name);
	return 0;
}

/* NAME with SUFFIX; names are checked, so it always fits. */
static void file_name(char out[NAME_MAX + 1], const char *name, const char *suffix)
{
	snprintf(out, NAME_MAX + 1, "%s%s", name, suffix);
}

int yurt_state_lock_open(const struct yurt_state_dir *dir, const char *name, bool create,
			 struct yurt_err *err)
{
	char file[NAME_MAX + 1];
	file_name(file, name, ".lock");
	int fd = openat(dir->fd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return yurt_fail(err, errno, "lock %s/%s", dir->path, file);
	return fd;
}

int yurt_state_lock(const struct yurt_state_dir *dir, const char *name, int op, bool create,
		    struct yurt_err *err)
{
	char file[NAME_MAX + 1];
	file_name(file, name, ".lock");
	for (;;) {
		_cleanup_close_ int fd = yurt_state_lock_open(dir, name, create, err);
		if (fd < 0)
			return -1;
		while (flock(fd, op))
			if (errno != EINTR)
				return yurt_fail(err, errno, "lock %s/%s", dir->path, file);
		struct stat held, now;
		if (fstat(fd, &held))
			return yurt_fail(err, errno, "lock %s/%s", dir->path, file);
		if (!fstatat(dir->fd, file, &now, AT_SYMLINK_NOFOLLOW) && now.st_ino == held.st_ino &&
		    now.st_dev == held.st_dev)
			return yurt_steal_fd(fd);
	}
}

int yurt_instance_info_format(const struct yurt_instance_info *info, char *buf, size_t size,
			      struct yurt_err *err)
{
	if (strchr(info->image, '\n') || strchr(info->workdir, '\n'))
		return yurt_fail(err, 0, "a path with a newline cannot be recorded: %s", info->image);
	int n = snprintf(buf, size,
			 "version=1\npid=%d\nstart_time=%llu\nstarted=%lld\nmode=%s\nroot=%d\npid_ns=%d\n"
			 "signature=%016" PRIx64 "\nimage=%s\nworkdir=%s\n",
			 (int)info->pid, info->start_time, info->started, info->joined ? "join" : "start",
			 info->fake_root, info->pid_ns, info->signature, info->image, info->workdir);
	if (n < 0 || (size_t)n >= size)
		return yurt_fail(err, ENAMETOOLONG, "instance record");
	return 0;
}

enum field {
	F_VERSION, F_PID, F_START_TIME, F_STARTED, F_MODE, F_ROOT, F_PID_NS, F_SIGNATURE, F_IMAGE,
	F_WORKDIR, F_COUNT,
};

static const char *const field_names[F_COUNT] = {
	"version", "pid", "start_time", "started", "mode", "root", "pid_ns", "signature", "image",
	"workdir",
};

static int parse_number(const char *value, int base, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	*out = strtoull(value, &end, base);
	return errno || end == value || *end || *out > max || value[0] == '-' ? -1 : 0;
}

static int parse_field(struct yurt_instance_info *info, enum field f, const char *value)
{
	unsigned long long n;
	switch (f) {
	case F_VERSION:
		return strcmp(value, "1") ? -1 : 0;
	case F_PID:
		if (parse_number(value, 10, INT32_MAX, &n) || n == 0)
			return -1;
		info->pid = (pid_t)n;
		return 0;
	case F_START_TIME:
		return parse_number(value, 10, ULLONG_MAX, &info->start_time);
	case F_STARTED:
		if (parse_number(value, 10, LLONG_MAX, &n))
			return -1;
		info->started = (long long)n;
		return 0;
	case F_MODE:
		info->joined = !strcmp(value, "join");
		return info->joined || !strcmp(value, "start") ? 0 : -1;
	case F_ROOT:
	case F_PID_NS:
		if (parse_number(value, 10, 1, &n))
			return -1;
		*(f == F_ROOT ? &info->fake_root : &info->pid_ns) = n;
		return 0;
	case F_SIGNATURE:
		if (parse_number(value, 16, UINT64_MAX, &n))
			return -1;
		info->signature = n;
		return 0;
	case F_IMAGE:
	case F_WORKDIR: {
		char *to = f == F_IMAGE ? info->image : info->workdir;
		if (value[0] != '/' || strlen(value) >= PATH_MAX)
			return -1;
		strcpy(to, value);
		return 0;
	}
	case F_COUNT:
		break;
	}
	return -1;
}

int yurt_instance_info_parse(struct yurt_instance_info *info, const char *text, struct yurt_err *err)
{
	char value[PATH_MAX];
	unsigned seen = 0;
	*info = (struct yurt_instance_info){ 0 };
	for (const char *line = text; *line; ) {
		const char *end = strchrnul(line, '\n');
		const char *eq = memchr(line, '=', (size_t)(end - line));
		if (!eq)
			return yurt_fail(err, 0, "'%.*s': not key=value", (int)(end - line), line);
		size_t klen = (size_t)(eq - line), vlen = (size_t)(end - eq - 1);
		for (enum field f = 0; f < F_COUNT; f++) {
			if (strlen(field_names[f]) != klen || strncmp(line, field_names[f], klen))
				continue;
			if (vlen >= sizeof value)
				return yurt_fail(err, 0, "%s: too long", field_names[f]);
			memcpy(value, eq + 1, vlen);
			value[vlen] = '\0';
			if (parse_field(info, f, value))
				return yurt_fail(err, 0, "%s=%s: not a valid value", field_names[f], value);
			seen |= 1u << f;
		}
		line = *end ? end + 1 : end;
	}
	for (enum field f = 0; f < F_COUNT; f++)
		if (!(seen & (1u << f)))
			return yurt_fail(err, 0, "no %s", field_names[f]);
	return 0;
}

/* Reads the whole file at DIRFD/PATH into a NUL-terminated buffer. */
static char *read_at(int dirfd, const char *path, size_t *len, struct yurt_err *err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		yurt_fail(err, errno, "%s", path);
		return NULL;
	}
	size_t size = 0, cap = 4096;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf) {
		yurt_fail(err, ENOMEM, "%s", path);
		return NULL;
	}
	for (;;) {
		if (size + 1 == cap) {
			char *bigger = realloc(buf, cap *= 2);
			if (!bigger) {
				yurt_fail(err, ENOMEM, "%s", path);
				return NULL;
			}
			buf = bigger;
		}
		ssize_t n = read(fd, buf + size, cap - size - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			yurt_fail(err, errno, "%s", path);
			return NULL;
		}
		if (n == 0)
			break;
		size += (size_t)n;
	}
	buf[size] = '\0';
	if (len)
		*len = size;
	return yurt_steal_ptr(buf);
}

int yurt_state_read(const struct yurt_state_dir *dir, const char *name,
		    struct yurt_instance_info *info, struct yurt_err *err)
{
	char file[NAME_MAX + 1];
	file_name(file, name, ".state");
	_cleanup_free_ char *text = read_at(dir->fd, file, NULL, err);
	if (!text)
		return err->errnum == ENOENT ? 1 : yurt_err_prefix(err, "instance %s", name);
	if (yurt_instance_info_parse(info, text, err))
		return yurt_err_prefix(err, "instance %s: %s/%s", name, dir->path, file);
	return 0;
}

static int write_at(const struct yurt_state_dir *dir, const char *file, const char *data,
		    size_t len, struct yurt_err *err)
{
	_cleanup_close_ int fd = openat(dir->fd, file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return yurt_fail(err, errno, "create %s/%s", dir->path, file);
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return yurt_fail(err, errno, "write %s/%s", dir->path, file);
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int yurt_state_write(const struct yurt_state_dir *dir, const char *name,
		     const struct yurt_instance_info *info, struct yurt_err *err)
{
	char text[3 * PATH_MAX], file[NAME_MAX + 1], tmp[NAME_MAX + 1];
	file_name(file, name, ".state");
	file_name(tmp, name, ".state.tmp");
	if (yurt_instance_info_format(info, text, sizeof text, err) ||
	    write_at(dir, tmp, text, strlen(text), err))
		return -1;
	if (renameat(dir->fd, tmp, dir->fd, file))
		return yurt_fail(err, errno, "rename %s/%s", dir->path, tmp);
	return 0;
}

int yurt_state_write_env(const struct yurt_state_dir *dir, const char *name, char *const *env,
			 struct yurt_err *err)
{
	char file[NAME_MAX + 1];
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&data, &len);
	if (!mem)
		return yurt_fail(err, errno, "environment");
	for (char *const *e = env; e && *e; e++)
		fwrite(*e, 1, strlen(*e) + 1, mem);
	if (fclose(mem))
		return yurt_fail(err, ENOMEM, "environment");
	file_name(file, name, ".env");
	return write_at(dir, file, data, len, err);
}

int yurt_state_read_env(const struct yurt_state_dir *dir, const char *name, struct yurt_strv *env,
			struct yurt_err *err)
{
	char file[NAME_MAX + 1];
	size_t len;
	file_name(file, name, ".env");
	_cleanup_free_ char *data = read_at(dir->fd, file, &len, err);
	if (!data)
		return yurt_err_prefix(err, "instance %s", name);
	for (size_t at = 0; at < len; at += strlen(data + at) + 1)
		if (yurt_strv_push(env, data + at))
			return yurt_fail(err, ENOMEM, "instance %s: environment", name);
	return 0;
}

void yurt_state_remove(const struct yurt_state_dir *dir, const char *name, bool with_lock)
{
	static const char *const suffixes[] = { ".state", ".state.tmp", ".env", ".sock", ".lock" };
	char file[NAME_MAX + 1];
	for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
		if (!with_lock && !strcmp(suffixes[i], ".lock"))
			continue;
		file_name(file, name, suffixes[i]);
		unlinkat(dir->fd, file, 0);
	}
}

void yurt_state_sock_addr(const struct yurt_state_dir *dir, const char *name,
			  struct sockaddr_un *addr, socklen_t *len)
{
	*addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	snprintf(addr->sun_path, sizeof addr->sun_path, "/proc/self/fd/%d/%s.sock", dir->fd, name);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(addr->sun_path) + 1);
}

int yurt_proc_stat_parse(const char *text, unsigned long long *start_time, char *state)
{
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, so look from the
	 * last ')'; the start time is field 22, STATE field 3. */
	const char *p = strrchr(text, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		if (!(p = strchr(p, ' ')))
			return -1;
		p++;
	}
	char *end;
	errno = 0;
	*start_time = strtoull(p, &end, 10);
	return errno || end == p || (*end != ' ' && *end != '\n' && *end) ? -1 : 0;
}

/* The start time and state of the process whose /proc directory is DIRFD/PATH. */
static int read_proc_stat(int dirfd, const char *path, unsigned long long *start_time, char *state,
			  struct yurt_err *err)
{
	char file[64];
	snprintf(file, sizeof file, "%s/stat", path);
	_cleanup_free_ char *text = read_at(dirfd, file, NULL, err);
	if (!text)
		return -1;
	if (yurt_proc_stat_parse(text, start_time, state))
		return yurt_fail(err, 0, "%s: unexpected format", file);
	return 0;
}

int yurt_proc_self_start_time(unsigned long long *start_time, struct yurt_err *err)
{
	char state;
	return read_proc_stat(AT_FDCWD, "/proc/self", start_time, &state, err);
}

int yurt_holder_open(const struct yurt_instance_info *info, struct yurt_err *err)
{
	char path[32];
	struct stat st;
	unsigned long long start_time;
	char state;
	snprintf(path, sizeof path, "/proc/%d", (int)info->pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return yurt_fail(err, 0, "its holder, process %d, is gone", (int)info->pid);
	if (fstat(fd, &st))
		return yurt_fail(err, errno, "%s", path);
	if (st.st_uid != getuid())
		return yurt_fail(err, 0, "process %d is not yours, so not its holder", (int)info->pid);
	if (read_proc_stat(fd, ".", &start_time, &state, err))
		return yurt_fail(err, 0, "its holder, process %d, is gone", (int)info->pid);
	if (start_time != info->start_time)
		return yurt_fail(err, 0, "process %d is not its holder, which is gone", (int)info->pid);
	if (state == 'Z' || state == 'X')
		return yurt_fail(err, 0, "its holder, process %d, has exited", (int)info->pid);
	return yurt_steal_fd(fd);
}

/* FNV-1a: a digest to compare requests by, not a defence against anyone. */
static uint64_t digest(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t digest_str(uint64_t h, const char *s)
{
	return s ? digest(h, s, strlen(s) + 1) : digest(h, "\1", 1);
}

uint64_t yurt_instance_signature(const struct yurt_plan *plan, const char *image, bool writable_tmpfs)
{
	uint64_t h = digest_str(0xcbf29ce484222325ULL, image);
	for (size_t i = 0; i < plan->nmounts; i++) {
		const struct yurt_mount *m = &plan->mounts[i];
		unsigned char kind[] = { (unsigned char)m->kind, m->readonly, m->optional };
		h = digest_str(digest_str(digest(h, kind, sizeof kind), m->src), m->dst);
	}
	unsigned ids[] = { plan->uid, plan->gid };
	unsigned char flags[] = { plan->workdir_fallback, writable_tmpfs };
	h = digest(digest_str(h, plan->workdir), ids, sizeof ids);
	return digest(h, flags, sizeof flags);
}
