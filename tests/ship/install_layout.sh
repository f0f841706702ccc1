#!/bin/sh
# ship: `meson install --destdir` puts the binaries, the systemd user units, the man pages and the
# bash completion where Debian expects them, with the right contents and modes, and clipd's
# WirePlumber policy where WirePlumber 0.4 reads it.
# usage: install_layout.sh MESON PREFIX BINDIR MANDIR UNITDIR COMPLETIONDIR WIREPLUMBERDIR BINARIES
# (directories absolute, as configured; BINARIES: the executables built so far, comma-separated,
# e.g. clipd,clipctl, or none).
set -eu
here=$(dirname "$0")
. "$here/lib.sh"

[ $# -eq 8 ] ||
    fail "usage: $0 MESON PREFIX BINDIR MANDIR UNITDIR COMPLETIONDIR WIREPLUMBERDIR BINARIES"
MESON=$1 prefix=$2 bindir=$3 mandir=$4 unitdir=$5 completiondir=$6 wireplumberdir=$7 binaries=$8

# Debian's layout, relative to the prefix (or absolute where systemd and bash-completion say).
case $bindir in */bin) ;; *) fail "bindir $bindir is not .../bin" ;; esac
case $mandir in */share/man) ;; *) fail "mandir $mandir is not .../share/man" ;; esac
case $unitdir in */lib/systemd/user) ;; *) fail "user unit dir $unitdir is not .../lib/systemd/user" ;; esac
case $completiondir in */share/bash-completion/completions) ;;
    *) fail "completion dir $completiondir is not .../share/bash-completion/completions" ;; esac
case $wireplumberdir in */wireplumber) ;; *) fail "WirePlumber dir $wireplumberdir is not .../wireplumber" ;; esac
# WirePlumber 0.4 reads /usr/share/wireplumber, not <prefix>/share for other prefixes.
if [ "$prefix" = /usr ] && [ "$wireplumberdir" != /usr/share/wireplumber ]; then
    fail "the WirePlumber policy goes to $wireplumberdir, where WirePlumber does not look"
fi
[ "$bindir" = "$prefix/bin" ] || fail "binaries go to $bindir, not $prefix/bin"
[ "$mandir" = "$prefix/share/man" ] || fail "man pages go to $mandir, not $prefix/share/man"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
install_into "$work"
root=$work/root

for exe in $(echo "$binaries" | tr ',' ' '); do
    [ "$exe" = none ] && continue
    [ -f "$root$bindir/$exe" ] || fail "$bindir/$exe was not installed"
    [ -x "$root$bindir/$exe" ] || fail "$bindir/$exe is not executable"
done

for unit in clipd.service clipd.socket clipd@.service clipd@.socket; do
    f=$root$unitdir/$unit
    [ -f "$f" ] || fail "$unitdir/$unit was not installed"
    ! grep -n '@[a-z_]*@' "$f" >&2 || fail "$unit has an unreplaced @variable@"
done
for unit in clipd.service clipd@.service; do
    exec_start=$(sed -n 's/^ExecStart=//p' "$root$unitdir/$unit")
    case $exec_start in
        "$bindir/clipd" | "$bindir/clipd --instance %i") ;;
        *) fail "$unit: ExecStart=$exec_start does not run $bindir/clipd" ;;
    esac
    grep -qx 'Type=notify' "$root$unitdir/$unit" || fail "$unit is not Type=notify"
done
grep -qx 'ExecStart=.*/clipd --instance %i' "$root$unitdir/clipd@.service" ||
    fail "clipd@.service does not pass --instance %i"
grep -qx 'ListenStream=%t/clipd/control.sock' "$root$unitdir/clipd.socket" ||
    fail "clipd.socket does not listen on %t/clipd/control.sock"
grep -qx 'ListenStream=%t/clipd/%i.sock' "$root$unitdir/clipd@.socket" ||
    fail "clipd@.socket does not listen on %t/clipd/%i.sock"

for page in clipd.1 clipctl.1 clipd.conf.5 clipd-protocol.7 clipd-osc.7; do
    section=${page##*.}
    f=$root$mandir/man$section/$page
    [ -f "$f" ] || fail "$mandir/man$section/$page was not installed"
    grep -q '^\.TH ' "$f" || fail "$page is not a man page (no .TH line)"
done

f=$root$completiondir/clipctl
[ -f "$f" ] || fail "$completiondir/clipctl was not installed"
bash -n "$f" || fail "the installed bash completion does not parse"
grep -q '^complete -F _clipctl clipctl$' "$f" || fail "the completion does not register for clipctl"

policy=$root$wireplumberdir/policy.lua.d/90-clipd.lua
script=$root$wireplumberdir/scripts/clipd-default-links.lua
[ -f "$policy" ] || fail "$wireplumberdir/policy.lua.d/90-clipd.lua was not installed"
[ -f "$script" ] || fail "$wireplumberdir/scripts/clipd-default-links.lua was not installed"
grep -qx 'load_script("clipd-default-links.lua")' "$policy" ||
    fail "90-clipd.lua does not load clipd-default-links.lua"
grep -q 'ImplMetadata("clipd-default-links")' "$script" ||
    fail "the policy does not announce itself to clipd (metadata clipd-default-links)"

echo "installed layout is right under $prefix (binaries: $binaries)"
