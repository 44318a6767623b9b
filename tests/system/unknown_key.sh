#!/bin/sh
# unknown_key.sh: what `liaison` tells an analyst whose device key the
# relay does not admit, through a real relay: a device never published
# hears to ask for `liaison-keys publish`; a device a newer bundle revoked
# hears which org's bundle removed it, also after the relay restarts.
# Each is one line on stderr, nothing on stdout, exit 1 (as any refusal).
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/unknown_key.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill' EXIT INT TERM

fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
# refused WHAT HINT ORG DEVICE ARGS...: exit 1, stdout empty, one stderr
# line holding HINT.
# Each refused command first lets the relay's per-address budget for
# unknown keys (3 handshakes, refilled at bootstrap_per_minute) refill.
refused() {
    what=$1; hint=$2; shift 2
    sleep 1
    lsn "$@" >out.txt 2>err.txt; got=$?
    [ "$got" = 1 ] || bad "$what: exit $got, wanted 1"
    [ -s out.txt ] && bad "$what: printed on stdout"
    [ "$(wc -l < err.txt)" = 1 ] || bad "$what: $(wc -l < err.txt) lines on stderr, wanted 1"
    grep -qE -- "$hint" err.txt || bad "$what: no \`$hint\`"
    [ $fails = 0 ] || { cat out.txt err.txt; }
}

PUBLISH_HINT="this device key is not known to the relay: ask your administrator to run \`liaison-keys publish\`\$"
REVOKED_HINT="this device key was removed from police's bundle v[0-9]+ on [0-9]{4}-[0-9]{2}-[0-9]{2}: ask your administrator"

coalition_new police bank
relay_start </dev/null || exit 1
publish_all police bank || { echo "publish failed"; exit 1; }

# A device added after the org's last publish: never published.
"$K" device add newbie --org-dir org-police --role human --roster roster \
    --out police-newbie.cred --no-passphrase >/dev/null 2>&1 || bad "device add"
"$L" --home home/police-newbie init --credential police-newbie.cred >/dev/null ||
    bad "init newbie"
printf 'relay-timeout-ms = 5000\n' > home/police-newbie/config
refused "never published: fetch" "$PUBLISH_HINT" police newbie fetch
refused "never published: send" "$PUBLISH_HINT" police newbie send --to bank --title x

# The engine, revoked by the next bundle (which also lists newbie).
lsn police engine fetch >/dev/null 2>&1 || bad "engine fetches before its revocation"
"$K" device revoke engine --org-dir org-police >/dev/null || bad "revoke"
"$K" publish --org-dir org-police --roster roster >/dev/null || bad "publish after revoke"
V=$("$K" bundle show --org-dir org-police --json | sed -n 's/^{"org":"police","version":\([0-9]*\),.*/\1/p')
refused "revoked: fetch" "$REVOKED_HINT" police engine fetch
grep -q "bundle v$V on" err.txt || bad "revoked: names the bundle v$V that removed it"
refused "revoked: send" "$REVOKED_HINT" police engine send --to bank --title x
lsn police newbie fetch >/dev/null 2>&1 || bad "newbie admitted once published"

# Another org's device is unaffected, and a key never seen stays so.
lsn bank analyst fetch >/dev/null 2>&1 || bad "bank analyst still fetches"

# The relay remembers the removal across a restart.
relay_stop
relay_restart || bad "relay restart"
refused "revoked after restart" "$REVOKED_HINT" police engine fetch
"$K" device add late --org-dir org-police --role human --roster roster \
    --out police-late.cred --no-passphrase >/dev/null 2>&1 || bad "device add late"
"$L" --home home/police-late init --credential police-late.cred >/dev/null ||
    bad "init late"
printf 'relay-timeout-ms = 5000\n' > home/police-late/config
refused "never published after restart" "$PUBLISH_HINT" police late fetch

relay_stop
if [ $fails -ne 0 ]; then echo "unknown_key: $fails failure(s)"; exit 1; fi
echo "unknown_key: all checks passed"
