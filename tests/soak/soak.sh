#!/bin/sh
# soak.sh: the delivery invariant under chaos (make soak, SOAK_SECONDS).
#
# Three real relays and six organisations (two homed on each), every
# analyst sending alerts to one or two other members and fetching, every
# engine fetching; meanwhile a hostile peer relay of the roster forwards
# junk from an organisation that never published a bundle, one device's
# store is too small for what it is sent, and a relay is killed with -9 at
# random moments and started again.  Then the chaos stops and the checks
# run over every alert whose submit a relay acknowledged:
#   - at every device of every recipient organisation it is in exactly one
#     of the four states: stored (in that device's store), refused (with
#     the reason, in the sender's status), waiting (still queued at the
#     relay), expired;
#   - the sender's status agrees with the recipients' stores;
#   - once every relay is up again and has forwarded, one fetch per device
#     (one retry interval) takes every honest message that fits: junk
#     never holds one back.
# It prints the count of each state and exits 1 on any violation.
set -u
K="$LSN_BIN/liaison-keys"
R="$LSN_BIN/liaison-relay"
L="$LSN_BIN/liaison"
J="$LSN_SOAK_PEER"
SECONDS_TO_RUN=${SOAK_SECONDS:-60}
T="$LSN_TMP/soak.$$"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
. "$OLDPWD/tests/lib/federation.sh"
trap 'touch stop; fed_stop_all' EXIT INT TERM
fail=0
bad() { echo "FAIL: $1"; fail=1; }
say() { echo "soak: $*"; }

RELAYS="r1 r2 r3"
ORGS="o1 o2 o3 o4 o5 o6"
DEVICES="analyst engine"
FULL="o6-engine"                 # the device whose store fills up

rand() { # rand N: 0..N-1
    echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1 ))
}

relay_conf() {
    printf 'peer_timeout_ms 2000\n'
}

start_relay() {
    relay_conf | fed_start "$1" || { echo "soak: relay $1 did not start"; exit 1; }
}

relay_up() {
    [ -f "$1.pid" ] && kill -0 "$(cat "$1.pid")" 2>/dev/null
}

say "building a coalition of three relays and six organisations"
fed_new "r1 r2 r3 r4" "o1:r1 o2:r1 o3:r2 o4:r2 o5:r3 o6:r3 ghost:r4" ||
    { echo "soak: fed_new failed"; exit 1; }
for rel in $RELAYS; do start_relay "$rel"; done
fed_publish $ORGS || { echo "soak: publish failed"; exit 1; }
# A store that cannot hold much: its device leaves what does not fit
# waiting at the relay.
printf 'relay-timeout-ms = 2000\nstore-max-mb = 1\n' > "home/$FULL/config"
head -c 300000 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 400000 > big.txt
echo "an ordinary alert body" > small.txt

# One loop per device: analysts send and fetch, engines fetch.  A send
# that exits 0 was acknowledged by its home relay: it is what the checks
# follow (sent.txt: sender, recipients, msg_id).
device_loop() {
    org=$1; dev=$2; n=0
    while [ ! -f stop ]; do
        if [ "$dev" = analyst ]; then
            n=$((n + 1))
            a=$(echo $ORGS | tr ' ' '\n' | grep -v "^$org$" | sed -n "$(( $(rand 5) + 1 ))p")
            b=$(echo $ORGS | tr ' ' '\n' | grep -v "^$org$" | sed -n "$(( $(rand 5) + 1 ))p")
            to=$a; [ "$(rand 2)" = 1 ] && [ "$b" != "$a" ] && to="$a,$b"
            body=small.txt
            case ",$to," in *,o6,*) [ "$(rand 3)" = 0 ] && body=big.txt ;; esac
            if fed_lsn "$org" "$dev" send --to "$to" --title "soak $org $n" \
                    --body-file "$body" --json >"out-$org.txt" 2>>"err-$org-$dev.txt"; then
                id=$(sed -n 's/.*"msg_id":"\([0-9a-f]*\)".*/\1/p' "out-$org.txt")
                [ -n "$id" ] && echo "$org $to $id" >> sent.txt
            fi
        fi
        fed_lsn "$org" "$dev" fetch --json >>"fetch-$org-$dev.txt" 2>>"err-$org-$dev.txt"
        sleep 0.$(rand 5)
    done
}

# The hostile peer: relay r4 is in the roster but never runs; its key
# forwards junk "from" ghost, which never published, to o3 (at r2) and
# o5 (at r3), 64 at a time.
junk_loop() {
    while [ ! -f stop ]; do
        "$J" r4.key "$(fed_endpoint r2)" r2.pub ghost o3 64 >> junk.txt 2>&1
        "$J" r4.key "$(fed_endpoint r3)" r3.pub ghost o5 64 >> junk.txt 2>&1
        sleep 1
    done
}

# kill -9 one relay at a random moment, start it again a little later.
kill_loop() {
    while [ ! -f stop ]; do
        sleep "$(( $(rand 4) + 2 )).$(rand 10)"
        [ -f stop ] && break
        rel=r$(( $(rand 3) + 1 ))
        fed_kill "$rel"
        echo "killed $rel at $(date +%s)" >> kills.txt
        sleep 0.$(rand 10)
        relay_conf | fed_start "$rel" >> kills.txt 2>&1
    done
}

