#!/bin/sh
# relay_cli.sh: liaison-relay's command line and liaison-keys publish against
# a real relay on a free loopback port: --help, check-config, the four-flag
# start, publish (bootstrap of a new org's bundle, then key deliveries after
# rotate --enc), publish-roster of a roster that does not follow, SIGHUP and
# SIGTERM.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
T="$LSN_TMP/relay_cli.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
fail=0
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT INT TERM
ok()  { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }
expect() { want=$1; what=$2; shift 2; "$@" >out.txt 2>err.txt; got=$?
  if [ "$got" = "$want" ]; then ok "$what"; else bad "$what (exit $got, want $want)"; cat err.txt; fi; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null)
[ -n "$port" ] || port=$((20000 + $$ % 20000))
ep="tcp://127.0.0.1:$port"

expect 0 "liaison-relay --help" "$R" --help
grep -q "check-config" out.txt && ok "help names check-config" || bad "help text"
expect 2 "unknown flag refused" "$R" --bogus

"$K" authority new a1 --no-passphrase >/dev/null 2>&1
"$K" relay new r1 --no-passphrase >/dev/null 2>&1
"$K" roster init --coalition demo --threshold 1 --authority a1.pub --out roster.v1 >/dev/null 2>&1
"$K" org init police --dir police --no-passphrase >/dev/null 2>&1
"$K" roster add-relay roster.v1 --relay r1 --endpoint "$ep" --key r1.pub >/dev/null 2>&1
"$K" roster add-org roster.v1 --org police --root police/root.pub --relay r1 >/dev/null 2>&1
expect 0 "roster signed" "$K" roster sign roster.v1 --key a1.key

cat > relay.conf <<CONF
# a test relay
listen $ep
data $T/data
roster $T/roster.v1
key $T/r1.key
device_backlog 1000
CONF
expect 0 "check-config accepts a valid file" "$R" check-config relay.conf
grep -q "^max_envelope " out.txt && ok "check-config prints every limit" || bad "check-config output"
printf 'listen %s\nbogus_limit 3\n' "$ep" > badrelay.conf
expect 2 "check-config names an unknown setting" "$R" check-config badrelay.conf
grep -q "bogus_limit" err.txt && ok "the bad setting is quoted" || bad "bad setting not quoted"
printf 'listen %s\ndata x\nroster y\nkey z\ndevice_backlog 5\nrecipient_quota_messages 2\n' "$ep" > bad2.conf
expect 2 "check-config refuses a backlog above the org quota" "$R" check-config bad2.conf
# The example's settings, with its roster and key paths pointed at real files.
sed -e "s#^roster .*#roster $T/roster.v1#" -e "s#^key .*#key $T/r1.key#" \
    "$OLDPWD/relay/relay.conf.example" > example.conf
expect 0 "example config is valid" "$R" check-config example.conf

# The four flags alone, every limit at its default.
"$R" --listen "$ep" --data "$T/data" --roster "$T/roster.v1" --key "$T/r1.key" 2>relay.log &
pid=$!
i=0; while [ $i -lt 50 ] && ! grep -q "listening" relay.log; do sleep 0.1; i=$((i+1)); done
grep -q "listening on" relay.log && ok "relay started from four flags" || bad "relay did not start"

expect 0 "publish: new org's bundle through the bootstrap path" \
    "$K" publish --org-dir police --roster roster.v1
grep -q "published" out.txt && ok "bundle published" || bad "bundle not published"
expect 0 "publish again: byte-identical is fine" "$K" publish --org-dir police --roster roster.v1
grep -q "already held" out.txt && ok "identical bundle reported as held" || bad "identical bundle"
expect 0 "device add" "$K" device add desk --org-dir police --role human --roster roster.v1 \
    --out desk.cred --no-passphrase
expect 0 "rotate --enc" "$K" rotate --org-dir police --enc
expect 0 "publish after rotation: bundle and key deliveries" \
    "$K" publish --org-dir police --roster roster.v1
grep -q "deliveries/desk" out.txt && ok "key delivery for desk published" || bad "no delivery published"
expect 1 "publish-roster of an unsigned next roster is refused" \
    sh -c "'$K' roster next roster.v1 --out roster.v2 >/dev/null 2>&1; '$K' publish-roster roster.v2 --org-dir police --roster roster.v1"

kill -HUP "$pid"; sleep 0.3
grep -q "SIGHUP" relay.log && ok "SIGHUP reloads the roster" || bad "SIGHUP not logged"
kill -TERM "$pid"; wait "$pid"; st=$?; pid=""
[ "$st" = 0 ] && ok "SIGTERM: clean exit" || bad "SIGTERM exit $st"
grep -q "stopping" relay.log && ok "stop logged" || bad "stop not logged"
if grep -qi "secret\|BEGIN LIAISON" relay.log; then bad "log mentions secrets"; else ok "no secrets in the log"; fi

cd /; [ "$fail" = 0 ] && rm -rf "$T"
[ "$fail" = 0 ] && echo "relay_cli: all checks passed"
exit $fail
