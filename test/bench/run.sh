#!/bin/bash
# yurt's benchmarks, side by side with their yardsticks, in one run:
#   make bench            (or: test/bench/run.sh)
# Prints medians, and ratios against yardsticks measured in the same run, as
# markdown tables for the README, with the exact commands.  It reports; it
# never fails on a timing.  Exit status: 0 when every measurement ran, 1 when
# some could not (they show as "failed" in the tables), 2 on a setup error.
#
# As root it sets up and then measures as an unprivileged user: installs the
# bench packages (test/deps.sh bench test), creates the user, makes /dev/fuse
# usable (chmod 666), builds the Debian+numpy image once into the cache, and
# runs every measured command through runuser (the clock runs inside, in the
# user's shell, so runuser itself is never timed).  As anyone else it installs
# nothing and needs the image built already (by root, into the same cache).
#
# Settings (environment):
#   YURT                  yurt binary to measure (default: bin/yurt); copied
#                         first, so a rebuild during the run changes nothing
#   YURT_BENCH_CACHE      image cache and results (default /var/tmp/yurt-bench)
#   YURT_BENCH_USER       user to measure as, when run as root (yurtbench)
#   YURT_BENCH_RUNS       runs per start-up measurement (default 50)
#   YURT_BENCH_PY_RUNS    runs per numpy import measurement (default 15)
#   YURT_BENCH_PAR_RUNS   runs per N-task measurement (default 9)
#   YURT_BENCH_MEM_RUNS   runs per memory measurement (default 3)
#   YURT_BENCH_TASKS      N, the number of tasks (default 64)
#   YURT_BENCH_DROP_CACHES=1  (root only) drop the host page cache before every
#                         numpy run, of every contender: cold disk, not only a
#                         cold mount (slower, noisier; default 0)
#
# Fairness: each measurement group runs its contenders round-robin (one run of
# each, then the next round), after one untimed warm-up round, and waits for the
# previous run's FUSE server to be gone before the next one starts.  For the
# numpy import, "first run after mount" means: yurt and ch-run mount the
# SquashFS afresh in every run (a new FUSE superblock, nothing cached inside
# it), and the kernel squashfs row is mounted afresh (new loop device) before
# every run; the host page cache keeps the image *file* (the .sqfs, and the
# directory image's files), for all contenders alike, unless DROP_CACHES=1.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${YURT_BENCH_CACHE:-/var/tmp/yurt-bench}
user=${YURT_BENCH_USER:-yurtbench}
runs=${YURT_BENCH_RUNS:-50}
py_runs=${YURT_BENCH_PY_RUNS:-15}
par_runs=${YURT_BENCH_PAR_RUNS:-9}
mem_runs=${YURT_BENCH_MEM_RUNS:-3}
ntasks=${YURT_BENCH_TASKS:-64}
drop=${YURT_BENCH_DROP_CACHES:-0}
yurt_src=${YURT:-$top/bin/yurt}

say() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 2; }
root=0
[ "$(id -u)" -eq 0 ] && root=1
case $cache in *[[:space:]]*) die "YURT_BENCH_CACHE must not contain spaces: $cache" ;; esac

# --- Setup -----------------------------------------------------------------
if [ $root = 1 ]; then
	"$top/test/deps.sh" bench test || die "installing the bench packages failed"
	id "$user" >/dev/null 2>&1 || useradd -m "$user" || die "useradd $user failed"
	chmod 666 /dev/fuse || die "chmod 666 /dev/fuse failed"
	"$top/examples/images/debian-numpy.sh" "$cache/debian-numpy" || die "building the image failed"
else
	user=$(id -un)
	[ "$drop" = 1 ] && die "YURT_BENCH_DROP_CACHES=1 needs root"
fi
for tool in ch-run unshare; do
	command -v $tool >/dev/null || die "$tool missing (as root: test/deps.sh bench test)"
