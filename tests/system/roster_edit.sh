#!/bin/sh
# roster_edit.sh: every roster entry can be changed.  set-relay (a relay's
# endpoint or key), remove-relay (refused while an org is homed on it, the
# orgs named) and set-org-relay (move an org) are ordinary edits: they drop
# the signatures and say so, the roster then needs K signatures again, a
# refused edit exits 2 and leaves the file byte for byte as it was.  At
# the end a relay moves to another port: the changed endpoint reaches the
# clients through the running relay (publish-roster), and they follow it.
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
T=$(mktemp -d "${LSN_TMP:-/tmp}/rosteredit.XXXXXX")
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
grep_out() {  # grep_out PATTERN DESCRIPTION
    grep -q -- "$1" out.txt err.txt || { bad "$2: no \`$1\` in output"; cat out.txt err.txt; }
}
no_out() {  # no_out PATTERN DESCRIPTION
    ! grep -q -- "$1" out.txt || { bad "$2: \`$1\` in output"; cat out.txt; }
}
# A refused edit: exit 2, the file unchanged.
refused() {  # refused DESCRIPTION -- COMMAND...
    what=$1; shift 2
    cksum roster.e > before.sum
    check 2 "$what" -- "$@"
    cksum roster.e | cmp -s before.sum - || bad "$what: the roster changed"
}
signed_again() {  # signed_again FILE DESCRIPTION: needs K = 2 signatures again
    check 1 "$2: unsigned roster fails verify" -- "$K" roster verify "$1"
    "$K" roster sign "$1" --key a1.key >/dev/null 2>&1
    check 1 "$2: one signature is below the threshold" -- "$K" roster verify "$1"
    "$K" roster sign "$1" --key a2.key >/dev/null 2>&1
    check 0 "$2: K signatures make it valid" -- "$K" roster verify "$1"
}
show() { "$K" roster show roster.e --json > show.json 2>&1; }

for c in set-relay remove-relay set-org-relay; do
    check 0 "roster $c --help" -- "$K" roster "$c" --help
    grep_out "$c FILE" "roster $c --help names the command"
done
check 0 "roster --help" -- "$K" roster --help
grep_out "set-org-relay" "roster --help lists set-org-relay"

# Two orgs homed on r1, a second relay r2, a third relay key r3.
coalition_new police bank
"$K" relay new r2 >/dev/null 2>&1
"$K" relay new r3 >/dev/null 2>&1
"$K" roster next roster --out roster.e >/dev/null
"$K" roster add-relay roster.e --relay r2 --endpoint tcp://127.0.0.1:9 --key r2.pub >/dev/null
signed_again roster.e "add-relay"

# set-relay: the endpoint, then the key.
check 0 "set-relay --endpoint" -- "$K" roster set-relay roster.e --relay r2 \
    --endpoint tcp://127.0.0.1:10
grep_out "2 signature(s) dropped" "set-relay says the signatures dropped"
show; grep -q '"name":"r2","endpoint":"tcp://127.0.0.1:10"' show.json ||
    { bad "set-relay did not change the endpoint"; cat show.json; }
signed_again roster.e "set-relay --endpoint"
fp3=$("$K" fingerprint r3.pub 2>/dev/null | sed 's/  .*//')
check 0 "set-relay --key" -- "$K" roster set-relay roster.e --relay r2 --key r3.pub
grep_out "signature(s) dropped" "set-relay --key says the signatures dropped"
show; grep -q "\"name\":\"r2\",\"endpoint\":\"tcp://127.0.0.1:10\",\"fingerprint\":\"$fp3\"" show.json ||
    { bad "set-relay --key did not change the key (only)"; cat show.json; }
signed_again roster.e "set-relay --key"
refused "set-relay without a change" -- "$K" roster set-relay roster.e --relay r2
refused "set-relay of an unknown relay" -- "$K" roster set-relay roster.e --relay nowhere \
    --endpoint tcp://127.0.0.1:11
grep_out "not in the roster" "unknown relay named"
refused "set-relay to a non-tcp endpoint" -- "$K" roster set-relay roster.e --relay r2 \
    --endpoint http://127.0.0.1:11
