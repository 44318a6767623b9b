#!/bin/sh
# sendside_cli.sh: the sending side against a real relay on loopback: one
# member flooding an org fills only its share of the org's quota, a send
# refused for a full quota waits and is resent once there is room, and an
# idempotency key repeated with another alert is refused, not answered
# with the first alert's id; exit codes: every refused envelope is 1, a
# tampered audit log is 1, a missing parent folder is named; secrets and
# profile folders open to other users are refused with the chmod to run.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/sendside_cli.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill; [ -n "${WATCH:-}" ] && kill $WATCH 2>/dev/null' EXIT INT TERM

. "$HERE/tests/lib/checks.sh"

coalition_new europol police paypal
# paypal may have 8 messages waiting; one sender org's share is 2.
printf 'recipient_quota_messages 8\ndevice_backlog 8\nrecipient_share_percent 25\n' \
    > limits.conf
relay_start < limits.conf || exit 1
publish_all europol police paypal || { echo "publish failed"; exit 1; }
# europol's analyst resends at its next run; its engine keeps the default.
echo 'resend-after-s = 0' >> home/europol-analyst/config

# --- Quota share and waiting sends --------------------------------------
expect 0 "first to paypal" lsn europol analyst send --to paypal --title "x1"
expect 0 "second to paypal" lsn europol analyst send --to paypal --title "x2"
expect 4 "past the share: exit 4" lsn europol analyst send --to paypal --title "x3" --json
[ "$(json_field state)" = "waiting" ] || bad "past the share: state waiting"
X3=$(json_field msg_id)
has "resent" "a waiting send says it is resent"
hasnt "will not be resent" "a waiting send is not given up"
# europol keeps trying to fill paypal's quota: it never gets past its share.
for i in 4 5 6 7 8; do
    expect 4 "flood $i held at the share" lsn europol analyst send --to paypal --title "x$i"
done
# Another member's alert still gets in.
expect 0 "police's alert is accepted while europol floods" \
    lsn police analyst send --to paypal --title "real alert"
expect 0 "status of a waiting send" lsn europol analyst status "$X3"
has "waiting: recipient quota" "status names the wait"
expect 0 "status --json of a waiting send" lsn europol analyst status "$X3" --json
has '"waiting":"recipient quota"' "status --json names the wait"

# A default back-off (30 s) does not resend at once.
expect 4 "engine past the share" lsn europol engine send --to paypal --title "e1"
expect 4 "engine waits" lsn europol engine send --to paypal --title "e2"
# paypal's devices take what waits: the quota frees.
expect 0 "paypal analyst fetch" lsn paypal analyst fetch
has "real alert" "police's alert delivered"
expect 0 "paypal engine fetch" lsn paypal engine fetch
# europol's next runs resend the waiting ones, two at a time (its share)
# as paypal's devices take them.
: > got.txt
for round in 1 2 3; do
    expect 0 "europol fetch resends (round $round)" lsn europol analyst fetch
    expect 0 "paypal analyst takes them" lsn paypal analyst fetch
    cat out.txt >> got.txt
    expect 0 "paypal engine takes them" lsn paypal engine fetch
done
expect 0 "status after the resend" lsn europol analyst status "$X3"
has "accepted by the home relay" "the waiting send went out"
for i in 3 4 5 6 7 8; do
    grep -q " x$i\$" got.txt || bad "waiting send x$i delivered after the quota freed"
done
expect 0 "engine status: still waiting" lsn europol engine status "$(lsn europol engine audit show | sed -n 's/.*waiting.*msg \([0-9a-f]*\).*/\1/p' | head -1)"
has "waiting: recipient quota" "back-off keeps the engine's send waiting"

# watch resends on its own once there is room: fill europol's share again,
# have one more wait, then let paypal take its messages while europol's
# analyst only watches.
lsn europol analyst send --to paypal --title "w1" >/dev/null 2>&1
lsn europol analyst send --to paypal --title "w2" >/dev/null 2>&1
expect 4 "a send waits while the share is full" \
    lsn europol analyst send --to paypal --title "w3" --json
W3=$(json_field msg_id)
"$L" --home home/europol-analyst watch >watch.out 2>&1 &
WATCH=$!
expect 0 "paypal analyst takes the share" lsn paypal analyst fetch
expect 0 "paypal engine takes the share" lsn paypal engine fetch
i=0
while [ $i -lt 60 ]; do
    lsn europol analyst status "$W3" 2>/dev/null | grep -q "accepted by the home relay" && break
    sleep 0.5; i=$((i + 1))
done
kill $WATCH 2>/dev/null; wait $WATCH 2>/dev/null
expect 0 "status after watch" lsn europol analyst status "$W3"
has "accepted by the home relay" "watch resent the waiting send by itself"

# --- Idempotency keys ---------------------------------------------------
expect 0 "keyed send" lsn europol analyst send --to police --title "first" \
    --idempotency-key k1 --json
