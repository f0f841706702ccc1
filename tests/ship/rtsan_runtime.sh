#!/bin/sh
# ship: a build that asks for the RealtimeSanitizer (-Drtsan=enabled, as scripts/test's plain build
# does) stops at `meson setup` when the runtime archive is missing, and the message names the
# runtime, the path it looked for and the package that provides it. Without this, a machine
# without libclang-rt-19-dev would build and pass the suite with every RTSan test left out.
# usage: rtsan_runtime.sh MESON
set -eu
here=$(dirname "$0")
. "$here/lib.sh"

[ $# -eq 1 ] || fail "usage: $0 MESON"
meson=$1
[ -n "${CLIPD_SOURCE_ROOT:-}" ] || fail "CLIPD_SOURCE_ROOT is not set (run through meson test)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
missing=/nonexistent/libclang_rt.rtsan-x86_64.a
if "$meson" setup "$work/build" "$CLIPD_SOURCE_ROOT" -Drtsan=enabled \
    -Drtsan_runtime="$missing" >"$work/out" 2>&1; then
    cat "$work/out"
    fail "meson setup succeeded with -Drtsan=enabled and no RealtimeSanitizer runtime"
fi
cat "$work/out"
for word in "RealtimeSanitizer runtime" "$missing" "is missing" libclang-rt-19-dev; do
    grep -qF -e "$word" "$work/out" || fail "the error does not say: $word"
done
echo "meson setup stops and names the missing RealtimeSanitizer runtime"
