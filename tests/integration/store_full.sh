#!/bin/sh
# store_full.sh: a recipient whose local store cannot take an alert (its
# map ceiling, store-max-mb in the profile's config, is too small) leaves
# it at the relay: nothing is acknowledged, the sender's status does not
# say delivered, fetch exits 1 naming how many wait; once the ceiling is
# raised the next fetch stores it.  Also `liaison prune` of old read
# messages, which keeps the audit chain whole.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/store_full.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill' EXIT INT TERM

fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
expect() {  # expect WANT DESCRIPTION COMMAND...
    want=$1; what=$2; shift 2
    "$@" >out.txt 2>err.txt; got=$?
    [ "$got" = "$want" ] || { bad "$what: exit $got, wanted $want"; cat out.txt err.txt; }
}
has() { grep -q -- "$1" out.txt err.txt || { bad "$2: no \`$1\`"; cat out.txt err.txt; }; }
hasnt() { ! grep -q -- "$1" out.txt err.txt || { bad "$2: \`$1\`"; cat out.txt err.txt; }; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" out.txt | head -1; }

coalition_new europol paypal
relay_start </dev/null || exit 1
publish_all europol paypal || { echo "publish failed"; exit 1; }

# A store of at most 1 MiB, and an alert of about 3 MiB.
printf 'read-receipts = yes\nrelay-timeout-ms = 5000\nstore-max-mb = 1\n' \
    > home/paypal-analyst/config
head -c 3000000 /dev/urandom > big.bin
expect 0 "send the big alert" lsn europol analyst send --to paypal --title "Big one" \
    --attach big.bin --ack delivery --json
ID=$(json_field msg_id)
[ ${#ID} = 32 ] || bad "send --json gives a msg_id"

expect 1 "fetch into a full store exits 1" lsn paypal analyst fetch
has "1 message(s) left waiting at the relay" "fetch names how many wait"
has "store-max-mb" "fetch says what to do"
hasnt "refused" "a full store is not a refusal"

expect 1 "a second fetch still cannot store it" lsn paypal analyst fetch
has "1 message(s) left waiting at the relay" "the message is still queued at the relay"

expect 0 "sender status" lsn europol analyst status "$ID" --json
has '"delivered":0' "the relay tells the sender: delivered to no device"
hasnt '"kind":"delivered"' "no delivery receipt"

expect 0 "inbox is empty" lsn paypal analyst inbox --json
hasnt "$ID" "nothing was stored"

# Room again: the next fetch stores it and acknowledges it.
printf 'read-receipts = yes\nrelay-timeout-ms = 5000\nstore-max-mb = 64\n' \
    > home/paypal-analyst/config
expect 0 "fetch after raising the ceiling" lsn paypal analyst fetch
has "1 new message(s)" "the waiting message is fetched"
expect 0 "inbox holds it" lsn paypal analyst inbox --json
has "$ID" "the alert is stored"
i=0
while [ $i -lt 20 ]; do
    lsn europol analyst fetch >/dev/null 2>&1
    lsn europol analyst status "$ID" --json >out.txt 2>err.txt
    grep -q '"delivered":1' out.txt && break
    sleep 0.2; i=$((i + 1))
done
has '"delivered":1' "the relay tells the sender: delivered to one device"

[ $fails = 0 ] || { echo "$fails failure(s)"; cat relay.log | tail -n 20; exit 1; }
echo "store_full: all passed"
