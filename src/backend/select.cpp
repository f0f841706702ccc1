#include "backend/select.hpp"

#include <algorithm>
#include <utility>

namespace clipd::backend {

namespace {

std::string_view result_name(OpenResult result) noexcept {
  switch (result) {
    case OpenResult::opened:
      return "opened";
    case OpenResult::already_open:
      return "already open";
    case OpenResult::no_server:
      return "no server";
    case OpenResult::failed:
      return "failed";
  }
  return "failed";
}

}  // namespace

std::optional<Choice> parse_choice(std::string_view word) noexcept {
  if (word == "auto") return Choice::auto_select;
  if (word == "jack") return Choice::jack;
  if (word == "pipewire") return Choice::pipewire;
  return std::nullopt;
}

std::string_view choice_name(Choice choice) noexcept {
  switch (choice) {
    case Choice::auto_select:
      return "auto";
    case Choice::jack:
      return "jack";
    case Choice::pipewire:
      return "pipewire";
  }
  return "auto";
}

AutoBackend::AutoBackend(Choice choice, Options options, Factory make_jack, Factory make_pipewire,
                         std::function<void(const std::string&)> on_debug)
    : choice_(choice), options_(std::move(options)), on_debug_(std::move(on_debug)) {
  slot(Kind::jack).factory = std::move(make_jack);
  slot(Kind::pipewire).factory = std::move(make_pipewire);
}

AutoBackend::~AutoBackend() {
  retire();
}

bool AutoBackend::allows(Kind kind) const noexcept {
  switch (choice_) {
    case Choice::auto_select:
      return true;
    case Choice::jack:
      return kind == Kind::jack;
    case Choice::pipewire:
      return kind == Kind::pipewire;
  }
  return false;
}

bool AutoBackend::prepare() {
  if (choice_ == Choice::jack) return make(Kind::jack) != nullptr;
  if (choice_ == Choice::pipewire) return make(Kind::pipewire) != nullptr;
  return true;
}

Backend* AutoBackend::make(Kind kind) {
  Slot& s = slot(kind);
  if (s.backend) return s.backend.get();
  if (s.unavailable) return nullptr;
  if (s.factory) s.backend = s.factory(options_);
  if (!s.backend) {
    s.unavailable = true;
    return nullptr;
  }
  s.backend->set_connections(initial_connections_);
  return s.backend.get();
}

Kind AutoBackend::kind() const noexcept {
  if (Backend* b = current()) return b->kind();
  return choice_ == Choice::pipewire ? Kind::pipewire : Kind::jack;
}

OpenResult AutoBackend::attempt(ProcessTarget target, bool retrying) {
  if (is_open()) return OpenResult::already_open;
  OpenResult result = OpenResult::no_server;
  for (const Kind kind : {Kind::jack, Kind::pipewire}) {
    if (!allows(kind)) continue;
    const std::string name(kind_name(kind));
    Backend* b = make(kind);
    if (b == nullptr) {
      result = OpenResult::no_server;
      last_error_ = name + ": not available in this build";
    } else {
      result = retrying ? b->try_open(target) : b->open(target);
      last_error_ = result == OpenResult::opened ? std::string() : name + ": " + b->last_error();
      if (result == OpenResult::opened) current_.store(b, std::memory_order_release);
    }
    if (on_debug_) {
      on_debug_("backend " + name + ": " + std::string(result_name(result)) +
                (last_error_.empty() ? std::string() : " (" + last_error_ + ")"));
    }
    // Any answer but "no server" settles the choice: that server is there.
    if (result != OpenResult::no_server) break;
  }
  return result;
}

OpenResult AutoBackend::open(ProcessTarget target) {
  return attempt(target, false);
}

OpenResult AutoBackend::try_open(ProcessTarget target) {
  if (is_open()) return OpenResult::already_open;
  const OpenResult result = attempt(target, true);
  retry_delay_ = result == OpenResult::opened ? kRetryMin : std::min(retry_delay_ * 2, kRetryMax);
  return result;
}

Events AutoBackend::poll() {
  Backend* cur = current();
  Events ev;
  if (cur != nullptr) ev = cur->poll();
  // The others are closed: their poll() only drains their library's messages.
  for (Slot& s : slots_) {
    if (!s.backend || s.backend.get() == cur) continue;
    Events other = s.backend->poll();
    ev.library_messages.insert(ev.library_messages.end(),
                               std::make_move_iterator(other.library_messages.begin()),
                               std::make_move_iterator(other.library_messages.end()));
    ev.library_dropped += other.library_dropped;
    ev.notes.insert(ev.notes.end(), std::make_move_iterator(other.notes.begin()),
                    std::make_move_iterator(other.notes.end()));
  }
  return ev;
}

RetireResult AutoBackend::retire(std::chrono::milliseconds bound) {
  Backend* cur = current();
  return cur != nullptr ? cur->retire(bound) : RetireResult::not_open;
}

bool AutoBackend::is_open() const noexcept {
  const Backend* cur = current();
  return cur != nullptr && cur->is_open();
}

const std::string& AutoBackend::client_name() const noexcept {
  const Backend* cur = current();
  return cur != nullptr ? cur->client_name() : options_.client_name;
}

std::uint32_t AutoBackend::sample_rate() const noexcept {
  const Backend* cur = current();
  return cur != nullptr ? cur->sample_rate() : 0;
}

std::uint32_t AutoBackend::buffer_size() const noexcept {
  const Backend* cur = current();
  return cur != nullptr ? cur->buffer_size() : 0;
}

std::uint64_t AutoBackend::xruns() const noexcept {
  std::uint64_t total = 0;
  for (const Slot& s : slots_) {
    if (s.backend) total += s.backend->xruns();
  }
  return total;
}

std::uint64_t AutoBackend::midi_overflow() const noexcept {
  std::uint64_t total = 0;
  for (const Slot& s : slots_) {
    if (s.backend) total += s.backend->midi_overflow();
  }
  return total;
}

std::uint64_t AutoBackend::null_buffers() const noexcept {
  std::uint64_t total = 0;
  for (const Slot& s : slots_) {
    if (s.backend) total += s.backend->null_buffers();
  }
  return total;
}

const std::vector<PortConnection>& AutoBackend::connections() const noexcept {
  const Backend* cur = current();
  return cur != nullptr ? cur->connections() : initial_connections_;
}

void AutoBackend::set_connections(std::vector<PortConnection> connections) {
  if (Backend* cur = current()) {
    cur->set_connections(std::move(connections));
    return;
  }
  for (Slot& s : slots_) {
    if (s.backend) s.backend->set_connections(connections);
  }
  initial_connections_ = std::move(connections);
}

std::optional<std::uint32_t> AutoBackend::playback_latency() const {
  return is_open() ? current()->playback_latency() : std::nullopt;
}

std::optional<double> AutoBackend::dsp_load() const {
  return is_open() ? current()->dsp_load() : std::nullopt;
}

std::uint64_t AutoBackend::frame_now() const noexcept {
  const Backend* cur = current();
  return cur != nullptr ? cur->frame_now() : 0;
}

std::uint64_t AutoBackend::cycles() const noexcept {
  const Backend* cur = current();
  return cur != nullptr ? cur->cycles() : 0;
}

std::uint64_t AutoBackend::server_nsecs() const noexcept {
  const Backend* cur = current();
  return cur != nullptr ? cur->server_nsecs() : 0;
}

std::string AutoBackend::port_name(std::uint32_t output_index) const {
  const Backend* cur = current();
  return cur != nullptr ? cur->port_name(output_index)
                        : options_.client_name + ":out_" + std::to_string(output_index + 1);
}

std::string AutoBackend::midi_port_name() const {
  const Backend* cur = current();
  return cur != nullptr ? cur->midi_port_name() : options_.client_name + ":midi_in";
}

}  // namespace clipd::backend
