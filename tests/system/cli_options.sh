#!/bin/sh
# cli_options.sh: every subcommand of `liaison`, `liaison-keys` and
# `liaison-relay` takes only the options it declares.  Each is given one option that another
# subcommand takes: exit 2 before anything runs (no profile, relay or file
# is needed), nothing on stdout, one line on stderr naming the option and
# the subcommand's own --help.  Global options still work anywhere.
set -u
K="$LSN_BIN/liaison-keys"
L="$LSN_BIN/liaison"
R="$LSN_BIN/liaison-relay"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LSN_TMP:-/tmp}/clioptions.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
. "$HERE/tests/lib/checks.sh"

# refused CMD OPTION COMMAND...: COMMAND (a subcommand CMD, "liaison send")
# exits 2 naming OPTION and `HELP --help` (HELP is CMD unless $help is
# set), in one line, with nothing done.
refused() {
    cmd=$1; opt=$2; shift 2
    hint=${help:-$cmd}
    expect 2 "$cmd $opt" "$@"
    [ -s out.txt ] && bad "$cmd $opt: wrote to stdout"
    [ "$(wc -l < err.txt)" = 1 ] || { bad "$cmd $opt: not one line"; cat err.txt; }
    grep -q -- "\`$opt\` is not an option of \`$cmd\`; see \`$hint --help\`\$" err.txt ||
        { bad "$cmd $opt: option or help not named"; cat err.txt; }
}

H="--home $T/none"
# shellcheck disable=SC2086
{
refused "liaison init" --json "$L" $H init --credential c.cred --json
refused "liaison orgs" --unread "$L" $H orgs --unread
refused "liaison send" --out "$L" $H send --to b --title t --out f
refused "liaison reply" --reply-to "$L" $H reply 00ff --title t --reply-to 00ee
refused "liaison seal" --save-attachments "$L" $H seal --to b --title t --out f \
    --save-attachments d
refused "liaison forward" --title "$L" $H forward 00ff --to b --title t
refused "liaison fetch" --exec "$L" $H fetch --exec cat
refused "liaison watch" --unread "$L" $H watch --unread
refused "liaison inbox" --exec "$L" $H inbox --exec cat
refused "liaison read" --unread "$L" $H read 00ff --unread
refused "liaison open" --exec "$L" $H open env.bin --exec cat
refused "liaison status" --dry-run "$L" $H status 00ff --dry-run
refused "liaison sent" --unread "$L" $H sent --unread
refused "liaison feedback" --to "$L" $H feedback 00ff --disposition seen --to b
refused "liaison retract" --share "$L" $H retract 00ff --reason r --share
refused "liaison hold" --json "$L" $H hold 00ff --json
refused "liaison release" --reason "$L" $H release 00ff --reason r
refused "liaison update" --reply-to "$L" $H update 00ff --title t \
    --reply-to 00ee
refused "liaison bundle import" --json "$L" $H bundle import b.signed --json
refused "liaison audit verify" --unread "$L" $H audit verify --unread
refused "liaison audit show" --exec "$L" $H audit show --exec cat
refused "liaison prune" --to "$L" $H prune --older-than 1d --to b
refused "liaison unlock" --json "$L" $H unlock --json
refused "liaison lock" --for "$L" $H lock --for 1h
refused "liaison passwd" --for "$L" $H passwd --for 1h
}

refused "liaison-keys authority new" --org-dir "$K" authority new a --org-dir d
refused "liaison-keys relay new" --json "$K" relay new r --json
refused "liaison-keys roster init" --org "$K" roster init --coalition c --threshold 1 \
    --authority a.pub --out r --org o
refused "liaison-keys roster next" --json "$K" roster next r --out n --json
refused "liaison-keys roster add-org" --out "$K" roster add-org r --org o --root o.pub \
    --relay r1 --out n
refused "liaison-keys roster remove-org" --relay "$K" roster remove-org r --org o --relay r1
refused "liaison-keys roster add-relay" --org "$K" roster add-relay r --relay r1 \
    --endpoint tcp://127.0.0.1:1 --key r1.pub --org o