refused "set-relay with an authority key" -- "$K" roster set-relay roster.e --relay r2 \
    --key a1.pub
refused "set-relay with a missing key file" -- "$K" roster set-relay roster.e --relay r2 \
    --key missing.pub

# remove-relay: refused while orgs are homed on it, naming them.
refused "remove-relay of a home relay" -- "$K" roster remove-relay roster.e --relay r1
grep_out "home relay of 2 org(s): \`police\`, \`bank\`" "remove-relay names the homed orgs"
grep_out "set-org-relay" "remove-relay says what to do"
refused "remove-relay of an unknown relay" -- "$K" roster remove-relay roster.e --relay nowhere
refused "remove-relay without --relay" -- "$K" roster remove-relay roster.e

# set-org-relay: move both orgs, then r1 can go.
refused "set-org-relay of an unknown org" -- "$K" roster set-org-relay roster.e --org nobody \
    --relay r2
refused "set-org-relay to an unknown relay" -- "$K" roster set-org-relay roster.e --org police \
    --relay nowhere
refused "set-org-relay to its own relay" -- "$K" roster set-org-relay roster.e --org police \
    --relay r1
refused "set-org-relay without --relay" -- "$K" roster set-org-relay roster.e --org police
check 0 "set-org-relay police" -- "$K" roster set-org-relay roster.e --org police --relay r2
grep_out "2 signature(s) dropped" "set-org-relay says the signatures dropped"
show; grep -q '"id":"police","display":"police","root_fingerprint":"[^"]*","relay":"r2"' show.json ||
    { bad "set-org-relay did not move police"; cat show.json; }
signed_again roster.e "set-org-relay"
refused "remove-relay with one org left on it" -- "$K" roster remove-relay roster.e --relay r1
grep_out "home relay of 1 org(s): \`bank\`;" "remove-relay names the one org left"
check 0 "set-org-relay bank" -- "$K" roster set-org-relay roster.e --org bank --relay r2
signed_again roster.e "set-org-relay bank"
check 0 "remove-relay r1" -- "$K" roster remove-relay roster.e --relay r1
grep_out "signature(s) dropped" "remove-relay says the signatures dropped"
grep_out "1 relays" "remove-relay leaves one relay"
show; grep -q '"name":"r1"' show.json && bad "remove-relay left r1 in the roster"
signed_again roster.e "remove-relay"
check 0 "the edited roster follows the first" -- "$K" roster verify roster.e --previous roster

# A relay moves: v2 gives r1 a new endpoint, a member uploads it to the
# running relay, the devices pick it up on their next fetch, the relay
# restarts on the new port and the devices reach it there.
relay_start || exit 1
publish_all police bank || bad "publish"
NEW_PORT=$(free_port)
"$K" roster next roster --out roster-2 >/dev/null
check 0 "set-relay r1's new endpoint" -- "$K" roster set-relay roster-2 --relay r1 \
    --endpoint "tcp://127.0.0.1:$NEW_PORT"
"$K" roster sign roster-2 --key a1.key >/dev/null 2>&1
"$K" roster sign roster-2 --key a2.key >/dev/null 2>&1
check 0 "v2 follows v1" -- "$K" roster verify roster-2 --previous roster
check 0 "publish-roster v2 to the running relay" -- "$K" publish-roster roster-2 \
    --org-dir org-police
for org in police bank; do
    check 0 "$org analyst fetches on the old port" -- lsn "$org" analyst fetch
done
relay_stop
sed "s#^listen .*#listen tcp://127.0.0.1:$NEW_PORT#" relay.conf > relay.conf.new &&
    mv relay.conf.new relay.conf
relay_restart || { bad "the relay did not start on the new port"; cat relay.log.new; }
check 0 "send through the moved relay" -- sh -c "echo moved | \"$L\" --home home/police-analyst \
    send --to bank --title 'after the move'"
check 0 "bank fetches from the moved relay" -- lsn bank analyst fetch
check 0 "bank inbox" -- lsn bank analyst inbox
grep_out "after the move" "the alert sent through the moved relay arrived"

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "roster_edit: all passed"
