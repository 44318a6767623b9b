#!/bin/sh
# progress.sh: what `liaison` and `liaison-keys publish` say while they
# wait on a relay, and Ctrl-C during a send, run on a pseudo-terminal as a
# person runs them (tests/lib/ptyrun.py) against a real relay:
#   - on a terminal, progress lines ("connecting to r1…", "fetching…",
#     "publishing bundle.signed…", "resending 1 stored message…") and
#     watch's banner appear, and are erased so the screen ends clean;
#   - with --json, or with stdout and stderr piped, nothing of it is
#     written and stdout is the command's result alone;
#   - Ctrl-C at the passphrase prompt, or while a send to a relay that is
#     down waits before sealing, says nothing was stored or sent (exit
#     130), leaves the terminal echoing, and nothing arrives later;
#   - Ctrl-C (and SIGTERM) while a stored send waits on its connect says
#     the alert is stored as its msg_id and will be resent (exit 130, 143),
#     and the next fetch delivers it exactly once.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
PTY="python3 $HERE/tests/lib/ptyrun.py"
T="$LSN_TMP/progress.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
. "$HERE/tests/lib/checks.sh"
trap 'relay_kill' EXIT INT TERM

command -v python3 >/dev/null 2>&1 || { echo "FAIL: python3 is needed for the pty"; exit 1; }
ESC=$(printf '\033')

# on_tty WANT DESCRIPTION [ptyrun options] -- COMMAND...: runs it on a
# terminal; raw.txt gets its bytes, out.txt the screen it leaves (so has
# and hasnt look at the screen and the bytes).
on_tty() {
    want=$1; what=$2; shift 2
    $PTY --raw raw.txt --screen out.txt "$@"; got=$?
    : > err.txt
    [ "$got" = "$want" ] || { bad "$what: exit $got, wanted $want"; cat raw.txt; }
}
# raw_has TEXT DESCRIPTION: the bytes written to the terminal hold TEXT.
raw_has() { grep -q -- "$1" raw.txt || { bad "$2: no \`$1\` written"; cat raw.txt; }; }
# no_progress DESCRIPTION: out.txt and err.txt hold no progress at all.
no_progress() {
    if grep -q -e "$ESC" -e '…' -e 'connecting to' -e 'fetching' -e 'watching for' \
        out.txt err.txt; then
        bad "$1: progress written"; cat out.txt err.txt
    fi
}

coalition_new police bank
relay_start </dev/null || exit 1

# --- liaison-keys publish: connecting and publishing, on a terminal only.
on_tty 0 "publish on a terminal" -- "$K" publish --org-dir org-police --roster roster
raw_has "connecting to r1…" "publish says which relay it connects to"
raw_has "publishing bundle.signed…" "publish says what it publishes"
has "bundle.signed: published" "publish prints its result"
hasnt "publishing bundle" "the progress line is erased from the screen"
expect 0 "publish piped" "$K" publish --org-dir org-bank --roster roster
no_progress "publish piped"
grep -qx ".*org-bank/bundle.signed: published (version [0-9]*)" out.txt ||
    { bad "publish piped: stdout is its result"; cat out.txt; }

# --- send: the connect on a terminal; nothing with --json or piped.
on_tty 0 "send on a terminal" -- "$L" --home home/police-analyst send --to bank --title one
raw_has "liaison: connecting to r1…" "send names the roster's relay"
raw_has "connecting to r1…$(printf '\r')$ESC\[K" "the progress line is erased"
grep -q "^sent [0-9a-f]\{32\} to bank$" out.txt ||
    { bad "send on a terminal: the screen ends with its result alone"; cat out.txt; }
hasnt "connecting" "no progress left on the screen"

on_tty 0 "send --json on a terminal" -- \
    "$L" --home home/police-analyst send --to bank --title two --json
if grep -q -e "$ESC" -e '…' raw.txt; then bad "send --json on a terminal: progress written"; cat raw.txt; fi
grep -q '^{"msg_id":"[0-9a-f]\{32\}","to":\["bank"\],"state":"sent"}$' out.txt ||
    { bad "send --json: only the JSON object"; cat out.txt; }

expect 0 "send piped" lsn police analyst send --to bank --title three
no_progress "send piped"
grep -q "^sent [0-9a-f]\{32\} to bank$" out.txt && [ "$(wc -l < out.txt)" = 1 ] ||
    { bad "send piped: stdout is one result line"; cat out.txt; }
[ -s err.txt ] && { bad "send piped: nothing on stderr"; cat err.txt; }

