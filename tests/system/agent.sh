#!/bin/sh
# agent.sh: one passphrase per sitting, typed at real prompts in a
# terminal made by script(1), against a real relay on loopback.
#
#   - `liaison unlock` asks once; while it runs, inbox, send, fetch and
#     read ask nothing; after `lock`, and after `unlock --for 3s` runs
#     out, the next command asks again; when the terminal's session ends
#     (logout) the agent exits
#   - a usage error comes before the prompt (send with a bad option,
#     init on an existing profile)
#   - a wrong passphrase is asked again, three tries in all (liaison and
#     liaison-keys)
#   - `passwd` keeps every stored message readable, refuses the old
#     passphrase, stops a running agent; a short one gets a warning
#   - `liaison-keys publish` asks for the org folder's passphrase once
#
# The agent's socket, its refusal of other uids and its secrets never on
# disk or in its environment are tests/unit/test_agent.c's.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/agent.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
. "$HERE/tests/lib/checks.sh"
SPID=""
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    "$L" --home "$T/home/desk" lock >/dev/null 2>&1
    relay_kill
}
trap cleanup EXIT INT TERM

for tool in script stty; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "FAIL: $tool is needed (util-linux, coreutils)"; exit 1; }
done

PASS='correct horse battery staple'
NEWPASS='a new and longer passphrase'
WRONG='not the passphrase'
printf '%s\n' "$PASS" > pass.txt
printf '%s\n' "$NEWPASS" > newpass.txt
printf '%s\n' "$WRONG" > wrong.txt
printf 'short\n' > short.txt

# pty NAME ANSWERS STEP-FILE: runs the steps (sh, one command a line,
# each after a "== STEP n" marker) in a new terminal session; every
# passphrase prompt, once shown with echo off, gets the next line of
# ANSWERS.  Leaves NAME.typescript, NAME.exits ("n exit-status" per
# step) and NAME.prompts ("n prompts" per step).
pty() {
    name=$1; answers=$2; steps=$3
    {
        echo 'tty > tty.name'
        n=0
        while IFS= read -r line; do
            n=$((n + 1))
            echo "echo '== STEP $n'"
            echo "$line"
            echo "echo \"$n \$?\" >> $name.exits"
        done < "$steps"
    } > "$name.sh"
    rm -f tty.name "$name.exits" "$name.fifo"
    mkfifo "$name.fifo"
    : > "$name.typescript"
    script -qefc "sh ./$name.sh" "$name.typescript" < "$name.fifo" > /dev/null 2>&1 &
    SPID=$!
    exec 3> "$name.fifo"
    answered=0
    waited=0
    while kill -0 "$SPID" 2>/dev/null; do
        shown=$(grep -E -o '[Pp]assphrase( for [^:]*)?: ' "$name.typescript" | wc -l)
        if [ "$shown" -gt "$answered" ] && [ -s tty.name ] &&
           stty -F "$(cat tty.name)" -a 2>/dev/null | grep -qw -- '-echo'; then
            answered=$((answered + 1))
            # Past the last answer: an empty line, which ends the prompt.
            printf '%s\n' "$(sed -n "${answered}p" "$answers")" >&3
        fi
        # A guard against a prompt nobody answers, not a timing check.
        waited=$((waited + 1))
        if [ $waited -gt 3000 ]; then
            bad "$name: the terminal session did not finish in 5 minutes"
            kill "$SPID"
            break
        fi
        sleep 0.1
    done
    wait "$SPID"
    exec 3>&-
    SPID=""
    screen_text "$name.typescript" | awk '
        /^== STEP [0-9]+$/ { step = $3; n[step] = 0; next }
        step { k = gsub(/[Pp]assphrase( for [^:]*)?: /, "&"); n[step] += k }
        END { for (s in n) print s, n[s] }' | sort -n > "$name.prompts"
}
# screen_text FILE: a typescript as the lines a terminal shows: what a
# carriage return rewrites (a progress line) replaced, control sequences
# taken out.
screen_text() {
    sed 's/\r$//; s/.*\r//; s/\x1b\[[0-9;]*[A-Za-z]//g' "$1"
}
# step_is NAME N EXIT PROMPTS DESCRIPTION: step N exited EXIT after
# PROMPTS prompts.
step_is() {
    got_exit=$(sed -n "s/^$2 //p" "$1.exits")
    got_prompts=$(sed -n "s/^$2 //p" "$1.prompts")
    [ "$got_exit" = "$3" ] || bad "$5: exit ${got_exit:-none}, wanted $3"
    [ "$got_prompts" = "$4" ] || bad "$5: ${got_prompts:-no} prompts, wanted $4"
}
# session_text NAME N: what step N printed on the terminal.
step_text() {
    screen_text "$1.typescript" |
        awk -v s="$2" '/^== STEP [0-9]+$/ { on = ($3 == s); next } on'
}
# gone PIDFILE: waits (a bound, not a timing check) until the pid is gone.
gone() {
    i=0
    while kill -0 "$(cat "$1")" 2>/dev/null; do
        [ $i -lt 300 ] || return 1
        sleep 0.1; i=$((i + 1))
    done
    return 0
}

