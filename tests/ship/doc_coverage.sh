#!/bin/sh
# ship: the man pages document everything there is. clipd-protocol(7) has an entry for every
# command, event and error code of the protocol and mentions every field; clipctl(1) has an entry
# for every subcommand and option; clipd.conf(5) has an entry for every key that
# src/daemon/config.cpp accepts, and clipd(1) for every option it parses, so a new key or option
# without documentation fails here.
# clipd-osc(7) has an address for every command of the protocol.
# usage: doc_coverage.sh CLIPD.1 CLIPCTL.1 CLIPD.CONF.5 CLIPD-PROTOCOL.7 CLIPD-OSC.7 (the built pages)
set -eu
here=$(dirname "$0")
. "$here/lib.sh"
. "$here/contract.sh"

[ $# -eq 5 ] || fail "usage: $0 CLIPD.1 CLIPCTL.1 CLIPD.CONF.5 CLIPD-PROTOCOL.7 CLIPD-OSC.7"
[ -n "${CLIPD_SOURCE_ROOT:-}" ] || fail "CLIPD_SOURCE_ROOT is not set (run through meson test)"
config_cpp=$CLIPD_SOURCE_ROOT/src/daemon/config.cpp
[ -f "$config_cpp" ] || fail "$config_cpp not found"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for page in "$@"; do
    [ -s "$page" ] || fail "$page is missing or empty (build the man pages first)"
done
render_man "$1" >"$work/clipd"
render_man "$2" >"$work/clipctl"
render_man "$3" >"$work/conf"
render_man "$4" >"$work/protocol"
render_man "$5" >"$work/osc"

missing=0
# expect_terms FILE SECTION WHAT NAMES...: each name is an entry of that section.
expect_terms() {
    file=$1 section=$2 what=$3
    shift 3
    section_terms "$section" <"$work/$file" >"$work/terms"
    [ -s "$work/terms" ] || fail "$file: no section $section"
    for name in "$@"; do
        if ! grep -qxF -e "$name" "$work/terms"; then
            printf 'missing: %s %s has no entry in %s of the %s page\n' "$what" "$name" \
                "$section" "$file" >&2
            missing=$((missing + 1))
        fi
    done
}
# expect_options FILE SECTION WHAT OPTIONS...: each option is named on an entry line.
expect_options() {
    file=$1 section=$2 what=$3
    shift 3
    section_options "$section" <"$work/$file" >"$work/options"
    for option in "$@"; do
        if ! grep -qxF -e "$option" "$work/options"; then
            printf 'missing: %s %s is not documented in %s of the %s page\n' "$what" "$option" \
                "$section" "$file" >&2
            missing=$((missing + 1))
        fi
    done
}
# expect_words FILE WHAT WORDS...: each word appears somewhere in the page.
expect_words() {
    file=$1 what=$2
    shift 2
    for word in "$@"; do
        if ! grep -qw -e "$word" "$work/$file"; then
            printf 'missing: %s %s does not appear in the %s page\n' "$what" "$word" "$file" >&2
            missing=$((missing + 1))
        fi
    done
}

# shellcheck disable=SC2086 # the lists are split on purpose
expect_terms protocol COMMANDS command $contract_commands
# shellcheck disable=SC2086
expect_terms protocol EVENTS event $contract_events
# shellcheck disable=SC2086
expect_terms protocol ERRORS 'error code' $contract_errors
# shellcheck disable=SC2086
expect_words protocol 'protocol word' $contract_words

# shellcheck disable=SC2086
expect_words osc 'OSC address' $(printf '/clipd/%s\n' $contract_commands)

# shellcheck disable=SC2086
expect_terms clipctl COMMANDS 'clipctl subcommand' $clipctl_subcommands
# Options are documented on the entry lines of GLOBAL OPTIONS and COMMANDS (and the nested play
# options on theirs), so look at the whole page's option words.
expect_words clipctl 'clipctl option' $(printf '%s\n' $clipctl_global_options $clipctl_options_play \
    $clipctl_options_stop $clipctl_options_set $clipctl_options_bind | sed 's/^--//' | sort -u)
expect_options clipctl 'GLOBAL OPTIONS' 'clipctl option' $clipctl_global_options
for code in 0 1 2 3; do
    section_terms 'EXIT STATUS' <"$work/clipctl" | grep -qx "$code" ||
        { echo "missing: clipctl exit status $code" >&2; missing=$((missing + 1)); }
done

# The configuration keys and daemon options, as the parser in config.cpp knows them.
keys=$(sed -n 's/.*key == "\([a-z_0-9]*\)".*/\1/p' "$config_cpp" | sort -u)
options=$(sed -n 's/.*arg == "\(--*[a-z0-9-]*\)".*/\1/p' "$config_cpp" | sort -u)
[ -n "$keys" ] || fail "found no configuration keys in $config_cpp (has its parser changed shape?)"
[ -n "$options" ] || fail "found no options in $config_cpp (has its parser changed shape?)"
# shellcheck disable=SC2086
expect_terms conf KEYS 'configuration key' $keys
# shellcheck disable=SC2086
expect_options clipd OPTIONS 'clipd option' $options

if [ "$missing" -ne 0 ]; then
    fail "$missing documentation entries missing (see above)"
fi
echo "documented: $(echo $contract_commands | wc -w) commands, $(echo $contract_events | wc -w) events," \
    "$(echo $contract_errors | wc -w) error codes, $(echo $clipctl_subcommands | wc -w) clipctl" \
    "subcommands, $(echo $keys | wc -w) config keys, $(echo $options | wc -w) clipd options"
