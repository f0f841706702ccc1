#include "harness.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string_view>
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

  struct Lines {
    std::size_t replies = 0;    // complete lines
    std::size_t succeeded = 0;  // of which target.succeeded() holds
  };
  // Blocks for at least one byte; counts the complete lines that arrived.
  Lines read_lines(const Target& target) {
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) throw std::runtime_error("the server closed the connection");
    partial_.append(buf, static_cast<std::size_t>(n));
    Lines got;
    std::size_t from = 0;
    for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', from)) {
      const std::string_view line(partial_.data() + from, nl - from);
      ++got.replies;
      if (target.succeeded ? target.succeeded(line)
                           : line.find("\"ok\":true") != std::string_view::npos) {
        ++got.succeeded;
      }
      from = nl + 1;
    }
    partial_.erase(0, from);
    return got;
  }

 private:
  int fd_ = -1;
  std::string partial_;  // the start of a line whose end has not arrived
};

struct Counts {
  std::size_t succeeded = 0;
  std::size_t failed = 0;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return std::nan("");
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Keeps up to `window` requests in flight on one connection until `total` are answered,
// refilling in batches once half the window is answered (one send per batch).
Counts pipeline(const Target& target, std::size_t total, std::size_t window,
                std::uint64_t first_id) {
  Connection c(target.socket);
  Counts counts;
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
    const Connection::Lines got = c.read_lines(target);
    answered += got.replies;
    counts.succeeded += got.succeeded;
    counts.failed += got.replies - got.succeeded;
  }
  return counts;
}

// Successful replies per second; adds the others to `failed`.
double pipelined_rps(const Target& target, std::size_t total, std::size_t connections,
                     std::size_t window, std::uint64_t& failed) {
  const std::size_t each = total / connections;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(connections);
  std::vector<Counts> counts(connections);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < connections; ++i) {
    threads.emplace_back([&, i] {
      try {
        counts[i] = pipeline(target, each, window, 1'000'000 * (i + 1));
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
  std::size_t succeeded = 0;
  for (const Counts& c : counts) {
    succeeded += c.succeeded;
    failed += c.failed;
  }
  return static_cast<double>(succeeded) / seconds;
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
      Connection::Lines got;
      while (got.replies == 0)
        got = c.read_lines(target);
      const auto t1 = Clock::now();
      if (i < warmup) continue;
      if (got.succeeded == 0) {
        ++f.failed;
        continue;
      }
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    f.p50_us = percentile(us, 0.50);
    f.p99_us = percentile(us, 0.99);
  }
  f.rps_one = pipelined_rps(target, options.pipelined_total, 1, options.window, f.failed);
  f.rps_eight = pipelined_rps(target, options.pipelined_total, 8, options.window, f.failed);
  return f;
}

void print_table(const std::vector<std::pair<std::string, Figures>>& rows) {
  if (rows.empty()) return;
  const Figures& floor = rows.front().second;
  std::printf("%-22s %10s %10s %14s %14s %8s   %s\n", "target", "p50 us", "p99 us", "ok/s x1",
              "ok/s x8", "errors", "vs floor (p50, p99, x1, x8)");
  for (const auto& [name, f] : rows) {
    std::printf("%-22s %10.1f %10.1f %14.0f %14.0f %8llu   %.2fx %.2fx %.2fx %.2fx\n", name.c_str(),
                f.p50_us, f.p99_us, f.rps_one, f.rps_eight,
                static_cast<unsigned long long>(f.failed), f.p50_us / floor.p50_us,
                f.p99_us / floor.p99_us, f.rps_one / floor.rps_one, f.rps_eight / floor.rps_eight);
  }
}

}  // namespace clipd::bench
