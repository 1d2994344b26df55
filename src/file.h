/* Small host files written in one piece: procfs and cgroupfs take one value
 * per write(2), and generated files are written once. */
#ifndef YURT_FILE_H
#define YURT_FILE_H

#include <sys/types.h>

#include "error.h"

/* Opens PATH write-only with FLAGS (O_CREAT, O_EXCL, O_TRUNC...) and MODE and
 * writes TEXT in one write(2). */
int yurt_file_write(const char *path, int flags, mode_t mode, const char *text, struct yurt_err *err);

#endif
