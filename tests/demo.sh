#!/bin/sh
# demo.sh: the whole story, as far as it is built, in a scratch folder:
# a steering group makes a roster, two organisations join, devices are
# added, one is revoked and the encryption key rotated.  `make demo`.
set -eu
BIN=${1:?usage: demo.sh BINDIR}
K="$BIN/liaison-keys"
D=$(mktemp -d "${TMPDIR:-/tmp}/liaison-demo.XXXXXX")
trap 'rm -rf "$D"' EXIT
cd "$D"
step() { printf '\n==> %s\n' "$*"; }

step "the steering group: three authorities, any two of which sign"
for a in steer-1 steer-2 steer-3; do "$K" authority new $a --no-passphrase 2>/dev/null; done
"$K" relay new relay-eu --no-passphrase 2>/dev/null
"$K" roster init --coalition demo-coalition --threshold 2 \
    --authority steer-1.pub --authority steer-2.pub --authority steer-3.pub --out roster
"$K" roster add-relay roster --relay relay-eu --endpoint tcp://127.0.0.1:7443 --key relay-eu.pub

step "two organisations create their identities"
"$K" org init police-nl --dir police --no-passphrase 2>/dev/null
"$K" org init hotline --dir hotline --no-passphrase 2>/dev/null

step "the steering group admits them and signs (2 of 3)"
"$K" roster add-org roster --org police-nl --root police/root.pub --relay relay-eu --display "Police NL"
"$K" roster add-org roster --org hotline --root hotline/root.pub --relay relay-eu --display "Hotline"
"$K" roster sign roster --key steer-1.key
"$K" roster sign roster --key steer-3.key
"$K" roster verify roster
"$K" roster show roster

step "administrators add devices: an analyst and an automated crawler"
"$K" device add analyst --org-dir police --role human --roster roster --out analyst.cred --no-passphrase 2>/dev/null
"$K" device add crawler --org-dir hotline --role system --send-only --roster roster --out crawler.cred --no-passphrase 2>/dev/null
"$K" device add desk --org-dir hotline --role human --roster roster --out desk.cred --no-passphrase 2>/dev/null
"$K" bundle show --org-dir hotline

step "a laptop is lost: revoke it; the new encryption key goes to the others only"
"$K" device add laptop --org-dir police --role human --roster roster --out laptop.cred --no-passphrase 2>/dev/null
"$K" device revoke laptop --org-dir police
ls police/deliveries
"$K" bundle export --org-dir police --out police.bundle
"$K" bundle verify police.bundle --roster roster

step "done: every file above was made in $D (removed now)"
