/* The container image: a directory tree or a SquashFS file, told apart by
 * content (never by name), and checked before anything is mounted so that a
 * bad image fails early with a message that names it. */
#ifndef YURT_IMAGE_H
#define YURT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum yurt_image_type {
	YURT_IMAGE_DIR,
	YURT_IMAGE_SQUASHFS,
};

struct yurt_image {
	enum yurt_image_type type;
	char *path;                 /* absolute, symlinks resolved */
	/* SquashFS only: */
	uint64_t bytes_used;        /* size of the filesystem inside the file */
	uint32_t block_size;        /* data block size */
	const char *compression;    /* compressor name as libsquashfuse spells it, static */
};

/* Opens and checks the image at path.  Every failure names the path as given:
 * "image PATH: WHY". */
int yurt_image_open(struct yurt_image *img, const char *path, struct yurt_err *err);
void yurt_image_release(struct yurt_image *img);

/* Validates a SquashFS 4.0 superblock read from the start of a file of
 * file_size bytes (len: how many bytes buf holds) and fills img's SquashFS
 * fields.  Pure: no I/O.  Messages do not name the file; the caller does. */
int yurt_sqfs_superblock_check(const void *buf, size_t len, uint64_t file_size,
                               struct yurt_image *img, struct yurt_err *err);

#endif
