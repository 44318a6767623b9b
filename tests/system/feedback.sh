#!/bin/sh
# feedback.sh: dispositions through a real relay.  A recipient's feedback
# reaches the originator and, with --share, the other recipients and no
# one else; the latest disposition per org and indicator is what status
# shows, as text and --json; watch --json emits feedback as it arrives;
# feedback on a message one does not hold is refused before it is sealed.
# Then retraction from the CLI: only the sending device may retract; a
# held copy keeps its key and says so, the others are listed retracted
# and cannot be read; status shows each org's answer; prune keeps a held
# message.  An update supersedes: the inbox lists the newest version.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="$LSN_TMP/feedback.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_kill; [ -n "${WATCH:-}" ] && kill $WATCH 2>/dev/null' EXIT INT TERM
. "$HERE/tests/lib/checks.sh"

coalition_new europol mastercard paypal police
relay_start </dev/null || exit 1
# The relay admits three unknown keys at once from one address, then one
# more each tenth of a second (bootstrap_per_minute 600): the fourth org
# tries again until its turn.
publish_all europol mastercard paypal || { echo "publish failed"; exit 1; }
i=0
until publish_all police 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 50 ] || { echo "publish failed"; exit 1; }; sleep 0.2
done

# europol's engine watches: every feedback is an event on its stdout.
lsn europol engine watch --json > watch.out 2> watch.err &
WATCH=$!

expect 0 "europol sends to mastercard and paypal" lsn europol analyst send \
    --to mastercard,paypal --title "Card-testing ring" --tlp amber --case EU-7 \
    --indicator ip-dst=192.0.2.44 --indicator domain=cards-check.example \
    --indicator url=http://cards-check.example/x --json
ID=$(json_field msg_id)
expect 0 "mastercard fetches" lsn mastercard analyst fetch
expect 0 "paypal fetches" lsn paypal analyst fetch
expect 0 "police fetches (nothing)" lsn police analyst fetch

# --- Refused before sealing ---------------------------------------------
expect 2 "feedback on a message police never received" \
    lsn police analyst feedback "$ID" --disposition seen
expect 2 "an indicator the message does not have" \
    lsn paypal analyst feedback "$ID" --disposition false-positive --indicator 4
has "3 indicator(s)" "names how many there are"
expect 2 "unknown disposition" lsn paypal analyst feedback "$ID" --disposition maybe
expect 2 "reported needs --reported-to" \
    lsn paypal analyst feedback "$ID" --disposition reported
expect 2 "--reported-to only with reported" \
    lsn paypal analyst feedback "$ID" --disposition seen --reported-to ncmec

# --- Sent, shared, superseded --------------------------------------------
expect 0 "paypal: indicator 2 false positive, shared" lsn paypal analyst feedback \
    "$ID" --disposition false-positive --indicator 2 --share \
    --note "cards-check.example is our own test domain"
expect 0 "mastercard: indicator 2 seen" lsn mastercard analyst feedback "$ID" \
    --disposition seen --indicator 2
expect 0 "mastercard: indicator 2 actioned (supersedes seen)" \
    lsn mastercard analyst feedback "$ID" --disposition actioned --indicator 2,1
expect 0 "mastercard: reported to NCMEC" lsn mastercard analyst feedback "$ID" \
    --disposition reported --reported-to ncmec --json
has '"state":"sent"' "feedback --json"

expect 0 "europol fetches the feedback" lsn europol analyst fetch
expect 0 "europol status" lsn europol analyst status "$ID"
has "indicator 2: false positive by paypal, actioned by mastercard" \
    "per indicator, latest per org"
has "indicator 1: actioned by mastercard" "indicator 1"
has "message: reported by mastercard" "the message as a whole"
has "reported to ncmec" "whom it was reported to"
hasnt "seen by mastercard" "a later disposition supersedes an earlier one"
has "our own test domain" "the note"
expect 0 "europol status --json" lsn europol analyst status "$ID" --json
has '"dispositions":\[' "json dispositions"
has '"indicator":2' "json per indicator"
has '"disposition":"false-positive"' "json false positive"
has '"reported_to":"ncmec"' "json reported_to"
n=$(grep -o '"feedback_id"' out.txt | wc -l)
# 3 latest (msg, ind 1, ind 2 for mastercard) + 1 (paypal) and 4 in the history.
[ "$n" -ge 8 ] || bad "status --json lists every feedback and the latest ($n ids)"

