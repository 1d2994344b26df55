#!/bin/bash
# scancel mid-run: no process, mount or state left.
. "$(dirname "$0")/lib.sh"
id=$(as_user sbatch --parsable -N2 -n2 -o /dev/null --wrap "srun --container-image=$IMAGE sleep 300")
for ((t = 0; t < 80; t++)); do pgrep -u "$TEST_USER" -f 'yurt start' >/dev/null && break; sleep 0.25; done
sleep 1
check "container running before scancel" pgrep -u "$TEST_USER" -x sleep
scancel "$id"
wait_done "$id" 60
check "no holder or state left after scancel" no_leftovers
check "no task left" bash -c "! pgrep -u $TEST_USER -x sleep"
check "no squashfuse/yurt mount left" bash -c "! grep -q '$IMAGE' /proc/mounts"
