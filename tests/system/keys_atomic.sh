#!/bin/sh
# keys_atomic.sh: every liaison-keys command checks its inputs (passphrase
# available, output writable and absent, names valid, roster readable)
# before it changes anything: a refused command leaves every file byte for
# byte as it was, and the rerun with the input fixed succeeds.
set -u
K="$LSN_BIN/liaison-keys"
T=$(mktemp -d "${LSN_TMP:-/tmp}/keysatomic.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
# No terminal to ask a passphrase on: a new session without a controlling
# terminal, stdin from /dev/null.
notty() { if command -v setsid >/dev/null 2>&1; then setsid "$@" </dev/null; else "$@" </dev/null; fi; }
check() {  # check WANT_EXIT DESCRIPTION -- COMMAND...
    want=$1; what=$2; shift 3
    "$@" >out.txt 2>err.txt; got=$?
    [ "$got" = "$want" ] || { bad "$what: exit $got, wanted $want"; cat out.txt err.txt; }
}
grep_out() {
    grep -q -- "$1" out.txt err.txt || { bad "$2: no \`$1\` in output"; cat out.txt err.txt; }
}
snap() { for f in "$@"; do [ -e "$f" ] && cksum "$f" || echo "absent $f"; done > "$SNAP"; }
same() {  # same DESCRIPTION FILE...
    what=$1; shift
    for f in "$@"; do [ -e "$f" ] && cksum "$f" || echo "absent $f"; done > now.sum
    cmp -s "$SNAP" now.sum || { bad "$what: files changed"; diff "$SNAP" now.sum; }
}
SNAP=before.sum

# A coalition of one org.
"$K" authority new a1 --no-passphrase >/dev/null 2>&1
"$K" relay new r1 --no-passphrase >/dev/null 2>&1
"$K" roster init --coalition c --threshold 1 --authority a1.pub --out roster >/dev/null
"$K" roster add-relay roster --relay r1 --endpoint tcp://127.0.0.1:1 --key r1.pub >/dev/null
"$K" org init acme --dir org-acme --no-passphrase >/dev/null 2>&1
"$K" roster add-org roster --org acme --root org-acme/root.pub --relay r1 >/dev/null
"$K" roster sign roster --key a1.key >/dev/null
[ -f org-acme/bundle.signed ] || { echo "set-up failed"; exit 1; }
ORG="org-acme/bundle.signed org-acme/enc.key org-acme/root.key org-acme/admin.cred"

# device add without a terminal and without --no-passphrase: refused,
# bundle unchanged; the rerun with --no-passphrase succeeds.
snap $ORG dev.cred
check 2 "device add without a terminal" -- notty "$K" device add box --org-dir org-acme \
    --role system --roster roster --out dev.cred
grep_out "passphrase" "the refusal names the passphrase"
same "device add without a terminal" $ORG dev.cred
check 0 "device add rerun with --no-passphrase" -- notty "$K" device add box \
    --org-dir org-acme --role system --roster roster --out dev.cred --no-passphrase
grep_out "device added" "the rerun adds the device"
[ -f dev.cred ] || bad "the rerun writes the credential"

# device add to an existing output file: refused, bundle unchanged.
snap $ORG dev.cred
check 2 "device add over an existing credential" -- notty "$K" device add box2 \
    --org-dir org-acme --role system --roster roster --out dev.cred --no-passphrase
grep_out "exists" "the refusal names the existing file"
same "device add over an existing file" $ORG dev.cred

# device add into a missing folder: refused, bundle unchanged.
snap $ORG
check 2 "device add into a missing folder" -- notty "$K" device add box2 \
    --org-dir org-acme --role system --roster roster --out nowhere/x.cred --no-passphrase
grep_out "missing" "the refusal names the missing folder"
same "device add into a missing folder" $ORG
check 0 "device add box2 rerun" -- notty "$K" device add box2 \
    --org-dir org-acme --role system --roster roster --out box2.cred --no-passphrase

# rotate --device without a terminal: refused, bundle and credential unchanged.
snap $ORG dev.cred
check 2 "rotate --device without a terminal" -- notty "$K" rotate --org-dir org-acme \
    --device box --out dev.cred
same "rotate --device without a terminal" $ORG dev.cred
check 2 "rotate --device of an unknown device" -- notty "$K" rotate --org-dir org-acme \
    --device nobody --out nobody.cred --no-passphrase
same "rotate --device of an unknown device" $ORG dev.cred
[ -e nobody.cred ] && bad "no credential for an unknown device"
check 0 "rotate --device rerun" -- notty "$K" rotate --org-dir org-acme --device box \
    --out dev.cred --no-passphrase

# authority new with one of its two files already there: neither written.
echo "not a key" > a2.pub
snap a2.key a2.pub
check 2 "authority new over an existing .pub" -- notty "$K" authority new a2 --no-passphrase
same "authority new over an existing .pub" a2.key a2.pub
rm a2.pub
check 0 "authority new rerun" -- notty "$K" authority new a2 --no-passphrase

# relay new asks nothing (the relay reads its key unattended) and refuses
# a passphrase file without writing anything.
snap r9.key r9.pub
check 2 "relay new with a passphrase file" -- notty "$K" relay new r9 \
    --passphrase-file r9.pass
same "relay new with a passphrase file" r9.key r9.pub
check 0 "relay new without a terminal" -- notty "$K" relay new r9
grep -q "without a passphrase" err.txt || bad "relay new does not say the key is unprotected"

# org init over a folder where one file is already there: nothing written.
mkdir org-beta && echo x > org-beta/enc.key
snap org-beta/root.key org-beta/root.pub org-beta/enc.key org-beta/bundle.signed
check 2 "org init over an existing enc.key" -- notty "$K" org init beta --dir org-beta \
    --no-passphrase
same "org init over an existing enc.key" org-beta/root.key org-beta/root.pub \
    org-beta/enc.key org-beta/bundle.signed

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "keys_atomic: all passed"
