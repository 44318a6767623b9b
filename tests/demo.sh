#!/bin/sh
# demo.sh BINDIR: the whole liaison story on a local relay, in a scratch
# folder that is removed afterwards (`make demo`).  Nothing keeps running.
set -u
BIN=${1:?usage: demo.sh BINDIR}
K="$BIN/liaison-keys"; R="$BIN/liaison-relay"; L="$BIN/liaison"
HERE=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d "${TMPDIR:-/tmp}/liaison-demo.XXXXXX")
cd "$D" || exit 1
. "$HERE/tests/lib/coalition.sh"
trap 'relay_stop; cd /; rm -rf "$D"' EXIT INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }
die()  { echo "demo: $*" >&2; exit 1; }

step "A coalition: two steering-group authorities (both must sign), one relay,"
echo "    and three organisations, each with an analyst (human) and an engine (system)"
coalition_new europol mastercard paypal
run "$K" roster show roster
relay_start </dev/null || die "the relay did not start"
echo "relay r1 listening on $EP (log: relay.log)"
step "Each organisation's administrator publishes its bundle to the relay"
publish_all europol mastercard paypal || die "publish failed"

step "The steering group adds a circle, the payment companies: a roster change"
echo "    like any other, valid only once both authorities have signed it"
run "$K" roster next roster --out roster-2
run "$K" roster add-circle roster-2 --circle payments-eu --org mastercard,paypal \
    --display "Payment companies (EU)"
run "$K" roster sign roster-2 --key a1.key
run "$K" roster sign roster-2 --key a2.key
run "$K" roster verify roster-2 --previous roster || die "roster v2 does not verify"
run "$K" publish-roster roster-2 --org-dir org-europol || die "publish-roster failed"
echo "(the devices follow the roster chain from the relay on their next fetch)"
run "$L" --home home/europol-analyst fetch
run "$L" --home home/europol-analyst orgs

step "Europol sends an urgent TLP:AMBER alert with indicators to the circle, asking for read receipts"
printf 'A card-testing ring is probing merchants from these addresses.\nPlease block and report hits.\n' > body.txt
run "$L" --home home/europol-analyst send --to circle:payments-eu \
    --title "Card-testing ring targeting EU merchants" --body-file body.txt \
    --tlp amber --priority urgent --case EU-2026-0042 --grade B2 \
    --indicator ip-dst=192.0.2.44 --indicator domain=cards-check.example --ack read \
    --json | tee sent.json || die "send failed"
ID=$(sed -n 's/.*"msg_id":"\([0-9a-f]*\)".*/\1/p' sent.json | cut -c1-12)

step "Mastercard's and PayPal's analysts fetch and read it"
run "$L" --home home/mastercard-analyst fetch
run "$L" --home home/mastercard-analyst read "$ID" || die "read failed"
run "$L" --home home/paypal-analyst fetch
run "$L" --home home/paypal-analyst read "$ID" >/dev/null && echo "(paypal read it too)"

step "Europol collects the receipts: status shows who read it, per device"
run "$L" --home home/europol-analyst fetch
run "$L" --home home/europol-analyst status "$ID"

step "Mastercard's fraud engine pushes an automated notice (scripts use --json)"
echo "Merchant 4412 saw 37 declines from 192.0.2.44 in 5 minutes." | \
    run "$L" --home home/mastercard-engine send --to europol --type notice \
    --title "Hits on EU-2026-0042 indicators" --idempotency-key mc-fraud-0001 --json
run "$L" --home home/europol-engine fetch --json

step "Mastercard's administrator rotates its encryption key online"
run "$K" rotate --org-dir org-mastercard --enc
run "$K" publish --org-dir org-mastercard --roster roster
run "$L" --home home/europol-analyst send --to mastercard --title "Follow-up after rotation" \
    --tlp green --type notice
echo "(no one touched the mastercard devices: the new key reaches them on fetch)"
run "$L" --home home/mastercard-analyst fetch || die "the alert sealed to the new key did not open"

step "A PayPal laptop is lost: revoke it; the relay refuses it at once"
run "$K" device revoke engine --org-dir org-paypal
run "$K" publish --org-dir org-paypal --roster roster
if run "$L" --home home/paypal-engine fetch; then die "the revoked device was served"; fi
echo "(refused, as it should be)"

# --- After sending: feedback and retraction -------------------------------
step "PayPal marks indicator 2 a false positive (shared with Mastercard);"
echo "    Mastercard reports it actioned"
run "$L" --home home/paypal-analyst feedback "$ID" --disposition false-positive \
    --indicator 2 --share --note "cards-check.example is our own test domain" ||
    die "feedback failed"
run "$L" --home home/mastercard-analyst feedback "$ID" --disposition actioned \
    --indicator 1,2 || die "feedback failed"
run "$L" --home home/europol-analyst fetch
run "$L" --home home/europol-analyst status "$ID"

step "Europol withdraws the alert: each partner wipes its copy's key and says so"
run "$L" --home home/europol-analyst retract "$ID" \
    --reason "cards-check.example is a partner test domain" || die "retract failed"
run "$L" --home home/mastercard-analyst fetch
run "$L" --home home/paypal-analyst fetch
run "$L" --home home/mastercard-analyst inbox
run "$L" --home home/europol-analyst fetch
run "$L" --home home/europol-analyst status "$ID"

step "Every profile keeps a hash-chained audit log"
run "$L" --home home/europol-analyst audit verify

relay_stop
step "Done: the relay is stopped and $D is removed"
