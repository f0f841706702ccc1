// AutoBackend's choice of server, with fake backends whose open() answers what each test
// scripts: JACK when a JACK server answers, PipeWire when none does, decided again after every
// retire; a forced choice never makes or tries the other kind.
#include "backend/select.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace clipd::backend {
namespace {

// What a test scripts for one kind, and what the fake of that kind saw.
struct Script {
  OpenResult answer = OpenResult::no_server;
  int made = 0;   // factory calls
  int opens = 0;  // open() and try_open() calls
  std::uint64_t xruns = 0;
  ProcessTarget last_target;
};

class FakeBackend final : public Backend {
 public:
  FakeBackend(Kind kind, Script& script, const Options& options)
      : kind_(kind), script_(script), name_(options.client_name) {}

  Kind kind() const noexcept override { return kind_; }
  OpenResult open(ProcessTarget target) override {
    if (open_) return OpenResult::already_open;
    ++script_.opens;
    script_.last_target = target;
    open_ = script_.answer == OpenResult::opened;
    error_ = open_ ? "" : std::string(kind_name(kind_)) + " said no";
    return script_.answer;
  }
  OpenResult try_open(ProcessTarget target) override { return open(target); }
  std::chrono::milliseconds retry_delay() const noexcept override { return kRetryMax; }
  Events poll() override { return {}; }
  RetireResult retire(std::chrono::milliseconds) override {
    if (!open_) return RetireResult::not_open;
    open_ = false;
    return RetireResult::retired;
  }
  bool is_open() const noexcept override { return open_; }
  const std::string& client_name() const noexcept override { return name_; }
  std::uint32_t sample_rate() const noexcept override {
    return kind_ == Kind::jack ? 44100 : 48000;
  }
  std::uint32_t buffer_size() const noexcept override { return 256; }
  std::uint64_t xruns() const noexcept override { return script_.xruns; }
  std::uint64_t midi_overflow() const noexcept override { return 0; }
  std::uint64_t null_buffers() const noexcept override { return 0; }
  const std::vector<PortConnection>& connections() const noexcept override { return connections_; }
  void set_connections(std::vector<PortConnection> c) override { connections_ = std::move(c); }
  const std::string& last_error() const noexcept override { return error_; }
  std::optional<std::uint32_t> playback_latency() const override {
    return open_ ? std::optional<std::uint32_t>(512) : std::nullopt;
  }
  std::optional<double> dsp_load() const override {
    return open_ ? std::optional<double>(1.5) : std::nullopt;
  }
  std::uint64_t frame_now() const noexcept override { return 0; }
  std::uint64_t cycles() const noexcept override { return 0; }
  std::uint64_t server_nsecs() const noexcept override { return 0; }
  std::string port_name(std::uint32_t i) const override {
    return name_ + ":out_" + std::to_string(i + 1);
  }
  std::string midi_port_name() const override { return name_ + ":midi_in"; }

 private:
  Kind kind_;
  Script& script_;
  std::string name_;
  bool open_ = false;
  std::string error_;
  std::vector<PortConnection> connections_;
};

struct Rig {
  Script jack;
  Script pipewire;
  bool pipewire_built = true;
  std::vector<std::string> debug;