done
[ -r /dev/fuse ] && [ -w /dev/fuse ] || [ $root = 1 ] || die "/dev/fuse is not usable by $user"
[ -x "$yurt_src" ] || die "no yurt binary at $yurt_src (make -j2)"
img=$cache/debian-numpy
sqfs=$img/debian-numpy.sqfs
dir=$img/rootfs
[ -s "$sqfs" ] && [ -x "$dir/usr/bin/python3" ] ||
	die "no image in $img: run as root once (it builds it), or examples/images/debian-numpy.sh $img"

# A results folder per run, writable by the user; yurt is copied there under
# its own name (the launcher's processes are found by that name).
stamp=$(date +%Y%m%d-%H%M%S)
if [ $root = 1 ] || { mkdir -p "$cache/results" 2>/dev/null && [ -w "$cache/results" ]; }; then
	res=$cache/results/$stamp
else
	res=$(mktemp -d /tmp/yurt-bench.XXXXXX)
fi
mkdir -p "$res/bin" "$res/samples" || die "cannot create $res"
cp "$yurt_src" "$res/bin/yurt" && chmod 755 "$res/bin/yurt" "$res" "$res/bin" || die "cannot copy $yurt_src"
cp "$here/timeloop.sh" "$here/procmem.sh" "$res/bin/" || die "cannot copy the helpers"
has_spawn=0
${CC:-cc} -O2 -o "$res/bin/spawn" "$here/spawn.c" 2>/dev/null && has_spawn=1
[ $root = 1 ] && chown -R "$user:" "$res"
Y=$res/bin/yurt
T=$res/bin/timeloop.sh
M=$res/bin/procmem.sh

# Runs a command as the measuring user, from /tmp (which exists in the image
# and which yurt binds by default, so the cwd costs no extra mount point).
as_user() {
	if [ $root = 1 ]; then
		(cd /tmp && runuser -u "$user" -- "$@")
	else
		(cd /tmp && "$@")
	fi
}
as_user true || die "cannot run commands as $user"
as_user test -r "$sqfs" || die "$user cannot read $sqfs"

has_join=0
as_user "$Y" run --help 2>&1 | grep -q -- '--join' && has_join=1
has_bwrap=0
command -v bwrap >/dev/null && as_user bwrap --ro-bind / / true 2>/dev/null && has_bwrap=1

# --- Measurements ------------------------------------------------------------
# Each command is a line of shell, evaluated by timeloop.sh as the user; its
# `par N CMD...` starts N copies at once and waits for all.
declare -A cmd
cmd[floor]="unshare -Urm /bin/true"
cmd[yurt_sqfs]="$Y run $sqfs /bin/true"
cmd[chrun_sqfs]="ch-run $sqfs -- /bin/true"
cmd[yurt_dir]="$Y run $dir /bin/true"
cmd[chrun_dir]="ch-run $dir -- /bin/true"
cmd[bwrap_dir]="bwrap --ro-bind $dir / --proc /proc --dev /dev /bin/true"
py="python3 -c 'import numpy'"
cmd[py_yurt_sqfs]="$Y run $sqfs $py"
cmd[py_chrun_sqfs]="ch-run $sqfs -- $py"
cmd[py_yurt_dir]="$Y run $dir $py"
cmd[py_chrun_dir]="ch-run $dir -- $py"
kmnt=$cache/kernel-squashfs
cmd[py_bwrap_ksqfs]="bwrap --ro-bind $kmnt / --proc /proc --dev /dev $py"
cmd[py_bwrap_dir]="bwrap --ro-bind $dir / --proc /proc --dev /dev $py"
cmd[t_floor]="$res/bin/spawn $ntasks /bin/true"
cmd[t_par_floor]="par $ntasks unshare -Urm /bin/true"
cmd[t_yurt_1]="$Y run $sqfs /bin/true"
cmd[t_yurt_n]="$Y run -n $ntasks --overcommit $sqfs /bin/true"
cmd[t_chrun_par]="par $ntasks ch-run $sqfs -- /bin/true"
cmd[t_yurt_par]="par $ntasks $Y run $sqfs /bin/true"
cmd[t_yurt_join]="k=bench\${EPOCHREALTIME/./}; par $ntasks $Y run --join=\$k $sqfs /bin/true"

