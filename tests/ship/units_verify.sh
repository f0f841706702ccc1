#!/bin/sh
# ship: `systemd-analyze verify` passes, without a single warning, on every unit as installed into
# a DESTDIR, the templates as the instance clipd@test.
# usage: units_verify.sh MESON UNITDIR MANDIR
#
# systemd 252 checks that ExecStart's binary exists and is executable, and runs `man` for every
# Documentation=man: page. Its --root option only works for system units, so the installed units
# are copied with ExecStart's absolute path moved into the DESTDIR (nothing else changes) and
# verified in user mode, with MANPATH pointing at the DESTDIR's man pages only and a private
# XDG_RUNTIME_DIR. The units of the copy's folder are found by name (the socket's service, the
# template behind the instance link). Set CLIPD_SHIP_DESTDIR to check an existing install tree
# instead of installing.
set -eu
here=$(dirname "$0")
. "$here/lib.sh"

[ $# -eq 3 ] || fail "usage: $0 MESON UNITDIR MANDIR"
MESON=$1 unitdir=$2 mandir=$3
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found: skipped"; exit 77; }
command -v man >/dev/null || fail "man (man-db) is needed to check the units' Documentation="

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${CLIPD_SHIP_DESTDIR:-}" ]; then
    root=$CLIPD_SHIP_DESTDIR
else
    install_into "$work"
    root=$work/root
fi

mkdir -m 0700 "$work/units" "$work/runtime"
for unit in clipd.service clipd.socket clipd@.service clipd@.socket; do
    [ -f "$root$unitdir/$unit" ] || fail "$unitdir/$unit was not installed"
    sed "s|^ExecStart=/|ExecStart=$root/|" "$root$unitdir/$unit" >"$work/units/$unit"
done
ln -s clipd@.service "$work/units/clipd@test.service"
ln -s clipd@.socket "$work/units/clipd@test.socket"

status=0
for unit in clipd.service clipd.socket clipd@test.service clipd@test.socket; do
    out=$(cd "$work" && MANPATH="$root$mandir" XDG_RUNTIME_DIR="$work/runtime" \
        systemd-analyze --user verify "$work/units/$unit" 2>&1) || {
        printf '%s\n' "$out" >&2
        printf 'FAIL: systemd-analyze verify %s failed\n' "$unit" >&2
        status=1
        continue
    }
    if [ -n "$out" ]; then
        printf '%s\n' "$out" >&2
        printf 'FAIL: systemd-analyze verify %s warned\n' "$unit" >&2
        status=1
        continue
    fi
    echo "verified $unit"
done
exit $status