  AutoBackend make(Choice choice) {
    Options o;
    o.client_name = "clipd-test";
    return AutoBackend(
        choice, o,
        [this](const Options& opt) -> std::unique_ptr<Backend> {
          ++jack.made;
          return std::make_unique<FakeBackend>(Kind::jack, jack, opt);
        },
        [this](const Options& opt) -> std::unique_ptr<Backend> {
          ++pipewire.made;
          if (!pipewire_built) return nullptr;
          return std::make_unique<FakeBackend>(Kind::pipewire, pipewire, opt);
        },
        [this](const std::string& line) { debug.push_back(line); });
  }
};

void render(void*, std::uint64_t, std::uint32_t, float* const*,
            std::span<const engine::MidiEventView>, std::uint64_t, std::uint64_t) noexcept {}

TEST(AutoBackend, ChoosesJackWhenAJackServerAnswers) {
  Rig rig;
  rig.jack.answer = OpenResult::opened;
  rig.pipewire.answer = OpenResult::opened;
  AutoBackend b = rig.make(Choice::auto_select);
  int ctx = 0;
  ASSERT_EQ(b.try_open({&render, &ctx}), OpenResult::opened);
  EXPECT_TRUE(b.is_open());
  EXPECT_EQ(b.kind(), Kind::jack);
  EXPECT_EQ(b.sample_rate(), 44100u);
  EXPECT_EQ(rig.jack.opens, 1);
  EXPECT_EQ(rig.jack.last_target.ctx, &ctx);
  // PipeWire was neither made nor tried.
  EXPECT_EQ(rig.pipewire.made, 0);
  EXPECT_EQ(rig.pipewire.opens, 0);
  EXPECT_EQ(b.playback_latency(), std::optional<std::uint32_t>(512));
  EXPECT_EQ(b.retry_delay(), kRetryMin);
  EXPECT_EQ(b.try_open({&render, &ctx}), OpenResult::already_open);
  EXPECT_EQ(rig.jack.opens, 1);
}

TEST(AutoBackend, ChoosesPipewireWhenNoJackServerAnswers) {
  Rig rig;
  rig.jack.answer = OpenResult::no_server;
  rig.pipewire.answer = OpenResult::opened;
  AutoBackend b = rig.make(Choice::auto_select);
  int ctx = 0;
  ASSERT_EQ(b.try_open({&render, &ctx}), OpenResult::opened);
  EXPECT_EQ(b.kind(), Kind::pipewire);
  EXPECT_EQ(b.sample_rate(), 48000u);
  EXPECT_EQ(rig.jack.opens, 1);
  EXPECT_EQ(rig.pipewire.opens, 1);
  EXPECT_EQ(rig.pipewire.last_target.ctx, &ctx);
  EXPECT_EQ(rig.debug, (std::vector<std::string>{"backend jack: no server (jack: jack said no)",
                                                 "backend pipewire: opened"}));
}

TEST(AutoBackend, AJackServerThatFailsIsNotPassedOverForPipewire) {
  Rig rig;
  rig.jack.answer = OpenResult::failed;
  rig.pipewire.answer = OpenResult::opened;
  AutoBackend b = rig.make(Choice::auto_select);
  EXPECT_EQ(b.try_open({&render, nullptr}), OpenResult::failed);
  EXPECT_FALSE(b.is_open());
  EXPECT_EQ(rig.pipewire.opens, 0);
  EXPECT_EQ(b.last_error(), "jack: jack said no");
  EXPECT_EQ(b.retry_delay(), 2 * kRetryMin);
}

TEST(AutoBackend, DecidesAgainAfterEveryRetire) {
  Rig rig;
  rig.jack.answer = OpenResult::opened;
  rig.pipewire.answer = OpenResult::opened;
  AutoBackend b = rig.make(Choice::auto_select);
  ASSERT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  EXPECT_EQ(b.kind(), Kind::jack);

  // The JACK server goes away; PipeWire is there.
  EXPECT_EQ(b.retire(), RetireResult::retired);
  EXPECT_FALSE(b.is_open());
  EXPECT_EQ(b.playback_latency(), std::nullopt);
  EXPECT_EQ(b.dsp_load(), std::nullopt);
  rig.jack.answer = OpenResult::no_server;
  ASSERT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  EXPECT_EQ(b.kind(), Kind::pipewire);
  EXPECT_EQ(rig.jack.opens, 2);
  EXPECT_EQ(rig.pipewire.opens, 1);

  // A JACK server is back: the next connection is JACK's again.
  EXPECT_EQ(b.retire(), RetireResult::retired);
  rig.jack.answer = OpenResult::opened;
  ASSERT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  EXPECT_EQ(b.kind(), Kind::jack);
  EXPECT_EQ(rig.pipewire.opens, 1);
  // Each kind was made once and kept.
  EXPECT_EQ(rig.jack.made, 1);
  EXPECT_EQ(rig.pipewire.made, 1);
}

TEST(AutoBackend, EachKindRemembersItsOwnConnections) {
  Rig rig;
  rig.jack.answer = OpenResult::opened;
  AutoBackend b = rig.make(Choice::auto_select);
  // From a state file, before any connection: every kind starts with them.
  b.set_connections({{"out_1", "system:playback_1"}});
  ASSERT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  EXPECT_EQ(b.connections(), (std::vector<PortConnection>{{"out_1", "system:playback_1"}}));
  b.retire();

  rig.jack.answer = OpenResult::no_server;
  rig.pipewire.answer = OpenResult::opened;
  ASSERT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  ASSERT_EQ(b.kind(), Kind::pipewire);
  EXPECT_EQ(b.connections(), (std::vector<PortConnection>{{"out_1", "system:playback_1"}}));
  b.set_connections({{"out_1", "alsa_output.pci:playback_FL"}});
  b.retire();

  rig.jack.answer = OpenResult::opened;
  ASSERT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  ASSERT_EQ(b.kind(), Kind::jack);
  EXPECT_EQ(b.connections(), (std::vector<PortConnection>{{"out_1", "system:playback_1"}}));
  EXPECT_EQ(b.made(Kind::pipewire)->connections(),
            (std::vector<PortConnection>{{"out_1", "alsa_output.pci:playback_FL"}}));
}

TEST(AutoBackend, TotalsSumOverEveryKind) {
  Rig rig;
  rig.pipewire.answer = OpenResult::opened;
  AutoBackend b = rig.make(Choice::auto_select);
  ASSERT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  rig.jack.xruns = 3;
  rig.pipewire.xruns = 4;
  EXPECT_EQ(b.xruns(), 7u);
}

TEST(AutoBackend, ForcedJackNeverTriesPipewire) {
  Rig rig;
  rig.jack.answer = OpenResult::no_server;
  rig.pipewire.answer = OpenResult::opened;
  AutoBackend b = rig.make(Choice::jack);
  ASSERT_TRUE(b.prepare());
  EXPECT_EQ(rig.jack.made, 1);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(b.try_open({&render, nullptr}), OpenResult::no_server);
  EXPECT_FALSE(b.is_open());
  EXPECT_EQ(rig.jack.opens, 5);
  EXPECT_EQ(rig.pipewire.made, 0);
  EXPECT_EQ(rig.pipewire.opens, 0);
  // Backed off: 200, 400, 800, then 1000 ms.
  EXPECT_EQ(b.retry_delay(), kRetryMax);
  rig.jack.answer = OpenResult::opened;
  EXPECT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  EXPECT_EQ(b.kind(), Kind::jack);
  EXPECT_EQ(b.retry_delay(), kRetryMin);
}

TEST(AutoBackend, ForcedPipewireNeverTriesJack) {
  Rig rig;
  rig.jack.answer = OpenResult::opened;
  rig.pipewire.answer = OpenResult::no_server;
  AutoBackend b = rig.make(Choice::pipewire);
  ASSERT_TRUE(b.prepare());
  EXPECT_EQ(b.kind(), Kind::pipewire);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(b.try_open({&render, nullptr}), OpenResult::no_server);
  rig.pipewire.answer = OpenResult::opened;
  EXPECT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  EXPECT_EQ(b.kind(), Kind::pipewire);
  EXPECT_EQ(rig.pipewire.opens, 4);
  EXPECT_EQ(rig.jack.made, 0);
  EXPECT_EQ(rig.jack.opens, 0);
}

TEST(AutoBackend, AKindMissingFromTheBuildFailsAForcedChoiceAtStart) {
  Rig rig;
  rig.pipewire_built = false;
  AutoBackend b = rig.make(Choice::pipewire);
  EXPECT_FALSE(b.prepare());
  EXPECT_EQ(b.try_open({&render, nullptr}), OpenResult::no_server);
  EXPECT_EQ(b.last_error(), "pipewire: not available in this build");
  // The factory is asked once, not on every retry.
  EXPECT_EQ(rig.pipewire.made, 1);
  EXPECT_EQ(rig.jack.made, 0);
}

TEST(AutoBackend, AutoWithoutAPipewireBuildKeepsWaitingForJack) {
  Rig rig;
  rig.pipewire_built = false;
  AutoBackend b = rig.make(Choice::auto_select);
  EXPECT_TRUE(b.prepare());
  EXPECT_EQ(rig.jack.made, 0);  // auto makes backends when it first tries them
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(b.try_open({&render, nullptr}), OpenResult::no_server);
  EXPECT_EQ(b.last_error(), "pipewire: not available in this build");
  EXPECT_EQ(rig.pipewire.made, 1);
  EXPECT_EQ(rig.jack.opens, 3);
  rig.jack.answer = OpenResult::opened;
  EXPECT_EQ(b.try_open({&render, nullptr}), OpenResult::opened);
  EXPECT_EQ(b.kind(), Kind::jack);
}

TEST(AutoBackend, ChoiceWords) {
  EXPECT_EQ(parse_choice("auto"), Choice::auto_select);
  EXPECT_EQ(parse_choice("jack"), Choice::jack);
  EXPECT_EQ(parse_choice("pipewire"), Choice::pipewire);
  EXPECT_EQ(parse_choice("JACK"), std::nullopt);
  EXPECT_EQ(parse_choice(""), std::nullopt);
  EXPECT_EQ(choice_name(Choice::auto_select), "auto");
  EXPECT_EQ(kind_name(Kind::pipewire), "pipewire");
}

}  // namespace
}  // namespace clipd::backend