# timeloop REPS WARMUP NAME... : the named commands, round-robin, as the user.
timeloop() {
	local reps=$1 warmup=$2 args=() name
	shift 2
	for name; do args+=("$name" "${cmd[$name]}"); done
	as_user "$T" "$res/samples" "$reps" "$warmup" "${args[@]}"
}

# The numpy group: one run per call, so root can prepare each run (a fresh
# kernel squashfs mount; dropped caches) without timing the preparation.
py_group() {
	local r name names=(py_yurt_sqfs py_chrun_sqfs py_yurt_dir py_chrun_dir)
	[ $has_bwrap = 1 ] && names+=(py_bwrap_dir)
	[ $has_bwrap = 1 ] && [ $root = 1 ] && names+=(py_bwrap_ksqfs)
	[ $root = 1 ] && mkdir -p "$kmnt"
	for ((r = 0; r < py_runs + 1; r++)); do
		for name in "${names[@]}"; do
			[ -e "$res/samples/$name.fail" ] && continue
			if [ "$name" = py_bwrap_ksqfs ]; then
				mountpoint -q "$kmnt" && umount "$kmnt"
				mount -t squashfs -o ro,loop "$sqfs" "$kmnt" ||
					{ echo "mount -t squashfs failed" > "$res/samples/$name.fail"; continue; }
			fi
			[ "$drop" = 1 ] && { sync; echo 3 > /proc/sys/vm/drop_caches; }
			# round 0 is the warm-up: timed, but into a file nobody reads
			if [ $r = 0 ]; then
				as_user "$T" "$res/samples/warmup" 1 0 "$name" "${cmd[$name]}"
				[ -e "$res/samples/warmup/$name.fail" ] && cp "$res/samples/warmup/$name.fail" "$res/samples/"
			else
				timeloop 1 0 "$name"
			fi
			[ "$name" = py_bwrap_ksqfs ] && umount "$kmnt"
		done
	done
}

# memory NAME REPS LAUNCHERS NTASKS COMMAND...: median over REPS of procmem.sh.
memory() {
	local name=$1 reps=$2 i
	shift 2
	for ((i = 0; i < reps; i++)); do
		as_user "$M" "$@" >> "$res/samples/$name.mem" 2>> "$res/samples/$name.err" ||
			{ cp "$res/samples/$name.err" "$res/samples/$name.fail"; return; }
	done
}

# yurt's `make check` installs a site configuration for its duration (images
# only under /tmp, extra binds); measuring under it would fail or mislead.
siteconf=$(grep -aom1 '/[[:alnum:]/._-]*/yurt/yurt\.conf' "$Y")
siteconf=${siteconf:-/usr/local/etc/yurt/yurt.conf}
for ((i = 0; i < 120; i++)); do
	grep -q "written by yurt's make check" "$siteconf" 2>/dev/null || break
	[ $i = 0 ] && say "waiting for a running 'make check' to remove its $siteconf"
	sleep 5
