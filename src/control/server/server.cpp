#include "control/server/server.hpp"

#include <chrono>
#include <string>
#include <utility>

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "control/server/listen_socket.hpp"
#include "control/server/server_state.hpp"

namespace clipd::control {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

namespace {

// After an accept error (out of descriptors, say) wait a little instead of spinning.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);

}  // namespace

// Runs on the control thread until the acceptor is closed. Holds the state, not the Server, so
// it may finish after the Server is gone.
asio::awaitable<void> Server::accept_loop(std::shared_ptr<detail::ServerState> st) {
  boost::system::error_code ec;
  for (;;) {
    Socket socket(st->io);
    co_await st->acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (st->stopped || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      st->log("control: accept failed: " + ec.message());
      asio::steady_timer delay(st->io, accept_retry_delay);
      co_await delay.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (st->stopped) co_return;
      continue;
    }

    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        cred.uid != ::geteuid()) {
      ++st->refused_peers;
      st->log("control: refused a connection from uid " + std::to_string(cred.uid) + " (pid " +
              std::to_string(cred.pid) + ")");
      socket.close(ec);
      continue;
    }

    const std::uint64_t id = st->next_id++;
    auto session =
        std::make_shared<Session>(Session::PrivateTag{}, std::move(socket), id, cred.pid, st);
    st->sessions.emplace(id, session);
    session->start();
  }
}

Server::Server(asio::io_context& io, ServerConfig config, SessionHandler& handler)
    : state_(std::make_shared<detail::ServerState>(io, std::move(config), handler)),
      listen_(std::make_unique<detail::ListenSocket>()) {}

Server::~Server() {
  stop();
}

void Server::start() {
  if (started_) throw ServerError("the control server is already started");
  *listen_ = detail::open_listen_socket(state_->config);
  boost::system::error_code ec;
  state_->acceptor.assign(asio::local::stream_protocol(), listen_->fd, ec);
  if (ec) {
    ::close(listen_->fd);
    detail::remove_socket_file(*listen_);
    throw ServerError("cannot use the control socket: " + ec.message());
  }
  started_ = true;
  asio::co_spawn(state_->io, accept_loop(state_), asio::detached);
}

void Server::stop() {
  if (!started_ || state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  detail::remove_socket_file(*listen_);
  // Each close erases its session from the map: close from a copy.
  for (const auto& session : sessions())
    session->flush_now_and_close();
  state_->sessions.clear();
}

bool Server::running() const noexcept {
  return started_ && !state_->stopped;
}

const std::filesystem::path& Server::socket_path() const noexcept {
  return listen_->path;
}

bool Server::socket_activated() const noexcept {
  return listen_->from_systemd;
}

std::size_t Server::session_count() const noexcept {
  return state_->sessions.size();
}

std::vector<std::shared_ptr<Session>> Server::sessions() const {
  std::vector<std::shared_ptr<Session>> out;
  out.reserve(state_->sessions.size());
  for (const auto& [id, session] : state_->sessions)
    out.push_back(session);
  return out;
}

std::size_t Server::broadcast_event(std::string_view event, std::string_view line) {
  std::size_t sent = 0;
  // send_event may disconnect a subscriber, which erases it from the map: iterate a copy.
  for (const auto& session : sessions()) {
    if (!session->open() || !session->subscription().wants(event)) continue;
    session->send_event(std::string(line));
    ++sent;
  }
  return sent;
}

std::uint64_t Server::refused_peers() const noexcept {
  return state_->refused_peers;
}

}  // namespace clipd::control
