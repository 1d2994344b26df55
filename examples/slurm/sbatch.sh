#!/bin/sh
# The batch script itself runs inside the image (steps it starts may name
# their own images).  Submit with: sbatch examples/slurm/sbatch.sh
#SBATCH -N 1
#SBATCH -t 00:05:00
#SBATCH --container-image=/apps/images/debian-numpy.sqfs
cat /etc/os-release | head -1
python3 -c 'import numpy; print("numpy", numpy.__version__)'
