// The loader pool: results come back on the control thread, loads run in parallel while the
// control loop keeps running, the budget holds across parallel loads, and loads cancel.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "clips/loader.hpp"
#include "control_thread.hpp"
#include "test_files.hpp"

namespace clipd::clips {
namespace {

using namespace std::chrono_literals;
using test::ControlThread;
using test::TempDir;

constexpr auto generous = 60s;  // only reached when something hangs (ASan builds are slow)

void expect_equal(const LoadedClip& clip, const test::Reference& ref) {
  const engine::ClipSamples s = clip.samples();
  ASSERT_EQ(s.frames, ref.frames);
  for (std::uint32_t c = 0; c < s.channels; ++c) {
    for (std::uint64_t i = 0; i < s.frames; ++i) {
      ASSERT_EQ(s.channel(c)[i], ref.interleaved[i * s.channels + c]) << c << " " << i;
    }
  }
}

TEST(Loader, PoolIsSizedToTheMachine) {
  ControlThread control;
  MemoryBudget budget;
  Loader loader(control.executor(), budget);
  EXPECT_EQ(loader.workers(), std::max(2U, std::thread::hardware_concurrency()));
  EXPECT_EQ(Loader::default_workers(), loader.workers());
  Loader three(control.executor(), budget, {3, {}});
  EXPECT_EQ(three.workers(), 3U);
}

TEST(Loader, ParallelLoadsCompleteOnTheControlThreadWhileItKeepsRunning) {
  TempDir dir;
  constexpr int count = 6;
  std::vector<std::string> paths;
  for (int i = 0; i < count; ++i) {
    paths.push_back(dir.file("clip" + std::to_string(i) + (i % 2 ? ".flac" : ".wav")));
    ASSERT_TRUE(test::write_audio(
        paths.back(), i % 2 ? SF_FORMAT_FLAC | SF_FORMAT_PCM_16 : SF_FORMAT_WAV | SF_FORMAT_PCM_24,
        48000, 2, 48000 * 20 + static_cast<std::uint64_t>(i)));
  }
  ControlThread control;
  MemoryBudget budget;
  Loader loader(control.executor(), budget, {2, {}});
  const auto control_id = std::this_thread::get_id();
  std::vector<std::unique_ptr<LoadedClip>> clips(count);
  int completed = 0;
  for (int i = 0; i < count; ++i) {
    loader.submit({paths[i], 0, 8}, [&, i](LoadResult result) {
      EXPECT_EQ(std::this_thread::get_id(), control_id);
      ASSERT_TRUE(result.ok()) << result.error->message;
      clips[i] = std::move(result.clip);
      ++completed;
    });
  }
  // The control loop keeps turning while the workers decode: count its turns and its longest
  // pause. Twenty seconds a clip keep the workers busy for many of its 1 ms idle turns: with
  // clips of two seconds, a quiet machine decoded all six between two turns.
  int turns = 0;
  auto last = std::chrono::steady_clock::now();
  auto longest = std::chrono::steady_clock::duration::zero();
  ASSERT_TRUE(control.run_until([&] { return completed == count; }, generous,
                                [&] {
                                  const auto now = std::chrono::steady_clock::now();
                                  longest = std::max(longest, now - last);
                                  last = now;
                                  ++turns;
                                }));
  EXPECT_GT(turns, count);
  EXPECT_LT(longest, 250ms);
  std::size_t bytes = 0;
  for (int i = 0; i < count; ++i) {
    ASSERT_NE(clips[i], nullptr);
    expect_equal(*clips[i], test::read_reference(paths[i]));
    bytes += clips[i]->info().bytes;
  }
  EXPECT_EQ(budget.used(), bytes);
  clips.clear();
  EXPECT_EQ(budget.used(), 0U);
}

TEST(Loader, ParallelLoadsNeverPassTheBudgetTogether) {
  TempDir dir;
  const std::string path = dir.file("clip.wav");
  ASSERT_TRUE(test::write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 44100));
  const std::size_t each = *PcmBuffer::bytes_for(48000, 2);
  ControlThread control;
  MemoryBudget budget(each * 3 + each / 2);
  Loader loader(control.executor(), budget, {4, {}});
  std::vector<std::unique_ptr<LoadedClip>> clips;
  int refused = 0;
  int completed = 0;
  for (int i = 0; i < 8; ++i) {
    loader.submit({path, 48000, 8}, [&](LoadResult result) {
      ++completed;
      EXPECT_LE(budget.used(), budget.limit());
      if (result.ok()) {
        clips.push_back(std::move(result.clip));
      } else {
        EXPECT_EQ(result.error->code, LoadErrorCode::memory_budget) << result.error->message;
        ++refused;
      }
    });
  }
  ASSERT_TRUE(control.run_until([&] { return completed == 8; }, generous));
  EXPECT_EQ(clips.size(), 3U);
  EXPECT_EQ(refused, 5);
  EXPECT_EQ(budget.used(), each * 3);
  clips.clear();
  EXPECT_EQ(budget.used(), 0U);
}

// A long resampled load, so a cancel lands while it decodes.
std::string long_file(const TempDir& dir) {
  const std::string path = dir.file("long.flac");
  EXPECT_TRUE(test::write_audio(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 44100 * 20));
  return path;
}

TEST(Loader, CancelWhileDecoding) {
  TempDir dir;
  const std::string path = long_file(dir);
  ControlThread control;
  MemoryBudget budget;
  Loader loader(control.executor(), budget, {2, {}});
  std::optional<LoadResult> result;
  LoadHandle handle = loader.submit({path, 48000, 8}, [&](LoadResult r) { result = std::move(r); });
  // The budget is reserved once the header is read, before the first block: cancel then.
  std::jthread canceller([&] {
    while (budget.used() == 0)
      std::this_thread::yield();
    handle.cancel();
  });
  ASSERT_TRUE(control.run_until([&] { return result.has_value(); }, generous));
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error->code, LoadErrorCode::cancelled);
  EXPECT_NE(result->error->message.find(path), std::string::npos);
  EXPECT_EQ(budget.used(), 0U);
  EXPECT_TRUE(handle.cancel_requested());
}