# --share: mastercard (a co-recipient) gets paypal's; police gets nothing.
expect 0 "mastercard fetch --json" lsn mastercard analyst fetch --json
has '"type":"feedback"' "the shared feedback reached the co-recipient"
has '"disposition":"false-positive"' "co-recipient sees the disposition"
hasnt '"disposition":"actioned"' "its own feedback does not come back"
expect 0 "paypal fetch --json" lsn paypal analyst fetch --json
hasnt '"type":"feedback"' "mastercard did not share: paypal gets none"
expect 0 "police fetch --json" lsn police analyst fetch --json
hasnt '"type":"feedback"' "police, not a recipient, gets no feedback"

# watch --json: the feedback arrived as events.
i=0
while [ $i -lt 100 ] && [ "$(grep -c '"type":"feedback"' watch.out)" -lt 4 ]; do
    sleep 0.1; i=$((i + 1))
done
kill $WATCH 2>/dev/null; wait $WATCH 2>/dev/null; WATCH=""
n=$(grep -c '"type":"feedback"' watch.out)
[ "$n" = 4 ] || { bad "watch --json emitted $n feedback events, wanted 4"; cat watch.out watch.err; }
grep -q '"feedback":{"disposition":"reported"' watch.out ||
    bad "watch --json event carries the disposition"

# --- Retraction, legal hold ----------------------------------------------
expect 0 "mastercard holds the case" lsn mastercard analyst hold --case EU-7 \
    --reason "court order 12"
has "1 message(s)" "hold by case"
expect 0 "mastercard reads it" lsn mastercard analyst read "$ID"
has "Legal hold: EU-7" "read shows the hold"
expect 2 "another device of europol cannot retract" \
    lsn europol engine retract "$ID" --reason "wrong"
has "only the device that sent" "says who can"
expect 2 "retract needs a reason" lsn europol analyst retract "$ID"
expect 0 "europol retracts" lsn europol analyst retract "$ID" \
    --reason "sent in error"
expect 0 "paypal fetches the retraction" lsn paypal analyst fetch
expect 0 "mastercard fetches the retraction" lsn mastercard analyst fetch
expect 0 "paypal inbox" lsn paypal analyst inbox
has "R ${ID%"${ID#????????????}"}" "inbox lists it retracted"
has "sent in error (content key wiped)" "with the reason"
expect 2 "paypal cannot read it any more" lsn paypal analyst read "$ID"
has "retracted by europol" "read names the retraction"
expect 0 "mastercard still reads its held copy" lsn mastercard analyst read "$ID"
has "RETRACTED by europol" "read shows the retraction"
has "kept under a legal hold" "and that the key was kept"
expect 2 "a retracted message is not forwarded" \
    lsn mastercard analyst forward "$ID" --to police
has "retracted" "says why"
expect 0 "europol fetches the answers" lsn europol analyst fetch
expect 0 "europol status" lsn europol analyst status "$ID"
has "retracted .*: sent in error" "status shows the retraction"
has "paypal  *retraction applied" "paypal applied it"
has "mastercard  *applied, content key kept under a legal hold" "mastercard kept it"
expect 0 "europol status --json" lsn europol analyst status "$ID" --json
has '"retraction":{' "json retraction"
has '"org":"mastercard","applied":true,"kept":true' "json kept"
# prune keeps the held message, takes it once released.
expect 0 "prune at mastercard" lsn mastercard analyst prune --before 2100-01-01
expect 0 "the held message is still there" lsn mastercard analyst read "$ID"
expect 0 "release" lsn mastercard analyst release "$ID"
expect 0 "prune again" lsn mastercard analyst prune --before 2100-01-01
expect 2 "pruned once released" lsn mastercard analyst read "$ID"

# --- Update ---------------------------------------------------------------
expect 0 "europol sends v1" lsn europol analyst send --to paypal --title "Notice v1" --json
V1=$(json_field msg_id)
expect 0 "paypal fetches v1" lsn paypal analyst fetch
expect 2 "only the sending device updates" lsn europol engine update "$V1" --title "x"
expect 0 "europol updates it" lsn europol analyst update "$V1" --title "Notice v2" --json
V2=$(json_field msg_id)
expect 0 "paypal fetches v2" lsn paypal analyst fetch
expect 0 "paypal inbox" lsn paypal analyst inbox
has "Notice v2" "the inbox lists the newest"
hasnt "Notice v1" "and not the version it supersedes"
expect 0 "paypal reads v1" lsn paypal analyst read "$V1"
has "Superseded by $V2" "the old version names the new"
expect 0 "paypal reads v2" lsn paypal analyst read "$V2" --json
has '"type":"update"' "an update"
has "\"supersedes\":{\"org\":\"europol\",\"msg_id\":\"$V1\"}" "naming v1"

relay_stop
if [ $fails -ne 0 ]; then echo "feedback: $fails failure(s)"; exit 1; fi
echo "feedback: all checks passed"
