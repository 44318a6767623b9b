# coalition.sh: sourced by the demo and the system tests: builds a
# whole coalition in the current folder and runs a real relay on a free
# loopback port.  Needs $K (liaison-keys), $R (liaison-relay), $L (liaison).
#
#   coalition_new ORG...      authorities a1 a2 (2 of 2), relay r1, each ORG
#                             with devices `analyst` (human) and `engine`
#                             (system), profiles in home/ORG-DEVICE
#   relay_start [CONF-LINES]  starts r1 (extra config lines on stdin form)
#   relay_stop                SIGTERM, wait
#   relay_kill                SIGKILL
#   publish_all ORG...        uploads each org's bundle (and deliveries)
#   lsn ORG DEVICE ARGS...    runs liaison in that device's profile

RELAY_PID=""
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + $$ % 20000))
}

coalition_new() {
    PORT=$(free_port)
    EP="tcp://127.0.0.1:$PORT"
    "$K" authority new a1 --no-passphrase >/dev/null 2>&1
    "$K" authority new a2 --no-passphrase >/dev/null 2>&1
    "$K" relay new r1 --no-passphrase >/dev/null 2>&1
    "$K" roster init --coalition demo-coalition --threshold 2 --authority a1.pub \
        --authority a2.pub --out roster >/dev/null
    "$K" roster add-relay roster --relay r1 --endpoint "$EP" --key r1.pub >/dev/null
    for org in "$@"; do
        "$K" org init "$org" --dir "org-$org" --no-passphrase >/dev/null 2>&1
        "$K" roster add-org roster --org "$org" --root "org-$org/root.pub" --relay r1 \
            --display "$org" >/dev/null
    done
    "$K" roster sign roster --key a1.key >/dev/null
    "$K" roster sign roster --key a2.key >/dev/null
    mkdir -p home
    for org in "$@"; do
        "$K" device add analyst --org-dir "org-$org" --role human --roster roster \
            --out "$org-analyst.cred" --no-passphrase >/dev/null 2>&1
        "$K" device add engine --org-dir "org-$org" --role system --roster roster \
            --out "$org-engine.cred" --no-passphrase >/dev/null 2>&1
        for dev in analyst engine; do
            "$L" --home "home/$org-$dev" init --credential "$org-$dev.cred" >/dev/null
            # Tests want a quick answer when the relay is down.
            printf 'read-receipts = yes\nrelay-timeout-ms = 5000\n' > "home/$org-$dev/config"
        done
    done
}

relay_start() {
    {
        echo "listen $EP"
        echo "data $PWD/relay-data"
        echo "roster $PWD/roster"
        echo "key $PWD/r1.key"
        echo "bootstrap_per_minute 600"
        cat
    } > relay.conf
    "$R" --config relay.conf 2>>relay.log &
    RELAY_PID=$!
    i=0
    while [ $i -lt 100 ]; do
        grep -q "listening on" relay.log 2>/dev/null && return 0
        sleep 0.1; i=$((i + 1))
    done
    echo "relay did not start:"; cat relay.log
    return 1
}

relay_restart() {
    : > relay.log.new
    "$R" --config relay.conf 2>relay.log.new &
    RELAY_PID=$!
    i=0
    while [ $i -lt 100 ]; do
        grep -q "listening on" relay.log.new 2>/dev/null && { cat relay.log.new >> relay.log; return 0; }
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

relay_stop() {
    [ -n "$RELAY_PID" ] || return 0
    kill -TERM "$RELAY_PID" 2>/dev/null
    wait "$RELAY_PID" 2>/dev/null
    RELAY_PID=""
}

relay_kill() {
    [ -n "$RELAY_PID" ] || return 0
    kill -9 "$RELAY_PID" 2>/dev/null
    wait "$RELAY_PID" 2>/dev/null
    RELAY_PID=""
}

publish_all() {
    for org in "$@"; do
        "$K" publish --org-dir "org-$org" --roster roster >/dev/null || return 1
    done
}

lsn() {
    org=$1; dev=$2; shift 2
    "$L" --home "home/$org-$dev" "$@"
}
