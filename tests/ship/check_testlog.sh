#!/bin/sh
# ship: scripts/check-testlog, which scripts/test runs after every `meson test`, fails a step that
# ran fewer tests than promised, lacks a promised suite, or skipped a test the allow-list does not
# name (exit 77 or GTEST_SKIP), and passes one that did it all.
# usage: check_testlog.sh CHECK-TESTLOG
set -eu
here=$(dirname "$0")
. "$here/lib.sh"

[ $# -eq 1 ] || fail "usage: $0 CHECK-TESTLOG"
check=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/b/meson-logs"
: >"$work/allow"

ok='{"name": "clipd:unit / a", "suite": ["clipd:unit"], "result": "OK", "stdout": "[  PASSED  ] 2 tests."}'
ok2='{"name": "clipd:integration+rtsan / b", "result": "OK", "stdout": ""}'
skip77='{"name": "clipd:unit / c", "suite": ["clipd:unit"], "result": "SKIP", "stdout": ""}'
gskip='{"name": "clipd:unit / d", "suite": ["clipd:unit"], "result": "OK", "stdout": "[ RUN      ] P.Q\n[  SKIPPED ] P.Q (0 ms)\n[  SKIPPED ] 1 test, listed below:\n[  SKIPPED ] P.Q\n"}'

# expect STATUS DESCRIPTION ARGS...: runs check-testlog on the log written last.
expect() {
    want=$1 what=$2
    shift 2
    if "$check" "$work/b" --allow "$work/allow" "$@" >"$work/out" 2>&1; then got=0; else got=1; fi
    [ "$got" -eq "$want" ] || { cat "$work/out"; fail "$what: exit $got, want $want"; }
    echo "ok: $what"
}

printf '%s\n%s\n' "$ok" "$ok2" >"$work/b/meson-logs/testlog.json"
expect 0 "two tests that passed, two expected" --min 2 --suite unit=1 --suite rtsan=1 \
    --suite integration=1
expect 1 "two tests that passed, three expected" --min 3
expect 1 "a promised suite that did not run" --min 1 --suite fuzz=1
: >"$work/b/meson-logs/testlog.json"
expect 1 "a filter that matched nothing" --min 1

printf '%s\n%s\n' "$ok" "$skip77" >"$work/b/meson-logs/testlog.json"
expect 1 "a test that exited 77" --min 1
echo 'c the reason it may skip' >"$work/allow"
expect 0 "an allow-listed exit 77" --min 1
echo 'c' >"$work/allow"
expect 1 "an allow-list entry without a reason" --min 1

: >"$work/allow"
printf '%s\n%s\n' "$ok" "$gskip" >"$work/b/meson-logs/testlog.json"
expect 1 "a GTEST_SKIP inside a passing test" --min 1
grep -q 'd:P.Q' "$work/out" || { cat "$work/out"; fail "the skipped case is not named"; }
echo 'd:P.Q the reason it may skip' >"$work/allow"
expect 0 "an allow-listed GTEST_SKIP" --min 1

rm "$work/b/meson-logs/testlog.json"
expect 1 "no testlog at all" --min 1
