#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "log.h"

/* decompress.h first: it pulls in the config.h that squashfs_fs.h relies on. */
#include <squashfuse/decompress.h>
#include <squashfuse/squashfs_fs.h>

/* Optional tables (fragments, export, xattrs) that are absent read as all ones. */
#define TABLE_ABSENT UINT64_MAX

/* Whether libsquashfuse was built with this compressor; names lists the ones it was. */
static bool compression_supported(int id, char *names, size_t size)
{
	sqfs_compression_type ids[SQFS_COMP_MAX + 1] = {0};
	bool found = false;
	size_t used = 0;

	names[0] = '\0';
	sqfs_compression_supported(ids);
	for (size_t i = 0; i < SQFS_COMP_MAX && ids[i] != SQFS_COMP_UNKNOWN; i++) {
		found |= ids[i] == id;
		int n = snprintf(names + used, size - used, "%s%s", used ? ", " : "",
		                 sqfs_compression_name(ids[i]));
		if (n > 0 && (size_t)n < size - used)
			used += n;
	}
	return found;
}

/* A table must start after the region before it and within bytes_used. */
static int check_table(const char *name, uint64_t start, const char *prev, uint64_t prev_start,
                       uint64_t bytes_used, struct yurt_err *err)
{
	if (start >= bytes_used)
		return yurt_fail(err, 0, "corrupt superblock: %s table at byte %" PRIu64
		                 " is beyond bytes_used (%" PRIu64 ")", name, start, bytes_used);
	if (start <= prev_start)
		return yurt_fail(err, 0, "corrupt superblock: %s table at byte %" PRIu64
		                 " is not after the %s", name, start, prev);
	return 0;
}

int yurt_sqfs_superblock_check(const void *buf, size_t len, uint64_t file_size,
                               struct yurt_image *img, struct yurt_err *err)
{
	struct squashfs_super_block sb;
	uint32_t magic;

	if (len < sizeof magic)
		return yurt_fail(err, 0, "not a SquashFS image or a directory");
	memcpy(&magic, buf, sizeof magic);
	magic = le32toh(magic);
	if (magic == __builtin_bswap32(SQUASHFS_MAGIC))
		return yurt_fail(err, 0, "big-endian SquashFS (version 3 or older) is not supported");
	if (magic != SQUASHFS_MAGIC)
		return yurt_fail(err, 0, "not a SquashFS image or a directory");
	if (len < sizeof sb)
		return yurt_fail(err, 0, "truncated: %zu bytes, shorter than a superblock", len);
	memcpy(&sb, buf, sizeof sb);

	unsigned major = le16toh(sb.s_major), minor = le16toh(sb.s_minor);
	if (major != SQUASHFS_MAJOR || minor != SQUASHFS_MINOR) {
		yurt_fail(err, 0, "SquashFS version %u.%u is not supported", major, minor);
		yurt_err_hint(err, "rebuild the image with mksquashfs 4.x");
		return -1;
	}

	/* mksquashfs accepts 4 KiB to 1 MiB blocks; the kernel and libsquashfuse
	 * trust block_log and block_size to agree. */
	uint32_t block_size = le32toh(sb.block_size);
	unsigned block_log = le16toh(sb.block_log);
	if (block_log < 12 || block_log > SQUASHFS_FILE_MAX_LOG)
		return yurt_fail(err, 0, "corrupt superblock: block log %u is out of range", block_log);
	if (block_size != UINT32_C(1) << block_log)
		return yurt_fail(err, 0, "corrupt superblock: block size %" PRIu32
		                 " does not match block log %u", block_size, block_log);

	unsigned comp = le16toh(sb.compression);
	const char *comp_name = sqfs_compression_name(comp);
	char supported[128];
	if (!comp_name)
		return yurt_fail(err, 0, "corrupt superblock: unknown compression id %u", comp);
	if (!compression_supported(comp, supported, sizeof supported)) {
		yurt_fail(err, 0, "%s compression is not supported by libsquashfuse", comp_name);
		yurt_err_hint(err, "rebuild the image with mksquashfs -comp gzip; supported here: %s",
		              supported);
		return -1;
	}

