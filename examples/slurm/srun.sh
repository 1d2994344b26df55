#!/bin/bash
# A batch job whose steps run in a yurt container: every task of a step on a
# node shares one container (one image mount), joined at task start.
#SBATCH -N 2
#SBATCH --ntasks-per-node=4
#SBATCH -t 00:10:00
IMAGE=${IMAGE:-$HOME/images/debian-numpy.sqfs}

# Each task runs inside the image, with Slurm's binding and environment.
srun --container-image="$IMAGE" --container-mounts="$PWD/data:/data:ro" \
	python3 -c 'import os, numpy; print(os.environ["SLURM_PROCID"], numpy.__version__)'

# A container that outlives the step: a later step of this job names it and
# sees what the first one wrote (--container-writable keeps writes in memory;
# root-owned directories of the image need --container-remap-root).
srun -N1 -n1 --container-image="$IMAGE" --container-name=prep --container-writable --container-remap-root \
	sh -c 'mkdir -p /opt/work && echo prepared > /opt/work/state'
srun -N1 -n1 --container-name=prep cat /opt/work/state
