#!/bin/bash
# Mistakes: reported before submission where Slurm allows, else one yurt line
# and a failed step, with nothing left on the node.
. "$(dirname "$0")/lib.sh"
I="--container-image=$IMAGE"
before=$(squeue -h -o %i | sort)
err=$(as_user timeout 30 srun -n1 "$I" --container-mounts=/tmp:/a/../b true 2>&1); rc=$?
show "$err"
check "'..' in a mount destination refused" test $rc -ne 0 -a -n "$(grep "yurt: error: .*'\.\.'" <<<"$err")"
err=$(as_user timeout 30 srun -n1 "$I" --container-mounts=/tmp:rel true 2>&1); rc=$?
check "relative mount destination refused" test $rc -ne 0 -a -n "$(grep 'yurt: error:' <<<"$err")"
err=$(as_user timeout 30 srun -n1 --container-workdir=/tmp true 2>&1); rc=$?
check "--container-workdir without an image refused" test $rc -ne 0 -a -n "$(grep 'needs --container-image' <<<"$err")"
err=$(as_user timeout 30 srun -n1 "$I" --container-mount-home --no-container-mount-home true 2>&1); rc=$?
check "contradicting home options refused" test $rc -ne 0 -a -n "$(grep 'contradict' <<<"$err")"
err=$(as_user timeout 30 sbatch "$I" --container-mounts=/x:/y:bad --wrap true 2>&1); rc=$?
check "sbatch refuses a malformed mount before submission" test $rc -ne 0 -a -n "$(grep 'yurt: error:' <<<"$err")"
check "nothing was submitted for the refused ones" test "$(squeue -h -o %i | sort)" = "$before"
# Twins are defaults for the steps that have a container: exported, they do
# not fail the job's plain steps.
err=$(YURT_CONTAINER_MOUNTS=/tmp:/x YURT_CONTAINER_WRITABLE=1 as_user timeout 30 srun -n1 true 2>&1); rc=$?
[[ -z $err ]] || show "$err"
check "twins without an image leave a plain srun alone" test $rc -eq 0 -a -z "$err"

# one_line RC OUTPUT PATTERN: the step failed, saying PATTERN in exactly one
# "yurt: error:" line at the start of the user's stderr.
one_line() { [[ $1 -ne 0 ]] && [[ $(grep -c '^yurt: error:' <<<"$2") -eq 1 ]] && grep -q "^yurt: error:.*$3" <<<"$2"; }
err=$(as_user timeout 60 srun -N2 -n4 --overcommit --container-image=$(dirname "$IMAGE")/nonexistent true 2>&1); rc=$?
show "$err"
check "bad image: the step fails, one yurt line per node" test $rc -ne 0 -a "$(grep -c '^yurt: error:.*nonexistent' <<<"$err")" -eq 2
err=$(as_user timeout 60 srun -n1 "$I" --container-mounts=/nonexistent-src:/x true 2>&1); rc=$?
show "$err"
check "missing mount source: the step fails with one yurt line" one_line $rc "$err" nonexistent-src
err=$(as_user timeout 60 srun -n1 --container-image=/usr/share/doc true 2>&1); rc=$?
show "$err"
check "image outside allow_images refused" one_line $rc "$err" allow_images
check "nothing left after failures" no_leftovers
