// clipd: the daemon. Wires the configuration, the control socket, the controller (clips, voices,
// engine, audio server backend) and systemd together on one io_context: the control thread.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <utility>

#include <jack/jack.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "backend/jack/jack_backend.hpp"
#include "backend/pipewire/pipewire_backend.hpp"
#include "backend/select.hpp"
#include "clipd/realtime.hpp"
#include "control/controller.hpp"
#include "control/json_front_end.hpp"
#include "control/osc/front_end.hpp"
#include "control/server/server.hpp"
#include "daemon/config.hpp"
#include "daemon/log.hpp"
#include "daemon/notify.hpp"
#include "daemon/state_file.hpp"

#ifndef CLIPD_VERSION
#define CLIPD_VERSION "unknown"
#endif

namespace {

using namespace clipd;

#ifdef CLIPD_RTSAN_BUILD
// clipd-rtsan only (src/daemon/meson.build defines CLIPD_RTSAN_BUILD for it alone): the command
// `debug-rt-alloc` makes the audio thread allocate once, at the end of the next process() call,
// so tests/daemon/test_daemon_rtsan.cpp can see the RealtimeSanitizer abort the real daemon from
// its real process callback. The installed clipd has neither the command nor the hook.
std::atomic<bool> rt_alloc_requested{false};

// Audio thread, at the end of every process() (engine::Config::cycle_hook). Cost: one atomic
// exchange; once after a request, one allocation and one free, which is the violation on purpose.
void rt_alloc_hook(void* /*arg*/) noexcept {
  if (!rt_alloc_requested.exchange(false, std::memory_order_acq_rel)) return;
  void* volatile block = ::operator new(64);
  ::operator delete(block);
}
#endif

// The native PipeWire backend (src/backend/pipewire/): made the first time a daemon asks for it
// (--backend pipewire, or auto when no JACK server answers), then kept (backend/select.hpp).
std::unique_ptr<backend::Backend> make_pipewire_backend(const backend::Options& options) {
  return backend::make_pipewire_backend(options);
}

std::unique_ptr<backend::Backend> make_jack_backend(const backend::Options& options) {
  return std::make_unique<backend::jack::JackBackend>(options);
}

int run(const Config& config) {
  boost::asio::io_context io(1);
  Notifier notifier;

  SavedState state;
  if (config.save_state) {
    std::string error;
    if (!load_state(config.state_file, state, error)) log_warning(error);
  }

  [[maybe_unused]] control::Controller* controller_ptr = nullptr;  // the test build's hooks
  control::ControllerOptions options;
  control::JsonFrontEndOptions json_options;
  json_options.limits.max_outputs = config.outputs;
  options.version = CLIPD_VERSION;
  options.outputs = config.outputs;
  backend::Options backend_options;
  backend_options.client_name = config.client_name;
  backend_options.server_name = config.jack_server;
  backend_options.outputs = config.outputs;
  backend_options.midi_input = config.midi;
  backend_options.auto_connect = config.auto_connect;
  options.max_voices = config.max_voices;
  options.max_timed_commands = config.max_timed_commands;
  options.max_midi_events = config.max_midi_events;
  options.max_channels = config.max_channels;
  options.memory_budget = config.memory_budget;
  options.stream_threshold = config.stream_threshold;
  options.stream_head_s = config.stream_head_s;
  options.max_streamed_voices = config.max_streamed_voices;
  options.stream_buffer_s = config.stream_buffer_s;
  options.stream_threads = config.stream_threads;
  options.declick_s = config.declick_s;
  if (config.save_state) {
    options.on_state_changed = [&config, &state](const auto& clips, const auto& bindings) {
      state.clips.clear();
      for (const auto& [name, path] : clips)
        state.clips.push_back({name, path});
      state.bindings = nlohmann::json::parse(bindings.dump());
      std::string error;
      if (!save_state(config.state_file, state, error)) log_warning("state file: " + error);
    };
  }
  options.on_status = [&notifier](const std::string& status) {
    log_info(status);
    notifier.status(status);
  };

  options.on_warning = [](const std::string& warning) { log_warning(warning); };
  options.on_debug = [](const std::string& message) { log_debug(message); };
#ifdef CLIPD_RTSAN_BUILD
  json_options.debug_commands["debug-rt-alloc"] = [] {
    rt_alloc_requested.store(true, std::memory_order_release);
  };
  // A slow disk: every block the disk threads read takes 200 ms (about 85 ms of audio), so
  // streamed voices underrun; `debug-fast-disk` ends it.
  json_options.debug_commands["debug-slow-disk"] = [&controller_ptr] {
    if (controller_ptr != nullptr)
      controller_ptr->set_stream_test_delay(std::chrono::milliseconds(200));
  };
  json_options.debug_commands["debug-fast-disk"] = [&controller_ptr] {
    if (controller_ptr != nullptr) controller_ptr->set_stream_test_delay({});
  };
  options.cycle_hook = rt_alloc_hook;
#endif
  // The server library's own chatter (libjack: a failed connection attempt on every retry while
  // no server runs).
  options.on_library_message = [](bool error, const std::string& text) {
    if (error) {
      log_info("server library: " + text);
    } else {
      log_debug("server library: " + text);
    }
  };

  const std::optional<backend::Choice> choice = backend::parse_choice(config.backend);
  if (!choice) {
    log_error("backend: '" + config.backend + "' is not auto, jack or pipewire");
    return 2;
  }
  auto audio = std::make_unique<backend::AutoBackend>(
      *choice, backend_options, &make_jack_backend, &make_pipewire_backend,
      [](const std::string& line) { log_debug(line); });
  // A forced kind this build lacks: its factory has logged why.
  if (!audio->prepare()) return 1;

  bool shutting_down = false;
  std::function<void()> begin_shutdown;
  options.on_shutdown_request = [&] { boost::asio::post(io, [&] { begin_shutdown(); }); };

  // The OSC front end, when configured; declared before the controller, which holds it as an
  // event sink until it is gone. Its counters join `status` (zero while OSC is off).
  std::optional<control::osc::OscFrontEnd> osc;
  options.extend_status = [&osc](protocol::Json& status) {
    const control::osc::OscCounters counters = osc ? osc->counters() : control::osc::OscCounters{};
    status["osc_dropped"] = counters.dropped;
    status["osc_malformed"] = counters.malformed;
    status["osc_unsent"] = counters.unsent;
  };

  control::Controller controller(io, std::move(options), std::move(audio));
  controller_ptr = &controller;

  control::ServerConfig server_config;
  server_config.socket_path = config.socket_path;
  server_config.line_limit = config.line_limit;
  server_config.event_backlog_cap = config.event_backlog;
  server_config.log = [](std::string_view line) { log_info(line); };
  control::JsonFrontEnd json_front_end(controller, std::move(json_options));
  controller.add_event_sink(json_front_end);
  control::Server server(io, server_config, json_front_end);
  json_front_end.attach(server);
  // OSC opens its sockets before the control socket listens: a client that finds the control
  // socket answering finds OSC ready too.
  if (config.osc_enabled()) {
    control::osc::OscConfig osc_config;
    if (config.osc_port != 0) osc_config.udp_port = static_cast<std::uint16_t>(config.osc_port);
    osc_config.bind_address = config.osc_bind;
    osc_config.allow.clear();
    for (const auto& network : config.osc_allow)
      osc_config.allow.push_back(*control::osc::parse_network(network));  // checked by config
    osc_config.socket_path = config.osc_socket;
    osc_config.subscription_lapse =
        std::chrono::milliseconds(static_cast<std::int64_t>(config.osc_subscription_s * 1000));
    osc_config.max_senders = config.osc_senders;
    osc_config.max_outputs = config.outputs;
    osc_config.log = [](std::string_view line) { log_info(line); };
    osc.emplace(
        io, std::move(osc_config),
        [&controller](const control::RequesterPtr& from, protocol::ParsedRequest request) {
          controller.submit(from, std::move(request));
        },
        [&controller] { return controller.clock_reading(); });
    controller.add_event_sink(*osc);
    try {
      osc->start();
    } catch (const control::osc::OscError& e) {
      log_error(e.what());
      return 1;
    }
    log_notice("OSC on " + osc->describe());
  }

  try {
    server.start();
  } catch (const control::ServerError& e) {
    log_error(e.what());
    return 1;
  }
  log_notice("listening on " + server.socket_path().string());

  std::vector<std::pair<std::string, std::string>> initial;
  for (const auto& c : state.clips)
    initial.emplace_back(c.name, c.path);
  std::vector<std::string> bindings;
  for (const auto& b : state.bindings) {
    if (!b.is_object()) continue;
    // The saved form is `bindings`' result: absent fields are null there, left out in a request.
    nlohmann::json request = nlohmann::json::object();
    for (const auto& [key, value] : b.items()) {
      if (!value.is_null()) request[key] = value;
    }
    request["cmd"] = "bind";
    bindings.push_back(request.dump());
  }
  controller.start(std::move(initial), bindings);
  notifier.ready("listening on " + server.socket_path().string());

  begin_shutdown = [&] {
    if (shutting_down) return;
    shutting_down = true;
    log_notice("stopping");
    notifier.stopping();
    controller.stop([&] {
      if (osc) osc->stop();
      server.stop();
      io.stop();
    });
  };

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) begin_shutdown();
  });

  boost::asio::steady_timer watchdog(io);
  std::function<void()> pet;
  pet = [&] {
    notifier.watchdog();
    watchdog.expires_after(notifier.watchdog_period());
    watchdog.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) pet();
    });
  };
  if (notifier.watchdog_period().count() > 0) pet();

  io.run();
  return 0;
}

}  // namespace

