#!/bin/sh
# federation_cli.sh: three real liaison-relay processes with orgs homed on
# different relays, driven by the real `liaison` and `liaison-keys publish`
# (docs/relay.md "Federation"): an alert crosses to two other relays at once and back, and a
# key rotation published at one relay reaches senders homed on another.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
T="$LSN_TMP/federation_cli.$$"
[ -x "$L" ] || { echo "federation_cli: no liaison CLI built; skipped"; exit 0; }
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$OLDPWD/tests/lib/federation.sh"
fail=0
trap 'fed_stop_all' EXIT INT TERM
ok()  { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }
expect() { want=$1; what=$2; shift 2; "$@" >out.txt 2>err.txt; got=$?
  if [ "$got" = "$want" ]; then ok "$what"; else bad "$what (exit $got, want $want)"; cat err.txt; fi; }
# Polls (bounded) until ORG DEV has fetched a message whose title is $3.
fetched() {
  i=0
  while [ $i -lt 150 ]; do
    fed_lsn "$1" "$2" fetch --json >>"fetch-$1-$2.txt" 2>>err.txt
    grep -q "$3" "fetch-$1-$2.txt" && return 0
    sleep 0.2; i=$((i + 1))
  done
  return 1
}

fed_new "r1 r2 r3" "police:r1 bank:r2 ngo:r3" || { echo "fed_new failed"; exit 1; }
for rel in r1 r2 r3; do fed_start $rel </dev/null || exit 1; done
expect 0 "each org publishes to its own home relay" fed_publish police bank ngo
# Bundles replicate: wait until police's home relay holds bank's and ngo's.
i=0
until fed_lsn police analyst send --to bank,ngo --title "Mule accounts wave" >out.txt 2>err.txt; do
  i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.2
done
[ $i -lt 100 ] && ok "police@r1 sends to bank@r2 and ngo@r3 at once" || { bad "send"; cat err.txt; }
fetched bank analyst "Mule accounts wave" && ok "bank@r2 received it" || bad "bank did not receive"
fetched bank engine "Mule accounts wave" && ok "bank's second device too" || bad "bank engine"
fetched ngo analyst "Mule accounts wave" && ok "ngo@r3 received it" || bad "ngo did not receive"
expect 0 "bank@r2 answers police@r1" fed_lsn bank analyst send --to police --title "Known mule set"
fetched police analyst "Known mule set" && ok "police@r1 received the answer" || bad "police"

# Key rotation published at r2 reaches a sender homed on r1.
before=$(grep -c "bundle of bank v.* stored (from relay:r2)" r1.log)
expect 0 "bank rotates its encryption key" "$K" rotate --org-dir org-bank --enc
expect 0 "bank publishes at its home relay r2" fed_publish bank
i=0
until [ "$(grep -c "bundle of bank v.* stored (from relay:r2)" r1.log)" -gt "$before" ]; do
  i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1
done
[ $i -lt 100 ] && ok "r1 holds bank's new bundle (replicated from r2)" || bad "bundle v2 not at r1"
i=0
until fed_lsn police analyst send --to bank --title "After rotation" >out.txt 2>err.txt; do
  i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.2
done
[ $i -lt 100 ] && ok "police@r1 sends to bank after the rotation" || { bad "send after rotation"; cat err.txt; }
fetched bank analyst "After rotation" && ok "bank opens it with the delivered key" || bad "after rotation"
grep -q "peer relay r2: session up" r1.log && ok "r1 peers with r2" || bad "no session r1-r2"
if grep -qi "secret\|BEGIN LIAISON" r1.log r2.log r3.log; then bad "log mentions secrets"; else ok "no secrets in the logs"; fi

fed_stop_all
cd /; [ "$fail" = 0 ] && rm -rf "$T"
[ "$fail" = 0 ] && echo "federation_cli: all checks passed"
exit $fail