say "chaos for $SECONDS_TO_RUN s"
pids=""
for org in $ORGS; do
    for dev in $DEVICES; do
        device_loop "$org" "$dev" & pids="$pids $!"
    done
done
junk_loop & pids="$pids $!"
kill_loop & pids="$pids $!"
sleep "$SECONDS_TO_RUN"
touch stop
for p in $pids; do wait "$p"; done
for rel in $RELAYS; do relay_up "$rel" || start_relay "$rel"; done
say "$(wc -l < kills.txt 2>/dev/null || echo 0) relay kill(s); $(wc -l < sent.txt) alerts acknowledged"
say "junk: $(awk '{s+=$2; st+=$4; rf+=$6} END {print s+0 " forwarded, " st+0 " stored, " rf+0 " refused"}' junk.txt)"

# Every send the relay did not acknowledge is resent by the sender's next
# command; then wait (bounded) until every relay has forwarded what it
# holds for its peers: the sender's status says so.
for org in $ORGS; do fed_lsn "$org" analyst fetch >/dev/null 2>&1; done

status_of() { # status_of ORG MSGID: one JSON line
    fed_lsn "$1" analyst status "$2" --json 2>/dev/null
}
# recipient_field JSON ORG FIELD: FIELD of ORG's entry in relay.recipients
recipient_field() {
    printf '%s' "$1" | sed 's/.*"recipients":\[//; s/\].*//' | tr '}' '\n' |
        grep "\"org\":\"$2\"" | sed -n "s/.*\"$3\":\\([^,}]*\\).*/\\1/p" | tr -d '"'
}

# Each pass asks again only about the alerts the last one found waiting.
cp sent.txt unforwarded.txt
i=0
while [ $i -lt 60 ]; do
    pending=0
    : > still.txt
    while read -r org to id; do
        st=$(status_of "$org" "$id")
        for rcpt in $(echo "$to" | tr ',' ' '); do
            rel=$(recipient_field "$st" "$rcpt" relay)
            fw=$(recipient_field "$st" "$rcpt" forwarded)
            if [ -n "$rel" ] && [ "$fw" != true ]; then
                pending=$((pending + 1))
                echo "$org $to $id" >> still.txt
                break
            fi
        done
    done < unforwarded.txt
    mv still.txt unforwarded.txt
    [ $pending = 0 ] && break
    sleep 0.5; i=$((i + 1))
done
[ $pending = 0 ] || bad "$pending alert(s) still not forwarded 30 s after the chaos"

# One retry interval: one fetch per device.  Nothing honest that fits may
# be left behind.
for org in $ORGS; do
    for dev in $DEVICES; do
        fed_lsn "$org" "$dev" fetch --json >>"fetch-$org-$dev.txt" 2>>"err-$org-$dev.txt"
    done
done

# Accounting, per acknowledged alert and recipient device: the device's
# store and the sender's status must name one and the same state.
stored=0; refused=0; waiting=0; expired=0; late=0
for org in $ORGS; do
    for dev in $DEVICES; do
        fed_lsn "$org" "$dev" inbox --json 2>/dev/null |
            sed -n 's/.*"msg_id":"\([0-9a-f]*\)".*/\1/p' > "inbox-$org-$dev.txt"
    done
done
# device_state JSON ORG DEVICE: that device's state in the sender's status
device_state() {
    printf '%s' "$1" | sed 's/{"org":"/\n@/g' | grep "^@$2\",\"state\"" |
        grep -o "{\"device\":\"$3\",\"state\":\"[a-z]*\"" | sed 's/.*:"//; s/"$//'
}
while read -r org to id; do
    st=$(status_of "$org" "$id")
    for rcpt in $(echo "$to" | tr ',' ' '); do
        for dev in $DEVICES; do
            said=$(device_state "$st" "$rcpt" "$dev")
            if grep -q "^$id$" "inbox-$rcpt-$dev.txt"; then
                stored=$((stored + 1)); want=delivered
            else
                case $said in
                refused) refused=$((refused + 1)); want=refused ;;
                expired) expired=$((expired + 1)); want=expired ;;
                queued)
                    if [ "$rcpt-$dev" = "$FULL" ]; then
                        waiting=$((waiting + 1)); want=queued
                    else
                        late=$((late + 1)); want=delivered
                        bad "$id from $org: still queued for $rcpt/$dev after one fetch"
                    fi ;;
                *) late=$((late + 1)); want="stored, refused, queued or expired" ;;
                esac
            fi
            [ "$said" = "$want" ] ||
                bad "$id from $org at $rcpt/$dev: the sender's status says '$said', the device says $want"
        done
    done
done < sent.txt

say "states: stored $stored, refused $refused, waiting $waiting, expired $expired, unaccounted $late"
[ "$(wc -l < sent.txt)" -gt 0 ] || bad "no alert was acknowledged"
touch stop; fed_stop_all
if [ $fail = 0 ]; then say "the invariant held"; else say "the invariant FAILED (files in $T)"; exit 1; fi
cd / && rm -rf "$T"
