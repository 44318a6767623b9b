#!/bin/sh
# readme_setup.sh: runs the README's set-up block (the ```sh block under
# "## Setting up a coalition") as written, so it cannot drift from the
# programs.  Two things change, nothing else: the endpoint (a free loopback
# port for relay.example.org:7400 and 0.0.0.0:7400), and the line that
# starts liaison-relay, which runs in the background (its log in relay.log)
# where the README starts it.  The block runs under bash -e in a terminal
# made by script(1); every passphrase prompt is answered through that
# terminal, once the prompt is shown and echo is off, as a person types it.
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LSN_TMP:-/tmp}/readme.XXXXXX")
. "$HERE/tests/lib/coalition.sh"
cleanup() {
    [ -s "$T/relay.pid" ] && kill "$(cat "$T/relay.pid")" 2>/dev/null
    [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for tool in script stty bash; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "FAIL: $tool is needed (util-linux, coreutils, bash)"; exit 1; }
done
PORT=$(free_port)
PASS='correct horse battery staple'

# The block, from the README's set-up section to the fence that closes it.
awk '/^## Setting up a coalition/ { sec = 1; next }
     sec && /^## / { exit }
     sec && !inb && /^```sh$/ { inb = 1; next }
     inb && /^```$/ { exit }
     inb { print }' "$HERE/README.md" > block.sh
[ -s block.sh ] || { echo "FAIL: no \`\`\`sh block under \"## Setting up a coalition\""; exit 1; }
starts=$(grep -c '^liaison-relay ' block.sh)
[ "$starts" = 1 ] || fail "the block starts the relay $starts times, wanted once"

{
    echo 'set -ex'
    echo "PATH=\"$LSN_BIN:\$PATH\""
    echo 'tty > tty.name'
    echo 'trap '\''[ -s relay.pid ] && kill "$(cat relay.pid)" && wait'\'' EXIT'
    echo 'relay_wait() {'
    echo '    i=0'
    echo '    until grep -q "listening on" relay.log; do'
    echo '        kill -0 "$(cat relay.pid)" || { cat relay.log; return 1; }'
    echo '        [ $i -lt 300 ] || { cat relay.log; return 1; }'
    echo '        sleep 0.1; i=$((i + 1))'
    echo '    done'
    echo '}'
    sed -e "s/relay\\.example\\.org:7400/127.0.0.1:$PORT/g" \
        -e "s/0\\.0\\.0\\.0:7400/127.0.0.1:$PORT/g" \
        -e 's/^\(liaison-relay .*\)$/\1 <\/dev\/null >relay.log 2>\&1 \& echo $! >relay.pid; relay_wait/' \
        block.sh
    echo 'echo README-SETUP-COMPLETE'
} > run.sh

# script's input is a fifo held open here; each prompt gets one line.
mkfifo keys.in
: > typescript
script -qefc "bash ./run.sh" typescript < keys.in > /dev/null 2>&1 &
SPID=$!
exec 3> keys.in
answered=0
waited=0
while kill -0 "$SPID" 2>/dev/null; do
    shown=$(grep -E -o '[Pp]assphrase( for [^:]*)?: ' typescript | wc -l)
    if [ "$shown" -gt "$answered" ] && [ -s tty.name ] &&
       stty -F "$(cat tty.name)" -a 2>/dev/null | grep -qw -- '-echo'; then
        printf '%s\n' "$PASS" >&3
        answered=$((answered + 1))
    fi
    # A guard against a prompt nobody recognised, not a timing check.
    waited=$((waited + 1))
    if [ $waited -gt 6000 ]; then
        fail "the set-up block did not finish in 10 minutes"
        kill "$SPID"
        break
    fi
    sleep 0.1
done
wait "$SPID"; rc=$?
exec 3>&-
SPID=""

if [ "$rc" != 0 ] || ! grep -q '^README-SETUP-COMPLETE' typescript; then
    fail "the README's set-up block fails as written (exit $rc); its last lines:"
    tail -n 25 typescript | tr -d '\r'
    [ -f relay.log ] && { echo "-- relay.log"; tail -n 10 relay.log; }
fi
[ "$answered" -ge 10 ] || fail "only $answered passphrase prompts were answered"
grep -q 'roster v2 stored' relay.log 2>/dev/null ||
    fail "the relay never stored the second roster version"
grep -qi 'refus' relay.log 2>/dev/null && { fail "the relay refused something"; cat relay.log; }

[ $fails = 0 ] && echo "readme_setup: ok ($answered passphrases typed)"
[ $fails = 0 ]
