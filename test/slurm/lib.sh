# Sourced by the t_*.sh tests that run.sh runs as root: helpers to submit as
# the test user and to report TAP-like lines, which run.sh counts.
IMAGE=${YURT_SLURM_IMAGE:?}
TEST_USER=${YURT_TEST_USER:?}
WORK=${YURT_SLURM_WORK:?}   # the user's directory under its home, for files
RUNTIME=${YURT_SLURM_RUNTIME:?}

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
# as_user CMD...: in WORK, as the test user, with the cluster's SLURM_CONF and
# the quiet srun of run.sh.
as_user() { (cd "$WORK" && runuser -u "$TEST_USER" -- env SLURM_CONF="$SLURM_CONF" PATH="$WORK/bin:$PATH" "$@"); }
# Output shown under the test's lines, for failures.
show() { sed 's/^/# /' <<<"$1"; }
job_state() { scontrol show job "$1" -o 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_done() {   # wait_done JOBID SECONDS: until it is no longer pending or running
	local t
	for ((t = 0; t < $2 * 4; t++)); do
		case $(job_state "$1") in PENDING|RUNNING|CONFIGURING|COMPLETING|"") ;; *) return 0 ;; esac
		sleep 0.25
	done
	return 1
}
# What a step leaves on the node after it ends: holders and state files.
leftovers() {
	pgrep -u "$TEST_USER" -f 'yurt (start|stop)' || true
	find "$RUNTIME" -mindepth 1 -not -type d 2>/dev/null || true
}
no_leftovers() {
	local t left
	for ((t = 0; t < 40; t++)); do
		left=$(leftovers)
		[[ -z $left ]] && return 0
		sleep 0.25
	done
	show "left: $left"
	return 1
}
