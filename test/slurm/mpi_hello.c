/* MPI check for the test cluster: every rank prints its rank and Slurm node,
 * a token travels once around the ring (so messages cross between the nodes,
 * ranks 0-1 on yurt1 and 2-3 on yurt2), and an allreduce checks collectives. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int rank, size, token, sum = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (rank == 0) {
		token = 0;
		MPI_Send(&token, 1, MPI_INT, 1 % size, 0, MPI_COMM_WORLD);
		MPI_Recv(&token, 1, MPI_INT, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	} else {
		MPI_Recv(&token, 1, MPI_INT, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		token++;
		MPI_Send(&token, 1, MPI_INT, (rank + 1) % size, 0, MPI_COMM_WORLD);
	}
	MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	/* rank 0 gets the token back after size-1 increments. */
	printf("rank %d of %d on %s token %d sum %d\n", rank, size,
	       getenv("SLURMD_NODENAME") ? getenv("SLURMD_NODENAME") : "?",
	       token, sum);
	MPI_Finalize();
	return 0;
}
