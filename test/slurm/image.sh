#!/bin/bash
# image.sh DIR [OWNER]: a directory image for the Slurm tests, cloned from this
# host (hard links, so it costs no space): it carries MPICH's runtime and
# slurm-client as the host has them, a marker file and an image environment.
# OWNER (the test user) gets the image's /scratch, as in an image the user
# built: --container-writable can change the user's own directories, not
# those of host uids the container does not map (overlayfs refuses to copy
# them up: EOVERFLOW).  An existing image is kept, /scratch's owner fixed.
set -euo pipefail
DIR=${1:?usage: image.sh DIR [OWNER]}
OWNER=${2:-}
own_scratch() {
	[[ -z $OWNER ]] || chown "$OWNER:" "$1/scratch"
}
if [[ -e $DIR/etc/yurt-test-image ]]; then
	own_scratch "$DIR"
	exit 0
fi
rm -rf "$DIR.tmp"; mkdir -p "$DIR.tmp"; cd "$DIR.tmp"
cp -al /usr usr 2>/dev/null || cp -a /usr usr
cp -a /etc etc
for l in bin sbin lib lib64; do [[ -L /$l ]] && ln -s "$(readlink "/$l")" "$l"; done
mkdir -p proc sys dev tmp home run var/tmp root scratch .yurt
chmod 1777 tmp var/tmp scratch
own_scratch .
echo yurt-slurm-test-image > etc/yurt-test-image
printf 'YURT_IMG_VAR=fromimage\nYURT_IMG_OVERRIDE=image\n' > .yurt/env
cd / && mv "$DIR.tmp" "$DIR"
