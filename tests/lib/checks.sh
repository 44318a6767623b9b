# checks.sh: sourced by system tests (tests/system/): each check runs a command with
# its output in out.txt and err.txt, and a failed check is counted in
# $fails (the script exits 1 at its end when it is not 0).
#
#   expect WANT DESCRIPTION COMMAND...   the command exits WANT
#   has TEXT DESCRIPTION                 the last output holds TEXT
#   hasnt TEXT DESCRIPTION               it does not
#   json_field NAME                      the first string field NAME of out.txt
#   bad DESCRIPTION                      counts a failure
fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
expect() {
    want=$1; what=$2; shift 2
    "$@" >out.txt 2>err.txt; got=$?
    [ "$got" = "$want" ] || { bad "$what: exit $got, wanted $want"; cat out.txt err.txt; }
}
has() { grep -q -- "$1" out.txt err.txt || { bad "$2: no \`$1\`"; cat out.txt err.txt; }; }
hasnt() { ! grep -q -- "$1" out.txt err.txt || { bad "$2: \`$1\` shown"; cat out.txt err.txt; }; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" out.txt | head -1; }
