#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"

static const char *env_path(char *const envp[])
{
	for (; *envp; envp++)
		if (!strncmp(*envp, "PATH=", 5))
			return *envp + 5;
	return "/usr/local/bin:/usr/bin:/bin";
}

/* Execs FILE; a file without a #! line is run by /bin/sh, as execvp does. */
static void try_exec(const char *file, char *const argv[], char *const envp[])
{
	execve(file, argv, envp);
	if (errno != ENOEXEC)
		return;
	size_t argc = 0;
	while (argv[argc])
		argc++;
	char *sh_argv[argc + 2];
	sh_argv[0] = "/bin/sh";
	sh_argv[1] = (char *)file;
	memcpy(sh_argv + 2, argv + 1, argc * sizeof *argv);
	execve("/bin/sh", sh_argv, envp);
	errno = ENOEXEC;
}

static int exec_failure(const char *what, int errnum, struct yurt_err *err)
{
	int status = errnum == ENOENT ? YURT_EXIT_NOT_FOUND : YURT_EXIT_NOT_EXECUTABLE;
	return yurt_fail_status(err, status, errnum, "exec %s", what);
}

int yurt_exec(char *const argv[], char *const envp[], struct yurt_err *err)
{
	const char *cmd = argv[0];
	if (!*cmd)
		return yurt_fail_status(err, YURT_EXIT_NOT_FOUND, ENOENT, "exec ''");
	if (strchr(cmd, '/')) {
		try_exec(cmd, argv, envp);
		return exec_failure(cmd, errno, err);
	}
	bool denied = false;
	int other = 0;
	for (const char *dir = env_path(envp); ; ) {
		const char *end = strchrnul(dir, ':');
		char file[PATH_MAX];
		int n = (int)(end - dir);
		/* An empty PATH entry means the current directory. */
		if (snprintf(file, sizeof file, "%.*s%s%s", n, dir, n ? "/" : "", cmd) < (int)sizeof file) {
			try_exec(file, argv, envp);
			if (errno == EACCES)
				denied = true;
			else if (errno != ENOENT && errno != ENOTDIR && !other)
				other = errno;
		}
		if (!*end)
			break;
		dir = end + 1;
	}
	if (other)
		return exec_failure(cmd, other, err);
	if (denied)
		return exec_failure(cmd, EACCES, err);
	yurt_fail_status(err, YURT_EXIT_NOT_FOUND, 0, "%s: command not found", cmd);
	yurt_err_hint(err, "PATH inside the container is %s", env_path(envp));
	return -1;
}
