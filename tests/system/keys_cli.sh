#!/bin/sh
# keys_cli.sh: liaison-keys as an administrator uses it: the whole set-up of
# a coalition, exit codes scripts rely on, --help everywhere, files that are
# never overwritten, passphrases from files, and refusals named clearly.
set -u
K="$LSN_BIN/liaison-keys"
T=$(mktemp -d "${LSN_TMP:-/tmp}/keyscli.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
check() {  # check WANT_EXIT DESCRIPTION -- COMMAND...
    want=$1; what=$2; shift 3
    "$@" >out.txt 2>err.txt; got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, wanted $want"; cat out.txt err.txt; fails=$((fails + 1))
    fi
}
grep_out() {  # grep_out PATTERN DESCRIPTION
    if ! grep -q -- "$1" out.txt err.txt; then
        echo "FAIL: $2: no \`$1\` in output"; cat out.txt err.txt; fails=$((fails + 1))
    fi
}

# --help on every command, exit 0, usage on stdout.
for c in "" "authority new" "relay new" "roster init" "roster next" "roster add-org" \
         "roster remove-org" "roster add-relay" "roster set-root" "roster sign" \
         "roster verify" "roster show" "org init" "device add" "device revoke" \
         "rotate" "bundle show" "bundle export" "bundle verify" "fingerprint"; do
    # shellcheck disable=SC2086
    check 0 "liaison-keys $c --help" -- "$K" $c --help
    grep_out "usage:" "liaison-keys $c --help prints usage"
done
check 2 "unknown command" -- "$K" frobnicate
check 2 "no arguments" -- "$K"

printf 'correct horse battery\n' > pass.txt
printf 'wrong horse\n' > wrong.txt
check 0 "authority a1 with passphrase file" -- "$K" authority new a1 --passphrase-file pass.txt
grep_out "fingerprint:" "authority new prints the fingerprint"
[ "$(stat -c %a a1.key)" = 600 ] || { echo "FAIL: a1.key is not 0600"; fails=$((fails + 1)); }
check 2 "authority key never overwritten" -- "$K" authority new a1 --no-passphrase
grep_out "exists" "overwrite refusal names the problem"
check 0 "authority a2" -- "$K" authority new a2 --no-passphrase
grep_out "WITHOUT a passphrase" "--no-passphrase warns"
check 0 "authority a3" -- "$K" authority new a3 --no-passphrase
check 0 "relay key" -- "$K" relay new r1 --no-passphrase
check 2 "bad authority name" -- "$K" authority new "Bad Name" --no-passphrase

check 0 "roster init" -- "$K" roster init --coalition demo --threshold 2 \
    --authority a1.pub --authority a2.pub --out roster.v1
check 2 "threshold above authorities" -- "$K" roster init --coalition demo --threshold 3 \
    --authority a1.pub --authority a2.pub --out x.roster
check 0 "org init" -- "$K" org init police --dir police --no-passphrase
check 0 "org init bank (protected)" -- "$K" org init bank --dir bank --passphrase-file pass.txt
check 2 "bad org id named" -- "$K" org init ACME_Corp --dir acme --no-passphrase
grep_out "a-z, 0-9 and -" "org id rule named"
check 0 "add relay" -- "$K" roster add-relay roster.v1 --relay r1 \
    --endpoint tcp://127.0.0.1:7000 --key r1.pub
check 2 "org with unknown relay" -- "$K" roster add-org roster.v1 --org police \
    --root police/root.pub --relay nowhere
check 0 "add police" -- "$K" roster add-org roster.v1 --org police --root police/root.pub --relay r1
check 0 "add bank" -- "$K" roster add-org roster.v1 --org bank --root bank/root.pub --relay r1 --display "A Bank"
check 2 "org root as authority key refused" -- "$K" roster add-org roster.v1 --org x \
    --root a1.pub --relay r1
check 1 "unsigned roster fails verify" -- "$K" roster verify roster.v1
check 2 "wrong passphrase refused" -- "$K" roster sign roster.v1 --key a1.key --passphrase-file wrong.txt
grep_out "wrong passphrase" "wrong passphrase reported as such"
check 0 "sign a1" -- "$K" roster sign roster.v1 --key a1.key --passphrase-file pass.txt
check 1 "below threshold" -- "$K" roster verify roster.v1
check 2 "non-authority cannot sign" -- "$K" roster sign roster.v1 --key a3.key
check 0 "sign a2" -- "$K" roster sign roster.v1 --key a2.key
check 0 "complete roster verifies" -- "$K" roster verify roster.v1
check 0 "roster verify --json" -- "$K" roster verify roster.v1 --json
grep_out '"valid":true' "json says valid"
check 0 "roster show" -- "$K" roster show roster.v1 --json
grep_out '"id":"bank"' "show lists orgs"

# Editing drops signatures and says so.
cp roster.v1 edited.roster
check 0 "edit" -- "$K" roster remove-org edited.roster --org bank
grep_out "signature(s) dropped" "edit says signatures dropped"
check 1 "edited roster no longer verifies" -- "$K" roster verify edited.roster

# Devices.
check 0 "device add" -- "$K" device add alice --org-dir police --role human \
    --roster roster.v1 --out alice.cred --no-passphrase
[ "$(stat -c %a alice.cred)" = 600 ] || { echo "FAIL: alice.cred is not 0600"; fails=$((fails + 1)); }
cmp -s police/roster.signed roster.v1 || { echo "FAIL: the org folder keeps the roster it was given"; fails=$((fails + 1)); }
check 0 "device add send-only" -- "$K" device add feed --org-dir police --role system \
    --send-only --roster roster.v1 --out feed.cred --no-passphrase
check 2 "bad role" -- "$K" device add x --org-dir police --role boss --roster roster.v1 \
    --out x.cred --no-passphrase
check 2 "protected org needs its passphrase" -- "$K" device add teller --org-dir bank \
    --role human --roster roster.v1 --out t.cred --no-passphrase --passphrase-file wrong.txt
check 0 "protected org with passphrase" -- "$K" device add teller --org-dir bank \
    --role human --roster roster.v1 --out t.cred --passphrase-file pass.txt \
    --cred-passphrase-file pass.txt
check 0 "bundle show" -- "$K" bundle show --org-dir police --json
grep_out '"name":"alice"' "bundle lists alice"
check 0 "revoke" -- "$K" device revoke alice --org-dir police
check 0 "bundle show after revoke" -- "$K" bundle show --org-dir police --json
if grep -q '"name":"alice"' out.txt; then echo "FAIL: alice still in bundle"; fails=$((fails + 1)); fi
check 0 "rotate --enc" -- "$K" rotate --org-dir police --enc
check 0 "export" -- "$K" bundle export --org-dir police --out police.bundle
check 0 "bundle verify" -- "$K" bundle verify police.bundle --roster roster.v1
check 0 "sign edited a1" -- "$K" roster sign edited.roster --key a1.key --passphrase-file pass.txt
check 0 "sign edited a2" -- "$K" roster sign edited.roster --key a2.key
check 0 "bank bundle" -- "$K" bundle export --org-dir bank --out bank.bundle
check 1 "bundle of an org the roster lacks" -- "$K" bundle verify bank.bundle --roster edited.roster
grep_out "not in the roster" "missing org named"

# Root rotation through the steering group.
check 0 "rotate --root" -- "$K" rotate --org-dir police --root
check 0 "roster next" -- "$K" roster next roster.v1 --out roster.v2
check 0 "set-root" -- "$K" roster set-root roster.v2 --org police --root police/root.next.pub
check 0 "sign v2 a1" -- "$K" roster sign roster.v2 --key a1.key --passphrase-file pass.txt
check 0 "sign v2 a2" -- "$K" roster sign roster.v2 --key a2.key
check 0 "v2 succeeds v1" -- "$K" roster verify roster.v2 --previous roster.v1
check 1 "v1 does not succeed v2" -- "$K" roster verify roster.v1 --previous roster.v2
check 1 "old bundle fails under the new root" -- "$K" bundle verify police.bundle --roster roster.v2
check 0 "adopt" -- "$K" rotate --org-dir police --root --adopt --roster roster.v2
check 0 "export new" -- "$K" bundle export --org-dir police --out police2.bundle
check 0 "new bundle verifies under v2" -- "$K" bundle verify police2.bundle --roster roster.v2
check 0 "fingerprint" -- "$K" fingerprint police/root.pub
grep_out "org-root public key" "fingerprint names the kind"

# Hostile files: a clear error, exit 2, no crash.
head -c 100 alice.cred > cut.cred
printf 'liaison-public-key v1\nAAAA\nend\n' > junk.pub
check 2 "truncated roster" -- sh -c "head -c 200 roster.v1 > cut.roster; '$K' roster show cut.roster"
check 2 "junk public key" -- "$K" fingerprint junk.pub
check 2 "missing file" -- "$K" roster show /nonexistent

# No secret on the terminal or in files that should not hold it.
if grep -q "correct horse" ./*.pub ./*/*.pub ./*.roster* 2>/dev/null; then
    echo "FAIL: passphrase found in a public file"; fails=$((fails + 1))
fi

if [ $fails -ne 0 ]; then echo "keys_cli: $fails failure(s)"; exit 1; fi
echo "keys_cli: all checks passed"
