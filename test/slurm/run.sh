#!/bin/bash
# The Slurm end-to-end tests of the SPANK plugin, as root: brings up a cluster
# of its own (cluster.sh) that loads the freshly built slurm-plugin/yurt.so,
# runs each t_*.sh as an unprivileged user, tears everything down.  The last
# line is "slurm: N passed, M failed"; exits 1 when a test failed.
#   YURT_TEST_USER    the user that submits (default yurtslurm; made if missing)
#   YURT_SLURM_IMAGE  the test image directory (default /var/tmp/yurt-slurm-image)
#   T_ONLY            run only these tests, e.g. "core name"
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "run.sh: run as root" >&2; exit 2; }
[[ -e $ROOT/slurm-plugin/yurt.so && -x $ROOT/bin/yurt ]] || { echo "run.sh: build first (make)" >&2; exit 2; }

export YURT_TEST_USER=${YURT_TEST_USER:-yurtslurm}
export YURT_SLURM_IMAGE=${YURT_SLURM_IMAGE:-/var/tmp/yurt-slurm-image}
# A directory and ports of our own, not the default cluster others may run.
# Not under /tmp or a home, which every container sees: as at a site
# (/etc/slurm, /run/munge, /var/spool/slurmd), Slurm's configuration, MUNGE's
# socket and slurmd's spool are out of the containers' sight unless the
# plugin brings them in (--container-slurm, the batch script).
export YURT_SLURM_DIR=${YURT_SLURM_DIR:-/var/tmp/yurt-slurm-spank}
export YURT_SLURM_PORT=${YURT_SLURM_PORT:-17917}
export YURT_SLURM_RUNTIME=$YURT_SLURM_DIR/yurt-run
# The checkout may sit where the test user cannot read (/root), but srun loads
# the plugin as the user and slurmstepd runs yurt as the user: test copies.
BIN=$(mktemp -d /var/tmp/yurt-slurm-bin.XXXXXX)
cleanup() {
	"$HERE/cluster.sh" stop >/dev/null 2>&1
	rm -rf -- "${YURT_SLURM_WORK:-}" "$BIN"
}
trap cleanup EXIT
cp "$ROOT/bin/yurt" "$ROOT/slurm-plugin/yurt.so" "$BIN/" && chmod 755 "$BIN" || exit 2
export YURT_SPANK_PLUGIN=$BIN/yurt.so
export YURT_SPANK_ARGS="yurt=$BIN/yurt runtime_path=$YURT_SLURM_RUNTIME/%n allow_images=$(dirname "$YURT_SLURM_IMAGE")"

id "$YURT_TEST_USER" >/dev/null 2>&1 || useradd -m "$YURT_TEST_USER"
"$HERE/image.sh" "$YURT_SLURM_IMAGE" "$YURT_TEST_USER" || { echo "run.sh: cannot make the test image" >&2; exit 2; }
home=$(getent passwd "$YURT_TEST_USER" | cut -d: -f6)
export YURT_SLURM_WORK=$(runuser -u "$YURT_TEST_USER" -- mktemp -d "$home/yurt-slurm-test.XXXXXX")
# srun tells "job N queued and waiting for resources" while an earlier job
# still completes; checks compare output, so the tests' srun is quiet (errors
# still show).
mkdir -p "$YURT_SLURM_WORK/bin"
printf '#!/bin/sh\nexec %s --quiet "$@"\n' "$(command -v srun)" > "$YURT_SLURM_WORK/bin/srun"
chmod 755 "$YURT_SLURM_WORK/bin" "$YURT_SLURM_WORK/bin/srun"

exports=$("$HERE/cluster.sh" start) || { echo "run.sh: the cluster did not come up" >&2; exit 2; }
eval "$exports"

passed=0 failed=0
for t in "$HERE"/t_*.sh; do
	name=$(basename "$t" .sh); name=${name#t_}
	[[ -n ${T_ONLY:-} && " $T_ONLY " != *" $name "* ]] && continue
	echo "# $name"
	out=$("$t" 2>&1)
	echo "$out"
	passed=$((passed + $(grep -c '^ok ' <<<"$out")))
	failed=$((failed + $(grep -c '^not ok ' <<<"$out")))
	# A drained node would fail every later test: say so, and put it back.
	if sinfo -h -R -o '%n %E' | grep -q .; then
		echo "not ok - $name left drained nodes: $(sinfo -h -R -o '%n %E' | paste -sd';')"
		failed=$((failed + 1))
		scontrol update nodename=ALL state=resume >/dev/null 2>&1
	fi
done
echo "slurm: $passed passed, $failed failed"
((failed == 0))
