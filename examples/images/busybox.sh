#!/bin/bash
# Builds a tiny root filesystem from Debian's busybox-static into DIR, and a
# SquashFS of it when a second argument is given:
#   examples/images/busybox.sh DIR [IMAGE.sqfs]
# The image is deliberately bare (no /proc, /dev, /home...): yurt supplies the
# mount points an image lacks.
set -euo pipefail
dir=${1:?usage: busybox.sh DIR [IMAGE.sqfs]}
busybox=$(command -v busybox || echo /bin/busybox)
[ -x "$busybox" ] || { echo "busybox.sh: busybox not found: apt-get install busybox-static" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/etc" "$dir/.yurt"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
cat > "$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$dir/etc/group" <<'GROUP'
root:x:0:
GROUP
cat > "$dir/etc/os-release" <<'OSREL'
PRETTY_NAME="yurt demo (busybox-static)"
ID=yurt-busybox
OSREL
cat > "$dir/.yurt/env" <<'ENV'
# The image's environment: yurt reads NAME=VALUE lines from /.yurt/env.
PATH=/bin
YURT_IMAGE=busybox
ENV
if [ $# -ge 2 ]; then
	rm -f "$2"
	mksquashfs "$dir" "$2" -all-root -noappend -quiet -no-progress >/dev/null
fi
