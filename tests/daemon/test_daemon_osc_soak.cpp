// The OSC front end under sustained load: 2,000 messages a second for 60 s on the UNIX datagram
// socket of a real clipd on a private jackd, each with its own id. Every request is answered
// exactly once, each answer matches its request by id, and its fields are those of the command:
// plays (a voice, new and rising), pings (an empty result), infos (the clip's info) and plays of
// a missing clip (clip-not-found).
//
// OSC has no back pressure: clipd sends each answer without waiting, and a datagram socket
// holds only net.unix.max_dgram_qlen datagrams (10 by default) before the next send fails. The
// client therefore keeps at most kWindow requests unanswered, as a controller that wants every
// answer must, and a thread of its own reads answers as they come; the schedule (one message
// every 500 us) is kept whenever the daemon answers within the window.
//
// Thread contract: the test thread sends; one reader thread receives and records.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "control/osc/packet.hpp"
#include "harness.hpp"
#include "osc_socket.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;
namespace osc = clipd::control::osc;

constexpr std::int64_t kRate = 2000;   // messages a second
constexpr std::int64_t kSeconds = 60;  // of sending
constexpr std::int64_t kWindow = 8;    // unanswered requests at most (below max_dgram_qlen)
constexpr std::int64_t kTotal = kRate * kSeconds;

// What request `id` is (by id modulo 4), and so what its answer must be.
enum class Kind { play, ping, info, missing };
Kind kind_of(std::int64_t id) {
  switch (id % 4) {
    case 0:
      return Kind::play;
    case 1:
      return Kind::ping;
    case 2:
      return Kind::info;
    default:
      return Kind::missing;
  }
}

std::vector<std::byte> request_bytes(std::int64_t id) {
  const osc::Arg id_name = std::string("id");
  const osc::Arg id_value = id;
  std::vector<osc::Arg> args;
  std::string address;
  switch (kind_of(id)) {
    case Kind::play:
      address = "/clipd/play";
      args = {std::string("kick"), std::string("gain_db"), -60.0};
      break;
    case Kind::ping:
      address = "/clipd/ping";
      break;
    case Kind::info:
      address = "/clipd/clip/kick/info";
      break;
    case Kind::missing:
      address = "/clipd/play";
      args = {std::string("nothing")};
      break;
  }
  args.push_back(id_name);
  args.push_back(id_value);
  return osc::encode_message(address, args);
}

// Answers by id, filled by the reader thread.
struct Answers {
  std::mutex mutex;
  std::condition_variable changed;
  std::int64_t received = 0;                       // answers to a known id, duplicates included
  std::vector<std::optional<osc::Message>> by_id;  // index: id
  std::vector<int> count;                          // answers per id
  std::vector<std::string> strays;                 // datagrams that answer no request sent
};

void read_answers(int fd, Answers& answers, const bool& stop_flag, std::mutex& stop_mutex) {
  std::vector<std::byte> buffer(65536);
  for (;;) {
    {
      std::lock_guard lock(stop_mutex);
      if (stop_flag) return;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) continue;
    auto decoded =
        osc::decode_packet(std::span<const std::byte>(buffer.data(), static_cast<std::size_t>(n)));
    auto* messages = std::get_if<std::vector<osc::Message>>(&decoded);
    std::lock_guard lock(answers.mutex);
    if (messages == nullptr || messages->size() != 1 || messages->front().args.empty() ||
        !std::holds_alternative<std::int64_t>(messages->front().args[0])) {
      answers.strays.push_back(messages && !messages->empty() ? messages->front().address
                                                              : "an undecodable datagram");
    } else {
      const std::int64_t id = std::get<std::int64_t>(messages->front().args[0]);
      if (id < 1 || id > kTotal) {
        answers.strays.push_back(messages->front().address + " to id " + std::to_string(id));
      } else {
        const auto at = static_cast<std::size_t>(id);
        if (++answers.count[at] == 1) answers.by_id[at] = std::move(messages->front());
        ++answers.received;
      }
    }
    answers.changed.notify_all();
  }
}

