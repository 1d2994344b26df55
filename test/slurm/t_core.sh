#!/bin/bash
# The image, one container per node, mounts, workdir, env, writable, remap-root, binding.
. "$(dirname "$0")/lib.sh"
I="--container-image=$IMAGE"

out=$(as_user timeout 60 srun -N2 -n4 --overcommit "$I" sh -c \
	'echo "T $SLURM_PROCID $SLURMD_NODENAME $(cat /etc/yurt-test-image) $(readlink /proc/self/ns/mnt)"' 2>&1)
show "$out"
check "srun -N2 -n4: all tasks in the image" test "$(grep -c '^T [0-3] yurt[12] yurt-slurm-test-image' <<<"$out")" -eq 4
check "one container (mount namespace) per node" test "$(awk '/^T/ {print $3, $5}' <<<"$out" | sort -u | wc -l)" -eq 2
check "the two nodes' containers differ" test "$(awk '/^T/ {print $5}' <<<"$out" | sort -u | wc -l)" -eq 2
check "no holder or state left after the step" no_leftovers

mkdir -p "$WORK/data" && echo hello > "$WORK/data/f" && chown -R "$TEST_USER:" "$WORK/data"
out=$(as_user timeout 60 srun -n1 "$I" --container-mounts="$WORK/data:/data:ro,$WORK/data:/rw" \
	sh -c 'cat /data/f; touch /data/x 2>/dev/null && echo WROTE-RO; touch /rw/y && echo WROTE-RW' 2>&1)
show "$out"
check "--container-mounts binds, ro honoured" test "$out" = $'hello\nWROTE-RW'
out=$(YURT_CONTAINER_MOUNTS="$WORK/data:/envdata" as_user timeout 60 srun -n1 "$I" cat /envdata/f 2>&1)
check "YURT_CONTAINER_MOUNTS twin" test "$out" = hello

out=$(as_user timeout 60 srun -n1 "$I" --container-workdir=/usr/share pwd 2>&1)
check "--container-workdir" test "$out" = /usr/share
out=$(as_user timeout 60 srun -n1 "$I" pwd 2>&1)
check "workdir defaults to the job's directory (in the mounted home)" test "$out" = "$WORK"
out=$(as_user timeout 60 srun -n1 "$I" --no-container-mount-home sh -c 'pwd; ls /home' 2>&1)
check "--no-container-mount-home: home absent, image's workdir" test "$(head -1 <<<"$out")" != "$WORK"

out=$(YURT_IMG_OVERRIDE=host YURT_IMG_VAR=host as_user timeout 60 srun -n1 --export=ALL "$I" \
	--container-env=YURT_IMG_OVERRIDE sh -c 'echo $YURT_IMG_VAR $YURT_IMG_OVERRIDE $SLURM_JOB_ID' 2>&1)
show "$out"
check "image env wins, --container-env names win over it, Slurm's kept" grep -qE '^fromimage host [0-9]+$' <<<"$out"

out=$(as_user timeout 60 srun -n1 "$I" sh -c 'touch /scratch/yurt-w && echo W' 2>&1)
check "image read-only without --container-writable" test "$out" != W
# /scratch is the user's (image.sh), as in an image the user built: the
# overlay can copy up only what a uid the container maps owns.
out=$(as_user timeout 60 srun -n1 "$I" --container-writable sh -c 'touch /scratch/yurt-w && echo W' 2>&1)
check "--container-writable" test "$out" = W
check "writes stayed out of the image" test ! -e "$IMAGE/scratch/yurt-w"

out=$(as_user timeout 60 srun -n1 "$I" --container-remap-root id -u 2>&1)
check "--container-remap-root: uid 0 inside" test "$out" = 0
out=$(YURT_CONTAINER_REMAP_ROOT=1 as_user timeout 60 srun -n1 "$I" id -u 2>&1)
check "YURT_CONTAINER_REMAP_ROOT twin" test "$out" = 0
out=$(as_user timeout 60 srun -n1 "$I" id -u 2>&1)
check "the user's uid without it" test "$out" = "$(id -u "$TEST_USER")"
# With both, the user's files are root's inside and root changes them.  The
# root-owned files of a directory image are host root's, a uid no container
# maps: they stay unchangeable (yurt(1)); an image's own root-owned files
# (SquashFS) are changeable, checked in t_sqfs.sh.
out=$(as_user timeout 60 srun -n1 "$I" --container-remap-root --container-writable \
	sh -c 'touch /scratch/yurt-r && stat -c %u /scratch/yurt-r; if touch /etc/yurt-w 2>/dev/null; then echo W; fi' 2>&1)
show "$out"
check "--container-remap-root --container-writable: root changes the user's directory, not host root's" test "$out" = 0
check "writes stayed out of the image" test ! -e "$IMAGE/scratch/yurt-r" -a ! -e "$IMAGE/etc/yurt-w"

out=$(as_user timeout 60 srun -N1 -n2 --cpu-bind=cores "$I" grep Cpus_allowed_list /proc/self/status 2>&1)
ref=$(as_user timeout 60 srun -N1 -n2 --cpu-bind=cores grep Cpus_allowed_list /proc/self/status 2>&1)
show "$out"
check "--cpu-bind=cores binding as without the container" test "$(sort <<<"$out")" = "$(sort <<<"$ref")"

out=$(as_user timeout 60 srun -n1 "$I" sh -c 'exit 7' 2>&1); rc=$?
check "exit status passed through" test $rc -eq 7
check "no holder or state left" no_leftovers
