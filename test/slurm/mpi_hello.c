/* MPI check for the test cluster: every rank prints its rank and Slurm node,
 * a token travels once around the ring (so messages cross between the nodes,
 * ranks 0-1 on yurt1 and 2-3 on yurt2) carrying the sender's node name, an
 * allreduce checks collectives, and each rank names its mount namespace (so
 * a container's tests see which ranks share one):
 *   rank R of N on NODE token T sum S from PREV_NODE mnt:[ID] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct token {
	int count;
	char node[64];   /* the sender's */
};

int main(int argc, char **argv)
{
	int rank, size, sum = 0;
	struct token token = { 0 }, mine = { 0 };
	const char *node = getenv("SLURMD_NODENAME");
	char ns[64] = "?";
	ssize_t n = readlink("/proc/self/ns/mnt", ns, sizeof ns - 1);

	if (n > 0)
		ns[n] = '\0';
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	snprintf(mine.node, sizeof mine.node, "%s", node ? node : "?");
	if (rank == 0) {
		MPI_Send(&mine, sizeof mine, MPI_BYTE, 1 % size, 0, MPI_COMM_WORLD);
		MPI_Recv(&token, sizeof token, MPI_BYTE, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	} else {
		MPI_Recv(&token, sizeof token, MPI_BYTE, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		mine.count = token.count + 1;
		MPI_Send(&mine, sizeof mine, MPI_BYTE, (rank + 1) % size, 0, MPI_COMM_WORLD);
	}
	MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	/* rank 0 gets the token back after size-1 increments. */
	printf("rank %d of %d on %s token %d sum %d from %s %s\n", rank, size, mine.node,
	       rank == 0 ? token.count : mine.count, sum, token.node, ns);
	MPI_Finalize();
	return 0;
}
