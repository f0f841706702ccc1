#include "harness.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace clipd::bench {

namespace {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  explicit Connection(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error("cannot connect to " + path.string() + ": " + std::strerror(errno));
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { ::close(fd_); }

  void send_all(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed: " + std::string(std::strerror(errno)));
      done += static_cast<std::size_t>(n);
    }
  }

  // Blocks for at least one byte; returns how many complete lines arrived.
  std::size_t read_lines() {
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) throw std::runtime_error("the server closed the connection");
    return static_cast<std::size_t>(std::count(buf, buf + n, '\n'));
  }

 private:
  int fd_ = -1;
};

double percentile(std::vector<double>& v, double p) {
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Keeps up to `window` requests in flight on one connection until `total` are answered,
// refilling in batches once half the window is answered (one send per batch).
void pipeline(const Target& target, std::size_t total, std::size_t window, std::uint64_t first_id) {
  Connection c(target.socket);
  std::size_t sent = 0;
  std::size_t answered = 0;
  std::string batch;
  while (answered < total) {
    const std::size_t in_flight = sent - answered;
    const std::size_t want =
        in_flight <= window / 2 ? std::min(total - sent, window - in_flight) : 0;
    if (want > 0) {
      batch.clear();
      for (std::size_t i = 0; i < want; ++i) {
        batch += target.request(first_id + sent + i);
        batch += '\n';
      }
      c.send_all(batch);
      sent += want;
    }
    answered += c.read_lines();
  }
}

double pipelined_rps(const Target& target, std::size_t total, std::size_t connections,
                     std::size_t window) {
  const std::size_t each = total / connections;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(connections);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < connections; ++i) {
    threads.emplace_back([&, i] {
      try {
        pipeline(target, each, window, 1'000'000 * (i + 1));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (const auto& e : errors) {
    if (!e.empty()) throw std::runtime_error(target.name + ": " + e);
  }
  return static_cast<double>(each * connections) / seconds;
}

}  // namespace

Figures measure(const Target& target, const Options& options) {
  Figures f;
  {
    Connection c(target.socket);
    std::vector<double> us;
    us.reserve(options.round_trips);
    const std::size_t warmup = options.round_trips / 10;
    for (std::size_t i = 0; i < warmup + options.round_trips; ++i) {
      const std::string line = target.request(i) + "\n";
      const auto t0 = Clock::now();
      c.send_all(line);
      std::size_t got = 0;
      while (got == 0)
        got = c.read_lines();
      const auto t1 = Clock::now();
      if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    f.p50_us = percentile(us, 0.50);
    f.p99_us = percentile(us, 0.99);
  }
  f.rps_one = pipelined_rps(target, options.pipelined_total, 1, options.window);
  f.rps_eight = pipelined_rps(target, options.pipelined_total, 8, options.window);
  return f;
}

void print_table(const std::vector<std::pair<std::string, Figures>>& rows) {
  if (rows.empty()) return;
  const Figures& floor = rows.front().second;
  std::printf("%-22s %10s %10s %14s %14s   %s\n", "target", "p50 us", "p99 us", "req/s x1",
              "req/s x8", "vs floor (p50, p99, x1, x8)");
  for (const auto& [name, f] : rows) {
    std::printf("%-22s %10.1f %10.1f %14.0f %14.0f   %.2fx %.2fx %.2fx %.2fx\n", name.c_str(),
                f.p50_us, f.p99_us, f.rps_one, f.rps_eight, f.p50_us / floor.p50_us,
                f.p99_us / floor.p99_us, f.rps_one / floor.rps_one, f.rps_eight / floor.rps_eight);
  }
}

}  // namespace clipd::bench
