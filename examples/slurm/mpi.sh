#!/bin/bash
# An MPI job in a container: Slurm's PMI2 wires up the ranks, which run in the
# image (built against the image's MPICH) on every node.
#SBATCH -N 2
#SBATCH --ntasks-per-node=2
#SBATCH -t 00:10:00
IMAGE=${IMAGE:-/apps/images/mpich.sqfs}
srun --mpi=pmi2 --container-image="$IMAGE" /opt/app/mpi_hello
