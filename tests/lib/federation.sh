# federation.sh: sourced by system tests and the soak test: builds a
# coalition whose orgs are homed on several relays and runs each relay as a
# real liaison-relay process on a free loopback port.  Needs $K
# (liaison-keys), $R (liaison-relay), $L (liaison); works in the current
# folder.  Independent of coalition.sh (its names all start with fed_).
#
#   fed_new "r1 r2 r3" "org1:r1 org2:r2 ..."
#                        authorities a1 a2 (2 of 2), the relays, each org
#                        homed where named, devices `analyst` (human) and
#                        `engine` (system), profiles in home/ORG-DEVICE
#   fed_start RELAY      starts it (extra config lines on stdin), waits
#                        until it listens; log in RELAY.log
#   fed_stop RELAY       SIGTERM, wait      fed_kill RELAY   SIGKILL
#   fed_publish ORG...   each org's bundle (and deliveries) to its home
#   fed_lsn ORG DEVICE ARGS...   runs liaison in that device's profile
#   fed_endpoint RELAY   prints its tcp:// endpoint
#
# Two peering relays for a benchmark:
#   fed_new "r1 r2" "src:r1 dst:r2"; fed_start r1 </dev/null; fed_start r2 </dev/null
#   fed_publish src dst    # then send from src, fetch at dst

fed_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + ($$ + $1) % 20000))
}

fed_endpoint() {
    cat "$1.endpoint"
}

fed_new() {
    FED_RELAYS=$1
    FED_ORGS=""
    "$K" authority new a1 --no-passphrase >/dev/null 2>&1
    "$K" authority new a2 --no-passphrase >/dev/null 2>&1
    "$K" roster init --coalition fed-coalition --threshold 2 --authority a1.pub \
        --authority a2.pub --out roster >/dev/null || return 1
    n=0
    for rel in $FED_RELAYS; do
        n=$((n + 1))
        echo "tcp://127.0.0.1:$(fed_port $n)" > "$rel.endpoint"
        "$K" relay new "$rel" --no-passphrase >/dev/null 2>&1 || return 1
        "$K" roster add-relay roster --relay "$rel" --endpoint "$(fed_endpoint "$rel")" \
            --key "$rel.pub" >/dev/null || return 1
    done
    for pair in $2; do
        org=${pair%%:*}; rel=${pair#*:}
        FED_ORGS="$FED_ORGS $org"
        "$K" org init "$org" --dir "org-$org" --no-passphrase >/dev/null 2>&1 || return 1
        "$K" roster add-org roster --org "$org" --root "org-$org/root.pub" --relay "$rel" \
            --display "$org" >/dev/null || return 1
    done
    "$K" roster sign roster --key a1.key >/dev/null || return 1
    "$K" roster sign roster --key a2.key >/dev/null || return 1
    mkdir -p home
    for org in $FED_ORGS; do
        "$K" device add analyst --org-dir "org-$org" --role human --roster roster \
            --out "$org-analyst.cred" --no-passphrase >/dev/null 2>&1 || return 1
        "$K" device add engine --org-dir "org-$org" --role system --roster roster \
            --out "$org-engine.cred" --no-passphrase >/dev/null 2>&1 || return 1
        for dev in analyst engine; do
            "$L" --home "home/$org-$dev" init --credential "$org-$dev.cred" >/dev/null || return 1
            printf 'relay-timeout-ms = 2000\n' > "home/$org-$dev/config"
        done
    done
}

fed_start() {
    rel=$1
    {
        echo "listen $(fed_endpoint "$rel")"
        echo "data $PWD/$rel-data"
        echo "roster $PWD/roster"
        echo "key $PWD/$rel.key"
        echo "bootstrap_per_minute 600"
        echo "peer_backoff_ms 50"
        echo "peer_backoff_max_ms 500"
        cat
    } > "$rel.conf"
    : > "$rel.log.new"
    "$R" --config "$rel.conf" 2>"$rel.log.new" &
    echo $! > "$rel.pid"
    i=0
    while [ $i -lt 100 ]; do
        if grep -q "listening on" "$rel.log.new" 2>/dev/null; then
            cat "$rel.log.new" >> "$rel.log"
            # Keep appending this run's lines to RELAY.log.
            tail -f -n 0 "$rel.log.new" >> "$rel.log" 2>/dev/null &
            echo $! > "$rel.tail"
            return 0
        fi
        sleep 0.1; i=$((i + 1))
    done
    echo "relay $rel did not start:"; cat "$rel.log.new"
    return 1
}

fed_signal() {
    [ -f "$2.pid" ] || return 0
    kill "-$1" "$(cat "$2.pid")" 2>/dev/null
    wait "$(cat "$2.pid")" 2>/dev/null
    rm -f "$2.pid"
    if [ -f "$2.tail" ]; then kill "$(cat "$2.tail")" 2>/dev/null; rm -f "$2.tail"; fi
}

fed_stop() { fed_signal TERM "$1"; }
fed_kill() { fed_signal KILL "$1"; }

fed_stop_all() {
    for rel in $FED_RELAYS; do fed_kill "$rel"; done
}

fed_publish() {
    for org in "$@"; do
        "$K" publish --org-dir "org-$org" --roster roster >/dev/null || return 1
    done
}

fed_lsn() {
    org=$1; dev=$2; shift 2
    "$L" --home "home/$org-$dev" "$@"
}
