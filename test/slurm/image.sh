#!/bin/bash
# image.sh DIR: a directory image for the Slurm tests, cloned from this host
# (hard links, so it costs no space): it carries MPICH's runtime and
# slurm-client as the host has them, a marker file and an image environment.
set -euo pipefail
DIR=${1:?usage: image.sh DIR}
[[ -e $DIR/etc/yurt-test-image ]] && exit 0
rm -rf "$DIR.tmp"; mkdir -p "$DIR.tmp"; cd "$DIR.tmp"
cp -al /usr usr 2>/dev/null || cp -a /usr usr
cp -a /etc etc
for l in bin sbin lib lib64; do [[ -L /$l ]] && ln -s "$(readlink "/$l")" "$l"; done
mkdir -p proc sys dev tmp home run var/tmp root scratch .yurt
chmod 1777 tmp var/tmp scratch
echo yurt-slurm-test-image > etc/yurt-test-image
printf 'YURT_IMG_VAR=fromimage\nYURT_IMG_OVERRIDE=image\n' > .yurt/env
cd / && mv "$DIR.tmp" "$DIR"
