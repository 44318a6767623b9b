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

. "$HERE/tests/lib/checks.sh"

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

# A store at its ceiling makes room by pruning old read messages: the
# first alert is read (its old pages go to a third, unread one), then the
# ceiling is lowered to what the store holds and a fourth does not fit
# until the first is pruned.
expect 0 "read the first" lsn paypal analyst read "$ID"
head -c 2900000 /dev/urandom > big3.bin
expect 0 "send an alert left unread" lsn europol analyst send --to paypal \
    --title "Unread one" --attach big3.bin --json
ID3=$(json_field msg_id)
expect 0 "fetch the unread one" lsn paypal analyst fetch
printf 'read-receipts = yes\nrelay-timeout-ms = 5000\nstore-max-mb = 1\n' \
    > home/paypal-analyst/config
head -c 2500000 /dev/urandom > big2.bin
expect 0 "send a fourth alert" lsn europol analyst send --to paypal \
    --title "Big two" --attach big2.bin --json
ID2=$(json_field msg_id)
expect 1 "the fourth does not fit" lsn paypal analyst fetch
has "1 message(s) left waiting at the relay" "fetch names how many wait"
TOMORROW=$(date -u -d tomorrow +%Y-%m-%d 2>/dev/null || echo 2100-01-01)
expect 0 "prune --dry-run" lsn paypal analyst prune --before "$TOMORROW" --dry-run
has "would prune $ID" "dry run names the read message"
hasnt "$ID3" "dry run keeps the unread message"
expect 0 "still readable after a dry run" lsn paypal analyst read "$ID"
expect 0 "prune" lsn paypal analyst prune --before "$TOMORROW" --json
has "\"msg_id\":\"$ID\"" "prune names what it removed"
has '"pruned":1' "prune counts what it removed"
hasnt "$ID3" "prune keeps the unread message"
expect 2 "a pruned message cannot be read" lsn paypal analyst read "$ID"
has "pruned" "reading it says it was pruned"
expect 0 "audit chain intact after prune" lsn paypal analyst audit verify
expect 0 "audit show" lsn paypal analyst audit show
has "prune" "the audit log records the prune"
expect 0 "fetch after prune" lsn paypal analyst fetch
has "1 new message(s)" "the waiting message is stored after prune"
expect 0 "inbox" lsn paypal analyst inbox --json
has "$ID2" "the fourth alert is stored"
has "$ID3" "the unread one is kept"
expect 0 "read in a full store" lsn paypal analyst read "$ID3"
expect 2 "prune needs a date" lsn paypal analyst prune
expect 2 "prune refuses a bad date" lsn paypal analyst prune --before 2024-13-01

[ $fails = 0 ] || { echo "$fails failure(s)"; cat relay.log | tail -n 20; exit 1; }
echo "store_full: all passed"
