#!/bin/sh
# ship: every man page renders without a single warning, through man(1) as a user reads it
# (80 columns) and through groff with all warnings on.
# usage: man_render.sh PAGE...
set -eu
here=$(dirname "$0")
. "$here/lib.sh"

[ $# -ge 1 ] || fail "usage: $0 PAGE..."
command -v man >/dev/null || fail "man (man-db) is needed"
command -v groff >/dev/null || fail "groff is needed"
status=0
for page in "$@"; do
    [ -s "$page" ] || fail "$page is missing or empty (build the man pages first)"
    name=${page##*/}
    if ! out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || [ -n "$out" ]; then
        printf '%s\n' "$out" >&2
        printf 'FAIL: man --warnings -l %s warned or failed\n' "$name" >&2
        status=1
        continue
    fi
    if ! out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || [ -n "$out" ]; then
        printf '%s\n' "$out" >&2
        printf 'FAIL: groff -man -ww -z %s warned or failed\n' "$name" >&2
        status=1
        continue
    fi
    lines=$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)
    [ "$lines" -gt 20 ] || { echo "FAIL: $name renders to only $lines lines" >&2; status=1; continue; }
    echo "$name renders cleanly ($lines lines)"
done
exit $status
