#!/bin/sh
# cli_help_values.sh: `--help` or `-h` given as the value of an option
# (a title, an indicator) or after `--` is that value, not a request for
# help: the command runs with it (here it fails, having no profile)
# instead of printing its usage and exiting 0 with nothing sent.
set -u
L="$LSN_BIN/liaison"
K="$LSN_BIN/liaison-keys"
T=$(mktemp -d "${LSN_TMP:-/tmp}/cli_help_values.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
# not_help DESCRIPTION -- COMMAND...: a non-zero exit and no usage text
not_help() {
    what=$1; shift 2
    "$@" </dev/null >"$T/out" 2>"$T/err"; got=$?
    [ "$got" != 0 ] || { bad "$what: exit 0"; }
    ! grep -q "^usage:" "$T/out" || { bad "$what: printed its usage"; head -n 2 "$T/out"; }
}
# help DESCRIPTION -- COMMAND...: exit 0 and the usage
help() {
    what=$1; shift 2
    "$@" </dev/null >"$T/out" 2>"$T/err"; got=$?
    [ "$got" = 0 ] || bad "$what: exit $got"
    grep -q "^usage:" "$T/out" || bad "$what: no usage"
}

H="$T/no-profile"
not_help "a title --help" -- "$L" --home "$H" send --to p1 --title --help
not_help "a title -h" -- "$L" --home "$H" send --to p1 --title -h
not_help "an abbreviated option's value" -- "$L" --home "$H" send --to p1 --tit --help
not_help "--help after --" -- "$L" --home "$H" send --to p1 --title x -- --help
not_help "forward --to --help" -- "$L" --home "$H" forward 0123abcd --to --help
help "send --help" -- "$L" --home "$H" send --help
help "send --to p1 --help" -- "$L" --home "$H" send --to p1 --help
help "send -h after a valued option" -- "$L" --home "$H" send --title x -h
help "send --title=--help --help" -- "$L" --home "$H" send --title=--help --help
help "liaison-keys roster show --help" -- "$K" roster show --help

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "cli_help_values: all passed"
