#!/bin/sh
# api_example.sh: the C library as an automated system uses it: `make
# install` into a scratch prefix, build docs/example.c with only the
# installed header and pkg-config file, and run it against a real relay.
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
K="$LSN_BIN/liaison-keys"; R="$LSN_BIN/liaison-relay"; L="$LSN_BIN/liaison"
T="$LSN_TMP/api_example.$$"
rm -rf "$T"; mkdir -p "$T"
# The same build as the suite (a sanitizer build stays one).
MAKEVARS=${LSN_MAKEVARS:-BUILD=$(dirname "$LSN_BIN")}
fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

# shellcheck disable=SC2086
make -s -C "$HERE" $MAKEVARS install PREFIX="$T/prefix" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; bad "make install"; exit 1; }
for f in include/liaison.h include/liaison/err.h lib/libliaison.a lib/pkgconfig/liaison.pc \
         bin/liaison bin/liaison-keys bin/liaison-relay share/liaison/relay.conf.example; do
    [ -f "$T/prefix/$f" ] || bad "installed $f"
done
# Only the installed interface: no -I into the source tree.
flags=$(PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" pkg-config --cflags --libs liaison) ||
    bad "pkg-config knows liaison"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror ${LSN_SANFLAGS:-} "$HERE/docs/example.c" $flags -o "$T/example" ||
    { bad "example builds against the installed library"; exit 1; }

cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill' EXIT INT TERM
coalition_new hotline bank
relay_start </dev/null || exit 1
publish_all hotline bank || bad "publish"

"$T/example" home/hotline-engine send bank "Crawler hit on a known CSAM host" url \
    "http://bad.example/x" >out.txt 2>&1 || { cat out.txt; bad "example send"; }
grep -q "^sent [0-9a-f]\{32\}$" out.txt || bad "example prints the msg_id"
"$T/example" home/bank-analyst fetch >out.txt 2>&1 || { cat out.txt; bad "example fetch"; }
grep -q "Crawler hit" out.txt || bad "example received the alert"
grep -q "indicator url = http://bad.example/x" out.txt || bad "indicator through the API"
grep -q "1 new message" out.txt || bad "one message"
"$L" --home home/bank-analyst inbox | grep -q "Crawler hit" || bad "the CLI sees what the library stored"
# An attachment through the library, both ways, and out through the CLI.
printf 'host,first_seen\nbad.example,2026-12-01\n' > hosts.csv
"$T/example" home/hotline-engine send bank "Hosts list" url "http://bad.example/y" hosts.csv \
    >out.txt 2>&1 || { cat out.txt; bad "example send with an attachment"; }
AID=$(sed -n 's/^sent //p' out.txt)
"$T/example" home/bank-analyst fetch >out.txt 2>&1 || { cat out.txt; bad "example fetch"; }
grep -q "attachment hosts.csv (text/csv, 39 bytes)" out.txt ||
    { cat out.txt; bad "attachment through the API"; }
"$L" --home home/bank-analyst read "$AID" --save-attachments saved >/dev/null 2>&1 ||
    bad "the CLI saves what the library received"
cmp -s hosts.csv saved/hosts.csv || bad "the attachment arrived as sent"
# Feedback through the library: the bank marks the indicator a false
# positive; the hotline's engine receives it and its status shows it.
"$T/example" home/bank-analyst feedback "$AID" false-positive 1 >out.txt 2>&1 ||
    { cat out.txt; bad "example feedback"; }
grep -q "^feedback [0-9a-f]\{32\}$" out.txt || bad "example prints the feedback id"
"$T/example" home/bank-analyst feedback "$AID" actioned 2 >out.txt 2>&1
[ $? = 1 ] && grep -q "no indicator 2" out.txt || { cat out.txt; bad "no indicator 2"; }
"$T/example" home/hotline-engine fetch >out.txt 2>&1 || { cat out.txt; bad "example fetch"; }
grep -q "feedback false-positive on $AID of hotline" out.txt ||
    { cat out.txt; bad "feedback received through the API"; }
grep -q "about indicator 1" out.txt || { cat out.txt; bad "feedback indicator"; }
"$T/example" home/hotline-engine status "$AID" >out.txt 2>&1 || { cat out.txt; bad "status"; }
grep -q "indicator 1: false-positive by bank" out.txt ||
    { cat out.txt; bad "dispositions through the API"; }
# Retraction through the library: the bank applies it and says so.
"$T/example" home/hotline-engine retract "$AID" "sent in error" >out.txt 2>&1 ||
    { cat out.txt; bad "example retract"; }
"$T/example" home/bank-analyst fetch >/dev/null 2>&1 || bad "bank fetches the retraction"
"$L" --home home/bank-analyst read "$AID" >out.txt 2>&1 && bad "retracted message still reads"
grep -q "retracted by hotline" out.txt || { cat out.txt; bad "read names the retraction"; }
"$T/example" home/hotline-engine fetch >/dev/null 2>&1 || bad "hotline fetches the answer"
"$T/example" home/hotline-engine status "$AID" >out.txt 2>&1 || { cat out.txt; bad "status"; }
grep -q "retraction applied by bank" out.txt || { cat out.txt; bad "retraction status via API"; }
# An update through the library: a new version to the same org; the
# bank receives it naming the old one, and sees the old one superseded.
"$T/example" home/hotline-engine send bank "Host list v1" url "http://bad.example/z" \
    >out.txt 2>&1 || { cat out.txt; bad "example send v1"; }
V1=$(sed -n 's/^sent //p' out.txt)
"$T/example" home/bank-analyst fetch >/dev/null 2>&1 || bad "bank fetches v1"
"$T/example" home/bank-analyst update "$V1" "x" >out.txt 2>&1
[ $? = 1 ] && grep -q "only the device that sent a message can update it" out.txt ||
    { cat out.txt; bad "only the sending device updates"; }
"$T/example" home/hotline-engine update "$V1" "Host list v2" >out.txt 2>&1 ||
    { cat out.txt; bad "example update"; }
V2=$(sed -n 's/^updated //p' out.txt)
[ ${#V2} = 32 ] && [ "$V2" != "$V1" ] || { cat out.txt; bad "example prints the new id"; }
"$T/example" home/bank-analyst fetch >out.txt 2>&1 || { cat out.txt; bad "bank fetches v2"; }
grep -q "^$V2 from hotline/engine: Host list v2$" out.txt && grep -q "supersedes $V1" out.txt ||
    { cat out.txt; bad "the update names what it supersedes"; }
"$T/example" home/bank-analyst read "$V1" >out.txt 2>&1 || { cat out.txt; bad "example read"; }
grep -q "Host list v1" out.txt && grep -q "superseded by $V2" out.txt ||
    { cat out.txt; bad "the old version is superseded through the API"; }
"$T/example" home/bank-analyst read "$V2" >out.txt 2>&1 && ! grep -q "superseded by" out.txt ||
    { cat out.txt; bad "the new version is not superseded"; }
"$L" --home home/bank-analyst inbox >out.txt 2>&1
grep -q "Host list v2" out.txt && ! grep -q "Host list v1" out.txt ||
    { cat out.txt; bad "the inbox lists the newest version"; }
"$L" --home home/bank-analyst read "$V2" --json >out.txt 2>&1
grep -q '"type":"update"' out.txt || { cat out.txt; bad "the update is of type update"; }
# A legal hold through the library: the bank holds v1 for a case; the
# library and the CLI show it held, and after release not held.
"$T/example" home/bank-analyst hold "$V1" CASE-7 >out.txt 2>&1 ||
    { cat out.txt; bad "example hold"; }
"$T/example" home/bank-analyst read "$V1" >out.txt 2>&1 && grep -q "^  held: CASE-7$" out.txt ||
    { cat out.txt; bad "the hold through the API"; }
"$L" --home home/bank-analyst read "$V1" --json >out.txt 2>&1
grep -q '"hold":{"case":"CASE-7"}' out.txt || { cat out.txt; bad "the CLI sees the library's hold"; }
"$T/example" home/hotline-engine hold "$V1" CASE-7 >out.txt 2>&1
[ $? = 1 ] || { cat out.txt; bad "only a received message is held"; }
"$T/example" home/bank-analyst release "$V1" >out.txt 2>&1 ||
    { cat out.txt; bad "example release"; }
"$T/example" home/bank-analyst read "$V1" >out.txt 2>&1 && ! grep -q "held:" out.txt ||
    { cat out.txt; bad "the release through the API"; }
"$L" --home home/bank-analyst read "$V1" --json >out.txt 2>&1
grep -q '"hold":null' out.txt || { cat out.txt; bad "the CLI sees the library's release"; }
"$T/example" home/hotline-engine send nosuch "x" >out.txt 2>&1
[ $? = 1 ] && grep -q "not in roster" out.txt || bad "unknown org refused by the library"
# A circle through the library: roster v2 names one, signed by both
# authorities; "circle:NAME" in the recipient list reaches its members.
"$K" roster next roster --out roster-2 >/dev/null &&
    "$K" roster add-circle roster-2 --circle partners --org hotline,bank >/dev/null &&
    "$K" roster sign roster-2 --key a1.key >/dev/null 2>&1 &&
    "$K" roster sign roster-2 --key a2.key >/dev/null 2>&1 &&
    "$K" publish-roster roster-2 --org-dir org-hotline >/dev/null 2>&1 || bad "roster v2 with a circle"
"$T/example" home/hotline-engine send circle:partners "To the partners" >out.txt 2>&1 ||
    { cat out.txt; bad "example send to a circle"; }
"$T/example" home/bank-analyst fetch >out.txt 2>&1 || { cat out.txt; bad "example fetch"; }
grep -q "to partners (2 orgs)" out.txt || { cat out.txt; bad "the circle through the API"; }
"$T/example" home/hotline-engine send circle:nosuch "x" >out.txt 2>&1
[ $? = 1 ] && grep -q "no circle" out.txt || bad "unknown circle refused by the library"
relay_stop
"$T/example" home/hotline-engine send bank "Down" >out.txt 2>&1
[ $? = 3 ] || { cat out.txt; bad "relay down gives 3"; }

if [ $fails -ne 0 ]; then echo "api_example: $fails failure(s)"; exit 1; fi
echo "api_example: all checks passed"
