#!/bin/sh
# circles.sh: circles of member orgs, end to end through a real relay.
# A circle is a roster edit like any other (the signatures drop; the relay
# and the clients take it only with K signatures); bad names and members
# are refused, and an org in a circle is not removed from the roster.
# `send --to circle:NAME` reaches exactly the circle's members (the
# sending org left out) and no one else; each recipient sees the circle
# in read, inbox and --json; a TLP:GREEN alert sent to a circle is
# forwarded only within it (exit 4 and a sentence otherwise), while
# GREEN without a circle still goes to any member; `orgs` lists circles.
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
T=$(mktemp -d "${LSN_TMP:-/tmp}/circles.XXXXXX")
. "$HERE/tests/lib/coalition.sh"
trap 'relay_stop; rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
check() {  # check WANT_EXIT DESCRIPTION -- COMMAND...
    want=$1; what=$2; shift 3
    "$@" >out.txt 2>err.txt; got=$?
    [ "$got" = "$want" ] || { bad "$what: exit $got, wanted $want"; cat out.txt err.txt; }
}
grep_out() {  # grep_out PATTERN DESCRIPTION
    grep -q -- "$1" out.txt err.txt || { bad "$2: no \`$1\` in output"; cat out.txt err.txt; }
}
no_out() {  # no_out PATTERN DESCRIPTION
    ! grep -q -- "$1" out.txt err.txt || { bad "$2: \`$1\` in output"; cat out.txt err.txt; }
}
refused() {  # refused DESCRIPTION -- COMMAND...: exit 2, roster-2 unchanged
    what=$1; shift 2
    cksum roster-2 > before.sum
    check 2 "$what" -- "$@"
    cksum roster-2 | cmp -s before.sum - || bad "$what: the roster changed"
}
msg_id() { sed -n 's/.*"msg_id":"\([0-9a-f]*\)".*/\1/p' out.txt | head -n 1; }

check 0 "roster --help" -- "$K" roster --help
grep_out "add-circle" "roster --help lists add-circle"
check 0 "roster add-circle --help" -- "$K" roster add-circle --help
grep_out "add-circle FILE --circle NAME" "roster add-circle --help names the command"

coalition_new hq p1 p2 out
relay_start || exit 1
# A relay admits three unknown keys at once from one address, then ten a
# second: a fourth first upload may have to ask again.
for org in hq p1 p2 out; do
    publish_all "$org" || { sleep 1; publish_all "$org"; } || bad "publish $org"
done

# ---- the circle, a roster edit signed by K of the authorities
"$K" roster next roster --out roster-2 >/dev/null
check 0 "add-circle" -- "$K" roster add-circle roster-2 --circle payments-eu \
    --org hq,p1 --display "Payments EU"
grep_out "signature(s) dropped\|roster v2" "add-circle writes v2"
refused "a circle name with capitals" -- "$K" roster add-circle roster-2 --circle Pay \
    --org p1
refused "a circle name with a dot" -- "$K" roster add-circle roster-2 --circle a.b --org p1
refused "a member not in the roster" -- "$K" roster add-circle roster-2 --circle x \
    --org p1,nobody
grep_out "nobody" "the unknown member is named"
refused "a circle twice" -- "$K" roster add-circle roster-2 --circle payments-eu --org out
refused "a member twice" -- "$K" roster circle-add roster-2 --circle payments-eu --org p1
refused "a member of an unknown circle" -- "$K" roster circle-add roster-2 --circle nope \
    --org out
check 0 "circle-add p2, out" -- "$K" roster circle-add roster-2 --circle payments-eu \
    --org p2,out
check 0 "circle-remove out" -- "$K" roster circle-remove roster-2 --circle payments-eu \
    --org out
refused "remove-org of a circle member" -- "$K" roster remove-org roster-2 --org p2
grep_out "member of circle \`payments-eu\`" "remove-org names the circle"
refused "circle-remove of every member" -- "$K" roster circle-remove roster-2 \
    --circle payments-eu --org hq,p1,p2
check 0 "add-circle other" -- "$K" roster add-circle roster-2 --circle other --org out
check 0 "remove-circle other" -- "$K" roster remove-circle roster-2 --circle other
"$K" roster show roster-2 --json > show.json 2>&1
grep -q '"circles":\[{"name":"payments-eu","display":"Payments EU","orgs":\["hq","p1","p2"\]}\]' \
    show.json || { bad "roster show --json: the circle"; cat show.json; }
check 1 "the unsigned circle edit fails verify" -- "$K" roster verify roster-2 \
    --previous roster

# One signature of two: the relay refuses it and no client takes it.
"$K" roster sign roster-2 --key a1.key >/dev/null 2>&1
check 1 "one signature is below the threshold" -- "$K" roster verify roster-2
"$K" publish-roster roster-2 --org-dir org-hq >out.txt 2>err.txt &&
    bad "the relay took a circle edit with one signature of two"
