// A Backend without an audio server: open() succeeds while the test says a server is there, and
// the test runs each cycle itself, on its own thread, with the frames and the MIDI it picks
// (cycle()). The controller cannot tell it from a server, so everything it sends the engine acts
// exactly when the test says; the server's going away and its xruns are the test's too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace clipd::control::test {

class FakeBackend final : public backend::Backend {
 public:
  // The frame of the first cycle: far from 0, so no frame in a test is 0 by accident.
  static constexpr std::uint64_t kFirstFrame = 1'000'000;

  FakeBackend(std::uint32_t outputs, std::uint32_t sample_rate, std::uint32_t buffer_size)
      : outputs_(outputs), sample_rate_(sample_rate), buffer_size_(buffer_size) {}

  // One MIDI message of a cycle, at frame `offset` inside it.
  struct Midi {
    std::uint32_t offset;
    std::vector<std::uint8_t> bytes;
  };
  static Midi note_on(std::uint32_t offset, std::uint8_t note, std::uint8_t velocity = 100) {
    return Midi{offset, {0x90, note, velocity}};  // channel 1
  }

  // Runs one cycle of buffer_size() frames through the process target, as the audio thread
  // would; its output is in output(c) until the next cycle.
  void cycle(const std::vector<Midi>& midi = {}) {
    std::vector<engine::MidiEventView> views;
    for (const Midi& m : midi) {
      views.push_back(engine::MidiEventView{m.offset, static_cast<std::uint32_t>(m.bytes.size()),
                                            m.bytes.data()});
    }
    outputs_buffers_.assign(outputs_, std::vector<float>(buffer_size_, 0.0f));
    std::vector<float*> pointers;
    for (auto& b : outputs_buffers_)
      pointers.push_back(b.data());
    if (target_.fn != nullptr) {
      target_.fn(target_.ctx, frame_, buffer_size_, pointers.data(), views, frame_ * 20,
                 (frame_ + buffer_size_) * 20);
    }
    frame_ += buffer_size_;
    ++cycles_;
  }
  const std::vector<float>& output(std::uint32_t c) const { return outputs_buffers_.at(c); }
  // Whether a server answers open() (true at first).
  void set_server(bool up) noexcept { server_up_ = up; }
  // The server goes away: poll() reports it until retire(), and open() fails until set_server().
  void lose_server() noexcept {
    server_up_ = false;
    gone_ = open_;
  }
  // The server counts `n` xruns: the next poll() reports them.
  void add_xruns(std::uint64_t n) noexcept {
    xruns_ += n;
    new_xruns_ += n;
  }
  // How many times open() or try_open() was called, and retire() on an open connection.
  std::uint32_t open_calls() const noexcept { return open_calls_; }
  std::uint32_t retire_calls() const noexcept { return retire_calls_; }
  // The first frame of the next cycle.
  std::uint64_t next_frame() const noexcept { return frame_; }

  backend::Kind kind() const noexcept override { return backend::Kind::jack; }
  backend::OpenResult open(backend::ProcessTarget target) override {
    ++open_calls_;
    if (open_) return backend::OpenResult::already_open;
    if (!server_up_) return backend::OpenResult::no_server;
    target_ = target;
    open_ = true;
    return backend::OpenResult::opened;
  }
  backend::OpenResult try_open(backend::ProcessTarget target) override { return open(target); }
  std::chrono::milliseconds retry_delay() const noexcept override { return backend::kRetryMin; }
  backend::Events poll() override {
    backend::Events ev;
    ev.sample_rate = sample_rate_;
    ev.buffer_size = buffer_size_;
    ev.server_gone = gone_;
    ev.new_xruns = new_xruns_;
    new_xruns_ = 0;
    return ev;
  }
  backend::RetireResult retire(std::chrono::milliseconds /*bound*/) override {
    if (!open_) return backend::RetireResult::not_open;
    ++retire_calls_;
    open_ = false;
    gone_ = false;
    target_ = {};  // no cycle reaches the engine after this
    return backend::RetireResult::retired;
  }
  bool is_open() const noexcept override { return open_; }
  const std::string& client_name() const noexcept override { return name_; }
  std::uint32_t sample_rate() const noexcept override { return sample_rate_; }
  std::uint32_t buffer_size() const noexcept override { return buffer_size_; }
  std::uint64_t xruns() const noexcept override { return xruns_; }
  std::uint64_t midi_overflow() const noexcept override { return 0; }
  std::uint64_t null_buffers() const noexcept override { return 0; }
  const std::vector<backend::PortConnection>& connections() const noexcept override {
    return connections_;
  }
  void set_connections(std::vector<backend::PortConnection> connections) override {
    connections_ = std::move(connections);
  }
  const std::string& last_error() const noexcept override { return error_; }
  std::optional<std::uint32_t> playback_latency() const override { return std::nullopt; }
  std::optional<double> dsp_load() const override { return std::nullopt; }
  std::uint64_t frame_now() const noexcept override { return frame_; }
  std::uint64_t cycles() const noexcept override { return cycles_; }
  // The fake's clock: 20 us a frame, as cycle() reports it, at the frame after the last cycle.
  std::uint64_t server_nsecs() const noexcept override { return frame_ * 20000; }
  std::string port_name(std::uint32_t output_index) const override {
    return name_ + ":out_" + std::to_string(output_index + 1);
  }
  std::string midi_port_name() const override { return name_ + ":midi_in"; }

 private:
  const std::uint32_t outputs_;
  const std::uint32_t sample_rate_;
  const std::uint32_t buffer_size_;
  backend::ProcessTarget target_;
  bool open_ = false;
  bool server_up_ = true;
  bool gone_ = false;
  std::uint64_t xruns_ = 0;
  std::uint64_t new_xruns_ = 0;
  std::uint32_t open_calls_ = 0;
  std::uint32_t retire_calls_ = 0;
  std::uint64_t frame_ = kFirstFrame;
  std::uint64_t cycles_ = 0;
  std::vector<std::vector<float>> outputs_buffers_;
  std::vector<backend::PortConnection> connections_;
  std::string name_ = "clipd";
  std::string error_;
};

}  // namespace clipd::control::test