TEST(Loader, CancelWhileQueuedAndAfterFinishing) {
  TempDir dir;
  const std::string slow = long_file(dir);
  const std::string quick = dir.file("quick.wav");
  ASSERT_TRUE(test::write_audio(quick, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 480));
  ControlThread control;
  MemoryBudget budget;
  Loader loader(control.executor(), budget, {1, {}});
  std::vector<LoadResult> results;
  loader.submit({slow, 48000, 8}, [&](LoadResult r) { results.push_back(std::move(r)); });
  LoadHandle queued =
      loader.submit({quick, 0, 8}, [&](LoadResult r) { results.push_back(std::move(r)); });
  queued.cancel();  // the single worker is still on the slow load
  ASSERT_TRUE(control.run_until([&] { return results.size() == 2; }, generous));
  EXPECT_TRUE(results[0].ok());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error->code, LoadErrorCode::cancelled);

  std::optional<LoadResult> done;
  LoadHandle finished = loader.submit({quick, 0, 8}, [&](LoadResult r) { done = std::move(r); });
  ASSERT_TRUE(control.run_until([&] { return done.has_value(); }, generous));
  finished.cancel();  // too late: nothing changes
  EXPECT_TRUE(done->ok());
  LoadHandle empty;
  empty.cancel();  // a default handle does nothing
  EXPECT_FALSE(empty.cancel_requested());
}

TEST(Loader, DestructorCancelsJoinsAndStillCompletesEveryLoad) {
  TempDir dir;
  const std::string path = long_file(dir);
  ControlThread control;
  MemoryBudget budget;
  std::vector<LoadResult> results;
  {
    Loader loader(control.executor(), budget, {2, {}});
    for (int i = 0; i < 6; ++i) {
      loader.submit({path, 48000, 8}, [&](LoadResult r) { results.push_back(std::move(r)); });
    }
  }
  // Every completion was posted before the destructor returned.
  ASSERT_TRUE(control.run_until([&] { return results.size() == 6; }, 1s));
  int cancelled = 0;
  for (const LoadResult& r : results) {
    if (!r.ok() && r.error->code == LoadErrorCode::cancelled) ++cancelled;
  }
  EXPECT_GE(cancelled, 4);  // at most the two running loads could have finished
  results.clear();
  EXPECT_EQ(budget.used(), 0U);
}

}  // namespace
}  // namespace clipd::clips