TEST(OscSoak, EveryOneOfTwoThousandMessagesASecondForAMinuteIsAnsweredOnce) {
  TempDir home("clipd-osc-soak");
  JackdServer jackd;
  const std::string osc_socket = home.file("run") + "/clipd/osc.sock";
  Clipd clipd(jackd, home,
              {false, {"--osc-socket", osc_socket, "--log-level", "warning", "--no-midi"}});
  clipd.start();
  // 1 ms of sound: each play's voice ends within a cycle or two, whatever the rate.
  write_wav(home.file("kick.wav"), 48000, 1, test_signal(48, 1, 3));
  Client control(clipd.socket_path());
  const json loaded =
      control.ok({{"cmd", "load"}, {"name", "kick"}, {"path", home.file("kick.wav")}});
  ASSERT_EQ(loaded["frames"], 48);

  // The reader thread reads its fd while this one sends (osc_socket.hpp).
  auto socket = OscSocket::unix_socket(home.file("soak.sock"), osc_socket);

  Answers answers;
  answers.by_id.resize(static_cast<std::size_t>(kTotal + 1));
  answers.count.resize(static_cast<std::size_t>(kTotal + 1));
  bool stop = false;
  std::mutex stop_mutex;
  std::thread reader([&] { read_answers(socket->fd(), answers, stop, stop_mutex); });

  // Send on schedule, never more than kWindow ahead of the answers.
  const auto start = std::chrono::steady_clock::now();
  std::int64_t late_sends = 0;  // sends the window held past their slot
  bool stalled = false;
  std::string send_error;
  for (std::int64_t id = 1; id <= kTotal && !stalled; ++id) {
    const auto due = start + std::chrono::microseconds(id * 1'000'000 / kRate);
    std::this_thread::sleep_until(due);  // pacing: the schedule is the load being tested
    {
      std::unique_lock lock(answers.mutex);
      if (answers.received < id - kWindow) {
        ++late_sends;
        // A lost answer would hold the window for ever: give up after 5 s without one.
        stalled =
            !answers.changed.wait_for(lock, 5s, [&] { return answers.received >= id - kWindow; });
      }
    }
    if (stalled) break;
    try {
      socket->send(request_bytes(id));
    } catch (const std::exception& e) {
      send_error = e.what();  // the reader must be stopped before the test ends
      break;
    }
  }
  const double sending_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    std::unique_lock lock(answers.mutex);
    answers.changed.wait_for(lock, 10s, [&] { return answers.received >= kTotal; });
  }
  {
    std::lock_guard lock(stop_mutex);
    stop = true;
  }
  reader.join();
  socket.reset();

  EXPECT_EQ(send_error, "");
  EXPECT_FALSE(stalled) << "no answer for 5 s with " << kWindow << " requests unanswered";
  // The load was applied: the window held the schedule back by less than half.
  EXPECT_LT(sending_s, 1.5 * kSeconds);
  RecordProperty("sending_s", std::to_string(sending_s));
  RecordProperty("late_sends", std::to_string(late_sends));
  std::printf("sent %lld messages in %.1f s (%.0f a second), %lld held by the window\n",
              static_cast<long long>(kTotal), sending_s, static_cast<double>(kTotal) / sending_s,
              static_cast<long long>(late_sends));

  std::lock_guard lock(answers.mutex);
  EXPECT_EQ(answers.received, kTotal);
  EXPECT_TRUE(answers.strays.empty()) << answers.strays.size() << " stray answers, the first "
                                      << (answers.strays.empty() ? "" : answers.strays.front());
  std::int64_t missing = 0, duplicated = 0, wrong = 0;
  std::int64_t last_voice = 0;
  const auto fail = [&](std::int64_t id, const std::string& why) {
    if (++wrong <= 10) ADD_FAILURE() << "id " << id << ": " << why;
  };
  for (std::int64_t id = 1; id <= kTotal; ++id) {
    const auto at = static_cast<std::size_t>(id);
    if (answers.count[at] == 0) {
      ++missing;
      continue;
    }
    if (answers.count[at] > 1) ++duplicated;
    const osc::Message& m = *answers.by_id[at];
    const auto& a = m.args;
    const auto is = [&](std::size_t i, const osc::Arg& v) { return i < a.size() && a[i] == v; };
    switch (kind_of(id)) {
      case Kind::play: {
        // /clipd/reply ID voice V, each voice new and above the last.
        if (m.address != "/clipd/reply" || a.size() != 3 || !is(1, std::string("voice")) ||
            !std::holds_alternative<std::int64_t>(a[2])) {
          fail(id, "play answered " + m.address);
          break;
        }
        const std::int64_t voice = std::get<std::int64_t>(a[2]);
        if (voice <= last_voice) fail(id, "voice " + std::to_string(voice) + " is not new");
        last_voice = voice;
        break;
      }
      case Kind::ping:
        if (m.address != "/clipd/reply" || a.size() != 1) fail(id, "ping answered " + m.address);
        break;
      case Kind::info: {
        // The clip info's pairs, as clipd-protocol(7) orders them.
        json info = json::object();
        for (std::size_t i = 1; i + 1 < a.size(); i += 2) {
          const auto* name = std::get_if<std::string>(&a[i]);
          if (name == nullptr) break;
          if (const auto* v = std::get_if<std::int64_t>(&a[i + 1])) info[*name] = *v;
          if (const auto* v = std::get_if<std::string>(&a[i + 1])) info[*name] = *v;
        }
        if (m.address != "/clipd/reply" || info.value("name", "") != "kick" ||
            info.value("frames", -1) != 48 || info.value("channels", -1) != 1 ||
            info.value("sample_rate", -1) != 48000) {
          fail(id, "info answered " + m.address + " " + info.dump());
        }
        break;
      }
      case Kind::missing:
        if (m.address != "/clipd/error" || a.size() != 3 || !is(1, std::string("clip-not-found")) ||
            !std::holds_alternative<std::string>(a[2])) {
          fail(id, "a play of a missing clip answered " + m.address);
        }
        break;
    }
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(wrong, 0);

  // The daemon saw every datagram as valid OSC and is still serving.
  const json status = control.ok({{"cmd", "status"}});
  EXPECT_EQ(status["osc_dropped"], 0);
  EXPECT_EQ(status["osc_malformed"], 0);
  EXPECT_EQ(status["osc_unsent"], 0);  // clipd sent every answer
  EXPECT_EQ(status["engine"], "online");
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

}  // namespace
}  // namespace clipd::test
