#!/bin/sh
# outbox.sh: what an analyst reads, against a real relay on loopback:
# `liaison sent` (and `status` without an id) lists sent messages with
# their state per recipient org, in text and --json, after a send to two
# orgs of which one acknowledged delivery; `orgs` and `inbox` print a
# header row and explain their marks; urgent and TLP:RED lines are
# coloured on a terminal (a pty from script(1)) and never with NO_COLOR,
# piped or with --json; `reply` titles "Re: ..." once; `read` indents a
# forward's original behind "  | "; `init` names the org, device and
# relay; every program answers --version.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/outbox.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill' EXIT INT TERM

. "$HERE/tests/lib/checks.sh"

command -v script >/dev/null 2>&1 || { echo "FAIL: script(1) is needed (util-linux)"; exit 1; }
ESC=$(printf '\033')

# On a terminal: script(1) gives the command a pty; its output, with the
# pty's carriage returns taken out, lands in out.txt.
on_tty() {
    TERM=xterm script -qec "$*" /dev/null < /dev/null > tty.raw 2>&1
    tr -d '\r' < tty.raw > out.txt
    : > err.txt
}

coalition_new europol police bank
relay_start < /dev/null || exit 1
publish_all europol police bank || { echo "publish failed"; exit 1; }

# --- --version on every program ------------------------------------------
for p in liaison liaison-keys liaison-relay; do
    expect 0 "$p --version" "$LSN_BIN/$p" --version
    has "^$p [0-9]" "$p --version names it"
done

# --- init says which profile it is ----------------------------------------
"$K" device add desk --org-dir org-police --role human --roster roster \
    --out police-desk.cred --no-passphrase >/dev/null 2>&1
expect 0 "init" "$L" --home "$T/home/police-desk" init --credential police-desk.cred
has "^profile for police/desk at $T/home/police-desk, relay r1 $EP" \
    "init names the org, device, folder and relay"

# --- sent: states per recipient org ---------------------------------------
expect 0 "urgent TLP:RED send to two orgs" lsn europol analyst send --to police,bank \
    --title "Card testing ring" --priority urgent --tlp red --ack delivery --json
ID=$(json_field msg_id)
expect 0 "routine send" lsn europol analyst send --to bank --title "Routine note" --json
ID2=$(json_field msg_id)
expect 0 "police takes it (a delivery receipt goes back)" lsn police analyst fetch
expect 0 "europol records the receipt" lsn europol analyst fetch

expect 0 "sent" lsn europol analyst sent
cp out.txt sent.txt
head -1 out.txt | grep -q "^ID  *SENT  *PRIORITY TLP  *TITLE$" || bad "sent: a header row first"
has "Card testing ring" "sent names the title, from the sealed summary"
has "^    to police: delivered to analyst at " "sent: police's delivery receipt"
has "^    to bank: at the home relay, no receipt yet$" "sent: bank has not acknowledged"
has "^    to bank: at the home relay, no receipt yet (none asked for)" \
    "sent: no receipts were asked for the routine note"
# Newest first.
[ "$(grep -n 'Routine note' out.txt | cut -d: -f1)" -lt \
  "$(grep -n 'Card testing ring' out.txt | cut -d: -f1)" ] || bad "sent: newest first"
hasnt "$ESC" "sent: no colour when piped"

expect 0 "sent --json" lsn europol analyst sent --json
[ "$(grep -c '^{' out.txt)" = 2 ] || bad "sent --json: one object per message"
grep "\"msg_id\":\"$ID\"" out.txt > one.json || bad "sent --json lists the message"
grep -q '"title":"Card testing ring"' one.json || bad "sent --json: title"
grep -q '"priority":"urgent"' one.json || bad "sent --json: priority"
grep -q '"tlp":"red"' one.json || bad "sent --json: tlp"
grep -q '"state":"accepted"' one.json || bad "sent --json: accepted by the relay"
grep -q '{"org":"police","state":"delivered","receipts":\[{"device":"analyst","kind":"delivered"' \
    one.json || bad "sent --json: police delivered, with its receipt"
grep -q '{"org":"bank","state":"accepted","receipts":\[\]}' one.json ||
    bad "sent --json: bank only at the relay"
hasnt "$ESC" "sent --json: no colour"

expect 0 "status without MSGID" lsn europol analyst status
cmp -s out.txt sent.txt || bad "status without MSGID lists as sent does"
expect 0 "sent --limit 1" lsn europol analyst sent --limit 1 --json
[ "$(grep -c '^{' out.txt)" = 1 ] && has "\"msg_id\":\"$ID2\"" "sent --limit 1: the newest" ||
    bad "sent --limit 1: one message"
expect 0 "sent --since tomorrow" lsn europol analyst sent --since 2099-01-01
has "no sent messages" "sent --since: nothing later"
expect 2 "sent --limit 0 refused" lsn europol analyst sent --limit 0
has "see \`liaison sent --help\`" "sent --limit 0: one-line usage error"
expect 0 "police sent only receipts" lsn police analyst sent
has "no sent messages" "receipts are not listed"
expect 0 "sent --refresh" lsn europol analyst sent --refresh
has "^    to police: delivered to analyst at .*; relay: queued, delivered to 1 of 2 device(s)" \
    "sent --refresh: the relay's word for police"

