# The canonical lists the documentation and the completion are checked against: the control
# protocol's commands, events and error codes (the contract, plus the MIDI binding commands), the
# fields of their results, and clipctl's subcommands. Sourced by the ship tests.
# A name added to the protocol or to clipctl belongs here, so that its documentation is checked.

# clipd-rtsan's `debug-rt-alloc`, `debug-slow-disk` and `debug-fast-disk` (src/daemon/main.cpp)
# are left out on purpose: a test build's
# negative control, not part of the protocol; the installed clipd answers it unknown-command.
contract_commands='hello ping load unload list info play stop pause resume set master voices
meters status subscribe unsubscribe shutdown bind unbind bindings'

contract_events='clip-loaded clip-unloaded clip-failed voice-started voice-ended xrun
engine-offline engine-online underrun'

contract_errors='bad-json bad-request unknown-command line-too-long clip-not-found clip-exists
file-not-found permission-denied unsupported-format decode-failed memory-budget cancelled
voice-not-found engine-offline internal limit'

# Fields, values and names that clipd-protocol(7) must mention somewhere.
contract_words='id cmd ok result error code message
protocol server version sample_rate buffer_size jack_client frame backend client
name path replace clips
clip gain_db pan offset_s length_s loop loop_start_s loop_end_s fade_in_s at_frame in_s group
outputs voice voices stopped all fade_s ramp_s
state scheduled playing paused stopping position_s remaining_s
peak_db rms_db
engine online offline usecs latency_frames xruns dsp_load max_voices memory_bytes
memory_budget_bytes master_gain_db uptime_s events_dropped midi_dropped osc_dropped
osc_malformed osc_unsent
events
frames channels source_sample_rate duration_s bytes locked non_finite_samples
stream streamed head_frames head_s underruns frames_missed read-error stream_bytes
late reason finished stolen choked unloaded shutdown trigger midi command count
note channel mode oneshot gate toggle velocity bindings
out_1 midi_in SO_PEERCRED'

clipctl_subcommands='hello ping load unload list info play stop pause resume set master voices
meters status watch bind unbind bindings raw help'

# clipctl's global options, and each subcommand's options.
clipctl_global_options='--socket --instance --json --help --version'
clipctl_options_play='--gain --pan --offset --length --fade-in --loop --loop-start --loop-end --at
--in --group --outputs --wait'
clipctl_options_stop='--clip --group --all --fade --at --in'
clipctl_options_set='--gain --pan --ramp --at --in'
clipctl_options_bind='--channel --mode --velocity --gain --group'
