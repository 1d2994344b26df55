#!/bin/bash
# --container-slurm: Slurm's commands work inside the container (MUNGE's
# socket and Slurm's configuration brought in), as a workflow manager running
# in the image needs; without it they find neither.
. "$(dirname "$0")/lib.sh"
I="--container-image=$IMAGE"

out=$(as_user timeout 60 srun -n1 "$I" --container-slurm \
	sh -c 'squeue -h -j "$SLURM_JOB_ID" -o "Q %i %u %T"; echo "J $SLURM_JOB_ID"' 2>&1)
show "$out"
job=$(sed -n 's/^J //p' <<<"$out")
check "--container-slurm: squeue inside lists the job itself" \
	grep -qx "Q $job $TEST_USER RUNNING" <<<"$out"
out=$(YURT_CONTAINER_SLURM=yes as_user timeout 60 srun -n1 "$I" \
	sh -c 'scontrol show job "$SLURM_JOB_ID" -o | grep -o "JobState=[A-Z]*"' 2>&1)
check "YURT_CONTAINER_SLURM twin: scontrol inside" test "$out" = JobState=RUNNING

# Containers see /tmp and the home: a cluster kept there is in sight anyway.
case $SLURM_CONF in
/tmp/* | "$(dirname "$WORK")"/*)
	ok "# SKIP without --container-slurm: SLURM_CONF $SLURM_CONF is visible in every container" ;;
*)
	# squeue retries a missing slurm.conf for 60 s: two are enough.
	out=$(as_user timeout 60 srun -n1 "$I" \
		sh -c 'timeout 2 squeue -h -j "$SLURM_JOB_ID" -o "Q %i"; echo "rc=$?"' 2>&1)
	show "$out"
	check "without --container-slurm squeue inside fails" \
		bash -c '! grep -q "^Q " <<<"$1" && grep -qE "^rc=[1-9]" <<<"$1"' _ "$out" ;;
esac

# A workflow manager in the image submits its jobs from there, with the
# plugin's options too (the plugin must load inside: plugstack.conf requires it).
out=$(as_user timeout 60 srun -n1 "$I" --container-slurm sbatch --parsable "$I" \
	-o "$WORK/inner-%j.out" --wrap 'cat /etc/yurt-test-image' 2>&1)
show "$out"
inner=$(tail -n1 <<<"$out")
if [[ $inner =~ ^[0-9]+$ ]]; then
	ok "sbatch inside the container: job $inner submitted"
	wait_done "$inner" 60
	check "the job submitted from inside ran, in the image" grep -qx yurt-slurm-test-image "$WORK/inner-$inner.out"
else
	not_ok "sbatch inside the container gets a job id"
fi
check "no holder or state left" no_leftovers
