#!/bin/bash
# `make demo`: builds a small SquashFS image from Debian's busybox-static and
# runs examples/job.sh in it, as an unprivileged user.
#   examples/demo.sh [YURT]      (default: bin/yurt of this checkout)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
yurt=${1:-$here/../bin/yurt}
demo=${YURT_DEMO_DIR:-/tmp/yurt-demo-$(id -u)}

if [ "$(id -u)" -eq 0 ]; then
	# Containers are for users: as root, the demo runs as a test user, with
	# /dev/fuse as real systems ship it (0666).
	user=${YURT_DEMO_USER:-yurttest}
	id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
	chmod 666 /dev/fuse
	copy=$(mktemp -d /tmp/yurt-demo-src.XXXXXX)
	trap 'rm -rf "$copy"' EXIT
	mkdir -p "$copy/examples/images"
	cp "$yurt" "$copy/yurt"
	cp "$here/demo.sh" "$here/job.sh" "$copy/examples/"
	cp "$here/images/busybox.sh" "$copy/examples/images/"
	chmod -R a+rX "$copy"
	runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" \
		PATH=/usr/local/bin:/usr/bin:/bin TERM="${TERM:-dumb}" \
		"$copy/examples/demo.sh" "$copy/yurt"
	exit
fi

mkdir -p "$demo"
echo "== building $demo/image.sqfs from busybox-static"
"$here/images/busybox.sh" "$demo/rootfs" "$demo/image.sqfs"
cp "$here/job.sh" "$demo/job.sh"
echo "== $ yurt run image.sqfs ./job.sh   (as $(id -un), in $demo)"
cd "$demo"
"$yurt" run image.sqfs ./job.sh
