#!/bin/sh
# layers.sh: the project's layering, checked on the built objects.
#
#   sh tests/structure/layers.sh OBJDIR        (OBJDIR: build/obj)
#
# From nm's symbol tables it derives "object A uses a symbol that object B
# defines" and fails when
#   - the files of relay/ use each other in a cycle (each cycle is listed
#     with the symbols that make its edges), or
#   - a layer uses a layer above it: relay -> keys, proto; client -> keys,
#     proto; keys -> proto; proto -> nothing of ours (proto/ takes the
#     generated protobuf code with it).  A layer's folder includes its
#     program's (client/cli, keys/cli).
# Only POSIX sh, nm -P and awk; it looks at whatever objects exist, so a
# file split into several is checked as it is built.
set -u

obj=${1:?usage: layers.sh OBJDIR}
tmp=${TMPDIR:-/tmp}/layers.$$
mkdir -p "$tmp" || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# symbols FILE...: "file symbol D" for each global symbol defined and
# "file symbol U" for each used but not defined, one a line.
symbols() {
    for f in "$@"; do
        [ -f "$f" ] || continue
        nm -P -g "$f" | awk -v f="$f" '
            $2 == "U" { print f, $1, "U"; next }
            $2 ~ /^[A-TV-Z]$/ { print f, $1, "D" }'
    done
}

# The objects under a folder of OBJDIR whose source is in the tree (run
# from the top folder: an object left from a removed file does not
# count), sorted.
layer() {
    [ -d "$obj/$1" ] || return 0
    find "$obj/$1" -name '*.o' | sort | while read -r f; do
        src=${f#"$obj"/}
        [ -f "${src%.o}.c" ] && echo "$f"
    done
}

set -- $(layer relay)
if [ $# -eq 0 ]; then
    echo "layers: no objects under $obj/relay: build first" >&2
    exit 2
fi
symbols "$@" > "$tmp/relay"
for l in proto keys client; do
    symbols $(layer $l) > "$tmp/$l"
done
# the generated protobuf-c code (its source is under the build folder)
[ -d "$obj/gen" ] && symbols $(find "$obj/gen" -name '*.o') >> "$tmp/proto"

fail=0

# ---- no cycle between the files of relay/

# Edges "E user definer symbols...", one per pair of files.
awk '
    $3 == "D" { def[$2] = $1; next }
    { use[NR] = $1 " " $2 }
    END {
        for (i in use) {
            split(use[i], u, " ")
            if (!(u[2] in def) || def[u[2]] == u[1])
                continue
            e = u[1] " " def[u[2]]
            if (!(e in why))
                why[e] = u[2]
            else if (length(why[e]) < 160)
                why[e] = why[e] ", " u[2]
        }
        for (e in why)
            print "E", e, why[e]
    }' "$tmp/relay" > "$tmp/edges"

# A depth-first search from each file in name order; a file met again
# while still on the path closes a cycle, which is printed.
awk -v root="$obj/" '
    function name(f) { sub("^" root, "", f); return f }
    function visit(n,    k, m, i, s, to, cyc) {
        colour[n] = 1
        path[++depth] = n
        k = split(adj[n], m, " ")
        for (i = 1; i <= k; i++) {
            if (colour[m[i]] == 1) {
                for (s = depth; path[s] != m[i]; s--)
                    ;
                cyc = ""
                for (; s <= depth; s++) {
                    to = s < depth ? path[s + 1] : m[i]
                    cyc = cyc "  " name(path[s]) " -> " name(to) "   (" \
                          why[path[s] " " to] ")\n"
                }
                printf "layers: call cycle between relay/ files:\n%s", cyc
                found++
            } else if (colour[m[i]] == 0) {
                visit(m[i])
            }
        }
        depth--
        colour[n] = 2
    }
    $1 == "E" {
        adj[$2] = adj[$2] " " $3
        w = $0
        sub(/^E [^ ]+ [^ ]+ /, "", w)
        why[$2 " " $3] = w
        node[$2] = node[$3] = 1
    }
    END {
        n = 0
        for (x in node)
            order[++n] = x
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && order[j - 1] > order[j]; j--) {
                t = order[j]; order[j] = order[j - 1]; order[j - 1] = t
            }
        for (i = 1; i <= n; i++)
            if (colour[order[i]] == 0)
                visit(order[i])
        exit found > 0
    }' "$tmp/edges" || fail=1

# ---- each layer uses only the layers below it

# uses LAYER FORBIDDEN...: fails on any symbol of a forbidden layer that
# LAYER uses.  A symbol the layer defines itself binds there first, as
# the linker binds it (liaison and liaison-keys each have a cli_fail).
uses() {
    l=$1
    shift
    for b in "$@"; do
        awk -v root="$obj/" -v l="$l" -v b="$b" '
            FNR == 1 { pass++ }
            pass == 1 { if ($3 == "D") def[$2] = $1; next }
            pass == 2 { if ($3 == "D") own[$2] = 1; next }
            $3 == "U" && ($2 in def) && !($2 in own) {
                f = $1; d = def[$2]; sub("^" root, "", f); sub("^" root, "", d)
                printf "layers: %s uses %s: %s needs %s from %s\n", l, b, f, $2, d
                bad = 1
            }
            END { exit bad }' "$tmp/$b" "$tmp/$l" "$tmp/$l" || fail=1
    done
}

uses proto keys client relay
uses keys client relay
uses client relay

if [ $fail -ne 0 ]; then
    echo "layers: FAILED (relay -> keys, proto; client -> keys, proto;" \
         "keys -> proto; no cycle inside relay/)"
    exit 1
fi
echo "layers: no call cycle in relay/; relay, client, keys, proto keep their layers"
