/* The process floor for N tasks: N fork+exec of CMD from one small process,
 * no container, then a wait for all; exit 1 if any copy fails.
 *   spawn N CMD [ARG...]
 * (A shell's `cmd & ... wait` costs more per copy than a launcher written in C,
 * so it would flatter yurt.) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: spawn N CMD [ARG...]\n");
		return 2;
	}
	int n = atoi(argv[1]), failed = 0, status;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("spawn: fork");
			return 1;
		}
		if (pid == 0) {
			execv(argv[2], argv + 2);
			perror(argv[2]);
			_exit(127);
		}
	}
	while (wait(&status) > 0)
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	if (failed)
		fprintf(stderr, "spawn: %d of %d copies failed\n", failed, n);
	return failed != 0;
}
