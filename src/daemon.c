#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "error.h"

int yurt_fork_detached(void)
{
	pid_t child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		if (setsid() < 0 || (child = fork()) < 0)
			_exit(YURT_EXIT_LAUNCH);
		if (child > 0)
			_exit(0);
		return 0;
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	return 1;
}
