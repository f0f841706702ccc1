// A control server fed by systemd socket activation, for the activation test: it answers every
// line with {"id":..,"ok":true,"result":{"activated":BOOL}} and stops after a line holding
// "quit". It gives up by itself after 20 s.
#include <cstdio>
#include <string>
#include <string_view>

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "control/server/server.hpp"
#include "server_fixture.hpp"

namespace {

using clipd::control::Server;
using clipd::control::Session;

class ActivationHandler : public clipd::control::SessionHandler {
 public:
  ActivationHandler(boost::asio::io_context& io) : io_(io) {}
  Server* server = nullptr;

  void on_line(const std::shared_ptr<Session>& session, std::string_view line) override {
    const std::string id = clipd::control::test::request_id(line);
    session->send_reply(R"({"id":)" + id + R"(,"ok":true,"result":{"activated":)" +
                        (server->socket_activated() ? "true" : "false") + "}}");
    if (line.find("quit") != std::string_view::npos) {
      boost::asio::post(io_, [this] { server->stop(); });
    }
  }
  void on_closed(const std::shared_ptr<Session>&) override {}

 private:
  boost::asio::io_context& io_;
};

}  // namespace

int main() {
  ::alarm(20);
  boost::asio::io_context io;
  ActivationHandler handler(io);
  clipd::control::ServerConfig config;
  config.socket_path = "/nonexistent/clipd-activation-test/unused.sock";
  Server server(io, config, handler);
  handler.server = &server;
  try {
    server.start();
  } catch (const clipd::control::ServerError& e) {
    std::fprintf(stderr, "activated_server: %s\n", e.what());
    return 3;
  }
  io.run();
  return 0;
}
