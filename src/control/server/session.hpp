// control/server/session.hpp: one client connection of the control socket.
//
// Thread contract: every member is called on the control thread (the thread running the server's
// io_context); none of them blocks. Sessions are shared: the handler may keep one and reply
// later; once closed, sends are dropped silently.
#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

namespace clipd::control {

namespace detail {
struct ServerState;
}

// Which events a session wants. The dispatcher sets it on `subscribe`/`unsubscribe`;
// Server::broadcast_event() reads it.
struct Subscription {
  bool active = false;
  bool all = false;                           // every event, whatever `events` holds
  std::set<std::string, std::less<>> events;  // names, when not `all`

  bool wants(std::string_view event) const {
    return active && (all || events.find(event) != events.end());
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  struct PrivateTag {
    explicit PrivateTag() = default;
  };
  // Made by the server only.
  Session(PrivateTag, Socket socket, std::uint64_t id, pid_t peer_pid,
          std::shared_ptr<detail::ServerState> state);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  // Unique per server, from 1.
  std::uint64_t id() const noexcept { return id_; }
  // The peer's pid as SO_PEERCRED gave it at accept.
  pid_t peer_pid() const noexcept { return peer_pid_; }
  // False once the session is closed (on_closed has been or is being called).
  bool open() const noexcept { return open_; }

  // Queues one reply line (a "\n" is appended when missing). Replies and events go out in the
  // order of the calls. Dropped when the session is closed or the peer stopped reading for good.
  // Note: allocates; never blocks.
  void send_reply(std::string line);
  // Queues one reply line made of an owned head and a text shared with other replies (an answer
  // serving many requests, see protocol::share_result()); `shared` must end with "\n". The
  // shared text is written from where it is, never copied.
  // Note: allocates the queue entry only; never blocks.
  void send_reply(std::string head, std::shared_ptr<const std::string> shared);

  // Queues one event line, like send_reply, but it counts against the event backlog cap: a
  // session whose unsent events would pass it is disconnected at once.
  void send_event(std::string line);

  // Stops reading, flushes what is queued (at most ServerConfig::close_linger_ms), then closes.
  void close();
  // Closes at once; queued output is dropped.
  void abort();

  Subscription& subscription() noexcept { return subscription_; }
  const Subscription& subscription() const noexcept { return subscription_; }
  // A free slot for the handler's own per-connection state.
  std::any& user_data() noexcept { return user_data_; }

  // Bytes queued and not yet written to the socket.
  std::size_t unsent_bytes() const noexcept { return unsent_bytes_; }
  // True while reading is suspended by back pressure.
  bool reading_paused() const noexcept { return reading_paused_; }

 private:
  friend class Server;
  // One line: `text`, then `shared` when set (a text other entries may hold too).
  struct Entry {
    std::string text;
    std::shared_ptr<const std::string> shared;
    bool event;
    std::size_t size() const noexcept { return text.size() + (shared ? shared->size() : 0); }
  };

  void start();
  // Writes what the socket takes now without waiting, then closes (Server::stop()).
  void flush_now_and_close();
  void enqueue(std::string&& line, bool event);
  void enqueue(Entry&& entry);
  void finish();
  void drop_output() noexcept;
  void reject_long_line();
  void start_linger();
  // Writes what the socket takes now, without waiting, when no asynchronous write is in
  // flight. Returns true if it wrote anything.
  bool write_now();
  // Ends a reader batch: writes its replies at once, leaving any rest to the writer.
  void end_batch();
  void maybe_finish_after_eof();
  void wake_writer() noexcept;
  void wake_reader() noexcept;
  void log(std::string_view what) const;
  boost::asio::awaitable<void> reader(std::shared_ptr<Session> self);
  boost::asio::awaitable<void> writer(std::shared_ptr<Session> self);

  Socket socket_;
  std::uint64_t id_;
  pid_t peer_pid_;
  std::shared_ptr<detail::ServerState> state_;
  boost::asio::steady_timer write_signal_;  // the writer waits here for output
  boost::asio::steady_timer drain_signal_;  // the reader waits here while back pressure holds
  boost::asio::steady_timer linger_timer_;

  std::deque<Entry> queue_;
  std::size_t front_written_ = 0;  // bytes of queue_.front() already written
  std::size_t unsent_bytes_ = 0;
  std::size_t unsent_event_bytes_ = 0;
  std::int64_t lines_handed_ = 0;
  std::int64_t replies_sent_ = 0;

  bool open_ = true;
  bool closing_ = false;         // close(): no more reading, flush then finish
  bool eof_ = false;             // the peer shut down its sending side
  bool write_dead_ = false;      // writing failed: output is dropped from now on
  bool writing_ = false;         // a write is in flight on queue_'s first entries
  bool reading_paused_ = false;  // the reader waits on drain_signal_
  bool writer_waiting_ = false;  // the writer waits on write_signal_
  bool linger_started_ = false;  // linger_timer_ will cut the session
  bool batching_ = false;        // the reader is handing over the lines of one read

  Subscription subscription_;
  std::any user_data_;
};

}  // namespace clipd::control
