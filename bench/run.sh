#!/bin/sh
# run.sh BUILD: builds each bench/*.c (with the shared bench/lib/*.c) into
# BUILD/bench/ against the project's libraries and runs it (make bench
# calls this).  Each program prints "figure NAME VALUE UNIT" and "ratio
# NAME VALUE target T" lines (docs/bench.md).  Relays run from BUILD/bin,
# their stores (and the fdatasync baseline) in BUILD/tmp.
set -eu
build=${1:?usage: run.sh BUILD}
here=$(cd "$(dirname "$0")/.." && pwd)
cfg="$build/config.mk"
[ -f "$cfg" ] || { echo "bench: $cfg missing: run make first" >&2; exit 1; }
for lib in libtest.a libclient.a libkeys.a libproto.a; do
  [ -f "$build/lib/$lib" ] || { echo "bench: $build/lib/$lib missing: run make first" >&2; exit 1; }
done
get() { sed -n "s/^$1 := //p" "$cfg"; }
cflags=$(get PKG_CFLAGS)
libs=$(get PKG_LIBS)
warn="-Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla"
mkdir -p "$build/bench" "$build/tmp"
LSN_BIN="$build/bin"
LSN_TMP="$build/tmp"
export LSN_BIN LSN_TMP
status=0
for src in "$here"/bench/*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  # shellcheck disable=SC2086
  ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -pthread $warn -I"$here" -I"$here/include" \
    -I"$build/gen" $cflags -o "$build/bench/$name" "$src" "$here"/bench/lib/*.c \
    "$build/lib/libtest.a" "$build/lib/libclient.a" "$build/lib/libkeys.a" \
    "$build/lib/libproto.a" $libs
  echo "== $name"
  "$build/bench/$name" || status=1
done
exit $status