coalition_new europol paypal
"$K" device add desk --org-dir org-europol --role human --roster roster \
    --out desk.cred --cred-passphrase-file pass.txt >/dev/null 2>&1 ||
    { echo "FAIL: device add desk"; exit 1; }
"$L" --home home/desk --passphrase-file pass.txt init --credential desk.cred >/dev/null ||
    { echo "FAIL: init desk"; exit 1; }
printf 'read-receipts = yes\nrelay-timeout-ms = 5000\n' > home/desk/config
relay_start </dev/null || exit 1
publish_all europol paypal || { echo "FAIL: publish"; exit 1; }
printf 'Seen at the border.\n' > body.txt
expect 0 "paypal sends to europol" lsn paypal analyst send --to europol --title "First" \
    --body-file body.txt --json
M1=$(json_field msg_id)

D="\"$L\" --home home/desk"
# ------------------------------------------------------------ a sitting
cat > s1.steps <<EOF
$D unlock --for 1h
$D inbox
$D fetch
$D read $M1
$D send --to paypal --title "While unlocked" --body-file body.txt
$D unlock
$D lock
$D inbox
$D send --to paypal --title x --indicator nonsense
$D init --credential desk.cred
$D inbox
$D inbox
$D unlock --for 3s
i=0; while [ -S home/desk/agent.sock ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
$D inbox
$D unlock --for 1h
$D unlock --for 1h > unlock.out
EOF
{
    echo "$PASS"                              # unlock
    echo "$PASS"                              # inbox after lock
    echo "$WRONG"; echo "$WRONG"; echo "$PASS"   # three tries, the third right
    echo "$WRONG"; echo "$WRONG"; echo "$WRONG"  # three wrong
    echo "$PASS"                              # unlock --for 3s
    echo "$PASS"                              # inbox after the timeout
    echo "$PASS"                              # unlock, left running at logout
} > s1.answers
pty s1 s1.answers s1.steps
step_is s1 1 0 1 "unlock asks once"
step_text s1 1 | grep -q "unlocked until" || bad "unlock says until when"
step_is s1 2 0 0 "inbox while unlocked"
step_is s1 3 0 0 "fetch while unlocked"
step_is s1 4 0 0 "read while unlocked"
step_text s1 4 | grep -q "Seen at the border" || bad "read while unlocked shows the body"
step_is s1 5 0 0 "send while unlocked"
step_is s1 6 0 0 "unlock again while unlocked"
step_text s1 6 | grep -q "already unlocked until" || bad "a second unlock says it already is"
step_is s1 7 0 0 "lock"
step_text s1 7 | grep -q "locked: the agent" || bad "lock says it stopped the agent"
step_is s1 8 0 1 "inbox after lock asks again"
step_is s1 9 2 0 "a usage error before any prompt (send --indicator)"
step_text s1 9 | grep -q "see \`liaison send --help\`" || bad "send's usage error shown"
step_is s1 10 2 0 "init on an existing profile before any prompt"
step_text s1 10 | grep -q "profile already exists" || bad "init says the profile exists"
step_is s1 11 0 3 "two wrong passphrases, then the right one"
[ "$(step_text s1 11 | grep -c 'wrong passphrase, try again')" = 2 ] ||
    bad "each wrong passphrase says try again"
step_is s1 12 2 3 "three wrong passphrases"
step_text s1 12 | grep -q "wrong passphrase (3 tries)" || bad "the third wrong one ends it"
step_is s1 13 0 1 "unlock --for 3s"
step_is s1 15 0 1 "inbox after the agent timed out asks again"
step_is s1 16 0 1 "unlock, to be left at logout"
step_is s1 17 0 0 "unlock while unlocked asks nothing"
sed -n 's/.*already unlocked until .* (agent pid \([0-9]*\)).*/\1/p' unlock.out > agent.pid
[ -s agent.pid ] || bad "the agent's pid is shown"
# The session ended with the terminal: so did its agent.
if [ -s agent.pid ]; then
    gone agent.pid || bad "the agent outlived the session it was started from"
fi
[ -S home/desk/agent.sock ] && bad "the agent's socket outlived it"
# The alert sent while unlocked arrived, signed by desk.
expect 0 "paypal fetches" lsn paypal analyst fetch --json
grep -q '"title":"While unlocked"' out.txt || bad "the alert sent while unlocked arrived"

# ------------------------------------------------------------ passwd
expect 0 "paypal sends a second" lsn paypal analyst send --to europol --title "Second" \
    --body-file body.txt --json
M2=$(json_field msg_id)
cat > s2.steps <<EOF
$D fetch
$D unlock --for 1h
$D passwd
$D passwd
$D reply $M1 --title "Re: First" --indicator nonsense
EOF
{
    echo "$PASS"                              # fetch
    echo "$PASS"                              # unlock
    echo "$PASS"; echo "$NEWPASS"; echo "$NEWPASS"   # passwd
    echo "$NEWPASS"; echo "$PASS"; echo "$NEWPASS"   # differing new ones
} > s2.answers
pty s2 s2.answers s2.steps
step_is s2 1 0 1 "fetch before passwd"
step_is s2 2 0 1 "unlock before passwd"
step_is s2 3 0 3 "passwd: current, new, repeated"
step_text s2 3 | grep -q "passphrase changed" || bad "passwd says it changed it"
step_text s2 3 | grep -q "unlock agent .* was stopped" || bad "passwd stops the agent"
step_is s2 4 2 3 "passwd with differing new passphrases"
step_text s2 4 | grep -q "differ; nothing was changed" || bad "differing ones change nothing"
step_is s2 5 2 0 "a reply's usage error before any prompt"
step_text s2 5 | grep -q "see \`liaison reply --help\`" || bad "reply's usage error shown"
[ "$(stat -c %a home/desk/credential)" = 600 ] || bad "the credential is not 0600"
ls home/desk | grep -q 'credential\.' && bad "a temporary credential file was left"
expect 2 "the old passphrase no longer opens it" "$L" --home home/desk \
    --passphrase-file pass.txt inbox
has "wrong passphrase" "the old one is called wrong"
for m in "$M1" "$M2"; do
    expect 0 "message $m readable under the new passphrase" "$L" --home home/desk \
        --passphrase-file newpass.txt read "$m"
    has "Seen at the border" "message $m's body"
done
expect 0 "passwd to a short one" "$L" --home home/desk --passphrase-file newpass.txt \
    passwd --new-passphrase-file short.txt
has "warning: the new passphrase has only 5 characters" "a short passphrase is warned of"
expect 0 "read under the short one" "$L" --home home/desk --passphrase-file short.txt read "$M2"
expect 2 "passwd takes no stray argument" "$L" --home home/desk passwd extra
has "see \`liaison passwd --help\`" "passwd's usage error"
expect 2 "unlock --for nonsense" "$L" --home home/desk unlock --for 9q
has "see \`liaison unlock --help\`" "unlock's usage error"
expect 0 "lock with nothing unlocked" "$L" --home home/desk lock
has "not unlocked" "lock says nothing was unlocked"
expect 2 "unlock an unprotected credential" lsn paypal analyst unlock
has "nothing to unlock" "an unprotected credential has nothing to unlock"

# ------------------------------------------------------------ key delivery
# An agent started outside any terminal session (setsid: it leads its
# own) serves commands that have no terminal at all; a key delivery
# fetched through it is sealed under the passphrase the file had.
expect 0 "unlock from a file, in a session of its own" setsid "$L" --home home/desk \
    --passphrase-file short.txt unlock --for 5m
"$K" rotate --org-dir org-europol --enc >/dev/null 2>&1 || bad "rotate --enc"
publish_all europol || bad "publish the rotation"
expect 0 "paypal sends under the new key" lsn paypal analyst send --to europol \
    --title "Third" --body-file body.txt --json
M3=$(json_field msg_id)
expect 0 "fetch without a terminal, through the agent" setsid "$L" --home home/desk \
    fetch </dev/null
expect 0 "read it through the agent" setsid "$L" --home home/desk read "$M3" </dev/null
has "Seen at the border" "the message under the new key opens"
expect 0 "lock" "$L" --home home/desk lock
expect 2 "locked: no terminal, no passphrase" setsid "$L" --home home/desk inbox </dev/null
expect 0 "the resealed credential opens with its passphrase" "$L" --home home/desk \
    --passphrase-file short.txt read "$M3"
expect 0 "the delivery is in the audit log" "$L" --home home/desk --passphrase-file short.txt \
    audit show
has "encryption key 2 of europol delivered" "the key delivery was recorded"

# ------------------------------------------------------------ publish asks once
"$K" org init bank --dir org-bank --passphrase-file pass.txt >/dev/null 2>&1 ||
    bad "org init bank"
"$K" roster next roster --out roster-2 >/dev/null
"$K" roster add-org roster-2 --org bank --root org-bank/root.pub --relay r1 \
    --display bank >/dev/null
"$K" roster sign roster-2 --key a1.key >/dev/null 2>&1
"$K" roster sign roster-2 --key a2.key >/dev/null 2>&1
"$K" publish-roster roster-2 --org-dir org-europol >/dev/null 2>&1 || bad "publish-roster v2"
{
    printf '"%s" publish --org-dir org-bank --roster roster-2\n' "$K"
    printf '"%s" rotate --org-dir org-bank --enc\n' "$K"
    printf '"%s" publish --org-dir org-bank --roster roster-2\n' "$K"
} > s3.steps
{
    echo "$PASS"                              # publish
    echo "$WRONG"; echo "$WRONG"; echo "$PASS"   # rotate: three tries
    echo "$WRONG"; echo "$PASS"               # publish: two
} > s3.answers
pty s3 s3.answers s3.steps
step_is s3 1 0 1 "liaison-keys publish asks once"
step_is s3 2 0 3 "liaison-keys: two wrong passphrases, then the right one"
[ "$(step_text s3 2 | grep -c 'wrong passphrase, try again')" = 2 ] ||
    bad "liaison-keys says try again after each wrong one"
step_is s3 3 0 2 "liaison-keys publish: one wrong passphrase, then the right one"
expect 0 "org init with a short passphrase" "$K" org init shorty --dir org-shorty \
    --passphrase-file short.txt
has "warning: the new passphrase has only 5 characters" "org init warns of a short one"

[ $fails = 0 ] && echo "agent: ok"
[ $fails = 0 ]
