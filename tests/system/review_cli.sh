#!/bin/sh
# review_cli.sh: a device that can take none of its queued items (its
# local store is full) still acknowledges the relay's gap report once it
# has shown it: the trimmed messages are named by one fetch, not by every
# fetch after it.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/review_cli.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill' EXIT INT TERM

. "$HERE/tests/lib/checks.sh"

coalition_new europol paypal
relay_start <<'CONF' || exit 1
device_backlog 1
recipient_share_percent 100
CONF
publish_all europol paypal || { echo "publish failed"; exit 1; }

# A store of at most 1 MiB; two alerts of over 2 MiB, the second of which
# trims the first from the analyst's queue (a backlog of one, and the
# org's engine takes what it gets, so the relay trims rather than refuse).
printf 'read-receipts = yes\nrelay-timeout-ms = 5000\nstore-max-mb = 1\n' \
    > home/paypal-analyst/config
head -c 2500000 /dev/urandom > big1.bin
head -c 2500000 /dev/urandom > big2.bin
expect 0 "send the first" lsn europol analyst send --to paypal --title "First" \
    --attach big1.bin --json
ID1=$(json_field msg_id)
expect 0 "the engine takes the first" lsn paypal engine fetch
expect 0 "send the second" lsn europol analyst send --to paypal --title "Second" \
    --attach big2.bin --json

expect 1 "fetch into a full store" lsn paypal analyst fetch
has "message $ID1 from europol was trimmed" "fetch names the trimmed message"
has "1 message(s) left waiting at the relay" "the second waits"
expect 1 "fetch again" lsn paypal analyst fetch
hasnt "$ID1" "the gap was acknowledged: not named again"
has "1 message(s) left waiting at the relay" "the second still waits"

[ $fails = 0 ] || { echo "$fails failure(s)"; tail -n 20 relay.log; exit 1; }
echo "review_cli: all passed"