done
say "measuring as $user; results in $res"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before: $load_before"
t_start=$SECONDS
say "1+3: start-up of /bin/true ($runs runs each)"
start_names=(floor yurt_sqfs chrun_sqfs yurt_dir chrun_dir)
[ $has_bwrap = 1 ] && start_names+=(bwrap_dir)
timeloop "$runs" 1 "${start_names[@]}"
say "2: python3 -c 'import numpy' ($py_runs runs each)"
py_group
say "4: $ntasks tasks ($par_runs runs each)"
task_names=(t_yurt_1 t_yurt_n t_chrun_par t_yurt_par t_par_floor)
[ $has_spawn = 1 ] && task_names+=(t_floor)
[ $has_join = 1 ] && task_names+=(t_yurt_join)
timeloop "$par_runs" 1 "${task_names[@]}"
say "5: launcher memory, 1 and $ntasks tasks ($mem_runs runs each)"
memory m_yurt_1 "$mem_runs" yurt 1 "$Y" run "$sqfs" /bin/sleep 60
memory m_yurt_n "$mem_runs" yurt "$ntasks" "$Y" run -n "$ntasks" --overcommit "$sqfs" /bin/sleep 60
memory m_chrun_1 1 ch-run 1 ch-run "$sqfs" -- /bin/sleep 60
memory m_chrun_n 1 ch-run "$ntasks" bash -c "for i in \$(seq $ntasks); do ch-run $sqfs -- /bin/sleep 60 & done; wait"
if [ $has_join = 1 ]; then
	memory m_yurt_join "$mem_runs" yurt "$ntasks" bash -c \
		"for i in \$(seq $ntasks); do $Y run --join=bench\$\$ $sqfs /bin/sleep 60 & done; wait"
fi
say "measured in $((SECONDS - t_start)) s"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report ------------------------------------------------------------------
S=$res/samples
. "$here/stats.sh"
# mem NAME FIELD: median of FIELD (procmem.sh's key) over the runs, in KiB.
mem() {
	[ -s "$S/$1.mem" ] && [ ! -e "$S/$1.fail" ] || return 0
	tr ' ' '\n' < "$S/$1.mem" | awk -F= -v k="$2" '$1 == k { print $2 }' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b }'; }
# verdict RATIO GOAL: met when RATIO <= GOAL.
verdict() {
	[ -n "$1" ] || { echo "n/a"; return; }
	awk -v r="$1" -v g="$2" 'BEGIN { print (r <= g) ? "yes" : "**no**" }'
}
row() { # NAME LABEL
	local m
	m=$(quant "$1" median)
	if [ -n "$m" ]; then
		printf '| %s | %s | %s–%s | %s |\n' "$2" "$m" "$(quant "$1" q1)" "$(quant "$1" q3)" "$(quant "$1" n)"
	elif [ -e "$S/$1.fail" ] || [ -e "$S/$1.ms" ]; then
		printf '| %s | failed | | |\n' "$2"
	fi
}
target() { # LABEL A B GOAL
	local r
	r=$(ratio "$(quant "$2" median)" "$(quant "$3" median)")
	printf '| %s | %s | ≤ %s | %s |\n' "$1" "${r:-n/a}" "$4" "$(verdict "$r" "$4")"
}
context() { # LABEL A B: a ratio for context, with no goal
	local r
	r=$(ratio "$(quant "$2" median)" "$(quant "$3" median)")
	printf '| %s | %s | — | — |\n' "$1" "${r:-n/a}"
}
kib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

