// clipd/backend/pipewire/pipewire_backend.hpp: the native PipeWire backend (backend/backend.hpp
// over a pw_filter), without pipewire-jack.
//
// What it makes: one node, node.name = Options::client_name, with DSP float output ports
// out_1..out_N (port.name; out_1 and out_2 carry audio.channel FL and FR, a single output MONO;
// port.alias "<pretty_name_prefix><i>") and, with Options::midi_input, a DSP MIDI input port
// midi_in ("8 bit raw midi", port.alias "<pretty_name_prefix>MIDI"). Node properties:
// node.description (Options::description, else the client name), application.name (the client
// name, so pipewire-jack clients see our ports as "<client_name>:out_1"), media.type Audio,
// media.category Playback, media.role Options::media_role, media.class Stream/Output/Audio,
// node.always-process true (cycles run with nothing linked, as a JACK client's do),
// node.autoconnect false (WirePlumber's standard policy leaves the node alone) and
// clipd.default-links ("true" when the node is to follow the default sink, see below).
//
// Routing. With Options::auto_connect entries, out_1.. go to those ports. Without them, and with
// Options::autoconnect (the default), the node follows the default sink as a player would:
// out_1 and out_2 go to the input ports of audio.channel FL and FR of the node named in the
// "default" metadata's default.audio.sink (set by the session manager, changed by the user:
// pw-metadata, pavucontrol, a desktop's sound settings; a single output to both; a mono sink's
// MONO port otherwise), and the links move whenever the default changes. The session manager
// makes those links: clipd installs a WirePlumber 0.4 policy (wireplumber/ in the source tree)
// that links the nodes with clipd.default-links true and shows that it runs with a metadata
// object named "clipd-default-links". WirePlumber's standard policy cannot: it wraps Stream/*
// nodes in an audio adapter item that needs a node-level EnumFormat, then reconfigures the
// ports with PortConfig; a pw_filter in PipeWire before 0.3.71 does neither (its ports are fixed
// DSP ports). While no such metadata object exists (a WirePlumber without the policy), the
// backend makes the same links itself; when it appears, the backend removes its own and the
// policy links the ports they leave free. A wanted link someone else already made is left to
// them, and made by the backend once it goes (while the backend links). The links to the
// default sink are not among the remembered connections (connections()): after a reconnection
// the default is followed anew. With Options::autoconnect false and no auto_connect, nothing is
// linked but what is remembered.
// PipeWire does not make node names unique: client_name() is always the requested name.
//
// Port names: a full port name is "<node.name>:<port.name>", as pw-link prints it:
// port_name(0) is "clipd:out_1", a sound card's port "alsa_output.pci-0000_00_1f.3.analog-stereo:
// playback_FL", a pipewire-jack client's port "<its client name>:<its port>". auto_connect,
// midi_auto_connect and PortConnection::other_port use these names (split at the last ':').
// Links are made through PipeWire's "link-factory" by port id, looked up in the registry; they
// belong to our connection (not object.linger), so they go when it closes, and are made again on
// the next open, like JACK connections. A port named there that is not in the graph at open()
// (a sink made, a device plugged in, a session manager started after us) is linked by poll()
// once it appears, once: a link someone removes later is not made again until the next open.
//
// Threads: the control thread calls every member function; a pw_thread_loop runs PipeWire's
// control side (registry, core and filter events: they store into atomics or, under the loop's
// lock, into the registry mirror); the context's data thread runs the process callback
// (PW_FILTER_FLAG_RT_PROCESS), inside a RealtimeScope: no allocation, lock, wait or system call.
// The context reads client-rt.conf, whose module-rt gives the data thread real-time priority
// (directly where RLIMIT_RTPRIO or CAP_SYS_NICE allow, else through RTKit); open() maps 256 KiB
// of its stack before the first cycle. Each open() makes a fresh loop, context (and data
// thread) and core; retire() destroys them.
//
// What PipeWire 0.3 reports, and so what this backend gives:
// - frame: spa_io_position clock.position (64 bits); nframes: clock.duration, any value at any
//   cycle; sample rate: clock.rate; usecs: clock.nsec / 1000 (CLOCK_MONOTONIC).
// - null_buffers(): cycles in which a linked output (one that has buffers) got none, or one too
//   short for the cycle; that output is rendered into a discard row and its chunk left empty.
//   An output that is not linked has no buffers at all: rendered into its discard row, not
//   counted. A missing midi_in buffer reads as no events.
// - midi_in asks for 64 KiB buffers (more than 2 x kMidiCapacity three-byte events): the
//   server's control mixer, which merges everything linked to midi_in, sizes its buffers so.
// - xruns: PipeWire tells a client of no xrun. The backend counts a cycle whose clock.position is
//   not where the previous cycle of the same clock ended (the graph skipped us, or ran late and
//   dropped frames); a change of driver (clock.id) is not counted.
// - playback_latency(): the largest downstream latency (SPA_PARAM_Latency, input direction) the
//   server set on an output port, in frames at the current rate and quantum; nullopt until one
//   is set (nothing linked, or only ports that report none). The filter runs with
//   PW_FILTER_FLAG_CUSTOM_LATENCY so that it hands these to us; the backend passes their
//   combination on to midi_in, as pw_filter would.
// - dsp_load(): always nullopt (0.3 keeps the load in the driver's private activation record).
// - library messages: libpipewire's log (warnings and errors), see backend/pipewire/log_sink.hpp.
// - server_gone: the core's connection broke (core error EPIPE) or the filter went to its error
//   state (our node was destroyed).
#pragma once

#include <memory>

#include "backend/backend.hpp"

namespace clipd::backend {

// Makes a PipeWire backend (not connected; open() connects). Installs PipeWire's logger
// (backend/pipewire/log_sink.hpp) and calls pw_init once per process.
// Thread contract: control thread. Note: allocates.
std::unique_ptr<Backend> make_pipewire_backend(Options options);

}  // namespace clipd::backend
