// LogSink: libpipewire's log caught in preallocated slots, drained in order, overflow counted.
#include <gtest/gtest.h>
#include <pipewire/pipewire.h>

#include <string>

#include "backend/pipewire/log_sink.hpp"
#include "backend/pipewire/pipewire_backend.hpp"

namespace {

using clipd::backend::pipewire::LogSink;

TEST(LogSink, CatchesPipewireWarningsAndErrorsButNotInfo) {
  LogSink::install();
  std::uint64_t dropped = 0;
  LogSink::instance().drain(dropped);  // whatever pw_init said
  pw_log_error("an error %d", 7);
  pw_log_warn("a warning %s", "here");
  pw_log_info("not wanted");
  pw_log_debug("not wanted either");
  const auto messages = LogSink::instance().drain(dropped);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(messages[0].error);
  EXPECT_EQ(messages[0].text, "an error 7");
  EXPECT_EQ(messages[1].text, "a warning here");
  EXPECT_EQ(dropped, 0u);
  EXPECT_TRUE(LogSink::instance().drain(dropped).empty());
}

TEST(LogSink, DropsAndCountsWhatDoesNotFitAndTruncatesLongMessages) {
  LogSink::install();
  std::uint64_t dropped = 0;
  LogSink::instance().drain(dropped);
  dropped = 0;
  for (std::size_t i = 0; i < LogSink::kSlots + 8; ++i)
    pw_log_warn("message %zu", i);
  auto messages = LogSink::instance().drain(dropped);
  ASSERT_EQ(messages.size(), LogSink::kSlots);
  EXPECT_EQ(dropped, 8u);
  for (std::size_t i = 0; i < messages.size(); ++i)
    EXPECT_EQ(messages[i].text, "message " + std::to_string(i));

  const std::string long_text(1000, 'x');
  pw_log_error("%s", long_text.c_str());
  messages = LogSink::instance().drain(dropped);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].text, std::string(LogSink::kMessageBytes - 1, 'x'));
  EXPECT_EQ(dropped, 8u);
}

TEST(LogSink, PollHandsPipewiresMessagesOutEvenWhileNotOpen) {
  // Making a backend installs the sink (and calls pw_init) if nothing did.
  auto backend = clipd::backend::make_pipewire_backend({});
  std::uint64_t dropped = 0;
  LogSink::instance().drain(dropped);
  pw_log_error("from the library %d", 42);
  const clipd::backend::Events ev = backend->poll();
  ASSERT_EQ(ev.library_messages.size(), 1u);
  EXPECT_TRUE(ev.library_messages[0].error);
  EXPECT_EQ(ev.library_messages[0].text, "from the library 42");
  EXPECT_EQ(ev.library_dropped, 0u);
  EXPECT_FALSE(ev.any());
  EXPECT_TRUE(backend->poll().library_messages.empty());
}

}  // namespace
