#!/bin/bash
# A real, throw-away Slurm 22.05 cluster on this one machine, for yurt's Slurm tests:
# its own munged (own key, own socket), one slurmctld and several slurmd, each
# slurmd a separate node (yurt1, yurt2, ...) started with `slurmd -N NAME` on its
# own port.  Everything lives under $YURT_SLURM_DIR; nothing in /etc is touched.
#
#   test/slurm/cluster.sh start     bring it up, wait for idle nodes, print exports
#   test/slurm/cluster.sh stop      kill what start started, remove the run dir
#   test/slurm/cluster.sh status    daemons, nodes; exit 0 up, 1 partly up, 3 down
#   test/slurm/cluster.sh env       print the exports clients need
#   test/slurm/cluster.sh plugstack rewrite plugstack.conf from YURT_SPANK_PLUGIN
#
# Typical use, as root:   eval "$(test/slurm/cluster.sh start)"
# then as any user:       SLURM_CONF=$SLURM_CONF srun -N2 -n4 hostname
#
# Environment:
#   YURT_SLURM_DIR      run directory (default /tmp/yurt-slurm)
#   YURT_SLURM_NODES    number of slurmd nodes, at least 2 (default 2)
#   YURT_SLURM_PORT     slurmctld port; slurmd N listens on PORT+N (default 17817)
#   YURT_SLURM_TIMEOUT  seconds to wait for the nodes to be idle (default 60)
#   YURT_SLURM_PROCTRACK  proctrack plugin (default proctrack/linuxproc; proctrack/cgroup works)
#   YURT_SLURM_TASK     task plugins (default task/affinity; task/cgroup,task/affinity works)
#   YURT_SPANK_PLUGIN   SPANK plugin .so to load (a `required` plugstack line)
#   YURT_SPANK_ARGS     arguments for that plugstack line
#
# stdout carries only the exports, so `eval "$(cluster.sh start)"` works;
# progress and errors go to stderr.
set -euo pipefail
umask 022   # the test user must reach the spool, tmp and munge directories

DIR=${YURT_SLURM_DIR:-/tmp/yurt-slurm}
NODES=${YURT_SLURM_NODES:-2}
PORT=${YURT_SLURM_PORT:-17817}
TIMEOUT=${YURT_SLURM_TIMEOUT:-60}
PROCTRACK=${YURT_SLURM_PROCTRACK:-proctrack/linuxproc}
TASK=${YURT_SLURM_TASK:-task/affinity}

ETC=$DIR/etc
CONF=$ETC/slurm.conf
MUNGE_DIR=$DIR/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket.2
RUN=$DIR/run
LOG=$DIR/log
MARKER=$DIR/.yurt-slurm   # stop only removes a directory that carries this

# What start was asked for; a running cluster started differently is restarted,
# and status and stop use the node count it was started with.
CONFIG="nodes=$NODES port=$PORT proctrack=$PROCTRACK task=$TASK"
RUNNING_CONFIG=$(cat "$MARKER" 2>/dev/null || true)
RUNNING_NODES=$(sed -n 's/^nodes=\([0-9]*\) .*/\1/p' <<<"$RUNNING_CONFIG")

export SLURM_CONF=$CONF

say() { echo "cluster.sh: $*" >&2; }
die() { echo "cluster.sh: error: $*" >&2; exit 1; }

node_names() {
	local i
	for ((i = 1; i <= NODES; i++)); do echo "yurt$i"; done
}