K1=$(json_field msg_id)
[ "$(json_field state)" = "sent" ] || bad "keyed send: state sent"
expect 0 "keyed send repeated" lsn europol analyst send --to police --title "first" \
    --idempotency-key k1 --json
[ "$(json_field state)" = "already-sent" ] || bad "repeat: state already-sent"
[ "$(json_field msg_id)" = "$K1" ] || bad "repeat: same msg_id"
expect 2 "same key, other recipients" lsn europol analyst send --to paypal \
    --title "first" --idempotency-key k1 --json
has "$K1" "the refusal names the earlier message"
hasnt '"state":"sent"' "no sent state for a refused key"
expect 2 "same key, other title" lsn europol analyst send --to police \
    --title "second" --idempotency-key k1
has "$K1" "the refusal names the earlier message"
expect 0 "police fetch" lsn police analyst fetch --json
[ "$(grep -c '"title":"first"' out.txt)" = 1 ] || bad "first delivered once"
expect 0 "keyed seal" lsn europol analyst seal --to police --title "s1" \
    --idempotency-key k2 --out s1.env --json
S1=$(json_field msg_id)
expect 0 "keyed seal repeated" lsn europol analyst seal --to police --title "s1" \
    --idempotency-key k2 --out s1b.env --json
[ "$(json_field state)" = "already-sealed" ] || bad "seal repeat: already-sealed"
[ "$(json_field msg_id)" = "$S1" ] || bad "seal repeat: same msg_id"
cmp -s s1.env s1b.env || bad "seal repeat writes the same envelope"
expect 2 "seal: same key, other title" lsn europol analyst seal --to police \
    --title "s2" --idempotency-key k2 --out s2.env
has "$S1" "the seal refusal names the earlier message"
[ ! -e s2.env ] || bad "no envelope written for a refused key"

# --- Exit codes --------------------------------------------------------
# Every refusal of an envelope is a verification failure (1), whichever
# check refused it: here the sender org's name in the header is changed.
expect 0 "seal for open" lsn europol analyst seal --to paypal --title "o1" --out o1.env
python3 - <<'PY'
d = open("o1.env", "rb").read()
open("org.env", "wb").write(d.replace(b"europol", b"europom", 1))
open("short.env", "wb").write(d[: len(d) // 2])
PY
expect 1 "open: unknown sender org is a verification failure" \
    lsn paypal analyst open org.env
expect 1 "open: truncated envelope is a verification failure" \
    lsn paypal analyst open short.env
# A tampered audit log does not verify: exit 1, valid:false.
expect 0 "audit verify intact" lsn police analyst audit verify
python3 - <<'PY'
p = "home/police-analyst/store/data.mdb"
d = open(p, "rb").read()
assert b"org(s)" in d
open(p, "wb").write(d.replace(b"org(s)", b"org(z)"))
PY
expect 1 "audit verify of a tampered log" lsn police analyst audit verify --json
has '"valid":false' "tampered log: valid false"
# A profile folder whose parent is missing names the missing folder.
expect 2 "init under a missing folder" "$L" --home "$T/nowhere/p" init \
    --credential police-analyst.cred
has "folder $T/nowhere does not exist" "init names the missing folder"
hasnt "input/output error" "init under a missing folder is no I/O error"

# --- Permissions ---------------------------------------------------------
# A credential others can read, or a profile folder others can write, is
# refused like ssh refuses a key: exit 2 and the chmod that fixes it.
chmod 644 home/police-analyst/credential
expect 2 "credential readable by others refused" lsn police analyst inbox
has "chmod 600 home/police-analyst/credential" "names the chmod for the credential"
chmod 600 home/police-analyst/credential
expect 0 "credential 0600 works" lsn police analyst inbox
chmod 770 home/police-analyst
expect 2 "profile folder writable by its group refused" lsn police analyst inbox
has "chmod go-w home/police-analyst" "names the chmod for the folder"
chmod 700 home/police-analyst
expect 0 "profile folder 0700 works" lsn police analyst inbox
chmod 640 police-engine.cred
expect 2 "init from a credential its group can read" "$L" --home "$T/fresh" init \
    --credential police-engine.cred
has "chmod 600 police-engine.cred" "init names the chmod"
chmod 644 org-police/root.key
expect 2 "liaison-keys refuses an org root key others can read" \
    "$K" device add extra --org-dir org-police --role human --roster roster \
    --out extra.cred --no-passphrase
has "chmod 600 org-police/root.key" "liaison-keys names the chmod"
chmod 600 org-police/root.key
expect 0 "liaison-keys with the root key at 0600" \
    "$K" device add extra --org-dir org-police --role human --roster roster \
    --out extra.cred --no-passphrase
chmod 644 a1.key
expect 2 "an authority key others can read is refused" \
    "$K" roster sign roster --key a1.key
has "chmod 600 a1.key" "names the chmod for an authority key"
chmod 600 a1.key

relay_stop
if [ $fails -ne 0 ]; then echo "sendside_cli: $fails failure(s)"; exit 1; fi
echo "sendside_cli: all checks passed"
