#!/bin/bash
# A SquashFS image: one container per node, the image mounted (served) once
# per node for all its tasks, and its root-owned files changeable with
# --container-remap-root --container-writable only.
. "$(dirname "$0")/lib.sh"
if ! command -v mksquashfs >/dev/null || ! command -v busybox >/dev/null; then
	ok "# SKIP mksquashfs or busybox missing (test/deps.sh test)"
	exit 0
fi
# Under allow_images (the directory holding the test image), readable by all.
SQ=$(mktemp -d "$(dirname "$IMAGE")/yurt-slurm-sqfs.XXXXXX")
trap 'rm -rf -- "$SQ"' EXIT
chmod 755 "$SQ"
# A busybox tree with what the checks run and the mount points yurt would
# otherwise add in a layer of its own (which would hide the image's /etc),
# owned by root in the image (examples/images/busybox.sh links all ~400
# applets, seconds on a busy machine).
mkdir -p "$SQ/img/"{bin,etc,.yurt,proc,dev,sys,tmp,home,root,run}
cp "$(command -v busybox)" "$SQ/img/bin/busybox"
for a in sh cat echo seq sleep stat touch readlink; do ln -s busybox "$SQ/img/bin/$a"; done
touch "$SQ/img/etc/"{passwd,group,resolv.conf,hosts}
echo PATH=/bin > "$SQ/img/.yurt/env"
echo yurt-slurm-sqfs > "$SQ/img/etc/yurt-sqfs"
SQFS=$SQ/busybox.sqfs
mksquashfs "$SQ/img" "$SQFS" -all-root -noappend -quiet -no-progress >/dev/null
chmod 644 "$SQFS"
I="--container-image=$SQFS"

# Tasks stay until told, so the image's servers are counted while they run.
go=$WORK/sqfs-go
rm -f "$go"
as_user timeout 60 srun -N2 -n4 --overcommit "$I" sh -c \
	'echo "T $SLURM_PROCID $SLURMD_NODENAME $(cat /etc/yurt-sqfs) $(readlink /proc/self/ns/mnt)"
	 for i in $(seq 150); do [ -e "$1" ] && break; sleep 0.2; done' sh "$go" \
	> "$SQ/out" 2>&1 &
step=$!
for ((t = 0; t < 120; t++)); do
	[[ $(grep -c '^T ' "$SQ/out") -ge 4 ]] && break
	sleep 0.25
done
# The processes of the user that hold the image open: its FUSE servers.
servers=$(for p in $(pgrep -u "$TEST_USER"); do
	for fd in /proc/"$p"/fd/*; do
		[[ $(readlink "$fd" 2>/dev/null) == "$SQFS" ]] && { echo "$p"; break; }
	done
done)
touch "$go"
wait "$step"
out=$(<"$SQ/out")
show "$out"
show "servers: $(paste -sd' ' <<<"$servers")"
check "srun -N2 -n4 --container-image=X.sqfs: all tasks in the image" \
	test "$(grep -c '^T [0-3] yurt[12] yurt-slurm-sqfs mnt:' <<<"$out")" -eq 4
check "one container (mount namespace) per node" test "$(awk '/^T/ {print $3, $5}' <<<"$out" | sort -u | wc -l)" -eq 2
check "the two nodes' containers differ" test "$(awk '/^T/ {print $5}' <<<"$out" | sort -u | wc -l)" -eq 2
check "the image mounted once per node (2 servers for 4 tasks)" test "$(grep -c . <<<"$servers")" -eq 2
check "no holder, state or server left after the step" no_leftovers

# Root's files in the image are the user's own with --container-remap-root
# (uid 0 inside is the user): with --container-writable they can be changed,
# in memory.
out=$(as_user timeout 60 srun -n1 "$I" --container-remap-root --container-writable \
	sh -c 'stat -c %u /etc; touch /etc/yurt-w && echo W' 2>&1)
show "$out"
check "--container-remap-root --container-writable: new file in the image's root-owned /etc" \
	test "$out" = $'0\nW'
out=$(as_user timeout 60 srun -n1 "$I" --container-remap-root sh -c 'touch /etc/yurt-w && echo W' 2>&1)
check "without --container-writable the image stays read-only" test "$out" != W
check "no holder or state left" no_leftovers