check 0 "hq fetches" -- lsn hq analyst fetch
check 0 "hq orgs" -- lsn hq analyst orgs
no_out "payments-eu" "a circle without K signatures is not taken"
"$L" --home home/hq-analyst send --to circle:payments-eu --title x </dev/null \
    >out.txt 2>err.txt && bad "send to an unsigned circle went out"
grep_out "no circle \`payments-eu\`" "send names the missing circle"

"$K" roster sign roster-2 --key a2.key >/dev/null 2>&1
check 0 "K signatures make the circle edit valid" -- "$K" roster verify roster-2 \
    --previous roster
check 0 "publish-roster v2" -- "$K" publish-roster roster-2 --org-dir org-hq

# ---- orgs lists the circle (the relay's chain is followed on fetch)
check 0 "p1 fetches" -- lsn p1 analyst fetch
check 0 "p1 orgs" -- lsn p1 analyst orgs
grep_out "circle:payments-eu" "orgs lists the circle"
grep_out "hq,p1,p2" "orgs lists its members"
check 0 "p1 orgs --json" -- lsn p1 analyst orgs --json
grep_out '{"circle":"payments-eu","display":"Payments EU","orgs":\["hq","p1","p2"\]}' \
    "orgs --json has the circle"

# ---- a circle send, expanded at send time (hq has not fetched v2 yet)
check 0 "hq sends GREEN to circle:payments-eu" -- sh -c "echo body | \"$L\" --home \
    home/hq-analyst send --to circle:payments-eu --tlp green --title 'card fraud ring' --json"
grep_out '"to":\["p1","p2"\]' "the circle expands to its members but the sender's org"
ID=$(msg_id)
for org in p1 p2 out; do
    check 0 "$org fetches" -- lsn "$org" analyst fetch
    check 0 "$org inbox" -- lsn "$org" analyst inbox
    case $org in
    p1|p2)
        grep_out "card fraud ring" "$org, a member, got the circle alert"
        grep_out "payments-eu (3 orgs)" "$org's inbox shows the circle" ;;
    *)
        no_out "card fraud ring" "$org, not a member, got nothing" ;;
    esac
done
check 0 "p1 reads it" -- lsn p1 analyst read "$ID"
grep_out "To:       payments-eu (3 orgs): p1 p2" "read shows the circle"
check 0 "p1 reads it --json" -- lsn p1 analyst read "$ID" --json
grep_out '"circles":\[{"name":"payments-eu","orgs":\["hq","p1","p2"\]}\]' \
    "read --json has the circle and its members"

# ---- GREEN within the circle only
check 4 "a GREEN forward outside the circle" -- lsn p1 analyst forward "$ID" --to out
grep_out "circle \`payments-eu\`" "the refusal names the circle"
grep_out "\`out\` is not a member" "the refusal names the org"
check 4 "a GREEN forward to a member and an outsider" -- lsn p1 analyst forward "$ID" \
    --to p2,out
check 0 "out has nothing" -- lsn out analyst fetch
check 0 "out inbox" -- lsn out analyst inbox
no_out "card fraud ring" "no refused forward reached out"
check 0 "a GREEN forward inside the circle" -- lsn p1 analyst forward "$ID" --to p2
check 0 "p2 fetches the forward" -- lsn p2 analyst fetch
check 0 "p2 inbox" -- lsn p2 analyst inbox
grep_out "Fwd: card fraud ring" "the forward inside the circle arrived"

# A forward of that forward: the original's circle still binds.
check 0 "p2 finds the forward" -- lsn p2 analyst inbox --json
FWD=$(grep '"title":"Fwd: card fraud ring"' out.txt | sed -n 's/.*"msg_id":"\([0-9a-f]*\)".*/\1/p' | head -n 1)
check 4 "a forward of the forward outside the circle" -- lsn p2 analyst forward "$FWD" --to out

# GREEN without a circle: the community is the coalition, as before.
check 0 "hq sends GREEN to p1 alone" -- sh -c "echo body | \"$L\" --home \
    home/hq-analyst send --to p1 --tlp green --title 'open notice' --json"
ID2=$(msg_id)
check 0 "p1 fetches it" -- lsn p1 analyst fetch
check 0 "a GREEN forward without a circle goes to any member" -- lsn p1 analyst forward \
    "$ID2" --to out
# AMBER sent to a circle keeps its own rule.
check 0 "hq sends AMBER to the circle" -- sh -c "echo body | \"$L\" --home \
    home/hq-analyst send --to circle:payments-eu,out,p1 --tlp amber --title 'amber ring' --json"
grep_out '"to":\["out","p1","p2"\]' "named orgs and circle members together, once each"
ID3=$(msg_id)
check 0 "out fetches it" -- lsn out analyst fetch
check 4 "AMBER to a circle does not leave the org" -- lsn out analyst forward "$ID3" --to p1

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "circles: all passed"
