#!/bin/bash
# ship: the bash completion of clipctl offers the subcommands, each subcommand's options, binding
# modes, instance names, file paths, and, from a running daemon, clip names, honouring
# --socket/--instance given earlier on the line and CLIPD_SOCKET. Each case runs twice: with the
# completion alone and with the bash-completion package's helpers loaded (when installed).
# usage: completion.sh COMPLETION_SCRIPT [CLIPD CLIPCTL]
# With CLIPD and CLIPCTL, a real clipd (no JACK server needed: clips load offline) is started on a
# private socket and clip names are completed from it.
set -u
here=$(dirname "$0")
. "$here/contract.sh"

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
[ $# -eq 1 ] || [ $# -eq 3 ] || fail "usage: $0 COMPLETION_SCRIPT [CLIPD CLIPCTL]"
script=$1
clipd=${2:-}
clipctl=${3:-}

work=$(mktemp -d)
daemon_pid=
cleanup() {
    if [ -n "$daemon_pid" ]; then
        kill "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
# expect LINE EXPECTED...: completing at the end of LINE offers exactly EXPECTED (any order).
expect() {
    local line=$1
    shift
    local got want
    got=$(complete_line "$line")
    want=$(printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort)
    if [ "$got" != "$want" ]; then
        printf 'FAIL (%s): completing "%s"\n  expected: %s\n  got:      %s\n' "$mode" "$line" \
            "$(echo $want)" "$(echo $got)" >&2
        failures=$((failures + 1))
    fi
}
# Splits LINE like readline does for a simple line (words separated by spaces, a trailing space
# starts an empty word) and calls the completion function; prints the offers, sorted.
complete_line() {
    local line=$1
    COMP_LINE=$line
    COMP_POINT=${#line}
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *' ' ]] && COMP_WORDS+=('')
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _clipctl clipctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
    [ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
}

run_cases() {
    # shellcheck disable=SC2086
    expect 'clipctl ' $clipctl_subcommands
    expect 'clipctl --json ' $clipctl_subcommands
    expect 'clipctl st' status stop
    expect 'clipctl b' bind bindings
    expect 'clipctl --' $clipctl_global_options
    expect 'clipctl --j' --json
    expect 'clipctl play kick --' $clipctl_options_play
    expect 'clipctl play kick --fa' --fade-in
    expect 'clipctl play kick --gain -6 --lo' --loop --loop-start --loop-end
    expect 'clipctl stop --' $clipctl_options_stop
    expect 'clipctl set 3 --' $clipctl_options_set
    expect 'clipctl bind 36 kick --' $clipctl_options_bind
    expect 'clipctl bind 36 kick --mode ' gate oneshot toggle
    expect 'clipctl bind 36 kick --mode g' gate
    expect 'clipctl load --' --replace --stream --no-stream
    expect 'clipctl load --s' --stream
    expect 'clipctl play kick --gain ' ''
    expect 'clipctl status ' ''
    expect 'clipctl raw ' ''
    # shellcheck disable=SC2086
    expect 'clipctl watch ' $contract_events
    expect 'clipctl watch xrun voice-' voice-ended voice-started
    # shellcheck disable=SC2086
    expect 'clipctl help ' $clipctl_subcommands
    expect 'clipctl help pl' play
    # File paths for load's PATH and for --socket.
    local before=$failures
    (
        cd "$work/files" || exit 1
        expect 'clipctl load kick ' a.wav b.flac
        expect 'clipctl load kick a' a.wav
        expect 'clipctl --socket ' a.wav b.flac
        exit $((failures - before))
    ) || failures=$((failures + $?))
    # Instances: the sockets in $XDG_RUNTIME_DIR/clipd other than the default one.
    XDG_RUNTIME_DIR=$work/runtime expect 'clipctl --instance ' studio live
    XDG_RUNTIME_DIR=$work/runtime expect 'clipctl --instance s' studio
}

# Clip names come from `clipctl --json list`, parsed without jq. Keys inside strings (every quote
# there is escaped) must not match; escapes are undone.
check_json_parser() {
    local json got want
    json='{"id":null,"ok":true,"result":{"clips":[{"name":"kick","path":"/a/\"name\":\"evil\"","frames":1},{"bytes":2,"name":"two words","path":"/b"},{"name":"q\"uote\\\\back","path":"/c\\\\"},{"name":"","path":"/d"}]}}'
    got=$(_clipctl_json_strings name "$json")
    want=$(printf '%s\n' kick 'two words' 'q"uote\\back' '')
    [ "$got" = "$want" ] || {
        printf 'FAIL (%s): JSON names\n  expected: %s\n  got:      %s\n' "$mode" "$want" "$got" >&2
        failures=$((failures + 1))
    }
    got=$(_clipctl_json_integers voice '{"ok":true,"result":{"voices":[{"voice":3,"clip":"voice"},{"voice":12}]}}')
    [ "$got" = "$(printf '3\n12')" ] || {
        printf 'FAIL (%s): JSON voice ids: got %s\n' "$mode" "$(echo $got)" >&2
        failures=$((failures + 1))
    }
}

mkdir -p "$work/files" "$work/runtime/clipd" "$work/config" "$work/state"
: >"$work/files/a.wav"
: >"$work/files/b.flac"
python3 - "$work/runtime/clipd" <<'PY' || fail "cannot create test sockets"
import socket, sys
for name in ("control", "studio", "live"):
    s = socket.socket(socket.AF_UNIX)
    s.bind(sys.argv[1] + "/" + name + ".sock")
PY

# A minimal 16-bit mono WAV of 100 samples of silence, for the live cases.
wav_file() {
    printf 'RIFF\xe4\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\xbb\x00\x00\x00\x77\x01\x00\x02\x00\x10\x00data\xc8\x00\x00\x00' >"$1"
    head -c 200 /dev/zero >>"$1"
}

live_cases() {
    local run=$work/live-run sock
    sock=$run/clipd/ship.sock
    mkdir -p "$work/bin" "$run"
    chmod 700 "$run"
    ln -sf "$(cd "$(dirname "$clipctl")" && pwd)/$(basename "$clipctl")" "$work/bin/clipctl"
    wav_file "$work/files/kick.wav"
    export PATH=$work/bin:$PATH XDG_RUNTIME_DIR=$run XDG_CONFIG_HOME=$work/config \
        XDG_STATE_HOME=$work/state JACK_NO_START_SERVER=1 JACK_DEFAULT_SERVER=clipd-ship-none-$$
    "$clipd" --instance ship --no-state --no-midi --log-level warning &
    daemon_pid=$!
    local i
    for ((i = 0; i < 100; i++)); do
        clipctl --socket "$sock" ping >/dev/null 2>&1 && break
        kill -0 "$daemon_pid" 2>/dev/null || fail "clipd exited at start"
        sleep 0.1
    done
    clipctl --socket "$sock" ping >/dev/null || fail "clipd does not answer on $sock"
    clipctl --socket "$sock" load kick "$work/files/kick.wav" >/dev/null ||
        fail "clipctl load kick failed"
    clipctl --socket "$sock" load 'two words' "$work/files/kick.wav" >/dev/null ||
        fail "clipctl load 'two words' failed"
    mode=live
    expect "clipctl --socket $sock play " kick 'two\ words'
    expect "clipctl --socket=$sock info k" kick
    expect "clipctl --instance ship unload t" 'two\ words'
    expect "clipctl --instance ship --json stop --clip " kick 'two\ words'
    expect "clipctl --instance ship bind 36 " kick 'two\ words'
    expect "clipctl info --socket $sock k" kick
    CLIPD_SOCKET=$sock expect "clipctl play " kick 'two\ words'
    # No daemon on the socket: no offers, quickly.
    expect "clipctl --socket $work/none.sock play " ''
}

bash_completion_main=/usr/share/bash-completion/bash_completion
for mode in standalone bash-completion; do
    if [ $mode = bash-completion ]; then
        [ -r "$bash_completion_main" ] || { echo "bash-completion not installed: that mode skipped"; continue; }
        # shellcheck disable=SC1090
        . "$bash_completion_main"
    fi
    # shellcheck disable=SC1090
    . "$script" || fail "$script does not load"
    declare -F _clipctl >/dev/null || fail "$script defines no _clipctl"
    run_cases
    check_json_parser
done
if [ -n "$clipd" ]; then
    live_cases
fi

[ "$failures" -eq 0 ] || fail "$failures completion cases failed"
echo "completion: all cases pass${clipd:+ (with a live clipd)}"
