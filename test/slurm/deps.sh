#!/bin/bash
# Debian 12 packages yurt's Slurm tests need (test/slurm/cluster.sh, the
# SPANK plugin build, the MPI checks).  Installs only what is missing, so it is
# cheap to run every time; `deps.sh --list` prints the names and exits.
set -euo pipefail

PACKAGES=(
	munge libmunge2 libmunge-dev        # munged + libmunge for src/munge.c
	slurmctld slurmd slurm-client       # Slurm 22.05 daemons and srun/sbatch/...
	slurm-wlm-basic-plugins             # proctrack, task/affinity, mpi/pmi2, cons_tres
	libslurm-dev                        # slurm/spank.h for the SPANK plugin
	mpich libmpich-dev                  # mpicc + libmpich (ch4:ucx) for srun --mpi=pmi2
	libpmix-dev                         # libpmix.so, which Slurm's mpi/pmix dlopens
	libcriterion-dev pkg-config gcc make
)

if [[ ${1:-} == --list ]]; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
	# "install ok installed" is the only state that means usable.
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "deps.sh: all ${#PACKAGES[@]} packages installed" >&2
	exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "deps.sh: missing: ${missing[*]}; run as root to install" >&2; exit 1; }
echo "deps.sh: installing: ${missing[*]}" >&2
# policy-rc.d or not, the packaged services are never needed: cluster.sh
# starts its own daemons.
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
	|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
