// The paths that need a process without privileges: mlock failing (RLIMIT_MEMLOCK without
// CAP_IPC_LOCK) and files it may not read. Root ignores both limits, so the test runs this same
// binary again under `prlimit --memlock` and, as root, `setpriv` dropping CAP_IPC_LOCK and the
// file-permission overrides; the `UnprivilegedChild` tests only run in that child.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "clips/decode.hpp"
#include "clips/loader.hpp"
#include "control_thread.hpp"
#include "test_files.hpp"

namespace clipd::clips {
namespace {

constexpr const char* child_env = "CLIPD_CLIPS_UNPRIVILEGED_CHILD";
constexpr int memlock_limit = 64 * 1024;

bool in_child() {
  return std::getenv(child_env) != nullptr;
}

int run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

TEST(Unprivileged, ChildRunsWithoutLockCapabilityAndPermissionOverrides) {
  if (in_child()) GTEST_SKIP() << "this is the child";
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string command = "prlimit --memlock=" + std::to_string(memlock_limit) + ":" +
                        std::to_string(memlock_limit) + " ";
  if (::geteuid() == 0) {
    if (run("setpriv --bounding-set=-ipc_lock true") != 0) {
      GTEST_SKIP() << "setpriv cannot drop CAP_IPC_LOCK here (no CAP_SETPCAP)";
    }
    command += "setpriv --inh-caps=-all --bounding-set=-ipc_lock,-dac_override,-dac_read_search ";
  }
  command += "env " + std::string(child_env) + "=1 " + self +
             " --gtest_filter='UnprivilegedChild.*' --gtest_brief=0";
  EXPECT_EQ(run(command), 0) << command;
}

TEST(UnprivilegedChild, LockFailureWarnsOnceAndLoadsUnlocked) {
  if (!in_child()) GTEST_SKIP() << "runs only in the re-executed child";
  test::TempDir dir;
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    paths.push_back(dir.file("clip" + std::to_string(i) + ".wav"));
    ASSERT_TRUE(test::write_audio(paths.back(), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 2,
                                  48000));  // 384 kB decoded, past the 64 kB lock limit
  }
  std::vector<std::string> warnings;
  std::mutex warnings_mutex;
  test::ControlThread control;
  MemoryBudget budget;
  Loader loader(control.executor(), budget, {2, [&](std::string_view text) {
                                               std::lock_guard lock(warnings_mutex);
                                               warnings.emplace_back(text);
                                             }});
  std::vector<LoadResult> results;
  for (const std::string& path : paths) {
    loader.submit({path, 0, 8}, [&](LoadResult r) { results.push_back(std::move(r)); });
  }
  ASSERT_TRUE(
      control.run_until([&] { return results.size() == paths.size(); }, std::chrono::seconds(60)));
  for (const LoadResult& result : results) {
    ASSERT_TRUE(result.ok()) << result.error->message;
    EXPECT_FALSE(result.clip->info().locked);
    EXPECT_FALSE(result.clip->pcm().locked());
    const test::Reference ref = test::read_reference(result.clip->info().path);
    const engine::ClipSamples s = result.clip->samples();
    ASSERT_EQ(s.frames, ref.frames);
    for (std::uint32_t c = 0; c < s.channels; ++c) {
      for (std::uint64_t i = 0; i < s.frames; ++i) {
        ASSERT_EQ(s.channel(c)[i], ref.interleaved[i * s.channels + c]);
      }
    }
  }
  std::lock_guard lock(warnings_mutex);
  ASSERT_EQ(warnings.size(), 1U);  // once per process, not once per clip
  EXPECT_NE(warnings[0].find("mlock"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("RLIMIT_MEMLOCK"), std::string::npos) << warnings[0];

  // A clip small enough for the limit is still locked.
  const std::string tiny = dir.file("tiny.wav");
  ASSERT_TRUE(test::write_audio(tiny, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 100));
  const LoadResult small = decode_clip({tiny, 0, 8}, budget);
  ASSERT_TRUE(small.ok());
  EXPECT_TRUE(small.clip->info().locked);
}

TEST(UnprivilegedChild, LockedBufferGrowingPastTheLimitGoesOnUnlocked) {
  if (!in_child()) GTEST_SKIP() << "runs only in the re-executed child";
  auto buffer = PcmBuffer::allocate(1000, 2);  // two pages: within the 64 kB limit
  ASSERT_TRUE(buffer.has_value());
  EXPECT_TRUE(buffer->locked());
  for (std::uint32_t c = 0; c < 2; ++c) {
    for (std::uint64_t i = 0; i < 1000; ++i)
      buffer->channel(c)[i] = static_cast<float>(c * 1000 + i);
  }
  // 800 kB: a locked mapping may not grow that far, so it grows unlocked, samples kept.
  ASSERT_TRUE(buffer->resize(100000, [](std::string_view) {}));
  EXPECT_FALSE(buffer->locked());
  EXPECT_EQ(buffer->bytes(), *PcmBuffer::bytes_for(100000, 2));
  for (std::uint32_t c = 0; c < 2; ++c) {
    for (std::uint64_t i = 0; i < buffer->stride(); ++i) {
      ASSERT_EQ(buffer->channel(c)[i], i < 1000 ? static_cast<float>(c * 1000 + i) : 0.0F)
          << "channel " << c << " frame " << i;
    }
  }
}

TEST(UnprivilegedChild, UnreadableFileAndFolderArePermissionDenied) {
  if (!in_child()) GTEST_SKIP() << "runs only in the re-executed child";
  test::TempDir dir;
  MemoryBudget budget;
  const std::string file = dir.file("secret.wav");
  ASSERT_TRUE(test::write_audio(file, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 100));
  ASSERT_EQ(::chmod(file.c_str(), 0), 0);
  const LoadResult unreadable = decode_clip({file, 0, 8}, budget);
  ASSERT_FALSE(unreadable.ok());
  EXPECT_EQ(unreadable.error->code_string(), "permission-denied") << unreadable.error->message;
  EXPECT_NE(unreadable.error->message.find(file), std::string::npos);

  std::filesystem::create_directory(dir.file("closed"));
  const std::string inside = dir.file("closed/clip.wav");
  ASSERT_TRUE(test::write_audio(inside, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 100));
  ASSERT_EQ(::chmod(dir.file("closed").c_str(), 0), 0);
  const LoadResult hidden = decode_clip({inside, 0, 8}, budget);
  ASSERT_FALSE(hidden.ok());
  EXPECT_EQ(hidden.error->code_string(), "permission-denied") << hidden.error->message;
  EXPECT_EQ(budget.used(), 0U);
}

}  // namespace
}  // namespace clipd::clips
