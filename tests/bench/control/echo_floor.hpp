// tests/bench/control/echo_floor.hpp: the floor. The least a JSON-lines server on Boost.Asio
// coroutines over a UNIX socket can do: read a line, write it back, one io_context thread.
#pragma once

#include <filesystem>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace clipd::bench {

class EchoFloor {
 public:
  explicit EchoFloor(const std::filesystem::path& socket);
  EchoFloor(const EchoFloor&) = delete;
  EchoFloor& operator=(const EchoFloor&) = delete;
  ~EchoFloor();  // stops the io_context and joins

 private:
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace clipd::bench
