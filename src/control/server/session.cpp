#include "control/server/session.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "control/server/server_state.hpp"

namespace clipd::control {

namespace asio = boost::asio;

namespace {

// The reader asks the kernel for at least this much at a time.
constexpr std::size_t read_chunk = 64 * 1024;
// The writer hands the kernel at most this many lines, or this many bytes, per write.
constexpr std::size_t max_write_lines = 512;
constexpr std::size_t max_write_bytes = 1024 * 1024;
// write_now() hands the kernel at most this many lines (an iovec array on the stack).
constexpr std::size_t max_sync_write_lines = 128;

// Hands `fn` the non-empty pieces of a queued line (its own text, then the shared one), less the
// first `skip` bytes, which are already written.
template <class Entry, class Fn>
void add_pieces(const Entry& e, std::size_t skip, Fn&& fn) {
  if (skip < e.text.size()) {
    fn(e.text.data() + skip, e.text.size() - skip);
    skip = 0;
  } else {
    skip -= e.text.size();
  }
  if (e.shared && skip < e.shared->size()) fn(e.shared->data() + skip, e.shared->size() - skip);
}

bool is_blank(std::string_view line) noexcept {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string line_too_long_reply(std::size_t limit) {
  return R"({"id":null,"ok":false,"error":{"code":"line-too-long","message":"line longer than )" +
         std::to_string(limit) + R"( bytes"}})" + "\n";
}

}  // namespace

Session::Session(PrivateTag, Socket socket, std::uint64_t id, pid_t peer_pid,
                 std::shared_ptr<detail::ServerState> state)
    : socket_(std::move(socket)),
      id_(id),
      peer_pid_(peer_pid),
      state_(std::move(state)),
      write_signal_(state_->io, asio::steady_timer::time_point::max()),
      drain_signal_(state_->io, asio::steady_timer::time_point::max()),
      linger_timer_(state_->io) {}

Session::~Session() = default;

void Session::start() {
  auto self = shared_from_this();
  asio::co_spawn(state_->io, reader(self), asio::detached);
  asio::co_spawn(state_->io, writer(std::move(self)), asio::detached);
}

void Session::log(std::string_view what) const {
  state_->log(what);
}

// Waking is cancelling the timer the coroutine waits on; only done when it waits, since a
// cancel takes the reactor's lock.
void Session::wake_writer() noexcept {
  if (writer_waiting_) write_signal_.cancel();
}
void Session::wake_reader() noexcept {
  if (reading_paused_) drain_signal_.cancel();
}

void Session::enqueue(std::string&& line, bool event) {
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  enqueue(Entry{std::move(line), nullptr, event});
}

void Session::enqueue(Entry&& entry) {
  unsent_bytes_ += entry.size();
  if (entry.event) unsent_event_bytes_ += entry.size();
  queue_.push_back(std::move(entry));
  // Inside a reader batch the replies go out together when the batch ends.
  if (!batching_) wake_writer();
}

void Session::send_reply(std::string line) {
  ++replies_sent_;
  if (!open_ || write_dead_) {
    maybe_finish_after_eof();
    return;
  }
  enqueue(std::move(line), false);
}

void Session::send_reply(std::string head, std::shared_ptr<const std::string> shared) {
  ++replies_sent_;
  if (!open_ || write_dead_) {
    maybe_finish_after_eof();
    return;
  }
  enqueue(Entry{std::move(head), std::move(shared), false});
}

void Session::send_event(std::string line) {
  if (!open_ || write_dead_) return;
  const std::size_t size = line.size() + 1;
  if (unsent_event_bytes_ + size > state_->config.event_backlog_cap) {
    log("control: session " + std::to_string(id_) +
        " disconnected: its unread events passed the backlog cap");
    abort();
    return;
  }
  enqueue(std::move(line), true);
}

void Session::reject_long_line() {
  // One error reply, flushed, then the connection ends: the rest of the stream cannot be framed.
  if (!write_dead_) enqueue(line_too_long_reply(state_->config.line_limit), false);
  close();
}

void Session::start_linger() {
  if (linger_started_) return;
  linger_started_ = true;
  linger_timer_.expires_after(std::chrono::milliseconds(state_->config.close_linger_ms));
  linger_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->abort();
  });
}

