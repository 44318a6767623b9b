#!/bin/sh
# client_cli.sh: the `liaison` CLI against a real relay on loopback, as
# partner liaisons and automated systems use it: every command, the exit
# codes scripts rely on (unknown org 2, TLP-refused forward 4, relay down 3,
# quota 4, tampered offline envelope 1), receipts and status, idempotent
# retries after a lost first attempt, online key rotation, revocation.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/client_cli.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill; [ -n "${WATCH:-}" ] && kill $WATCH 2>/dev/null' EXIT INT TERM

fails=0
ok()  { :; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
expect() {  # expect WANT DESCRIPTION COMMAND...
    want=$1; what=$2; shift 2
    "$@" >out.txt 2>err.txt; got=$?
    [ "$got" = "$want" ] || { bad "$what: exit $got, wanted $want"; cat out.txt err.txt; }
}
has() { grep -q -- "$1" out.txt err.txt || { bad "$2: no \`$1\`"; cat out.txt err.txt; }; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" out.txt | head -1; }

coalition_new europol mastercard paypal
relay_start </dev/null || exit 1
publish_all europol mastercard paypal || { echo "publish failed"; exit 1; }

# --help everywhere.
for c in init orgs send fetch inbox read watch reply forward status seal open bundle audit; do
    expect 0 "liaison $c --help" "$L" $c --help
    has "usage:" "$c --help prints usage"
done
expect 0 "liaison --help" "$L" --help
expect 2 "unknown command" "$L" frobnicate
expect 2 "no profile" "$L" --home "$T/nowhere" inbox
has "liaison init" "missing profile names the fix"

expect 0 "orgs" lsn europol analyst orgs --json
has '"org":"paypal"' "orgs lists paypal"

# An urgent TLP:AMBER alert with indicators to two orgs, asking for read receipts.
printf 'Card testing from this range.\n' > body.txt
expect 0 "send" lsn europol analyst send --to mastercard,paypal --title "Card testing ring" \
    --body-file body.txt --tlp amber --priority urgent --indicator ip-dst=192.0.2.7 \
    --indicator domain=bad.example --ack read --case EU-42 --grade B2 --json
ID=$(json_field msg_id); SHORT=$(echo "$ID" | cut -c1-10)
[ ${#ID} = 32 ] || bad "send --json gives a msg_id"

expect 2 "unknown org refused before sending" lsn europol analyst send --to nosuchorg --title x
has "not in roster" "unknown org named"
expect 2 "bad --tlp refused" lsn europol analyst send --to paypal --title x --tlp purple
has "clear|green|amber" "the accepted TLP words are listed"
expect 2 "bad indicator type refused" lsn europol analyst send --to paypal --title x --indicator nope=1
expect 2 "title with a newline refused" lsn europol analyst send --to paypal --title "a
b"

# Every receiving device of each addressed org gets it.
for dev in analyst engine; do
    expect 0 "mastercard $dev fetch" lsn mastercard $dev fetch --json
    has "Card testing ring" "mastercard $dev got the alert"
    has '"from_org":"europol"' "sender in json"
done
expect 0 "paypal analyst fetch" lsn paypal analyst fetch
has "Card testing ring" "paypal got the alert"
expect 0 "fetch again: nothing new" lsn mastercard analyst fetch --json
[ -s out.txt ] && bad "second fetch printed messages again"

expect 0 "read by prefix" lsn mastercard analyst read "$SHORT"
has "signature verified" "read shows the verified sender"
has "192.0.2.7" "indicator shown"
expect 0 "paypal read" lsn paypal analyst read "$SHORT" --json
has '"tlp":"amber"' "json read"
expect 2 "read of an unknown id" lsn paypal analyst read 0000ffff
# Attachments: the reader saves them as files, as sent, never over one.
printf 'ip,seen\n192.0.2.9,2026-12-01\n' > rows.csv
mkdir -p a b
printf 'one\n' > a/dup.txt; printf 'two\n' > b/dup.txt; printf 'export X=1\n' > .bashrc
expect 0 "send with attachments" lsn europol analyst send --to paypal --title "Mule list" \
    --tlp green --attach rows.csv --attach a/dup.txt --attach b/dup.txt --attach .bashrc --json
AID=$(json_field msg_id)
expect 0 "paypal fetches it" lsn paypal analyst fetch
expect 0 "read --save-attachments" lsn paypal analyst read "$AID" --save-attachments saved
has "saved saved/rows.csv" "the saved file is named"
cmp -s rows.csv saved/rows.csv || bad "the saved attachment differs from the one sent"
[ "$(stat -c %a saved/rows.csv)" = 600 ] || bad "the saved attachment is not mode 0600"
cmp -s a/dup.txt saved/dup.txt && cmp -s b/dup.txt saved/dup-2.txt ||
    bad "two attachments of one name are both saved"
[ -e saved/.bashrc ] && bad "a hidden name was saved as it was"
cmp -s .bashrc saved/attachment-4 || bad "a hidden name is saved as attachment-N"
has "not a name to save under" "the renaming is said"
expect 0 "saving again never replaces a file" lsn paypal analyst read "$AID" \
    --save-attachments saved
cmp -s rows.csv saved/rows-2.csv || bad "a taken name gets -2"
cmp -s rows.csv saved/rows.csv || bad "the existing file was changed"
# A forward's reader saves the attachments of the original it verified.
expect 0 "paypal forwards the list" lsn paypal analyst forward "$AID" --to mastercard --json
XID=$(json_field msg_id)
expect 0 "mastercard fetches the forward" lsn mastercard analyst fetch
expect 0 "the forward's attachments" lsn mastercard analyst read "$XID" --save-attachments fwd
has "of the forwarded original" "they are said to be the original's"
cmp -s rows.csv fwd/rows.csv || bad "the forwarded original's attachment saved"
expect 2 "--save-attachments is for read and open" lsn paypal analyst inbox \
    --save-attachments saved
# Plaintext never reaches the profile: neither body nor indicator is on disk.
if grep -rqa "Card testing from this range\|192.0.2.7" home/; then
    bad "plaintext found in a profile folder"
fi
expect 0 "inbox" lsn mastercard analyst inbox
has "Card testing ring" "inbox lists it"
expect 0 "inbox --unread" lsn mastercard analyst inbox --unread --json
grep -q "Card testing ring" out.txt && bad "read message still unread"

# Receipts come back; status combines them with the relay's view.
expect 0 "europol fetch (receipts)" lsn europol analyst fetch
expect 0 "status" lsn europol analyst status "$SHORT" --json
has '"kind":"read"' "read receipt in status"
has '"device":"analyst"' "receipt names the device"
has '"org":"paypal"' "status per recipient org"

# TLP on forward: AMBER may not leave mastercard; GREEN may.
expect 4 "TLP:AMBER forward to another org refused" lsn mastercard analyst forward "$SHORT" --to paypal
has "ask the originator" "refusal says what to do"
expect 0 "europol sends TLP:GREEN" lsn europol analyst send --to mastercard --title "Green note" \
    --tlp green --type notice --json
GID=$(json_field msg_id)
expect 0 "mastercard fetch" lsn mastercard analyst fetch
expect 0 "GREEN forward" lsn mastercard analyst forward "$(echo "$GID" | cut -c1-10)" --to paypal --json
FID=$(json_field msg_id)
expect 0 "paypal fetches the forward" lsn paypal analyst fetch
expect 0 "paypal reads the forward" lsn paypal analyst read "$(echo "$FID" | cut -c1-10)" --json
has '"verified":true' "original verified"
has '"from_org":"europol"' "original sender shown"

# Reply.
expect 0 "reply" lsn mastercard analyst reply "$SHORT" --title "Seen, blocking" --json
RID=$(json_field msg_id)
expect 0 "europol gets the reply" lsn europol analyst fetch --json
has "Seen, blocking" "reply arrived"
has '"type":"response"' "reply is a response"

# Offline seal/open, and a tampered envelope.
expect 0 "seal" lsn europol analyst seal --to paypal --title "Offline note" --out note.env
expect 0 "open" lsn paypal analyst open note.env
has "Offline note" "offline open"
python3 - <<'PY'
d = bytearray(open("note.env", "rb").read()); d[len(d) // 2] ^= 1
open("bad.env", "wb").write(bytes(d))
PY
expect 1 "tampered copy of a held message refused" lsn paypal analyst open bad.env
has "other content" "says the held copy differs"
expect 2 "missing file" lsn paypal engine open nothing.env

# Offline: the sender's bundle must be imported first.
expect 2 "offline open without the sender's bundle" lsn paypal engine open note.env
has "bundle import" "names the fix"
"$K" bundle export --org-dir org-europol --out europol.bundle >/dev/null
expect 0 "bundle import" lsn paypal engine bundle import europol.bundle
expect 1 "tampered envelope refused" lsn paypal engine open bad.env
expect 0 "offline open" lsn paypal engine open note.env
expect 0 "audit verify" lsn mastercard analyst audit verify
has "intact" "audit intact"

# Idempotent automated push: the first attempt's envelope is lost with its
# machine; a reinstalled profile retries with the same key: one delivery.
expect 0 "push with an idempotency key" lsn mastercard engine send --to paypal \
    --title "Automated fraud notice" --type notice --idempotency-key fraud-2026-0001 --json
P1=$(json_field msg_id)
rm -rf home/mastercard-engine
"$L" --home home/mastercard-engine init --credential mastercard-engine.cred >/dev/null
expect 0 "retry after the crash" lsn mastercard engine send --to paypal \
    --title "Automated fraud notice" --type notice --idempotency-key fraud-2026-0001 --json
P2=$(json_field msg_id)
[ "$P1" = "$P2" ] || bad "idempotency key gives the same msg_id ($P1 vs $P2)"
expect 0 "paypal fetch" lsn paypal engine fetch --json
n=$(grep -c "Automated fraud notice" out.txt)
[ "$n" = 1 ] || bad "idempotent push delivered $n times, wanted 1"

# Relay down: exit 3, the message is kept and goes out on the next run.
relay_stop
expect 3 "relay down: exit 3" lsn europol analyst send --to paypal --title "While down"
has "stored" "says the message is kept"
relay_restart || bad "relay restart"
expect 0 "fetch resends stored messages" lsn europol analyst fetch
expect 0 "paypal gets it after the outage" lsn paypal analyst fetch
has "While down" "delivered after the outage"

# Online key rotation: mastercard rotates, europol's next alert still opens.
"$K" rotate --org-dir org-mastercard --enc >/dev/null
"$K" publish --org-dir org-mastercard --roster roster >/dev/null || bad "publish after rotation"
expect 0 "send after rotation" lsn europol analyst send --to mastercard --title "After rotation"
expect 0 "mastercard fetch after rotation" lsn mastercard analyst fetch
has "After rotation" "opens with the delivered key"

# Watch with --exec: each new message on the command's stdin as JSON.
# (started directly, not through the lsn function, so $! is liaison itself)
"$L" --home home/paypal-analyst watch --exec "cat >> $T/watched.ndjson" >watch.out 2>watch.err &
WATCH=$!
sleep 1
expect 0 "send while watching" lsn europol analyst send --to paypal --title "Live one"
i=0; while [ $i -lt 50 ] && ! grep -q "Live one" watched.ndjson 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
grep -q '"title":"Live one"' watched.ndjson 2>/dev/null || bad "watch --exec got the message"
kill $WATCH 2>/dev/null; wait $WATCH 2>/dev/null; WATCH=""

# A revoked device is refused.
"$K" device revoke engine --org-dir org-paypal >/dev/null
"$K" publish --org-dir org-paypal --roster roster >/dev/null || bad "publish after revoke"
expect 1 "revoked device refused" lsn paypal engine fetch

# Quota: a relay allowing 2 waiting messages per recipient org answers QUOTA.
relay_stop
printf 'recipient_quota_messages 2\ndevice_backlog 2\n' >> relay.conf
relay_restart || bad "relay restart with quota"
lsn europol analyst send --to paypal --title "q1" >/dev/null 2>&1
lsn europol analyst send --to paypal --title "q2" >/dev/null 2>&1
expect 4 "over quota: exit 4" lsn europol analyst send --to paypal --title "q3"
has "quota" "quota named"

relay_stop
if [ $fails -ne 0 ]; then echo "client_cli: $fails failure(s)"; exit 1; fi
echo "client_cli: all checks passed"