// libjack reports every failed connection attempt on stderr; while clipd waits for a server that
// would be one line every retry. Its messages go to the log at debug level instead.
static void jack_error_to_log(const char* message) {
  clipd::log_debug(std::string("jack: ") + message);
}

int main(int argc, char** argv) {
  clipd::rtsan_init();
  jack_set_error_function(&jack_error_to_log);
  jack_set_info_function(&jack_error_to_log);
  std::signal(SIGPIPE, SIG_IGN);
  clipd::CommandLine cl;
  try {
    cl = clipd::parse_command_line(argc, argv);
    if (cl.show_help) {
      std::fputs(clipd::usage_text(), stdout);
      return 0;
    }
    if (cl.show_version) {
      std::puts("clipd " CLIPD_VERSION);
      return 0;
    }
    clipd::resolve_defaults(cl.config);
  } catch (const clipd::ConfigError& e) {
    std::fprintf(stderr, "clipd: %s\n", e.what());
    return 2;
  }
  clipd::LogLevel level = clipd::LogLevel::info;
  clipd::parse_log_level(cl.config.log_level, level);
  clipd::set_log_level(level);
  try {
    return run(cl.config);
  } catch (const std::exception& e) {
    clipd::log_error(std::string("fatal: ") + e.what());
    return 1;
  }
}
