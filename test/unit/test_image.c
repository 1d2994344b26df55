/* Image detection and SquashFS superblock validation, on real images that
 * mksquashfs builds in a temporary directory. */
#include <criterion/criterion.h>
#include <endian.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

static char tmp[256];

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

static const char *at(const char *name)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, PATH_MAX, "%s/%s", tmp, name);
	return p;
}

static const char *err_text(const struct yurt_err *err)
{
	static char buf[2048];
	return yurt_err_text(err, buf, sizeof buf);
}

/* A small root filesystem with a file big enough that truncating the image
 * cuts into data, not only padding. */
static void setup(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmp, sizeof tmp, "%s/yurt-test-image-XXXXXX", base);
	cr_assert_not_null(mkdtemp(tmp));
	sh("mkdir -p %s/root/etc %s/root/bin && echo hi > %s/root/etc/motd", tmp, tmp, tmp);
	sh("head -c 262144 /dev/urandom > %s/root/bin/blob && ln -s ../etc/motd %s/root/bin/link",
	   tmp, tmp);
}

/* Also called before a skip, as Criterion then skips .fini. */
static void teardown(void)
{
	if (tmp[0])
		sh("chmod -R u+rwX %s && rm -rf %s", tmp, tmp);
	tmp[0] = '\0';
}

TestSuite(image, .init = setup, .fini = teardown);

static const char *mksquashfs(const char *name, const char *opts)
{
	const char *path = at(name);
	sh("mksquashfs %s/root %s -quiet -no-progress -noappend %s >/dev/null", tmp, path, opts);
	return path;
}

static void expect_error(const char *path, const char *text)
{
	struct yurt_image img;
	struct yurt_err err = {0};
	cr_assert_eq(yurt_image_open(&img, path, &err), -1, "%s opened", path);
	cr_expect_str_eq(err_text(&err), text);
	cr_expect_eq(err.status, YURT_EXIT_LAUNCH);
	cr_expect_null(img.path);
}

Test(image, directory_by_symlink)
{
	struct yurt_image img;
	struct yurt_err err = {0};
	char expected[PATH_MAX];

	sh("ln -s root %s/alias", tmp);
	cr_assert_eq(yurt_image_open(&img, at("alias"), &err), 0, "%s", err_text(&err));
	cr_expect_eq(img.type, YURT_IMAGE_DIR);
	cr_assert_not_null(realpath(at("root"), expected));
	cr_expect_str_eq(img.path, expected);
	yurt_image_release(&img);
	cr_expect_null(img.path);
}

Test(image, squashfs_gzip)
{
	struct yurt_image img;
	struct yurt_err err = {0};
	struct stat st;
	const char *path = mksquashfs("gzip.sqfs", "-comp gzip");

	cr_assert_eq(yurt_image_open(&img, path, &err), 0, "%s", err_text(&err));
	cr_expect_eq(img.type, YURT_IMAGE_SQUASHFS);
	cr_expect_eq(img.path[0], '/');
	cr_expect_str_eq(img.compression, "zlib");
	cr_expect_eq(img.block_size, 131072);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect(img.bytes_used > 262144 && img.bytes_used <= (uint64_t)st.st_size);
	yurt_image_release(&img);
}

Test(image, squashfs_zstd_small_blocks)
{
	struct yurt_image img;
	struct yurt_err err = {0};
	const char *path = mksquashfs("zstd.sqfs", "-comp zstd -b 4096");

	cr_assert_eq(yurt_image_open(&img, path, &err), 0, "%s", err_text(&err));
	cr_expect_eq(img.type, YURT_IMAGE_SQUASHFS);
	cr_expect_str_eq(img.compression, "zstd");
	cr_expect_eq(img.block_size, 4096);
	yurt_image_release(&img);
}

Test(image, squashfs_compression_unsupported)
{
	struct yurt_image img;
	struct yurt_err err = {0};
	const char *path = mksquashfs("lzma.sqfs", "-comp lzma");

	cr_assert_eq(yurt_image_open(&img, path, &err), -1);
	cr_expect(strstr(err_text(&err), ": lzma compression is not supported by libsquashfuse (hint: "
	                 "rebuild the image with mksquashfs -comp gzip; supported here: "),
	          "%s", err_text(&err));
	cr_expect(strstr(err.hint, "zlib"), "%s", err.hint);
}

Test(image, truncated)
{
	struct yurt_image img;
	struct yurt_err err = {0};
	char expected[PATH_MAX + 64];
	const char *full = mksquashfs("full.sqfs", "");
	const char *cut = at("cut.sqfs");

	sh("head -c 4096 %s > %s", full, cut);
	cr_assert_eq(yurt_image_open(&img, full, &err), 0, "%s", err_text(&err));
	snprintf(expected, sizeof expected, "image %s: truncated: 4096 of %llu bytes", cut,
	         (unsigned long long)img.bytes_used);
	yurt_image_release(&img);
	expect_error(cut, expected);
}

Test(image, missing)
{
	char expected[PATH_MAX + 64];
	snprintf(expected, sizeof expected, "image %s: No such file or directory", at("nope"));
	expect_error(at("nope"), expected);
}

Test(image, unreadable)
{
	char expected[PATH_MAX + 64];
	if (geteuid() == 0) {
		teardown();
		cr_skip_test("root reads files whatever their mode");
	}
	const char *path = mksquashfs("secret.sqfs", "");
	cr_assert_eq(chmod(path, 0), 0);
	snprintf(expected, sizeof expected, "image %s: Permission denied", path);
	expect_error(path, expected);
}