void Session::drop_output() noexcept {
  // The writer owns the entries a write in flight points into; it drops them when it resumes.
  if (!writing_) {
    queue_.clear();
    front_written_ = 0;
  }
  unsent_bytes_ = 0;
  unsent_event_bytes_ = 0;
  wake_reader();
}

void Session::close() {
  if (!open_ || closing_) return;
  closing_ = true;
  wake_reader();
  wake_writer();
  start_linger();
}

void Session::abort() {
  if (!open_) return;
  drop_output();
  finish();
}

void Session::maybe_finish_after_eof() {
  if (!open_ || !eof_) return;
  if (write_dead_ || (replies_sent_ >= lines_handed_ && queue_.empty() && !writing_)) finish();
}

void Session::finish() {
  if (!open_) return;
  auto self = shared_from_this();  // the map entry below may hold the last reference
  open_ = false;
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  write_signal_.cancel();  // unconditionally: the coroutines must see open_ == false
  drain_signal_.cancel();
  linger_timer_.cancel();
  if (!writing_) {
    queue_.clear();
    front_written_ = 0;
  }
  unsent_bytes_ = 0;
  unsent_event_bytes_ = 0;
  state_->sessions.erase(id_);
  state_->handler->on_closed(self);
}

bool Session::write_now() {
  if (!open_ || writing_ || write_dead_ || queue_.empty()) return false;
  // Two pieces per line at most (its own text and a shared one).
  std::array<iovec, 2 * max_sync_write_lines> iov{};
  std::size_t count = 0;
  bool first = true;
  for (const Entry& e : queue_) {
    if (count + 2 > iov.size()) break;
    add_pieces(e, first ? front_written_ : 0, [&](const char* data, std::size_t size) {
      iov[count].iov_base = const_cast<char*>(data);
      iov[count].iov_len = size;
      ++count;
    });
    first = false;
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = count;
  const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n <= 0) return false;  // full, or an error the writer will meet and handle

  std::size_t left = static_cast<std::size_t>(n);
  unsent_bytes_ -= left;
  while (left > 0) {
    Entry& e = queue_.front();
    const std::size_t rest = e.size() - front_written_;
    if (left < rest) {
      front_written_ += left;
      break;
    }
    left -= rest;
    if (e.event) unsent_event_bytes_ -= e.size();
    queue_.pop_front();
    front_written_ = 0;
  }
  if (unsent_bytes_ <= state_->config.write_high_water) wake_reader();
  return true;
}

void Session::end_batch() {
  batching_ = false;
  write_now();
  if (!queue_.empty()) wake_writer();
}

void Session::flush_now_and_close() {
  // Only an idle writer can be bypassed (write_now checks): a write in flight may have gone out
  // in part.
  while (write_now()) {
  }
  drop_output();
  finish();
}

