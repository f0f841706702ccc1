#include "echo_floor.hpp"

#include <cstring>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace clipd::bench {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

// Echoes every complete line it has, in one write per read: the least framing can cost.
asio::awaitable<void> echo(stream_protocol::socket socket) {
  std::string buffer(64 * 1024, '\0');
  std::size_t end = 0;
  boost::system::error_code ec;
  for (;;) {
    if (end == buffer.size()) buffer.resize(buffer.size() * 2);
    const std::size_t n =
        co_await socket.async_read_some(asio::buffer(buffer.data() + end, buffer.size() - end),
                                        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    end += n;
    const std::size_t last = buffer.rfind('\n', end - 1);
    if (last == std::string::npos) continue;
    const std::size_t lines = last + 1;
    co_await asio::async_write(socket, asio::buffer(buffer.data(), lines),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::memmove(buffer.data(), buffer.data() + lines, end - lines);
    end -= lines;
  }
}

asio::awaitable<void> listen(stream_protocol::acceptor& acceptor) {
  boost::system::error_code ec;
  for (;;) {
    stream_protocol::socket socket(acceptor.get_executor());
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

}  // namespace

EchoFloor::EchoFloor(const std::filesystem::path& socket)
    : acceptor_(io_, stream_protocol::endpoint(socket.string())) {
  asio::co_spawn(io_, listen(acceptor_), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

EchoFloor::~EchoFloor() {
  io_.stop();
  thread_.join();
}

}  // namespace clipd::bench
