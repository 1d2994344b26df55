#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "file.h"

int yurt_file_write(const char *path, int flags, mode_t mode, const char *text, struct yurt_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | flags, mode);
	if (fd < 0)
		return yurt_fail(err, errno, "cannot open %s", path);
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	if (n < 0)
		return yurt_fail(err, errno, "cannot write \"%s\" to %s", text, path);
	if ((size_t)n != len)
		return yurt_fail(err, EIO, "cannot write \"%s\" to %s: short write", text, path);
	return 0;
}