asio::awaitable<void> Session::reader(std::shared_ptr<Session> self) {
  const std::size_t limit = state_->config.line_limit;
  const std::size_t high_water = state_->config.write_high_water;
  std::string buf(read_chunk, '\0');
  std::size_t begin = 0;  // first byte of the current (incomplete) line
  std::size_t scan = 0;   // bytes before this hold no '\n' after `begin`
  std::size_t end = 0;    // end of the bytes read
  boost::system::error_code ec;

  const auto stop_reading = [this] { return !open_ || closing_; };

  for (;;) {
    // Hand over every complete line in the buffer; their replies are written together after.
    batching_ = true;
    for (;;) {
      const void* nl = std::memchr(buf.data() + scan, '\n', end - scan);
      if (nl == nullptr) {
        scan = end;
        if (end - begin > limit) {
          end_batch();
          // Answer now, then take in the rest of the line before closing, so that a client
          // still sending it sees the error reply rather than a broken pipe. The linger timer
          // bounds how long that may take.
          if (!write_dead_) enqueue(line_too_long_reply(limit), false);
          start_linger();
          for (;;) {
            const std::size_t n = co_await socket_.async_read_some(
                asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
            if (!open_) co_return;
            if (ec || std::memchr(buf.data(), '\n', n) != nullptr) break;
          }
          close();
          co_return;
        }
        break;
      }
      const std::size_t pos = static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data());
      const std::string_view line(buf.data() + begin, pos - begin);
      begin = scan = pos + 1;
      if (line.size() > limit) {
        end_batch();
        reject_long_line();
        co_return;
      }
      if (is_blank(line)) continue;
      ++lines_handed_;
      try {
        state_->handler->on_line(self, line);
      } catch (const std::exception& e) {
        // The handler is meant not to throw. If it does, the line's reply may never come, so
        // the connection cannot keep its one-reply-per-line promise: end it.
        log("control: session " + std::to_string(id_) + " closed: the handler threw: " + e.what());
        abort();
      }
      if (stop_reading()) {
        end_batch();
        co_return;
      }
      // Back pressure: a client that does not read its replies is not read from either.
      if (unsent_bytes_ > high_water) {
        end_batch();
        while (unsent_bytes_ > high_water && !write_dead_ && !stop_reading()) {
          reading_paused_ = true;
          co_await drain_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          reading_paused_ = false;
        }
        if (stop_reading()) co_return;
        batching_ = true;
      }
    }
    end_batch();

    // Events alone can pass the mark too: read nothing more until they drain.
    while (unsent_bytes_ > high_water && !write_dead_ && !stop_reading()) {
      reading_paused_ = true;
      co_await drain_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      reading_paused_ = false;
    }
    if (stop_reading()) co_return;

    // Make room for the next read: drop consumed bytes, grow only for a long partial line.
    if (begin == end) {
      begin = scan = end = 0;
    } else if (buf.size() - end < read_chunk / 4) {
      if (begin > 0) {
        std::memmove(buf.data(), buf.data() + begin, end - begin);
        end -= begin;
        scan -= begin;
        begin = 0;
      }
      if (buf.size() - end < read_chunk / 4) buf.resize(buf.size() * 2);
    }

    const std::size_t n =
        co_await socket_.async_read_some(asio::buffer(buf.data() + end, buf.size() - end),
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (stop_reading()) co_return;
    if (ec == asio::error::eof) {
      // Every complete line has been handed over; a partial last line is dropped. The session
      // lives on until the replies still owed are written.
      eof_ = true;
      maybe_finish_after_eof();
      co_return;
    }
    if (ec) {
      abort();
      co_return;
    }
    end += n;
  }
}

// The unnamed parameter keeps the session alive for as long as the coroutine runs.
asio::awaitable<void> Session::writer(std::shared_ptr<Session> /*self*/) {
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(2 * max_write_lines);
  boost::system::error_code ec;

  while (open_) {
    if (queue_.empty()) {
      if (closing_) {
        finish();
        break;
      }
      maybe_finish_after_eof();
      if (!open_) break;
      writer_waiting_ = true;
      co_await write_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      writer_waiting_ = false;
      continue;
    }

    buffers.clear();
    std::size_t bytes = 0;
    std::size_t event_bytes = 0;
    std::size_t lines = 0;
    for (const Entry& e : queue_) {
      if (lines == max_write_lines || bytes >= max_write_bytes) break;
      const std::size_t skip = lines == 0 ? front_written_ : 0;  // sent by write_now()
      add_pieces(e, skip, [&](const char* data, std::size_t size) {
        buffers.push_back(asio::buffer(data, size));
      });
      bytes += e.size() - skip;
      if (e.event) event_bytes += e.size();
      ++lines;
    }

    writing_ = true;
    co_await asio::async_write(socket_, buffers, asio::redirect_error(asio::use_awaitable, ec));
    writing_ = false;

    if (!open_) break;
    if (ec) {
      // The peer is gone or broken: what it has not read is dropped, but the lines it already
      // sent are still read and handed over (their replies are dropped).
      write_dead_ = true;
      drop_output();
      if (eof_ || closing_) finish();
      continue;
    }
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(lines));
    front_written_ = 0;
    unsent_bytes_ -= bytes;
    unsent_event_bytes_ -= event_bytes;
    if (unsent_bytes_ <= state_->config.write_high_water) wake_reader();
  }
  queue_.clear();
}

}  // namespace clipd::control