# --- fetch: connecting and fetching on a terminal.
on_tty 0 "fetch on a terminal" -- "$L" --home home/bank-analyst fetch
raw_has "connecting to r1…" "fetch says it connects"
raw_has "fetching…" "fetch says it fetches"
has "3 new message(s)" "fetch shows what it fetched"
hasnt "fetching" "fetch leaves no progress on the screen"
lsn police analyst send --to bank --title four >/dev/null
expect 0 "fetch --json piped" lsn bank engine fetch --json
no_progress "fetch --json piped"
expect 0 "fetch piped" lsn bank analyst fetch
no_progress "fetch piped"
has "four" "fetch piped shows the message"

# --- watch: a banner on a terminal, Ctrl-C stops it; none when piped.
on_tty 0 "watch on a terminal, Ctrl-C" --when "Ctrl-C to stop" --send '\x03' -- \
    "$L" --home home/bank-analyst watch
has "liaison: watching for messages for bank/analyst on r1, Ctrl-C to stop" \
    "watch's banner names the device and relay"
"$L" --home home/bank-analyst watch >wout.txt 2>werr.txt &
WPID=$!
lsn police analyst send --to bank --title five >/dev/null
i=0
until grep -q five wout.txt || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $WPID; wait $WPID
cp wout.txt out.txt; cp werr.txt err.txt
has "five" "watch piped shows the message"
no_progress "watch piped: no banner, no progress"

# --- Ctrl-C while the relay does not answer, before sealing: nothing is
# stored.  The relay is frozen rather than stopped, so the connect waits
# its whole timeout for the handshake (a refused one could fail before
# the Ctrl-C lands, and the held bundle would then be used).
kill -STOP "$RELAY_PID"
on_tty 130 "Ctrl-C while the bundle refresh waits" --when "connecting to r1" --send '\x03' -- \
    "$L" --home home/police-analyst send --to bank --title never-sealed
kill -CONT "$RELAY_PID"
relay_stop
has "liaison: interrupted before sealing: nothing was stored or sent" \
    "Ctrl-C before sealing says nothing was sealed"
grep -q "^liaison: interrupted before sealing" out.txt ||
    { bad "the interruption reads on a line of its own"; cat out.txt; }

# --- Ctrl-C at the passphrase prompt: nothing sealed, the echo back on.
printf 'a passphrase long enough\n' > cred.pass
"$K" device add desk --org-dir org-police --role human --roster roster --out desk.cred \
    --cred-passphrase-file cred.pass >/dev/null 2>&1 || bad "a protected credential"
"$L" --home home/police-desk --passphrase-file cred.pass init --credential desk.cred \
    >/dev/null 2>&1 ||
    bad "a protected profile"
on_tty 130 "Ctrl-C at the passphrase prompt" --when "Passphrase for" --echo-off --send '\x03' -- \
    sh -c "trap '' INT; \"$L\" --home home/police-desk send --to bank --title at-prompt; r=\$?; stty -a; exit \$r"
has "liaison: interrupted before sealing: nothing was stored or sent" \
    "Ctrl-C at the prompt says nothing was sealed"
grep -q -- " echo " out.txt || { bad "the terminal echoes again after Ctrl-C at the prompt"; cat out.txt; }

# --- Ctrl-C with the alert stored, waiting on the connect.
expect 3 "send with the relay down" lsn police analyst send --to bank --title kept
ID=$(sed -n 's/.*message \([0-9a-f]\{32\}\) is stored.*/\1/p' err.txt)
[ ${#ID} = 32 ] || { bad "the stored send names its msg_id"; cat err.txt; }
on_tty 130 "Ctrl-C while a stored send connects" --when "connecting to r1" --send '\x03' -- \
    "$L" --home home/police-analyst send --to bank --title kept
has "liaison: interrupted: the alert is stored as $ID and will be resent by the next \`liaison send\`, \`fetch\` or \`watch\`; nothing else to do" \
    "Ctrl-C after sealing says what is stored and what resends it"
on_tty 143 "SIGTERM while a stored send connects" --when "connecting to r1" --signal TERM -- \
    "$L" --home home/police-analyst send --to bank --title kept
has "the alert is stored as $ID and will be resent" "SIGTERM says the same"

# --- the relay back: one fetch resends, bank gets the alert once.
relay_restart || { bad "relay restart"; exit 1; }
on_tty 0 "fetch resends on a terminal" -- "$L" --home home/police-analyst fetch
raw_has "resending 1 stored message…" "fetch says it resends"
has "stored messages resent" "fetch resent the stored alert"
expect 0 "bank fetches" lsn bank analyst fetch --json
n=$(grep -c '"title":"kept"' out.txt)
[ "$n" = 1 ] || { bad "the stored alert arrives once, not $n times"; cat out.txt; }
hasnt "never-sealed" "the alert interrupted before sealing never arrives"
hasnt "at-prompt" "the alert interrupted at the prompt never arrives"

[ "$fails" = 0 ] && echo "progress: all passed"
exit $((fails > 0))