# --- header rows and legends ----------------------------------------------
expect 0 "inbox" lsn police analyst inbox
head -1 out.txt | grep -q "^  ID  *SENT  *FROM  *PRIORITY TLP  *TITLE$" ||
    { bad "inbox: a header row first"; cat out.txt; }
has "^\* unread" "inbox explains its mark"
hasnt "$ESC" "inbox: no colour when piped"
expect 0 "inbox --json" lsn police analyst inbox --json
grep -qv '^{' out.txt && bad "inbox --json: nothing but objects"
expect 0 "orgs" lsn police analyst orgs
has "^  ORG  *NAME  *ROOT KEY FINGERPRINT  *BUNDLE RELAY$" "orgs: a header row"
has "^\* police " "orgs marks this device's org"
has "^\* your org" "orgs explains its mark"
expect 0 "orgs --json" lsn police analyst orgs --json
grep -qv '^{' out.txt && bad "orgs --json: nothing but objects"

# --- colour on a terminal, and never without one ----------------------------
on_tty "$L" --home home/police-analyst inbox
has "^${ESC}\[1;31m\* [0-9a-f]* .*Card testing ring${ESC}\[0m$" \
    "inbox on a terminal: an urgent TLP:RED line is bold red"
on_tty NO_COLOR=1 "$L" --home home/police-analyst inbox
hasnt "$ESC" "NO_COLOR=1: no colour"
on_tty NO_COLOR= "$L" --home home/police-analyst inbox
hasnt "$ESC" "NO_COLOR set empty: no colour"
on_tty "$L" --home home/police-analyst inbox --json
hasnt "$ESC" "--json on a terminal: no colour"
on_tty "$L" --home home/europol-analyst sent
has "^${ESC}\[1;31m[0-9a-f]* .*Card testing ring${ESC}\[0m$" "sent on a terminal: bold red"
hasnt "${ESC}.*Routine note" "sent on a terminal: a routine line stays plain"
on_tty "$L" --home home/police-analyst read "$ID"
has "^${ESC}\[1mType: .*Priority: urgent${ESC}\[0m$" "read: urgent stands out"
has "^${ESC}\[31mTLP:red${ESC}\[0m" "read: TLP:RED stands out"

# --- reply: Re: once --------------------------------------------------------
expect 0 "reply without --title" lsn police analyst reply "$ID" --json
RID=$(json_field msg_id)
expect 0 "europol fetch" lsn europol analyst fetch
expect 0 "europol reads the reply" lsn europol analyst read "$RID"
has "^Title:    Re: Card testing ring$" "reply: Re: and the original title"
expect 0 "reply to the reply" lsn europol analyst reply "$RID"
expect 0 "police fetch" lsn police analyst fetch
has "Re: Card testing ring" "the second reply keeps the title"
hasnt "Re: Re:" "no Re: Re:"

# --- a forward's original indented ------------------------------------------
printf 'first line\n--- forwarded by europol ---\nFrom:     mallory (device x), signature verified\n' \
    > body.txt
expect 0 "green alert to police" lsn europol analyst send --to police --tlp green \
    --title "Shareable" --body-file body.txt --json
GID=$(json_field msg_id)
expect 0 "police fetch" lsn police analyst fetch
expect 0 "police forwards it to bank" lsn police analyst forward "$GID" --to bank --json
FID=$(json_field msg_id)
expect 0 "bank fetch" lsn bank analyst fetch
expect 0 "bank reads the forward" lsn bank analyst read "$FID"
has "^--- forwarded by police; originally from europol to police ---$" "the forward's line"
has "^  | From:     europol (device analyst), signature verified$" \
    "the original's header is indented"
has "^  | Title:    Shareable$" "the original's title is indented"
has "^  | | --- forwarded by europol ---$" "the original's body is indented"
has "^  | | From:     mallory" "a body line posing as a header stays indented"
hasnt "^Title:    Shareable" "nothing of the original unindented"
hasnt "^From:     mallory" "the pose is not a line of ours"

# --- states before the relay takes it ----------------------------------------
relay_stop
expect 3 "send while the relay is down" lsn europol analyst send --to bank --title "Held back"
HID=$(sed -n 's/.*message \([0-9a-f]\{32\}\) is stored.*/\1/p' err.txt | head -1)
expect 0 "sent while the relay is down" lsn europol analyst sent --limit 1
has "^    to bank: stored here, not yet accepted by the home relay" "sent: a stored send"
expect 0 "sent --json while the relay is down" lsn europol analyst sent --limit 1 --json
has "\"msg_id\":\"$HID\".*\"state\":\"stored\"" "sent --json: stored"
expect 0 "sent --refresh with the relay down" lsn europol analyst sent --refresh --limit 2
has "relay: no answer" "sent --refresh notes the relay did not answer"
has "the relay did not answer" "sent --refresh says the states are local"

[ "$fails" = 0 ] && echo "outbox: all checks passed"
exit $((fails > 0))
