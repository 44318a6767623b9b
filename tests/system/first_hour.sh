#!/bin/sh
# first_hour.sh: what a new user meets in the first hour, against a real
# relay on loopback: a usage error is one line naming the subcommand's
# own --help (exit 2, --help itself still prints the full text to stdout
# with exit 0); TLP, PAP and priority words in any case; a `send`
# repeated after exit 3 resends the stored alert instead of sealing a
# second one, so the recipient gets it once.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/first_hour.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill' EXIT INT TERM

. "$HERE/tests/lib/checks.sh"
# usage_line WANT-HINT DESCRIPTION COMMAND...: exit 2, nothing on stdout,
# exactly one line on stderr, ending in "see `WANT-HINT --help`".
usage_line() {
    hint=$1; what=$2; shift 2
    expect 2 "$what" "$@"
    [ -s out.txt ] && bad "$what: wrote to stdout"
    [ "$(wc -l < err.txt)" = 1 ] || { bad "$what: $(wc -l < err.txt) lines on stderr"; cat err.txt; }
    grep -q -- "; see \`$hint --help\`\$" err.txt || { bad "$what: no \`see $hint --help\`"; cat err.txt; }
}

coalition_new europol paypal

# Usage errors: one line, the subcommand's own help named.
usage_line "liaison send" "send: unknown option" lsn europol analyst send --bogus
has "unknown option \`--bogus\`" "the unknown option is quoted"
usage_line "liaison send" "send: option without its value" lsn europol analyst send --to
has "\`--to\` needs a value" "the option missing its value is named"
usage_line "liaison send" "send: bad --tlp" lsn europol analyst send --to paypal --title x --tlp purple
usage_line "liaison send" "send: no --title" lsn europol analyst send --to paypal
usage_line "liaison fetch" "fetch: stray argument" lsn europol analyst fetch extra
usage_line "liaison prune" "prune: unknown option" lsn europol analyst prune --bogus
usage_line "liaison init" "init: unknown option" "$L" --home "$T/nowhere" init --bogus
usage_line "liaison" "unknown command" "$L" frobnicate
usage_line "liaison-keys" "keys: unknown command" "$K" frobnicate
usage_line "liaison-keys roster" "keys: unknown roster command" "$K" roster frobnicate
usage_line "liaison-keys org init" "keys org init: unknown option" "$K" org init x --bogus
usage_line "liaison-keys publish" "keys publish: unknown option" "$K" publish --bogus
usage_line "liaison-relay" "relay: unknown option" "$R" --bogus
usage_line "liaison-relay" "relay: stray argument" "$R" --listen tcp://127.0.0.1:1 extra
usage_line "liaison-relay" "relay: check-config without FILE" "$R" check-config
# init on a profile that exists says so, and offers no --force it lacks.
expect 2 "init twice" lsn europol analyst init --credential europol-analyst.cred
has "profile already exists in" "init names the existing profile"
grep -q -- "--force" err.txt && bad "init suggests a --force it does not take"
expect 2 "roster init over a file" "$K" roster init --coalition x --threshold 1 \
    --authority a1.pub --out roster
grep -q -- "--force" err.txt && bad "roster init suggests a --force it does not take"
has "file exists" "roster init says the file exists"
expect 2 "authority new over a key" "$K" authority new a1 --no-passphrase
has "use --force to overwrite" "authority new, which takes --force, suggests it"
# The same roster version again is not "lower"; the hint is `roster next`.
expect 1 "roster v1 after v1" "$K" roster verify roster --previous roster
grep -q "lower" err.txt && bad "an equal version is called lower"
has "already accepted; a change goes into the next one: \`liaison-keys roster next\`" \
    "the rollback names roster next"
# check-config reads the roster and key files as the relay would.
printf 'listen tcp://127.0.0.1:1\ndata %s/nodata\nroster %s/noroster\nkey %s/nokey\n' \
    "$T" "$T" "$T" > missing.conf
expect 2 "check-config: missing files" "$R" check-config missing.conf
has "roster $T/noroster: not found" "the missing roster is named"
has "key $T/nokey: not found (make one with \`liaison-keys relay new\`)" "the missing key is named"
sed -e "s#^roster .*#roster $T/roster#" -e "s#^key .*#key $T/a1.key#" missing.conf > wrongkey.conf
expect 2 "check-config: not a relay key" "$R" check-config wrongkey.conf
has "key $T/a1.key:" "the wrong key file is named"
"$K" relay new r9 >/dev/null 2>&1
sed -e "s#^key .*#key $T/r9.key#" wrongkey.conf > unlisted.conf
expect 2 "check-config: a key the roster does not list" "$R" check-config unlisted.conf
has "not listed in roster v1" "the unlisted key is named"
sed -e "s#^key .*#key $T/r1.key#" wrongkey.conf > good.conf
expect 0 "check-config: all files right" "$R" check-config good.conf
# --help is still the full text, on stdout, exit 0.
expect 0 "send --help" lsn europol analyst send --help
has "usage: liaison send" "send --help prints the usage"
[ "$(wc -l < out.txt)" -gt 5 ] || bad "send --help prints the whole text"
expect 0 "relay --help" "$R" --help
has "usage: liaison-relay" "relay --help prints the usage"
expect 0 "keys org --help" "$K" org init --help
has "usage: liaison-keys org init" "org init --help prints the usage"

