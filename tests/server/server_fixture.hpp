// tests/server/server_fixture.hpp: a real control server on a temporary socket, run on its own
// io_context thread, with a small handler that answers each line with its request's id, and a
// plain POSIX client.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/server/server.hpp"

namespace clipd::control::test {

using namespace std::chrono_literals;

// The token after "id": up to ',' or '}', or "null".
inline std::string request_id(std::string_view line) {
  const auto at = line.find("\"id\":");
  if (at == std::string_view::npos) return "null";
  const auto from = at + 5;
  const auto to = line.find_first_of(",}", from);
  return std::string(
      line.substr(from, to == std::string_view::npos ? line.size() - from : to - from));
}

inline std::string ok_reply(std::string_view id) {
  return std::string(R"({"id":)") + std::string(id) + R"(,"ok":true,"result":{}})" + "\n";
}

// Answers every line at once with its id, except:
//   "cmd":"slow"       answered after `slow_delay` on a timer (the session is kept meanwhile);
//   "cmd":"subscribe"  subscribes the session to every event, then answers;
//   "cmd":"throw"      throws, as a broken handler would;
//   "cmd":"shared"     answered with its own head and `shared_tail`, one text every such reply
//                      shares (Session::send_reply(head, shared)).
class PingHandler : public SessionHandler {
 public:
  explicit PingHandler(boost::asio::io_context& io) : io_(io) {}

  void on_line(const std::shared_ptr<Session>& session, std::string_view line) override {
    lines_.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(mutex_);
      if (line.find("partial") != std::string_view::npos) ++partial_lines_;
    }
    const std::string id = request_id(line);
    if (line.find(R"("cmd":"slow")") != std::string_view::npos) {
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, slow_delay);
      timer->async_wait([timer, session, id](const boost::system::error_code&) {
        session->send_reply(ok_reply(id));
      });
      return;
    }
    if (line.find(R"("cmd":"throw")") != std::string_view::npos) {
      throw std::runtime_error("the handler failed");
    }
    if (line.find(R"("cmd":"shared")") != std::string_view::npos) {
      session->send_reply(R"({"id":)" + id + R"(,"ok":true,"result":)", shared_tail);
      return;
    }
    if (line.find(R"("cmd":"subscribe")") != std::string_view::npos) {
      session->subscription().active = true;
      session->subscription().all = true;
    }
    session->send_reply(ok_reply(id));
  }

  void on_closed(const std::shared_ptr<Session>&) override {
    closed_.fetch_add(1, std::memory_order_relaxed);
  }

  std::uint64_t lines() const { return lines_.load(std::memory_order_relaxed); }
  std::uint64_t closed() const { return closed_.load(std::memory_order_relaxed); }
  std::uint64_t partial_lines() const {
    std::lock_guard lock(mutex_);
    return partial_lines_;
  }

  std::chrono::milliseconds slow_delay{300};
  // Set before the server starts.
  std::shared_ptr<const std::string> shared_tail = std::make_shared<const std::string>("{}}\n");

 private:
  boost::asio::io_context& io_;
  std::atomic<std::uint64_t> lines_{0};
  std::atomic<std::uint64_t> closed_{0};
  mutable std::mutex mutex_;
  std::uint64_t partial_lines_ = 0;
};

// A fresh private temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "clipd-server-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Server + handler on a thread of their own. The destructor stops the server on its thread and
// joins, so every test stops what it started even when an assertion fails.
class RunningServer {
 public:
  explicit RunningServer(ServerConfig config, std::chrono::milliseconds slow_delay = 300ms)
      : handler_(io_), work_(io_.get_executor()) {
    handler_.slow_delay = slow_delay;
    path_ = config.socket_path;
    config.accept_systemd_socket = false;
    server_.emplace(io_, std::move(config), handler_);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  ~RunningServer() {
    boost::asio::post(io_, [this] {
      server_->stop();
      work_.reset();
    });
    thread_.join();
  }

  // Runs `f` on the control thread and returns its result.
  template <class F>
  auto on_io(F f) -> decltype(f(std::declval<Server&>())) {
    using R = decltype(f(std::declval<Server&>()));
    std::packaged_task<R()> task([&] { return f(*server_); });
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }

  // Polls `cond` on the control thread until it holds or `timeout` passes.
  bool wait_for(const std::function<bool(Server&)>& cond, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (on_io([&](Server& s) { return cond(s); })) return true;
      std::this_thread::sleep_for(5ms);
    }
    return on_io([&](Server& s) { return cond(s); });
  }

  PingHandler& handler() { return handler_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  boost::asio::io_context io_;
  PingHandler handler_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::optional<Server> server_;
  std::filesystem::path path_;
  std::thread thread_;
};

// A blocking POSIX client with a line buffer. Sends never raise SIGPIPE.
class Client {
 public:
  Client() = default;
  explicit Client(const std::filesystem::path& path) { connect(path); }
  Client(Client&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { close(); }

  // Returns 0 or the errno of connect().
  int connect(const std::filesystem::path& path);
  void close();
  int fd() const { return fd_; }

  // Sends everything; false on an error (the peer closed, say).
  bool send_all(std::string_view data);
  // Sends what the socket takes now; returns the byte count (0 when it would block).
  std::size_t send_some_nonblocking(std::string_view data);
  void shutdown_write();
  // The next line without its "\n", or nothing on timeout, EOF or error.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 10s);
  // True when the peer closes (EOF or reset) within `timeout` with no more data.
  // Data that arrives instead is kept in the buffer and makes it return false.
  bool wait_closed(std::chrono::milliseconds timeout = 5s);
  const std::string& buffered() const { return buffer_; }

 private:
  // Reads once, waiting at most `timeout`: >0 bytes added, 0 EOF/reset, -1 timeout.
  int fill(std::chrono::milliseconds timeout);

  int fd_ = -1;
  std::string buffer_;
};

}  // namespace clipd::control::test
