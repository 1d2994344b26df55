#!/bin/bash
# Checks, as an unprivileged user, that the cluster from cluster.sh does what
# yurt's Slurm tests rely on: multi-node srun, sbatch, scancel, CPU binding,
# MPI over PMI2, MUNGE; and times a trivial step.  Run as root after
# `cluster.sh start`; prints TAP-like lines, exits 1 when a check fails.
#   YURT_TEST_USER   the user to submit as (default yurtdev; created if missing)
#   YURT_VERIFY_MPI_RUNS  how many times to run the MPI check (default 3)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST_USER=${YURT_TEST_USER:-yurtdev}
MPI_RUNS=${YURT_VERIFY_MPI_RUNS:-3}
eval "$("$HERE/cluster.sh" env)"
failures=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

[[ $(id -u) -eq 0 ]] || { echo "verify.sh: run as root" >&2; exit 2; }
"$HERE/cluster.sh" status >/dev/null || { echo "verify.sh: cluster not up; run cluster.sh start" >&2; exit 2; }
id "$TEST_USER" >/dev/null 2>&1 || useradd -m "$TEST_USER"
USER_HOME=$(getent passwd "$TEST_USER" | cut -d: -f6)
WORK=$(runuser -u "$TEST_USER" -- mktemp -d "$USER_HOME/yurt-slurm-verify.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
cd "$WORK" || exit 2

as_user() { runuser -u "$TEST_USER" -- env SLURM_CONF="$SLURM_CONF" "$@"; }

job_state() { scontrol show job "$1" -o 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_state() {   # wait_state JOBID STATE SECONDS
	local t
	for ((t = 0; t < $3 * 2; t++)); do
		[[ $(job_state "$1") == "$2" ]] && return 0
		sleep 0.5
	done
	echo "# job $1 is $(job_state "$1"), wanted $2" >&2
	return 1
}

# --- munge, as the user, through the cluster's own socket
out=$(as_user sh -c "munge -S '$YURT_MUNGE_SOCKET' -n | unmunge -S '$YURT_MUNGE_SOCKET'" 2>&1)
check "munge round trip as $TEST_USER" grep -q "^UID: *$TEST_USER " <<<"$out"

# --- srun on both nodes
out=$(as_user timeout 60 srun -N2 -n4 sh -c 'echo "$SLURM_PROCID $SLURMD_NODENAME"' 2>&1)
echo "$out" | sed 's/^/# /'
check "srun -N2 -n4 runs 4 tasks" test "$(grep -c '^[0-3] yurt' <<<"$out")" -eq 4
check "srun -N2 -n4 spans yurt1 and yurt2" test "$(awk '{print $2}' <<<"$out" | sort -u | paste -sd,)" = yurt1,yurt2

# --- sbatch: the job runs and writes its output in the user's directory
cat > job.sh <<'EOF'
#!/bin/bash
#SBATCH -N2 -n4
srun sh -c 'echo "task $SLURM_PROCID on $SLURMD_NODENAME"'
EOF
chown "$TEST_USER:" job.sh
id=$(as_user sbatch --parsable -o "$WORK/job-%j.out" job.sh)
if [[ $id =~ ^[0-9]+$ ]] && wait_state "$id" COMPLETED 60; then
	check "sbatch output written by the user" test "$(stat -c %U "$WORK/job-$id.out" 2>/dev/null)" = "$TEST_USER"
	check "sbatch job ran on both nodes" test "$(grep -c 'on yurt[12]$' "$WORK/job-$id.out")" -eq 4
else
	not_ok "sbatch job ${id:-?} completed"
fi

# --- scancel: a running job is cancelled and its processes go away
id=$(as_user sbatch --parsable -N2 -n2 -o /dev/null --wrap 'srun sleep 4321')
if [[ $id =~ ^[0-9]+$ ]] && wait_state "$id" RUNNING 30; then
	for ((t = 0; t < 20; t++)); do
		[[ $(pgrep -u "$TEST_USER" -fc 'sleep 4321') -ge 2 ]] && break
		sleep 0.5
	done
	as_user scancel "$id"
	check "scancel: job CANCELLED" wait_state "$id" CANCELLED 30
	for ((t = 0; t < 30; t++)); do
		pgrep -u "$TEST_USER" -f 'sleep 4321' >/dev/null || break
		sleep 0.5
	done
	check "scancel: no task left" bash -c "! pgrep -u '$TEST_USER' -f 'sleep 4321'"
else
	not_ok "scancel: job ${id:-?} started"
fi

# --- CPU binding by task/affinity: one CPU per task, different on a node
out=$(as_user srun -N2 -n4 --cpu-bind=cores sh -c \
	'echo "$SLURMD_NODENAME $(grep Cpus_allowed_list /proc/self/status | cut -f2)"' 2>&1)
echo "$out" | sed 's/^/# /'
check "--cpu-bind=cores: each task on a single CPU" test "$(grep -cE '^yurt[12] [0-9]+$' <<<"$out")" -eq 4
check "--cpu-bind=cores: tasks on a node get different CPUs" \
	test "$(sort -u <<<"$out" | wc -l)" -eq 4

# --- MPI (MPICH ch4:ucx) over Slurm's PMI2
if command -v mpicc >/dev/null; then
	cp "$HERE/mpi_hello.c" . && chown "$TEST_USER:" mpi_hello.c
	if as_user mpicc -o hello mpi_hello.c; then
		for ((r = 1; r <= MPI_RUNS; r++)); do
			out=$(as_user timeout 60 srun --mpi=pmi2 -N2 -n4 ./hello 2>&1); rc=$?
			sort <<<"$out" | sed 's/^/# /'
			want=$'rank 0 of 4 on yurt1 token 3 sum 6\nrank 1 of 4 on yurt1 token 1 sum 6\nrank 2 of 4 on yurt2 token 2 sum 6\nrank 3 of 4 on yurt2 token 3 sum 6'
			check "srun --mpi=pmi2 MPI ring + allreduce across nodes (run $r, rc $rc)" \
				test "$rc" -eq 0 -a "$(grep '^rank' <<<"$out" | sort)" = "$want"
		done
	else
		not_ok "mpicc builds mpi_hello.c"
	fi
else
	echo "ok - # SKIP mpicc not installed (test/slurm/deps.sh)"
fi

# --- time of a trivial two-node step, measured inside one user shell
times=$(as_user bash -c 'for i in 1 2 3 4 5 6 7 8 9 10; do
	s=$(date +%s%N); srun -N2 -n4 /bin/true || echo FAIL; e=$(date +%s%N)
	echo $(((e - s) / 1000000)); done' | sort -n)
median=$(sed -n '5p;6p' <<<"$times" | awk '{s += $1} END {print int(s / 2)}')
echo "# srun -N2 -n4 /bin/true ms: $(paste -sd' ' <<<"$times"); median $median"
check "srun -N2 -n4 /bin/true ran 10 times" bash -c "! grep -q FAIL <<<'$times'"

echo "# $failures failed"
((failures == 0))
