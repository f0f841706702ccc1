// The state file: round trip, atomic replacement, damaged and missing files.
#include "daemon/state_file.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace clipd {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/clipd-state-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(StateFileTest, RoundTripCreatesFoldersPrivately) {
  const std::string path = dir_ + "/a/b/state.json";
  SavedState s;
  s.clips = {{"kick", "/x/kick.wav"}, {"snare", "/x/snare dé.flac"}};
  s.bindings = nlohmann::json::array({{{"note", 36}, {"clip", "kick"}}});
  std::string error;
  ASSERT_TRUE(save_state(path, s, error)) << error;
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0) << "temporary file left behind";

  SavedState back;
  ASSERT_TRUE(load_state(path, back, error)) << error;
  ASSERT_EQ(back.clips.size(), 2u);
  EXPECT_EQ(back.clips[0].name, "kick");
  EXPECT_EQ(back.clips[0].path, "/x/kick.wav");
  EXPECT_EQ(back.clips[1].name, "snare");
  EXPECT_EQ(back.clips[1].path, "/x/snare dé.flac");
  EXPECT_EQ(back.bindings, s.bindings);
}

TEST_F(StateFileTest, SavingAgainReplacesTheWholeFile) {
  const std::string path = dir_ + "/state.json";
  std::string error;
  SavedState s;
  for (int i = 0; i < 50; ++i)
    s.clips.push_back({"clip" + std::to_string(i), "/p"});
  ASSERT_TRUE(save_state(path, s, error));
  s.clips.resize(1);
  ASSERT_TRUE(save_state(path, s, error));
  SavedState back;
  ASSERT_TRUE(load_state(path, back, error));
  EXPECT_EQ(back.clips.size(), 1u);
}

TEST_F(StateFileTest, MissingFileIsAnEmptyState) {
  SavedState back;
  std::string error;
  EXPECT_TRUE(load_state(dir_ + "/none.json", back, error));
  EXPECT_TRUE(back.clips.empty());
}

TEST_F(StateFileTest, DamagedFileIsReportedAndIgnored) {
  for (const char* text : {"{\"clips\": [", "[]", "{\"clips\": [{\"name\": 1}]}", ""}) {
    const std::string path = dir_ + "/bad.json";
    std::ofstream(path) << text;
    SavedState back;
    back.clips.push_back({"stale", "/stale"});
    std::string error;
    EXPECT_FALSE(load_state(path, back, error)) << text;
    EXPECT_FALSE(error.empty());
    EXPECT_TRUE(back.clips.empty());
  }
}

TEST_F(StateFileTest, UnwritableFolderFailsCleanly) {
  std::string error;
  EXPECT_FALSE(save_state("/proc/clipd/state.json", SavedState{}, error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace clipd