/* Not SquashFS: an ELF binary, text, empty files, a device. */
Test(image, foreign)
{
	char expected[PATH_MAX + 64];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	cr_assert(n > 0);
	self[n] = '\0';
	sh("echo 'hsq not quite' > %s && : > %s", at("text"), at("empty"));
	const char *paths[] = {self, at("text"), at("empty"), "/dev/null"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		snprintf(expected, sizeof expected, "image %s: not a SquashFS image or a directory",
		         paths[i]);
		expect_error(paths[i], expected);
	}
}

/* The superblock read from a real image, then one field at a time broken. */
static unsigned char good[96];
static uint64_t good_size;

static void load_superblock(void)
{
	const char *path = mksquashfs("sb.sqfs", "-comp xz");
	struct stat st;
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	cr_assert_eq(fread(good, 1, sizeof good, f), sizeof good);
	fclose(f);
	cr_assert_eq(stat(path, &st), 0);
	good_size = st.st_size;
}

static uint64_t get(const unsigned char *sb, size_t off, size_t size)
{
	uint64_t v = 0;
	memcpy(&v, sb + off, size);
	return le64toh(v);
}

static void put(unsigned char *sb, size_t off, size_t size, uint64_t v)
{
	v = htole64(v);
	memcpy(sb + off, &v, size);
}

/* Superblock field offsets and sizes (SquashFS 4.0). */
enum {
	MAGIC = 0, BLOCK_SIZE = 12, COMPRESSION = 20, BLOCK_LOG = 22, NO_IDS = 26, MAJOR = 28,
	MINOR = 30, ROOT = 32, BYTES_USED = 40, ID_TABLE = 48, XATTR_TABLE = 56, INODE_TABLE = 64,
	DIR_TABLE = 72, FRAG_TABLE = 80, EXPORT_TABLE = 88,
};

Test(image, superblock_fields)
{
	load_superblock();
	uint64_t bytes_used = get(good, BYTES_USED, 8);
	uint64_t inode = get(good, INODE_TABLE, 8), dir = get(good, DIR_TABLE, 8);
	/* text: a part of the message that names what is wrong. */
	const struct {
		size_t off, size;
		uint64_t value;
		const char *text;
	} cases[] = {
		{MAGIC, 4, 0x464c457f, "not a SquashFS image or a directory"},
		{MAGIC, 4, 0x68737173, "big-endian SquashFS (version 3 or older) is not supported"},
		{MAJOR, 2, 3, "SquashFS version 3.0 is not supported (hint: rebuild the image with mksquashfs 4.x)"},
		{MINOR, 2, 1, "SquashFS version 4.1 is not supported"},
		{BLOCK_SIZE, 4, 65536, "corrupt superblock: block size 65536 does not match block log 17"},
		{BLOCK_LOG, 2, 11, "corrupt superblock: block log 11 is out of range"},
		{BLOCK_LOG, 2, 21, "corrupt superblock: block log 21 is out of range"},
		{COMPRESSION, 2, 0, "corrupt superblock: unknown compression id 0"},
		{COMPRESSION, 2, 42, "corrupt superblock: unknown compression id 42"},
		{BYTES_USED, 8, 10, "corrupt superblock: bytes_used 10 is smaller than the superblock"},
		{BYTES_USED, 8, good_size + 1, "truncated: "},
		{INODE_TABLE, 8, 95, "corrupt superblock: inode table at byte 95 is not after the superblock"},
		{INODE_TABLE, 8, dir, "directory table at byte"},
		{DIR_TABLE, 8, bytes_used, "directory table at byte"},
		{ID_TABLE, 8, bytes_used + 100, "id table at byte"},
		{ID_TABLE, 8, UINT64_MAX, "id table at byte 18446744073709551615 is beyond bytes_used"},
		{ID_TABLE, 8, inode, "is not after the directory table"},
		{FRAG_TABLE, 8, bytes_used, "fragment table at byte"},
		{EXPORT_TABLE, 8, dir, "export table at byte"},
		{XATTR_TABLE, 8, bytes_used + 1, "xattr table at byte"},
		{ROOT, 8, 8192, "corrupt superblock: root inode reference 0x2000 points outside the inode table"},
		{ROOT, 8, (dir - inode) << 16, "root inode reference"},
		{NO_IDS, 2, 0, "corrupt superblock: no uid/gid entries"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned char sb[sizeof good];
		struct yurt_image img = {0};
		struct yurt_err err = {0};

		memcpy(sb, good, sizeof sb);
		put(sb, cases[i].off, cases[i].size, cases[i].value);
		cr_expect_eq(yurt_sqfs_superblock_check(sb, sizeof sb, good_size, &img, &err), -1,
		             "case %zu accepted", i);
		cr_expect(strstr(err_text(&err), cases[i].text), "case %zu: got \"%s\", want \"%s\"",
		          i, err_text(&err), cases[i].text);
		cr_expect_eq(img.bytes_used, 0, "case %zu filled the image", i);
	}
}

Test(image, superblock_good_and_short)
{
	struct yurt_image img = {0};
	struct yurt_err err = {0};

	load_superblock();
	cr_expect_eq(yurt_sqfs_superblock_check(good, sizeof good, good_size, &img, &err), 0,
	             "%s", err_text(&err));
	cr_expect_str_eq(img.compression, "xz");
	cr_expect_eq(img.bytes_used, get(good, BYTES_USED, 8));

	cr_expect_eq(yurt_sqfs_superblock_check(good, 50, 50, &img, &err), -1);
	cr_expect_str_eq(err_text(&err), "truncated: 50 bytes, shorter than a superblock");
	cr_expect_eq(yurt_sqfs_superblock_check(good, 3, 3, &img, &err), -1);
	cr_expect_str_eq(err_text(&err), "not a SquashFS image or a directory");
	cr_expect_eq(yurt_sqfs_superblock_check(good, 0, 0, &img, &err), -1);
	cr_expect_str_eq(err_text(&err), "not a SquashFS image or a directory");
}