	uint64_t bytes_used = le64toh(sb.bytes_used);
	if (bytes_used < sizeof sb)
		return yurt_fail(err, 0, "corrupt superblock: bytes_used %" PRIu64
		                 " is smaller than the superblock", bytes_used);
	if (bytes_used > file_size)
		return yurt_fail(err, 0, "truncated: %" PRIu64 " of %" PRIu64 " bytes",
		                 file_size, bytes_used);

	/* Layout: superblock (and compressor options), data, inode table,
	 * directory table, then the id, fragment, export and xattr tables. */
	uint64_t inode_start = le64toh(sb.inode_table_start);
	uint64_t dir_start = le64toh(sb.directory_table_start);
	if (check_table("inode", inode_start, "superblock", sizeof sb - 1, bytes_used, err) < 0 ||
	    check_table("directory", dir_start, "inode table", inode_start, bytes_used, err) < 0)
		return -1;
	const struct {
		const char *name;
		uint64_t start;
		bool optional;
	} tables[] = {
		{"id", le64toh(sb.id_table_start), false},
		{"fragment", le64toh(sb.fragment_table_start), true},
		{"export", le64toh(sb.lookup_table_start), true},
		{"xattr", le64toh(sb.xattr_id_table_start), true},
	};
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		if (tables[i].optional && tables[i].start == TABLE_ABSENT)
			continue;
		if (check_table(tables[i].name, tables[i].start, "directory table", dir_start,
		                bytes_used, err) < 0)
			return -1;
	}

	/* The root inode reference is (metadata block offset << 16 | offset in block). */
	uint64_t root = le64toh(sb.root_inode);
	if ((root & 0xffff) >= SQUASHFS_METADATA_SIZE || (root >> 16) >= dir_start - inode_start)
		return yurt_fail(err, 0, "corrupt superblock: root inode reference %#" PRIx64
		                 " points outside the inode table", root);
	if (le16toh(sb.no_ids) == 0)
		return yurt_fail(err, 0, "corrupt superblock: no uid/gid entries");

	img->bytes_used = bytes_used;
	img->block_size = block_size;
	img->compression = comp_name;
	return 0;
}

int yurt_image_open(struct yurt_image *img, const char *path, struct yurt_err *err)
{
	struct stat st;

	*img = (struct yurt_image){0};
	_cleanup_free_ char *real = realpath(path, NULL);
	if (!real || stat(real, &st) < 0)
		return yurt_fail(err, errno, "image %s", path);
	if (S_ISDIR(st.st_mode)) {
		img->type = YURT_IMAGE_DIR;
		img->path = yurt_steal_ptr(real);
		yurt_debug("image %s: directory", img->path);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return yurt_fail(err, 0, "image %s: not a SquashFS image or a directory", path);

	_cleanup_close_ int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return yurt_fail(err, errno, "image %s", path);
	unsigned char sb[sizeof(struct squashfs_super_block)];
	ssize_t n = pread(fd, sb, sizeof sb, 0);
	if (n < 0)
		return yurt_fail(err, errno, "image %s: read superblock", path);
	if (yurt_sqfs_superblock_check(sb, (size_t)n, (uint64_t)st.st_size, img, err) < 0)
		return yurt_err_prefix(err, "image %s", path);

	img->type = YURT_IMAGE_SQUASHFS;
	img->path = yurt_steal_ptr(real);
	yurt_debug("image %s: SquashFS, %s, %" PRIu32 "-byte blocks, %" PRIu64 " bytes",
	           img->path, img->compression, img->block_size, img->bytes_used);
	return 0;
}

void yurt_image_release(struct yurt_image *img)
{
	free(img->path);
	*img = (struct yurt_image){0};
}