refused "liaison-keys roster set-relay" --display "$K" roster set-relay r --relay r1 \
    --key r1.pub --display d
refused "liaison-keys roster remove-relay" --org "$K" roster remove-relay r --relay r1 --org o
refused "liaison-keys roster set-org-relay" --key "$K" roster set-org-relay r --org o \
    --relay r1 --key r1.pub
refused "liaison-keys roster set-root" --relay "$K" roster set-root r --org o --root o.pub \
    --relay r1
refused "liaison-keys roster add-authority" --threshold "$K" roster add-authority r \
    --authority a.pub --threshold 1
refused "liaison-keys roster remove-authority" --out "$K" roster remove-authority r \
    --authority a.pub --out n
refused "liaison-keys roster set-threshold" --days "$K" roster set-threshold r \
    --threshold 1 --days 3
refused "liaison-keys roster sign" --json "$K" roster sign r --key a.key --json
refused "liaison-keys roster verify" --out "$K" roster verify r --out n
refused "liaison-keys roster show" --previous "$K" roster show r --previous p
refused "liaison-keys org init" --org-dir "$K" org init o --org-dir d --no-passphrase
refused "liaison-keys device add" --dir "$K" device add d1 --org-dir d --role human \
    --roster r --out c --dir x
refused "liaison-keys device revoke" --out "$K" device revoke d1 --org-dir d --out c
refused "liaison-keys rotate" --force "$K" rotate --org-dir d --enc --force
refused "liaison-keys bundle show" --out "$K" bundle show --org-dir d --out f
refused "liaison-keys bundle export" --json "$K" bundle export --org-dir d --out f --json
refused "liaison-keys bundle verify" --org-dir "$K" bundle verify b --roster r --org-dir d
refused "liaison-keys fingerprint" --json "$K" fingerprint a.pub --json
refused "liaison-keys publish" --json "$K" publish --org-dir d --json
refused "liaison-keys publish-roster" --force "$K" publish-roster r --org-dir d --force

# The relay's subcommands have their help in the relay's.
help=liaison-relay
refused "liaison-relay import" --listen "$R" import --data d --listen tcp://127.0.0.1:1 b.signed
refused "liaison-relay import" --syslog "$R" import --data d --syslog b.signed
refused "liaison-relay check-config" --data "$R" check-config relay.conf --data d
help=
expect 0 "liaison-relay check-config --help" "$R" check-config --help
has "usage: liaison-relay" "check-config --help prints the relay's usage"

# An option no command takes is unknown, with the same one-line form.
expect 2 "unknown option" "$L" --home "$T/none" fetch --bogus
has "unknown option \`--bogus\`; see \`liaison fetch --help\`" "unknown option named"

# Global options keep working wherever they appear; --help and --version.
expect 2 "--home after the command" "$L" orgs --home "$T/none" --json
has "no profile" "--home after the command is the profile folder"
hasnt "not an option" "--home is taken after the command"
expect 2 "--passphrase-file after the command" "$L" --home "$T/none" fetch \
    --passphrase-file p.txt
hasnt "not an option" "--passphrase-file is taken after the command"
expect 0 "liaison --version" "$L" --version
has "^liaison [0-9]" "liaison --version names the program and version"
expect 0 "liaison-keys --version" "$K" --version
has "^liaison-keys [0-9]" "liaison-keys --version names the program and version"
expect 0 "liaison reply --help" "$L" reply --help
has "usage: liaison send" "reply --help prints the send family's usage"
expect 0 "liaison audit show --help" "$L" audit show --help
has "usage: liaison audit" "audit show --help prints audit's usage"

# Every command the programs list is tried above: a new command cannot
# be left out of this test.
for prog in liaison liaison-keys; do
    for name in $("$LSN_BIN/$prog" --help | sed -n '/^Commands:/,$s/^  \([a-z-]*\) .*/\1/p'); do
        grep -q "^refused \"$prog $name[ \"]" "$HERE/tests/system/cli_options.sh" ||
            bad "$prog $name: no option refusal tried"
    done
done

if [ "$fails" -ne 0 ]; then echo "cli_options: $fails check(s) failed"; exit 1; fi
echo "cli_options: all checks passed"