report() {
	local sys_conf=none
	[ -f "$siteconf" ] && sys_conf="$(grep -v '^\s*#' "$siteconf" | grep -c .) settings"
	echo "### yurt benchmarks"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), as user $user."
	echo "$(as_user "$Y" version 2>/dev/null | head -1) ($(cd "$top" && git describe --always --dirty 2>/dev/null || echo '?'), sha256 $(sha256sum "$Y" | cut -c1-12)),"
	echo "ch-run $(as_user ch-run --version 2>&1 | head -1), $( (bwrap --version 2>/dev/null || echo 'no bwrap') | head -1)."
	echo "Image: Debian bookworm minbase + python3-numpy (examples/images/debian-numpy.sh): directory $(du -sh "$dir" 2>/dev/null | cut -f1), gzip SquashFS $(du -h "$sqfs" | cut -f1)."
	if [ "$drop" = 1 ]; then
		echo "numpy runs: host page cache dropped before every run (cold disk)."
	else
		echo "numpy runs: every yurt/ch-run run mounts the SquashFS afresh (cold FUSE), the kernel squashfs is remounted before every run; the host page cache holds the image files for all."
	fi
	[ $root = 1 ] || echo "Not run as root: no kernel squashfs row (it needs mount -t squashfs)."
	echo "Times are wall-clock milliseconds, median and interquartile range over n runs, contenders interleaved round-robin. Load average (1, 5, 15 min) before: $load_before, after: $load_after."
	echo
	echo "| Measurement | median ms | IQR ms | n |"
	echo "|---|---:|---:|---:|"
	row floor "start /bin/true: \`unshare -Urm\` (floor)"
	row yurt_sqfs "start /bin/true: yurt, SquashFS"
	row chrun_sqfs "start /bin/true: ch-run, SquashFS"
	row yurt_dir "start /bin/true: yurt, directory"
	row chrun_dir "start /bin/true: ch-run, directory"
	row bwrap_dir "start /bin/true: bwrap, directory (context)"
	row py_yurt_sqfs "import numpy: yurt, SquashFS"
	row py_chrun_sqfs "import numpy: ch-run, SquashFS"
	row py_yurt_dir "import numpy: yurt, directory"
	row py_chrun_dir "import numpy: ch-run, directory"
	row py_bwrap_ksqfs "import numpy: bwrap, kernel squashfs (context)"
	row py_bwrap_dir "import numpy: bwrap, directory (context)"
	row t_floor "$ntasks tasks: $ntasks × fork+exec /bin/true, no container (process floor)"
	row t_par_floor "$ntasks tasks: $ntasks parallel \`unshare -Urm /bin/true\` (floor for $ntasks launches)"
	row t_yurt_1 "$ntasks tasks: one \`yurt run\` (1 task)"
	row t_yurt_n "$ntasks tasks: \`yurt run -n $ntasks\`"
	row t_chrun_par "$ntasks tasks: $ntasks parallel ch-run"
	row t_yurt_par "$ntasks tasks: $ntasks parallel \`yurt run\` (context)"
	row t_yurt_join "$ntasks tasks: $ntasks parallel \`yurt run --join\`"
	echo
	echo "| Launcher memory (tasks excluded) | processes | FUSE servers | Σ VmHWM MiB | Σ Pss MiB |"
	echo "|---|---:|---:|---:|---:|"
	local m
	for m in "m_yurt_1:yurt, 1 task" "m_yurt_n:yurt -n $ntasks" "m_yurt_join:$ntasks × yurt --join" \
		"m_chrun_1:ch-run, 1 task (context)" "m_chrun_n:$ntasks × ch-run (context)"; do
		local n=${m%%:*} label=${m#*:}
		if [ -e "$S/$n.fail" ]; then
			printf '| %s | failed | | | |\n' "$label"
		elif [ -s "$S/$n.mem" ]; then
			printf '| %s | %s | %s | %s | %s |\n' "$label" "$(mem "$n" procs)" "$(mem "$n" fuse_servers)" \
				"$(kib "$(mem "$n" hwm_kib)")" "$(kib "$(mem "$n" pss_kib)")"
		fi
	done
	echo
	echo "| Target | ratio | goal | met |"
	echo "|---|---:|---:|---|"
	target "1. yurt SquashFS start / unshare floor" yurt_sqfs floor 2
	target "1. yurt SquashFS start / ch-run" yurt_sqfs chrun_sqfs 0.5
	target "2. yurt / ch-run, import numpy, SquashFS" py_yurt_sqfs py_chrun_sqfs 0.7
	context "2. (context) yurt / ch-run, import numpy, directory" py_yurt_dir py_chrun_dir
	context "2. (context) kernel squashfs / directory, bwrap" py_bwrap_ksqfs py_bwrap_dir
	context "2. (context) yurt SquashFS / kernel squashfs (bwrap)" py_yurt_sqfs py_bwrap_ksqfs
	target "3. yurt / ch-run, start from a directory" yurt_dir chrun_dir 1
	target "4. yurt -n $ntasks / $ntasks parallel ch-run" t_yurt_n t_chrun_par 0.1
	target "4. yurt -n $ntasks / one yurt run" t_yurt_n t_yurt_1 5
	context "4. (context) process floor for $ntasks / one yurt run" t_floor t_yurt_1
	context "4. (context) yurt -n $ntasks / process floor" t_yurt_n t_floor
	context "4. (context) floor for $ntasks launches / $ntasks parallel ch-run" t_par_floor t_chrun_par
	local r
	r=$(ratio "$(mem m_yurt_n hwm_kib)" "$(mem m_yurt_1 hwm_kib)")
	printf '| 5. launcher peak RSS (Σ VmHWM), %s tasks / 1 task | %s | ≤ 2 | %s |\n' "$ntasks" "${r:-n/a}" "$(verdict "$r" 2)"
	if [ $has_join = 1 ]; then
		target "6. $ntasks × yurt --join / $ntasks parallel ch-run" t_yurt_join t_chrun_par 0.25
		context "6. (context) $ntasks × yurt --join / floor for $ntasks launches" t_yurt_join t_par_floor
		printf '| 6. FUSE servers for %s × yurt --join | %s | = 1 | %s |\n' "$ntasks" "$(mem m_yurt_join fuse_servers)" \
			"$([ "$(mem m_yurt_join fuse_servers)" = 1 ] && echo yes || echo '**no**')"
	else
		echo "| 6. \`yurt run --join\` | not measured: this yurt has no --join | ≤ 0.25 | n/a |"
	fi
	echo
	echo "Reproduce, as root: \`make bench\` (or \`test/bench/run.sh\`; settings YURT_BENCH_RUNS=$runs YURT_BENCH_PY_RUNS=$py_runs YURT_BENCH_PAR_RUNS=$par_runs YURT_BENCH_MEM_RUNS=$mem_runs YURT_BENCH_TASKS=$ntasks YURT_BENCH_DROP_CACHES=$drop). Site config ($siteconf): $sys_conf. Commands, as run (\`par N CMD\` starts N copies at once from bash and waits for all; \`spawn N CMD\` does the same from C, test/bench/spawn.c; Y=yurt, IMG=$img):"
	echo
	echo '```'
	local name
	for name in floor yurt_sqfs chrun_sqfs yurt_dir chrun_dir bwrap_dir py_yurt_sqfs py_chrun_sqfs py_yurt_dir \
		py_chrun_dir py_bwrap_ksqfs py_bwrap_dir t_floor t_yurt_n t_par_floor t_chrun_par t_yurt_par t_yurt_join; do
		[ -e "$S/$name.ms" ] || [ -e "$S/$name.fail" ] || continue
		printf '%-14s %s\n' "$name" "${cmd[$name]}" | sed -e "s|$Y|Y|g" -e "s|$img|IMG|g" -e "s|$res/bin/spawn|spawn|"
	done
	echo "memory         $(basename "$M") yurt N Y run [-n N --overcommit] IMG/debian-numpy.sqfs /bin/sleep 60"
	[ -e "$S/py_bwrap_ksqfs.ms" ] && echo "(py_bwrap_ksqfs: before each run, as root: mount -t squashfs -o ro,loop IMG/debian-numpy.sqfs $kmnt)"
	echo '```'
}

report | tee "$res/table.md"
[ $root = 1 ] && [ -d "$res" ] && chown -R "$user:" "$res"
say "table and samples in $res"
if ls "$S"/*.fail >/dev/null 2>&1; then
	for f in "$S"/*.fail; do say "$(basename "$f" .fail): $(head -c 300 "$f" | tr '\n' ' ')"; done
	exit 1
fi
exit 0
