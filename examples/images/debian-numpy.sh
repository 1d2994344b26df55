#!/bin/bash
# Builds Debian bookworm (minbase) with python3-numpy, as a directory image and
# as a gzip SquashFS of it, for the benchmarks (test/bench/run.sh):
#   examples/images/debian-numpy.sh OUTDIR
# writes OUTDIR/rootfs/ and OUTDIR/debian-numpy.sqfs.  Run as root: debootstrap
# needs real chown and mknod, which neither fakeroot nor a user namespace with
# one mapped id gives reliably.  The output is cached: OUTDIR/stamp records the
# recipe that built it, and a second run with the same recipe does nothing.
# Environment: MIRROR (default http://deb.debian.org/debian), SUITE (bookworm),
# PACKAGES (python3-numpy), COMP (gzip), FORCE=1 to rebuild.
set -euo pipefail
out=${1:?usage: debian-numpy.sh OUTDIR}
mirror=${MIRROR:-http://deb.debian.org/debian}
suite=${SUITE:-bookworm}
packages=${PACKAGES:-python3-numpy}
comp=${COMP:-gzip}
recipe="v1 suite=$suite packages=$packages comp=$comp mirror=$mirror"

rootfs=$out/rootfs
sqfs=$out/debian-numpy.sqfs
if [ "${FORCE:-0}" != 1 ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$recipe" ] &&
	[ -x "$rootfs/usr/bin/python3" ] && [ -s "$sqfs" ]; then
	exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "debian-numpy.sh: run as root (debootstrap needs it)" >&2; exit 1; }
for tool in debootstrap mksquashfs; do
	command -v "$tool" >/dev/null || { echo "debian-numpy.sh: $tool missing: test/deps.sh bench test" >&2; exit 1; }
done

mkdir -p "$out"
rm -rf "$rootfs" "$rootfs.tmp" "$sqfs" "$out/stamp"
echo "debian-numpy.sh: debootstrap $suite + $packages into $rootfs (a few minutes)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs.tmp" "$mirror" \
	> "$out/debootstrap.log" 2>&1 ||
	{ tail -20 "$out/debootstrap.log" >&2; echo "debian-numpy.sh: debootstrap failed, see $out/debootstrap.log" >&2; exit 1; }
# Smaller image, same behaviour: package caches and lists are not needed to run.
rm -rf "$rootfs.tmp"/var/cache/apt/*.bin "$rootfs.tmp"/var/cache/apt/archives/*.deb \
	"$rootfs.tmp"/var/lib/apt/lists/* "$rootfs.tmp"/var/log/*.log
mkdir -p "$rootfs.tmp/.yurt"
printf '%s\n' '# The image environment: yurt reads NAME=VALUE lines from /.yurt/env.' \
	'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	'LANG=C.UTF-8' > "$rootfs.tmp/.yurt/env"
# An unprivileged container user must be able to read the whole tree (ch-run
# and yurt run a directory image as the invoking user).
chmod -R a+rX "$rootfs.tmp"
mv "$rootfs.tmp" "$rootfs"
mksquashfs "$rootfs" "$sqfs.tmp" -comp "$comp" -all-root -noappend -quiet -no-progress >/dev/null
chmod 644 "$sqfs.tmp"
mv "$sqfs.tmp" "$sqfs"
echo "$recipe" > "$out/stamp"
du -sh "$rootfs" "$sqfs" >&2