relay_start </dev/null || exit 1
publish_all europol paypal || { echo "publish failed"; exit 1; }

# TLP, PAP and priority words in any case, TLP and PAP with their label.
expect 0 "capital TLP words" lsn europol analyst send --to paypal --title "Capitals" \
    --tlp AMBER+STRICT --pap PAP:Green --priority URGENT --json
expect 0 "labelled TLP" lsn europol analyst send --to paypal --title "Labelled" --tlp TLP:RED --json
expect 0 "paypal fetches" lsn paypal analyst fetch --json
grep '"title":"Capitals"' out.txt | grep '"tlp":"amber+strict"' | grep '"pap":"green"' |
    grep -q '"priority":"urgent"' || { bad "capital words kept their meaning"; cat out.txt; }
grep '"title":"Labelled"' out.txt | grep -q '"tlp":"red"' || bad "TLP:RED is red"

# A send repeated after exit 3 (as its --help advises) resends the stored
# alert: one stored record while the relay is down, one delivery after.
printf 'Seen twice?\n' > retry.txt
relay_stop
expect 3 "relay down: exit 3" lsn europol analyst send --to paypal --title "Retry me" \
    --body-file retry.txt --tlp green
has "is the relay running? (tried $EP for 5 s" "exit 3 says which relay did not answer, for how long"
[ "$(grep -c . err.txt)" -le 2 ] || { bad "exit 3: more than two lines"; cat err.txt; }
ID1=$(sed -n 's/.*message \([0-9a-f]\{32\}\) is stored.*/\1/p' err.txt | head -1)
[ ${#ID1} = 32 ] || { bad "exit 3 names the stored message"; cat err.txt; }
expect 3 "relay still down: exit 3 again" lsn europol analyst send --to paypal --title "Retry me" \
    --body-file retry.txt --tlp green
ID2=$(sed -n 's/.*message \([0-9a-f]\{32\}\) is stored.*/\1/p' err.txt | head -1)
[ "$ID2" = "$ID1" ] || bad "the repeat names the first stored message ($ID2, wanted $ID1)"
relay_restart || bad "relay restart"
expect 0 "relay up: the same send succeeds" lsn europol analyst send --to paypal --title "Retry me" \
    --body-file retry.txt --tlp green
has "sent $ID1 to paypal" "reported sent under the first msg_id"
grep -q "resent" out.txt && bad "a second stored record was resent: $(cat out.txt)"
expect 0 "paypal fetches once" lsn paypal analyst fetch --json
n=$(grep -c '"title":"Retry me"' out.txt)
[ "$n" = 1 ] || bad "the retried alert arrived $n times, wanted 1"
# Another alert (other body) to the same org is still sealed on its own.
expect 0 "a different alert is new" lsn europol analyst send --to paypal --title "Retry me" --json
[ "$(json_field msg_id)" != "$ID1" ] || bad "another alert got the first msg_id"
[ "$(json_field state)" = sent ] || bad "another alert is sent"

# An org admitted after the profile pinned its roster: send asks the relay
# for the newest roster before refusing the name.
"$K" org init acme --dir org-acme --no-passphrase >/dev/null 2>&1
"$K" roster next roster --out roster-2 >/dev/null
"$K" roster add-org roster-2 --org acme --root org-acme/root.pub --relay r1 \
    --display acme >/dev/null
"$K" roster sign roster-2 --key a1.key >/dev/null 2>&1
"$K" roster sign roster-2 --key a2.key >/dev/null 2>&1
"$K" publish-roster roster-2 --org-dir org-europol >/dev/null 2>&1 || bad "publish-roster v2"
"$K" publish --org-dir org-acme --roster roster-2 >/dev/null 2>&1 || bad "publish acme"
expect 0 "send to an org admitted in v2" lsn paypal analyst send --to acme --title "Welcome" \
    --body-file retry.txt
expect 2 "an org in no roster" lsn paypal analyst send --to nosuchorg --title x --body-file retry.txt
has "not in roster v2, the newest the relay has" "the relay was asked"
[ "$(wc -l < err.txt)" = 1 ] || bad "one line for the unknown org"
relay_stop
expect 2 "relay down: an org in no roster" lsn europol analyst send --to nosuchorg --title x \
    --body-file retry.txt
has "run \`liaison fetch\`" "relay down: the hint is fetch"

[ $fails = 0 ] && echo "first_hour: all checks passed"
[ $fails = 0 ]
