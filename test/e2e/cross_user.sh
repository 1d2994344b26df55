#!/bin/bash
# Instances are private to their user: as root, makes one as USER and checks
# that OTHER can neither see, join nor enter it.  make check runs it.
#   test/e2e/cross_user.sh PATH/TO/yurt USER OTHER
set -u
yurt=${1:?usage: cross_user.sh YURT USER OTHER} user=${2:?} other=${3:?}
[ "$(id -u)" -eq 0 ] || { echo "cross_user.sh: run as root" >&2; exit 2; }
id "$other" >/dev/null 2>&1 || useradd --create-home "$other" || exit 2
dir=$(mktemp -d /tmp/yurt-cross.XXXXXX)
chmod 755 "$dir"
trap 'as "$user" "$yurt" stop -q priv >/dev/null 2>&1; rm -rf "$dir"' EXIT
"$(dirname "$0")/../../examples/images/busybox.sh" "$dir/img" "$dir/img.sqfs" >/dev/null || exit 2
chmod -R a+rX "$dir"

passed=0 failed=0
check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		passed=$((passed + 1)); printf 'ok     %s\n' "$what"
	else
		failed=$((failed + 1)); echo "FAILED $what"
	fi
}
# as USER CMD...: CMD as USER, whose XDG_RUNTIME_DIR is the owner's.
as() { local u=$1; shift; (cd / && runuser -u "$u" -- env XDG_RUNTIME_DIR="$dir/run" "$@"); }
refused() { ! "$@"; }
mkdir -m 700 "$dir/run" && chown "$user:" "$dir/run"

check "the owner starts an instance" as "$user" "$yurt" start -q --name priv "$dir/img.sqfs"
holder=$(as "$user" "$yurt" list | awk '$1 == "priv" {print $3}')
check "the owner sees it" test -n "$holder"
check "another user cannot list the owner's instances" refused as "$other" "$yurt" list
check "another user cannot exec in it" refused as "$other" "$yurt" exec priv true
check "another user's own state does not show it" \
	bash -c "! runuser -u $other -- env -u XDG_RUNTIME_DIR $yurt list | grep -q '^priv '"
check "another user cannot enter its namespaces" \
	refused as "$other" nsenter -t "$holder" -U -m --preserve-credentials true
check "the owner still execs in it" as "$user" "$yurt" exec priv true
check "the owner stops it" as "$user" "$yurt" stop -q priv
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