# A zombie counts as gone: init here reaps daemonized processes only after a
# few seconds, and kill -0 succeeds on a zombie.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# pid_alive PIDFILE: true when the file names a live process of the daemon the
# file is named for (munged.pid, slurmctld.pid, slurmd-NODE.pid), so a
# recycled pid is never taken for ours.
pid_alive() {
	local pid name comm
	[[ -s $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
	name=$(basename "$1" .pid)
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	[[ $comm == "${name%%-*}"* ]]
}

print_env() {
	echo "export SLURM_CONF=$CONF"
	# munge clients take no environment override; pass this as `munge -S` or to
	# yurt_munge_check().  Slurm itself finds it through AuthInfo=socket= in slurm.conf.
	echo "export YURT_MUNGE_SOCKET=$MUNGE_SOCKET"
}

check_prereqs() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (slurmd and munged need it)"
	local b
	for b in munged mungekey slurmctld slurmd srun sinfo scontrol; do
		command -v "$b" >/dev/null || die "$b not found; run test/deps.sh slurm (as root)"
	done
	if ! [[ $NODES =~ ^[0-9]+$ ]] || ((NODES < 2)); then
		die "YURT_SLURM_NODES must be 2 or more"
	fi
	# munged refuses a socket directory that others can write to; the run
	# directory must also be reachable by the unprivileged test user.
	[[ $DIR == /* ]] || die "YURT_SLURM_DIR must be an absolute path: $DIR"
	[[ ${#MUNGE_SOCKET} -lt 100 ]] || die "YURT_SLURM_DIR too long for a socket path: $DIR"
}

write_plugstack() {
	{
		echo "# written by test/slurm/cluster.sh; re-read by every srun and slurmstepd"
		if [[ -n ${YURT_SPANK_PLUGIN:-} ]]; then
			[[ -e $YURT_SPANK_PLUGIN ]] || say "warning: YURT_SPANK_PLUGIN $YURT_SPANK_PLUGIN does not exist (yet)"
			echo "required $YURT_SPANK_PLUGIN ${YURT_SPANK_ARGS:-}"
		fi
	} > "$ETC/plugstack.conf.tmp"
	chmod 0644 "$ETC/plugstack.conf.tmp"
	mv "$ETC/plugstack.conf.tmp" "$ETC/plugstack.conf"
}

# The nodes declare this machine's real topology (slurmd drains a node that
# claims more than it has); every node gets the whole machine, so two nodes on
# two cores share them.
node_hardware() {
	local line
	line=$(slurmd -C 2>/dev/null | head -n1) || true
	local f out=""
	for f in CPUs Boards SocketsPerBoard CoresPerSocket ThreadsPerCore; do
		[[ $line =~ (^| )$f=([0-9]+) ]] && out+=" $f=${BASH_REMATCH[2]}"
	done
	[[ -n $out ]] || out=" CPUs=$(nproc)"
	echo "${out# }"
}

write_slurm_conf() {
	local host hw i node
	host=$(hostname -s)
	hw=$(node_hardware)
	cat > "$CONF" <<EOF
# written by test/slurm/cluster.sh for yurt's tests; not for production
ClusterName=yurt
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET

StateSaveLocation=$DIR/ctld
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmctldDebug=info
# %n is the node name given to slurmd -N, so each node has its own files.
SlurmdSpoolDir=$DIR/spool/%n
SlurmdPidFile=$RUN/slurmd-%n.pid
SlurmdLogFile=$LOG/slurmd-%n.log
SlurmdDebug=info
PlugStackConfig=$ETC/plugstack.conf
# Per node, or the two nodes' mpi/pmix step daemons both create
# /tmp/spmix_appdir_UID_JOB.STEP and the second fails.
TmpFS=$DIR/tmp/%n

ProctrackType=$PROCTRACK
TaskPlugin=$TASK
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmi2
SwitchType=switch/none
LaunchType=launch/slurm
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
# Short timeouts keep failing tests quick.
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=60
MessageTimeout=10

EOF
	i=0
	for node in $(node_names); do
		i=$((i + 1))
		echo "NodeName=$node NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((PORT + i)) $hw State=UNKNOWN" >> "$CONF"
	done
	# FORCE:4 lets up to four jobs share a core; more tasks than cores in one
	# job still needs srun --overcommit.
	echo "PartitionName=debug Nodes=yurt[1-$NODES] Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4" >> "$CONF"
	chmod 0644 "$CONF"
	# Read by proctrack/cgroup and task/cgroup only; this machine mounts
	# cgroup v1 controllers under /sys/fs/cgroup (cgroup2 at .../unified).
	printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nConstrainCores=yes\n' > "$ETC/cgroup.conf"
	chmod 0644 "$ETC/cgroup.conf"
}

start_munged() {
	mkdir -p "$MUNGE_DIR"
	chmod 0755 "$MUNGE_DIR"
	mungekey --create --keyfile="$MUNGE_DIR/munge.key" >/dev/null
	chmod 0600 "$MUNGE_DIR/munge.key"
	munged --socket="$MUNGE_SOCKET" \
		--key-file="$MUNGE_DIR/munge.key" \
		--pid-file="$RUN/munged.pid" \
		--log-file="$LOG/munged.log" \
		--seed-file="$MUNGE_DIR/munged.seed" \
		|| fail_start "munged did not start"
	local t
	for ((t = 0; t < 50; t++)); do
		[[ -S $MUNGE_SOCKET ]] && munge -S "$MUNGE_SOCKET" -n </dev/null >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail_start "munged does not answer on $MUNGE_SOCKET"
}

start_slurm() {
	slurmctld -c -f "$CONF" || fail_start "slurmctld did not start"
	local node
	for node in $(node_names); do
		mkdir -p "$DIR/spool/$node" "$DIR/tmp/$node"
		chmod 1777 "$DIR/tmp/$node"
		slurmd -N "$node" -f "$CONF" || fail_start "slurmd -N $node did not start"
	done
}

# All nodes must reach "idle"; anything else after the timeout is an error.
wait_idle() {
	local t states
	for ((t = 0; t < TIMEOUT * 2; t++)); do
		cluster_up || fail_start "a daemon exited during start-up; $(cmd_status 2>&1 | grep 'not running' | paste -sd, -)"
		states=$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u || true)
		if [[ $(grep -c ' idle$' <<<"$states") -eq $NODES ]]; then
			return 0
		fi
		sleep 0.5
	done
	say "nodes not idle after ${TIMEOUT}s:"
	sinfo -N -o '%N %t %E' >&2 || true
	fail_start "nodes did not come up"
}

fail_start() {
	local f
	say "error: $*"
	for f in "$LOG"/*.log; do
		[[ -e $f ]] || continue
		echo "----- tail of $f" >&2
		tail -n 20 "$f" >&2
	done
	stop_daemons
	say "daemons stopped; logs kept in $LOG until '$0 stop' or the next start"
	exit 1
}

cluster_up() {
	local node
	pid_alive "$RUN/munged.pid" && pid_alive "$RUN/slurmctld.pid" || return 1
	for node in $(node_names); do
		pid_alive "$RUN/slurmd-$node.pid" || return 1
	done
}

cmd_start() {
	check_prereqs
	if [[ -e $MARKER ]]; then
		if [[ $RUNNING_CONFIG == "$CONFIG" ]] && cluster_up; then
			say "already running in $DIR"
			write_plugstack
			print_env
			return 0
		fi
		say "stale, partial or differently configured cluster in $DIR; stopping it first"
		cmd_stop
	fi
	[[ ! -e $DIR ]] || [[ -z $(ls -A "$DIR") ]] || die "$DIR exists and is not a yurt-slurm run dir; remove it or set YURT_SLURM_DIR"
	mkdir -p "$DIR"
	echo "$CONFIG" > "$MARKER"
	chmod 0755 "$DIR"
	mkdir -p "$ETC" "$RUN" "$LOG" "$DIR/ctld" "$DIR/spool"
	chmod 0755 "$ETC" "$RUN" "$LOG"
	write_plugstack
	write_slurm_conf
	start_munged
	start_slurm
	wait_idle
	say "up: $NODES nodes ($(node_names | paste -sd' ')), munge socket $MUNGE_SOCKET"
	print_env
}

# slurmstepd outlives slurmd; ours are those holding files in our run dir
# (their log, their socket in the spool).
stepd_pids() {
	local p exe fd
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		[[ $exe == */slurmstepd* ]] || continue   # Debian: slurmstepd-wlm
		for fd in "$p"/fd/*; do
			if [[ $(readlink "$fd" 2>/dev/null) == "$DIR/"* ]]; then
				echo "${p#/proc/}"
				break
			fi
		done
	done
}

# A process and everything below it.
process_tree() {
	local child
	echo "$1"
	for child in $(pgrep -P "$1"); do
		process_tree "$child"
	done
}

any_alive() {
	local pid
	for pid in "$@"; do
		alive "$pid" && return 0
	done
	return 1
}

# Stops daemons by their pid files, all at once since each takes a second or
# two to notice SIGTERM: TERM, then KILL what is left after 10 s.
stop_pidfiles() {
	local file pids=() pid t
	for file in "$@"; do
		pid_alive "$file" && pids+=("$(<"$file")")
	done
	((${#pids[@]})) || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for ((t = 0; t < 100; t++)); do
		any_alive "${pids[@]}" || return 0
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		alive "$pid" || continue
		say "pid $pid ignored SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	done
}

stop_daemons() {
	local node pid t file pidfiles=()
	# Cancel jobs while slurmctld can still tell the nodes to end the steps,
	# and give the steps KillWait (5 s) and a little to go.
	if pid_alive "$RUN/slurmctld.pid" && [[ -n $(squeue -h -o %i 2>/dev/null) ]]; then
		squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
		for ((t = 0; t < 80; t++)); do
			[[ -z $(stepd_pids) ]] && break
			sleep 0.1
		done
	fi
	# Whatever is still there (slurmctld dead, a step stuck) goes with its tasks.
	local tree
	for pid in $(stepd_pids); do
		mapfile -t tree < <(process_tree "$pid")
		kill -KILL "${tree[@]}" 2>/dev/null || true
	done
	# Every slurmd pid file, also those of nodes a different YURT_SLURM_NODES made.
	for file in "$RUN"/slurmd-*.pid; do
		[[ -e $file ]] && pidfiles+=("$file")
	done
	stop_pidfiles "${pidfiles[@]}" "$RUN/slurmctld.pid" "$RUN/munged.pid"
	# proctrack/cgroup and task/cgroup leave each node's empty cgroup tree
	# (/sys/fs/cgroup/CONTROLLER/slurm_NODE) behind.
	for file in "${pidfiles[@]}"; do
		node=${file##*/slurmd-}
		node=${node%.pid}
		find /sys/fs/cgroup/*/"slurm_$node" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}

cmd_stop() {
	[[ -n $DIR && $DIR != / ]] || die "refusing to use YURT_SLURM_DIR=$DIR"
	if [[ ! -e $DIR ]]; then
		say "not running ($DIR absent)"
		return 0
	fi
	[[ -e $MARKER ]] || die "$DIR has no $(basename "$MARKER") marker; not removing it"
	stop_daemons
	rm -rf -- "$DIR"
	say "stopped; removed $DIR"
}

cmd_status() {
	local node up=0 total=0 f
	for f in munged slurmctld $(node_names | sed 's/^/slurmd-/'); do
		total=$((total + 1))
		if pid_alive "$RUN/$f.pid"; then
			up=$((up + 1))
			echo "$f: running (pid $(<"$RUN/$f.pid"))"
		else
			echo "$f: not running"
		fi
	done
	if pid_alive "$RUN/slurmctld.pid"; then
		sinfo -N -o '%N %P %t %c' 2>&1 || true
	fi
	((up == total)) && return 0
	((up == 0)) && return 3
	return 1
}

case ${1:-} in
status | stop) NODES=${RUNNING_NODES:-$NODES} ;;
esac
case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) print_env ;;
plugstack) [[ -d $ETC ]] || die "not running ($ETC absent)"; write_plugstack ;;
*) echo "usage: $0 start|stop|status|env|plugstack" >&2; exit 2 ;;
esac
