// bench_control: the control server's round trip and pipelined throughput against the echo floor,
// on this machine, in one run.
//
//   bench_control [--quick] [--target NAME=SOCKET [--request TEMPLATE] [--loads N PATH]]...
//
// Built-in targets: `echo floor` (tests/bench/control/echo_floor.hpp) and `server ping` (the
// clipd control Server with a handler that answers each line with its id, as `ping` does).
// --target adds a server that is already running, e.g. the daemon; --request, given after it,
// sets its request line, where {id} stands for the request id (default: a `ping`); --loads keeps
// N `load` requests of PATH in flight on another connection while that target is measured (the
// daemon's answers must not wait for decoding). scripts/bench-control runs it all against a
// private jackd and clipd.
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "control/server/server.hpp"
#include "echo_floor.hpp"
#include "harness.hpp"

namespace {

using namespace clipd;

std::string ping_request(std::uint64_t id) {
  return R"({"id":)" + std::to_string(id) + R"(,"cmd":"ping"})";
}

std::function<std::string(std::uint64_t)> from_template(std::string tmpl) {
  return [tmpl = std::move(tmpl)](std::uint64_t id) {
    std::string out = tmpl;
    for (auto at = out.find("{id}"); at != std::string::npos; at = out.find("{id}")) {
      out.replace(at, 4, std::to_string(id));
    }
    return out;
  };
}

// What the dispatcher's `ping` costs beyond the server: find the id, answer with it. A refusing
// handler answers every line with an error instead (the --quick self-check).
class PingHandler : public control::SessionHandler {
 public:
  explicit PingHandler(bool refuse = false) : refuse_(refuse) {}
  void on_line(const std::shared_ptr<control::Session>& session, std::string_view line) override {
    std::string_view id = "null";
    if (const auto at = line.find("\"id\":"); at != std::string_view::npos) {
      const auto to = line.find_first_of(",}", at + 5);
      id = line.substr(at + 5, to == std::string_view::npos ? std::string_view::npos : to - at - 5);
    }
    std::string reply = R"({"id":)";
    reply += id;
    reply += refuse_ ? R"(,"ok":false,"error":{"code":"internal","message":"refused"}})"
                     : R"(,"ok":true,"result":{}})";
    reply += '\n';
    session->send_reply(std::move(reply));
  }
  void on_closed(const std::shared_ptr<control::Session>&) override {}

 private:
  bool refuse_;
};

// The control server with PingHandler on its own io_context thread.
class ServerTarget {
 public:
  explicit ServerTarget(const std::filesystem::path& socket, bool refuse = false)
      : handler_(refuse), work_(io_.get_executor()) {
    control::ServerConfig config;
    config.socket_path = socket;
    config.accept_systemd_socket = false;
    server_.emplace(io_, config, handler_);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerTarget() {
    boost::asio::post(io_, [this] {
      server_->stop();
      work_.reset();
    });
    thread_.join();
  }

 private:
  boost::asio::io_context io_;
  PingHandler handler_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::optional<control::Server> server_;
  std::thread thread_;
};

// Keeps `count` loads of `path` in flight on a connection of its own until destroyed: each
// reply is answered with another load under the same name (replace), so decoding never stops.
class LoadPressure {
 public:
  LoadPressure(const std::filesystem::path& socket, int count, std::string path)
      : count_(count), path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error("--loads: cannot connect to " + socket.string());
    }
    for (int i = 0; i < count_; ++i)
      send_load(i);
    thread_ = std::thread([this] { run(); });
  }
  ~LoadPressure() {
    stop_ = true;
    ::shutdown(fd_, SHUT_WR);
    thread_.join();
    ::close(fd_);
  }
  std::uint64_t completed() const { return completed_.load(); }

 private:
  void send_load(int i) {
    const std::string line = R"({"id":)" + std::to_string(i) +
                             R"(,"cmd":"load","name":"pressure-)" + std::to_string(i) +
                             R"(","path":")" + path_ + R"(","replace":true})" + "\n";
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      stop_ = true;
    }
  }
  void run() {
    std::string buffer;
    char chunk[4096];
    while (true) {
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<std::size_t>(n));
      for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
        const std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        ++completed_;
        const auto at = line.find(R"("id":)");
        const int id = at == std::string::npos ? 0 : std::atoi(line.c_str() + at + 5);
        if (!stop_) send_load(id);
      }
    }
  }
  int fd_ = -1;
  int count_;
  std::string path_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> completed_{0};
  std::thread thread_;
};

struct ExtraTarget {
  bench::Target target;
  int loads = 0;
  std::string load_path;
};

}  // namespace

int main(int argc, char** argv) {
  bench::Options options;
  bool quick = false;
  std::vector<ExtraTarget> extra;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      quick = true;
      options.round_trips = 500;
      options.pipelined_total = 8000;
    } else if (arg == "--target" && i + 1 < argc) {
      const std::string spec = argv[++i];
      const auto eq = spec.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "--target wants NAME=SOCKET\n");
        return 2;
      }
      extra.push_back({{spec.substr(0, eq), spec.substr(eq + 1), ping_request, {}}, 0, {}});
    } else if (arg == "--request" && i + 1 < argc && !extra.empty()) {
      extra.back().target.request = from_template(argv[++i]);
    } else if (arg == "--loads" && i + 2 < argc && !extra.empty()) {
      extra.back().loads = std::atoi(argv[++i]);
      extra.back().load_path = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: bench_control [--quick] [--target NAME=SOCKET [--request TEMPLATE] "
                   "[--loads N PATH]]...\n");
      return 2;
    }
  }

  char tmpl[] = "/tmp/clipd-bench-control-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path dir = tmpl;
  int status = 0;
  try {
    std::vector<std::pair<std::string, bench::Figures>> rows;
    {
      bench::EchoFloor floor(dir / "floor.sock");
      // The floor writes each line back: every line it returns counts.
      const auto echoed = [](std::string_view) { return true; };
      rows.emplace_back(
          "echo floor",
          bench::measure({"echo floor", dir / "floor.sock", ping_request, echoed}, options));
    }
    if (quick) {
      // Self-check: error replies are not throughput. A server that refuses every request must
      // measure no successful reply at all, and count every one as an error.
      ServerTarget refusing(dir / "refuse.sock", /*refuse=*/true);
      const bench::Figures f =
          bench::measure({"server refuse", dir / "refuse.sock", ping_request, {}}, options);
      const std::uint64_t all = options.round_trips + 2 * options.pipelined_total;
      if (f.rps_one != 0 || f.rps_eight != 0 || f.failed != all) {
        std::fprintf(stderr,
                     "bench_control: a refusing server measured %.0f/%.0f ok/s and %llu errors "
                     "(want 0/0 and %llu)\n",
                     f.rps_one, f.rps_eight, static_cast<unsigned long long>(f.failed),
                     static_cast<unsigned long long>(all));
        status = 1;
      }
    }
    {
      ServerTarget server(dir / "server.sock");
      rows.emplace_back(
          "server ping",
          bench::measure({"server ping", dir / "server.sock", ping_request, {}}, options));
    }
    for (const auto& e : extra) {
      if (e.loads > 0) {
        LoadPressure pressure(e.target.socket, e.loads, e.load_path);
        rows.emplace_back(e.target.name, bench::measure(e.target, options));
        std::fprintf(stderr, "%s: %llu loads completed while measuring\n", e.target.name.c_str(),
                     static_cast<unsigned long long>(pressure.completed()));
      } else {
        rows.emplace_back(e.target.name, bench::measure(e.target, options));
      }
    }
    bench::print_table(rows);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_control: %s\n", e.what());
    status = 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return status;
}
