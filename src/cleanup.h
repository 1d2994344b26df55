/* Scope-bound cleanups, so early returns stay short and leak nothing. */
#ifndef YURT_CLEANUP_H
#define YURT_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void yurt_freep(void *p) { free(*(void **)p); }
static inline void yurt_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void yurt_fclosep(FILE **f) { if (*f) fclose(*f); }

#define _cleanup_free_ __attribute__((cleanup(yurt_freep)))
#define _cleanup_close_ __attribute__((cleanup(yurt_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(yurt_fclosep)))

/* Hands ownership out of a cleanup-managed variable. */
#define yurt_steal_ptr(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define yurt_steal_fd(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

#endif
