// The engine under hostile but legal input: for each attack, the same voices rendered plainly and
// under the attack, in the same run, with the cycles of the two interleaved in blocks so both see
// the same machine. Prints the 99.9th percentile and the maximum of the time of single process()
// calls for both, their ratios, and whether they meet the goal: every attack at most 2x plain at
// p99.9 and at most 3x at the maximum (README.md, "Worst cases"). Always exits 0: it is a
// measurement, not a test.
//
// Times are the calling thread's CPU time by default: on a shared machine the wall time of a
// cycle mostly measures the other processes' slices. `--wall` times with steady_clock instead (on
// an idle machine, the figure an audio server sees). `--quick` measures less; a word as argument
// runs only the rows whose name holds it.
//
// Attacks (1,500 voices at 2,048-frame periods unless the row says otherwise):
// - timed heap full: the timed-command storage of one looping voice filled with sets an hour
//   ahead, while a steady trickle of timed sets comes due every cycle;
// - short loops: every voice loops a 64-frame region, or a 1-frame region (which the engine may
//   play as no loop: a voice that reaches the clip's end is played again, as a client would),
//   against every voice looping a long region;
// - CC storm: 1,000 control changes per period on the MIDI input;
// - note-ons: 1,000 note-ons of bound notes per period, each starting a voice (spare nodes sent
//   and recycled as control does);
// - stop-by-group storm: 256 stops by group per cycle, naming groups without voices;
// - choke storm: 64 plays with a choke group per cycle, each choking the previous ones;
// - voices query: one voices query per cycle with the pool at its voice limit;
// - streamed voices: 64 of the voices stream (engine/stream_ring.hpp) past a head of 4 periods,
//   their rings filled between cycles as the disk threads do, or never filled (every streamed
//   voice underruns every cycle);
// - streamed plays: 64 plays per cycle of a streamed clip at the streamed-voice limit, each
//   stealing the oldest streamed voice;
// - server times: the timed-command storage filled with sets that name a server time an hour
//   ahead (unbound, engine/engine.hpp), while a trickle of them comes due every cycle; and 64
//   plays per cycle that name a server time, each with a set of the same time (an OSC bundle),
//   all bound in the cycle that holds their time.
//
// Timing covers process() alone: what control does around it (making nodes, draining the return
// queue) runs between the timed calls.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace {

using namespace clipd::engine;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kPeriod = 2048;
constexpr std::uint32_t kVoices = 1500;
constexpr std::uint64_t kClipFrames = 10 * kRate;
constexpr std::uint32_t kClips = 8;
constexpr std::uint64_t kStartFrame = 1'000'000;

bool g_wall = false;  // --wall: steady_clock instead of thread CPU time

