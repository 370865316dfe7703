// The caches' bookkeeping: usage per kind, the size cap removing the least recently used entries
// first, clearing by kind, and `mergescope-cli cache info | clear`.
#include "core/io/cache_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::core::io {
namespace {

namespace fs = std::filesystem;

class CacheHome : public ::testing::Test {
protected:
    void SetUp() override {
        if (const char* b = std::getenv("XDG_CACHE_HOME")) m_before = b;
        ::setenv("XDG_CACHE_HOME", m_tmp.path("cache").c_str(), 1);
    }
    void TearDown() override {
        if (m_before) ::setenv("XDG_CACHE_HOME", m_before->c_str(), 1);
        else ::unsetenv("XDG_CACHE_HOME");
    }
    // A file of `bytes` bytes, last used `ageSeconds` ago.
    static void entry(const std::string& kind, const std::string& name, std::size_t bytes, int ageSeconds) {
        fs::create_directories(cacheDir(kind));
        const std::string path = cacheDir(kind) + "/" + name;
        std::ofstream(path) << std::string(bytes, 'x');
        fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::seconds(ageSeconds));
    }
    test::TempDir m_tmp;
    std::optional<std::string> m_before;
};

TEST_F(CacheHome, UsageCapAndClear) {
    entry("heads", "old", 1000, 300);
    entry("heads", "mid", 1000, 200);
    entry("heads", "new", 1000, 100);
    entry("statistics", "s", 500, 10);
    const auto usage = cacheUsage();
    ASSERT_EQ(usage.size(), 5u);  // features, statistics, heads, scores, images
    EXPECT_EQ(usage[2].kind, "heads");
    EXPECT_EQ(usage[2].files, 3u);
    EXPECT_EQ(usage[2].bytes, 3000u);
    EXPECT_EQ(usage[0].files, 0u);  // features: nothing yet
    // A hit makes "old" the most recently used: the cap removes "mid" first, then "new".
    touchCacheEntry(cacheDir("heads") + "/old");
    enforceCacheCap(cacheDir("heads"), 2000);
    EXPECT_TRUE(fs::exists(cacheDir("heads") + "/old"));
    EXPECT_FALSE(fs::exists(cacheDir("heads") + "/mid"));
    EXPECT_TRUE(fs::exists(cacheDir("heads") + "/new"));
    enforceCacheCap(cacheDir("heads"), 1000);
    EXPECT_TRUE(fs::exists(cacheDir("heads") + "/old"));
    EXPECT_FALSE(fs::exists(cacheDir("heads") + "/new"));
    EXPECT_EQ(clearCache("statistics"), 500u);
    EXPECT_TRUE(fs::exists(cacheDir("heads") + "/old"));
    EXPECT_EQ(clearCache("all"), 1000u);
    EXPECT_THROW(clearCache("weights"), InvalidArgument);
    ::setenv("MS_CACHE_MAX_GB", "0.5", 1);
    EXPECT_EQ(cacheCapBytes(), 512u * 1024 * 1024);
    ::unsetenv("MS_CACHE_MAX_GB");
    EXPECT_EQ(cacheCapBytes(), 20ull * 1024 * 1024 * 1024);
}

TEST_F(CacheHome, CliInfoAndClear) {
    entry("features", "f", 2048, 5);
    const auto info = test::runCli({"cache", "info", "--json"});
    ASSERT_EQ(info.exitCode, 0) << info.err;
    const auto j = nlohmann::json::parse(info.out);
    EXPECT_EQ(j["caches"][0]["kind"], "features");
    EXPECT_EQ(j["caches"][0]["bytes"], 2048);
    EXPECT_EQ(j["caches"][0]["dir"], cacheDir("features"));
    const auto cleared = test::runCli({"cache", "clear", "features"});
    ASSERT_EQ(cleared.exitCode, 0) << cleared.err;
    EXPECT_FALSE(fs::exists(cacheDir("features") + "/f"));
    EXPECT_EQ(test::runCli({"cache", "clear", "weights"}).exitCode, 2);
}

}  // namespace
}  // namespace ms::core::io
