#!/bin/bash
# sbatch --container-image runs the batch script itself inside the image.
. "$(dirname "$0")/lib.sh"
printf '#!/bin/sh\ncat /etc/yurt-test-image\necho "var=$YURT_IMG_VAR"\n' > "$WORK/batch.sh"
chown "$TEST_USER:" "$WORK/batch.sh"
id=$(as_user sbatch --parsable --container-image="$IMAGE" -o "$WORK/batch-%j.out" "$WORK/batch.sh")
wait_done "$id" 60
out=$(cat "$WORK/batch-$id.out" 2>&1); show "$out"
check "batch script ran inside the image" grep -qx yurt-slurm-test-image <<<"$out"
check "with the image's environment" grep -qx var=fromimage <<<"$out"
printf '#!/bin/sh\n#SBATCH --container-image=%s\ncat /etc/yurt-test-image\n' "$IMAGE" > "$WORK/batch2.sh"
chown "$TEST_USER:" "$WORK/batch2.sh"
id=$(as_user sbatch --parsable -o "$WORK/batch2-%j.out" "$WORK/batch2.sh")
wait_done "$id" 60
check "#SBATCH --container-image" grep -qx yurt-slurm-test-image "$WORK/batch2-$id.out"
check "nothing left after the batch jobs" no_leftovers