// Microseconds on the clock the run measures with.
double now_us() {
  if (g_wall) {
    return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count();
  }
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct Free {
  void operator()(float* p) const { std::free(p); }
};

// Stereo planar noise clips, shared read-only by every engine of the run.
struct Clips {
  std::vector<std::unique_ptr<float, Free>> data;
  std::vector<ClipSamples> samples;
  Clips() {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (std::uint32_t c = 0; c < kClips; ++c) {
      auto* p = static_cast<float*>(std::aligned_alloc(4096, 2 * kClipFrames * sizeof(float)));
      for (std::uint64_t i = 0; i < 2 * kClipFrames; ++i)
        p[i] = dist(rng);
      data.emplace_back(p);
      samples.push_back(ClipSamples{p, kClipFrames, 2, kClipFrames});
    }
  }
};

// One engine with the control side a test drives it with: the two queue ends, output buffers,
// the frame counter, and the cycle times measured so far.
class Side {
 public:
  // `keep` (the rings of a streaming side) lives until the engine is gone.
  Side(const Config& config, const Clips& clips, std::shared_ptr<void> keep = {})
      : keep_(std::move(keep)), outputs_{left_.data(), right_.data()} {
    engine_ = std::make_unique<Engine>(config, to_engine_.consumer(), to_control_.producer());
    tx_ = to_engine_.producer();
    rx_ = to_control_.consumer();
    for (std::uint32_t c = 0; c < kClips; ++c)
      send(Message::add_clip(c, clips.samples[c], c + 1));
  }
  ~Side() {
    on_return = nullptr;  // what retire() hands back is freed, not recycled
    engine_->retire(frame_, EndReason::shutdown);
    drain();
  }
  Side(const Side&) = delete;
  Side& operator=(const Side&) = delete;

  Engine& engine() { return *engine_; }
  std::uint64_t frame() const { return frame_; }
  // The server's clock at a frame: the nominal rate, from 1 s.
  static std::uint64_t usecs_of(std::uint64_t frame) {
    return 1'000'000 + (frame - kStartFrame) * 1'000'000 / kRate;
  }
  std::vector<double>& times() { return times_; }

  void send(const Message& m) { tx_.push(MessageNode::make(m)); }
  void resend(MessageNode&& node) { tx_.push(std::move(node)); }
  void play(const Message& m) {
    send(Message::voice_end(m.play.voice));
    send(m);
    if (replay) plays_.push_back(m);
  }

  // Plays again every voice that finishes (with the play it was started with, in the order they
  // were sent: voice i is the i-th play), so the side keeps its voice count.
  bool replay = false;

  // What the attack sends before each cycle (outside the timed call), the MIDI input of every
  // cycle, and what control does with each node that comes back (default: free it).
  std::function<void(Side&)> feed;
  std::vector<MidiEventView> midi;
  std::function<void(Side&, MessageNode&&)> on_return;

  // One cycle; its wall time is kept when `timed`.
  void cycle(bool timed) {
    if (feed) feed(*this);
    const double t0 = now_us();
    engine_->process(frame_, kPeriod, outputs_, usecs_of(frame_),
                     midi.empty() ? nullptr : midi.data(), static_cast<std::uint32_t>(midi.size()),
                     usecs_of(frame_ + kPeriod));
    const double t1 = now_us();
    if (timed) times_.push_back(t1 - t0);
    frame_ += kPeriod;
    drain();
  }

 private:
  void drain() {
    while (MessageNode n = rx_.pop()) {
      if (n->kind == Kind::bindings_released) {
        delete n->bindings.table;
        continue;
      }
      if (replay && n->kind == Kind::voice_ended && n->ended.reason == EndReason::finished &&
          n->ended.voice < plays_.size()) {
        const Message m = plays_[n->ended.voice];
        send(Message::voice_end(m.play.voice));
        send(m);
      }
      if (on_return) on_return(*this, std::move(n));
    }
  }

  std::shared_ptr<void> keep_;
  MessageQueue to_engine_, to_control_;
  clipd::Producer<Message> tx_;
  clipd::Consumer<Message> rx_;
  std::unique_ptr<Engine> engine_;
  std::vector<float> left_ = std::vector<float>(kPeriod), right_ = std::vector<float>(kPeriod);
  float* outputs_[2];
  std::uint64_t frame_ = kStartFrame;
  std::vector<double> times_;
  std::vector<Message> plays_;
};

Config base_config(std::uint32_t max_voices) {
  Config c;
  c.sample_rate = kRate;
  c.outputs = 2;
  c.max_voices = max_voices;
  c.clip_capacity = kClips;
  c.max_messages_per_cycle = 4096;  // setup takes one cycle; attacks stay below it
  c.spare_nodes = 4096;
  return c;
}

// How the voices loop: a long region (the whole clip) or a short one of `frames` frames.
struct Voices {
  std::uint32_t count = kVoices;
  std::uint64_t loop_frames = 0;  // 0: the whole clip
  std::uint32_t groups = 0;       // voices spread over choke groups 1..groups; 0: none
};

void play_voices(Side& s, const Voices& v) {
  std::mt19937 rng(7);
  for (std::uint32_t i = 0; i < v.count; ++i) {
    const auto clip = static_cast<std::uint32_t>(rng() % kClips);
    const std::uint64_t offset = rng() % (kClipFrames - 8192);
    Message m = Message::play_default(i, clip);
    m.play.offset = offset;
    m.play.loops = kLoopForever;
    if (v.loop_frames != 0) {
      m.play.loop_start = offset;
      m.play.loop_end = offset + v.loop_frames;
    }
    if (v.groups != 0) m.play.group = 1 + i % v.groups;
    if (i % 2 == 1) m.play.pan = -0.3f;
    s.play(m);
  }
}

BindingTable* note_table() {
  auto* t = new BindingTable();
  for (std::uint32_t note = 0; note < kMidiNotes; ++note) {
    Binding& b = t->at(0, note);
    b.clip = note % kClips;
    b.used = true;
    b.gain = 0.5f;
  }
  return t;
}

struct Stats {
  double p50 = 0, p999 = 0, max = 0;
  std::size_t n = 0;
};

Stats stats(std::vector<double> t) {
  Stats s;
  s.n = t.size();
  if (t.empty()) return s;
  std::sort(t.begin(), t.end());
  const std::size_t k = (t.size() * 999 + 999) / 1000;  // ceil(0.999 n)
  s.p999 = t[std::min(t.size(), std::max<std::size_t>(k, 1)) - 1];
  s.p50 = t[(t.size() - 1) / 2];
  s.max = t.back();
  return s;
}

struct Row {
  std::string name;
  std::function<std::unique_ptr<Side>()> plain, attack;
};

struct Budget {
  std::size_t cycles;  // timed cycles per side wanted
  double seconds;      // wall time per row after which it stops with what it has
  std::size_t block;   // cycles per side between switches
};

void run_row(const Row& row, const Budget& b) {
  auto plain = row.plain();
  auto attack = row.attack();
  // Setup messages, then a few untimed cycles so both sides reach their steady state.
  for (int i = 0; i < 8; ++i) {
    plain->cycle(false);
    attack->cycle(false);
  }
  const auto t0 = Clock::now();
  while (plain->times().size() < b.cycles) {
    for (std::size_t i = 0; i < b.block; ++i)
      plain->cycle(true);
    for (std::size_t i = 0; i < b.block; ++i)
      attack->cycle(true);
    if (std::chrono::duration<double>(Clock::now() - t0).count() > b.seconds) break;
  }
  const Stats p = stats(plain->times()), a = stats(attack->times());
  const double r999 = a.p999 / p.p999, rmax = a.max / p.max;
  const bool ok = r999 <= 2.0 && rmax <= 3.0;
  // Voices live at the end on each side: the attack must not have silenced the plain voices.
  std::printf("%-26s %5u/%-5u %6zu | %7.0f %7.0f %7.0f | %7.0f %7.0f %7.0f | %6.2f %6.2f | %s\n",
              row.name.c_str(), plain->engine().live_voices(), attack->engine().live_voices(), p.n,
              p.p50, p.p999, p.max, a.p50, a.p999, a.max, r999, rmax, ok ? "ok" : "over");
  std::fflush(stdout);
}

// A side with the voices `v` (by default every voice looping a long region) and nothing else;
// with `replay`, voices that finish are played again.
std::unique_ptr<Side> plain_side(const Clips& clips, std::uint32_t max_voices, Voices v = {},
                                 bool replay = false) {
  auto s = std::make_unique<Side>(base_config(max_voices), clips);
  s->replay = replay;
  play_voices(*s, v);
  return s;
}

// Timed heap full: the default capacity of timed commands (Config::max_pending, 1,024) filled
// with sets an hour ahead on voice 0, less room for a trickle of 16 sets per cycle that come due
// in the next cycle. At its peak the storage holds max_pending commands: what control allows in
// flight. `by_time`: every set names its frame's time on the server's clock instead (it waits
// unbound in the server-time heap, then binds and waits in the frame heap).
std::unique_ptr<Side> heap_full_side(const Clips& clips, bool by_time) {
  auto s = plain_side(clips, kVoices);
  constexpr std::uint32_t kTrickle = 16;
  const std::uint32_t far = Config{}.max_pending - 2 * kTrickle;
  const std::uint64_t hour = std::uint64_t{3600} * kRate;
  auto timed = [by_time](Message m) {
    if (by_time) m.set.at_nsecs = Side::usecs_of(m.set.at_frame) * 1000;
    return m;
  };
  for (std::uint32_t i = 0; i < far; ++i) {
    s->send(timed(
        Message::set_gain(0, 0.5f + 0.0001f * static_cast<float>(i), 64, kStartFrame + hour + i)));
  }
  s->feed = [timed](Side& side) {
    for (std::uint32_t i = 0; i < kTrickle; ++i) {
      side.send(timed(Message::set_pan(0, i % 2 ? 0.1f : -0.1f, 64, side.frame() + kPeriod)));
    }
  };
  return s;
}

// Streaming: 64 streamed voices among the voices, reading rings of 2 s past a head of four
// periods of a clip 100 times as long as the others (clip slot kClips).
constexpr std::uint32_t kStreamed = 64;
constexpr std::uint64_t kHead = 4 * kPeriod;
constexpr std::uint64_t kRingFrames = 2 * kRate;

struct Rings {
  std::vector<float> memory;
  std::vector<StreamRing> rings;
  explicit Rings(std::uint32_t n) : memory(std::size_t{n} * kRingFrames * 2), rings(n) {
    for (std::uint32_t i = 0; i < n; ++i)
      rings[i].attach(memory.data() + std::size_t{i} * kRingFrames * 2, kRingFrames * 2);
  }
};

// Tops every ring up from the clip's samples, as a disk thread would (outside the timed call).
void fill_rings(Rings& r, const ClipSamples& clip) {
  std::vector<float> block(2 * 8192);
  for (StreamRing& ring : r.rings) {
    std::uint32_t gen = 0;
    StreamRequest q;
    if (!ring.current(gen, q)) continue;
    const std::uint64_t consumed = ring.consumed(gen);
    // The producer's count is kept in the ring's own word: start from what the reader took.
    bool failed = false;
    const std::uint64_t have = ring.available(gen, consumed, failed);
    std::uint64_t at = consumed + have;
    const std::uint64_t end = consumed + ring.capacity(2);
    while (at < end) {
      const std::uint64_t n = std::min<std::uint64_t>(8192, end - at);
      const float* planes[2] = {block.data(), block.data() + 8192};
      for (std::uint32_t c = 0; c < 2; ++c) {
        for (std::uint64_t k = 0; k < n; ++k)
          block[c * 8192 + k] = clip.channel(c)[(q.start + at + k) % kClipFrames];
      }
      ring.write_frames(at, n, 2, planes);
      at += n;
    }
    ring.publish(gen, at, false);
  }
}

// A side whose last kStreamed voices stream, rings `fed` or not.
std::unique_ptr<Side> streaming_side(const Clips& clips, bool fed) {
  auto rings = std::make_shared<Rings>(kStreamed + kStreamed / 4 + 2);
  Config c = base_config(kVoices);
  c.clip_capacity = kClips + 1;
  c.streams = rings->rings.data();
  c.stream_rings = static_cast<std::uint32_t>(rings->rings.size());
  c.max_streamed_voices = kStreamed;
  c.stream_channels = 2;
  auto s = std::make_unique<Side>(c, clips, rings);
  ClipSamples streamed = clips.samples[0];
  streamed.frames = 100 * kClipFrames;
  streamed.head = kHead;
  streamed.stream = 1;
  s->send(Message::add_clip(kClips, streamed, kClips + 1));
  play_voices(*s, Voices{kVoices - kStreamed, 0, 0});
  for (std::uint32_t i = 0; i < kStreamed; ++i) {
    Message m = Message::play_default(kVoices - kStreamed + i, kClips);
    m.play.offset = i * 97;
    s->play(m);
  }
  if (fed) {
    const ClipSamples clip = clips.samples[0];
    s->feed = [rings, clip](Side&) { fill_rings(*rings, clip); };
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  // bench_worst [--quick] [--wall] [TEXT]: TEXT runs only the rows whose name holds it.
  bool quick = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') only = argv[i];
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--wall") == 0) g_wall = true;
  }
  const Budget budget = quick ? Budget{300, 1.5, 10} : Budget{2000, 5.0, 20};
  const Clips clips;
  std::vector<Row> rows;

  // Timed heap full (heap_full_side()).
  rows.push_back({"timed heap full", [&] { return plain_side(clips, kVoices); },
                  [&] { return heap_full_side(clips, false); }});

  // Short loops: 64 frames (the shortest region a play may ask for) and 1 frame.
  for (std::uint64_t loop : {std::uint64_t{64}, std::uint64_t{1}}) {
    rows.push_back({"loops of " + std::to_string(loop) + " frame" + (loop == 1 ? "" : "s"),
                    [&] { return plain_side(clips, kVoices); },
                    [&clips, loop] {
                      return plain_side(clips, kVoices, Voices{kVoices, loop, 0}, true);
                    }});
  }

  // CC storm: 1,000 control changes per period, spread over its frames; notes are bound (none
  // arrives) so the engine's MIDI path is live on both sides.
  static std::uint8_t cc[1000][3];
  for (std::uint32_t i = 0; i < 1000; ++i) {
    cc[i][0] = static_cast<std::uint8_t>(0xb0 | (i % 16));
    cc[i][1] = static_cast<std::uint8_t>(i % 120);
    cc[i][2] = static_cast<std::uint8_t>(i % 128);
  }
  auto midi_side = [&clips] {
    auto s = plain_side(clips, kVoices);
    s->send(Message::set_bindings(note_table()));
    return s;
  };
  rows.push_back({"CC storm 1000/period", midi_side, [&] {
                    auto s = midi_side();
                    for (std::uint32_t i = 0; i < 1000; ++i)
                      s->midi.push_back(MidiEventView{i * kPeriod / 1000, 3, cc[i]});
                    return s;
                  }});

  // Note-ons: 1,000 bound note-ons per period, each starting a voice (stealing the oldest at the
  // voice limit). Spare nodes are sent up front and recycled as they come back, as control does.
  static std::uint8_t on[1000][3];
  for (std::uint32_t i = 0; i < 1000; ++i) {
    on[i][0] = 0x90;
    on[i][1] = static_cast<std::uint8_t>(i % kMidiNotes);
    on[i][2] = 100;
  }
  rows.push_back({"note-ons 1000/period", midi_side, [&] {
                    auto s = midi_side();
                    for (std::uint32_t i = 0; i < base_config(kVoices).spare_nodes; ++i)
                      s->send(Message::spare());
                    for (std::uint32_t i = 0; i < 1000; ++i)
                      s->midi.push_back(MidiEventView{i * kPeriod / 1000, 3, on[i]});
                    s->on_return = [](Side& side, MessageNode&& n) {
                      const bool midi = (n->kind == Kind::voice_started && n->started.midi) ||
                                        (n->kind == Kind::voice_ended && n->ended.midi);
                      if (!midi) return;
                      *n = Message::spare();
                      side.resend(std::move(n));
                    };
                    return s;
                  }});

  // Stop-by-group storm: each voice has a choke group of its own (a group keeps one voice
  // playing: a new one chokes the others); 256 stops per cycle name groups without voices, so the
  // voices play on and each stop's cost is that of finding its voices.
  const Voices grouped{kVoices, 0, kVoices};
  rows.push_back({"stop-by-group 256/cycle", [&] { return plain_side(clips, kVoices, grouped); },
                  [&] {
                    auto s = plain_side(clips, kVoices, grouped);
                    s->feed = [](Side& side) {
                      for (std::uint32_t i = 0; i < 256; ++i)
                        side.send(Message::stop_cmd(StopTarget::group, 2 * kVoices + i, 240));
                    };
                    return s;
                  }});

  // Choke storm: 64 plays per cycle in 8 choke groups (each chokes the voices of its group that
  // came before it), next to the long-looping voices, which are in no group. The limit leaves
  // room for the grouped voices so nothing is stolen.
  rows.push_back({"choke storm 64 plays/cycle", [&] { return plain_side(clips, kVoices + 200); },
                  [&] {
                    auto s = plain_side(clips, kVoices + 200);
                    s->feed = [next = std::uint64_t{kVoices}](Side& side) mutable {
                      for (std::uint32_t i = 0; i < 64; ++i) {
                        Message m = Message::play_default(next, i % kClips);
                        m.play.group = 1 + i % 8;
                        m.play.loops = kLoopForever;
                        side.play(m);
                        ++next;
                      }
                    };
                    return s;
                  }});

  // Voices query: one per cycle, every voice slot answered (control's buffer holds the pool).
  rows.push_back({"voices query every cycle", [&] { return plain_side(clips, kVoices); },
                  [&] {
                    auto s = plain_side(clips, kVoices);
                    auto buffer = std::make_shared<std::vector<VoiceInfo>>(2 * kVoices);
                    s->feed = [buffer](Side& side) {
                      side.send(Message::query_voices(buffer->data(),
                                                      static_cast<std::uint32_t>(buffer->size())));
                    };
                    return s;
                  }});

  // Streamed voices reading their rings, and starving ones (each underruns every cycle: its
  // frames are zeros, counted), against the same number of voices all in memory.
  rows.push_back({"64 streamed voices, fed", [&] { return plain_side(clips, kVoices); },
                  [&] { return streaming_side(clips, true); }});
  rows.push_back({"64 streamed voices, starved", [&] { return plain_side(clips, kVoices); },
                  [&] { return streaming_side(clips, false); }});
  // Streamed plays at the limit: each steals the oldest streamed voice (a walk of the voices in
  // play order) and takes its ring or a free one.
  rows.push_back({"streamed plays 64/cycle", [&] { return plain_side(clips, kVoices + 200); },
                  [&] {
                    auto s = streaming_side(clips, true);
                    s->feed = [next = std::uint64_t{kVoices}](Side& side) mutable {
                      for (std::uint32_t i = 0; i < 64; ++i) {
                        Message m = Message::play_default(next++, kClips);
                        m.play.offset = (next * 131) % kHead;
                        side.play(m);
                      }
                    };
                    return s;
                  }});

  // Server times: the timed heap-full attack with every set naming a server time, and plays with
  // a set of the same time each cycle, at the voice limit (each play steals the oldest voice).
  rows.push_back({"server-time heap full", [&] { return plain_side(clips, kVoices); },
                  [&] { return heap_full_side(clips, true); }});
  rows.push_back({"server-time plays 64/cycle", [&] { return plain_side(clips, kVoices); },
                  [&] {
                    auto s = plain_side(clips, kVoices);
                    s->feed = [next = std::uint64_t{kVoices}](Side& side) mutable {
                      for (std::uint32_t i = 0; i < 64; ++i) {
                        const std::uint64_t at = side.frame() + kPeriod + 31 * i;
                        Message m = Message::play_default(next, i % kClips);
                        m.play.loops = kLoopForever;
                        m.play.at_frame = at;
                        m.play.at_nsecs = Side::usecs_of(at) * 1000;
                        side.play(m);
                        Message set = Message::set_gain(next, 0.5f, 64, at);
                        set.set.at_nsecs = m.play.at_nsecs;
                        side.send(set);
                        ++next;
                      }
                    };
                    return s;
                  }});

  std::printf(
      "clipd engine worst cases: stereo clips, 2 outputs, %u Hz, %u-frame periods; %s of "
      "single process() calls in microseconds, plain | under attack, interleaved%s\n",
      kRate, kPeriod, g_wall ? "wall time" : "thread CPU time", quick ? " (quick)" : "");
  std::printf("%-45s | %-23s | %-23s | %-13s |\n", "", "plain", "under attack", "attack/plain");
  std::printf("%-26s %11s %6s | %7s %7s %7s | %7s %7s %7s | %6s %6s | %s\n", "attack",
              "live voices", "cycles", "p50", "p99.9", "max", "p50", "p99.9", "max", "x99.9",
              "x max", "goal");
  for (const Row& row : rows) {
    if (row.name.find(only) != std::string::npos) run_row(row, budget);
  }
  std::printf(
      "goal: attack/plain at most 2x at p99.9 and 3x at the maximum; live voices: plain/attack "
      "at the end; cycles: timed cycles per side (fewer when a row ran out of its %.0f s)\n",
      budget.seconds);
  return 0;
}
