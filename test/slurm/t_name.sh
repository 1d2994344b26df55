#!/bin/bash
# --container-name: a later step of the job joins the container and sees its files.
. "$(dirname "$0")/lib.sh"
cat > "$WORK/name.sh" <<EOS
#!/bin/bash
#SBATCH -N1 -n1
srun --container-image=$IMAGE --container-name=keep --container-writable sh -c 'echo first > /scratch/yurt-named; readlink /proc/self/ns/mnt'
srun --container-name=keep sh -c 'cat /scratch/yurt-named; readlink /proc/self/ns/mnt'
EOS
chown "$TEST_USER:" "$WORK/name.sh"
id=$(as_user sbatch --parsable -o "$WORK/name-%j.out" "$WORK/name.sh")
wait_done "$id" 60
out=$(cat "$WORK/name-$id.out" 2>&1); show "$out"
check "second step sees the first step's file" grep -qx first <<<"$out"
check "same container (mount namespace) in both steps" test "$(grep -c '^mnt:' <<<"$out")" -eq 2 -a "$(grep '^mnt:' <<<"$out" | sort -u | wc -l)" -eq 1
check "the named container ends with the job" no_leftovers
