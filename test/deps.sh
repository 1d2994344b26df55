#!/bin/bash
# Installs the Debian/Ubuntu packages yurt needs to build and test (as root),
# or prints the command that would (as anyone else).  Quiet when all is there.
# Usage: test/deps.sh [build|test|bench|slurm]...   (default: build test)
set -euo pipefail

declare -A sets=(
	[build]="gcc make pkg-config autoconf libsquashfuse-dev libfuse3-dev libcap-dev libhwloc-dev libmunge-dev libcriterion-dev libdeflate-dev"
	[test]="squashfs-tools busybox-static util-linux procps fuse3 hwloc"
	[bench]="charliecloud hyperfine debootstrap bubblewrap"
	[slurm]="munge slurmctld slurmd slurm-client slurm-wlm-basic-plugins libslurm-dev mpich libmpich-dev"
)
wanted=()
for set in "${@:-build test}"; do
	for s in $set; do wanted+=(${sets[$s]}); done
done

missing=()
for p in "${wanted[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "yurt: missing packages; run as root: apt-get update && $cmd" >&2
	exit 1
fi
echo "yurt: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Package lists are fetched once, when a fresh machine has none.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]; then
	apt-get update -q >&2
fi
$cmd >&2 || { apt-get update -q >&2 && $cmd >&2; }
