#!/bin/sh
# circles_forward_chain.sh: a TLP:GREEN alert sent to a circle stays within the
# circle's members however many forwards deep it lies: a forward carries
# the circles that bind what it forwards, so a forward of a forward of the
# circle alert is refused to an org outside the circle.
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
T=$(mktemp -d "${LSN_TMP:-/tmp}/circles_forward_chain.XXXXXX")
. "$HERE/tests/lib/coalition.sh"
trap 'relay_stop; rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
check() {  # check WANT_EXIT DESCRIPTION -- COMMAND...
    want=$1; what=$2; shift 3
    "$@" >out.txt 2>err.txt; got=$?
    [ "$got" = "$want" ] || { bad "$what: exit $got, wanted $want"; cat out.txt err.txt; }
}
no_out() {  # no_out PATTERN DESCRIPTION
    ! grep -q -- "$1" out.txt err.txt || { bad "$2: \`$1\` in output"; cat out.txt err.txt; }
}
msg_id() { sed -n 's/.*"msg_id":"\([0-9a-f]*\)".*/\1/p' out.txt | head -n 1; }
# fwd_id ORG TITLE: the msg_id of ORG's message titled TITLE
fwd_id() {
    lsn "$1" analyst inbox --json >out.txt 2>err.txt
    grep "\"title\":\"$2\"" out.txt | sed -n 's/^{"msg_id":"\([0-9a-f]*\)".*/\1/p' | head -n 1
}

coalition_new hq p1 p2 out
relay_start || exit 1
for org in hq p1 p2 out; do
    publish_all "$org" || { sleep 1; publish_all "$org"; } || bad "publish $org"
done
"$K" roster next roster --out roster-2 >/dev/null
check 0 "add-circle" -- "$K" roster add-circle roster-2 --circle payments-eu \
    --org hq,p1,p2
"$K" roster sign roster-2 --key a1.key >/dev/null 2>&1
"$K" roster sign roster-2 --key a2.key >/dev/null 2>&1
check 0 "publish-roster v2" -- "$K" publish-roster roster-2 --org-dir org-hq

check 0 "hq sends GREEN to circle:payments-eu" -- sh -c "echo body | \"$L\" --home \
    home/hq-analyst send --to circle:payments-eu --tlp green --title 'ring' --json"
ID=$(msg_id)
check 0 "p1 fetches" -- lsn p1 analyst fetch
check 0 "p1 forwards to p2, a member" -- lsn p1 analyst forward "$ID" --to p2
check 0 "p2 fetches" -- lsn p2 analyst fetch
F1=$(fwd_id p2 "Fwd: ring")
[ -n "$F1" ] || bad "p2 has the forward"
check 0 "p2 forwards the forward to p1, a member" -- lsn p2 analyst forward "$F1" --to p1
check 0 "p1 fetches" -- lsn p1 analyst fetch
F2=$(fwd_id p1 "Fwd: Fwd: ring")
[ -n "$F2" ] || bad "p1 has the forward of the forward"
check 4 "a third forward outside the circle" -- lsn p1 analyst forward "$F2" --to out
check 0 "out fetches" -- lsn out analyst fetch
check 0 "out inbox" -- lsn out analyst inbox
no_out "ring" "nothing of the circle alert reached out"

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "circles_forward_chain: all passed"
