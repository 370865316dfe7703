// File hashes: the value `xxhsum -H2` prints, computed once per unchanged file in a process.
#include "core/io/content_hash.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/test_support.h"

namespace ms::test {
namespace {

void writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

TEST(ContentHash, AFileChangedSinceItWasHashedIsHashedAgain) {
    TempDir tmp;
    const std::string f = tmp.path("w.bin");
    writeText(f, "aaaa");
    const std::string first = core::io::hashFile(f);
    EXPECT_EQ(first, core::io::hashBytes("aaaa", 4));
    EXPECT_EQ(core::io::hashFile(f), first);  // unchanged: the same value (from the cache)
    // Rewritten in place, same size (timestamps move on at the kernel's tick: wait one out).
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    writeText(f, "bbbb");
    EXPECT_EQ(core::io::hashFile(f), core::io::hashBytes("bbbb", 4));
    // Replaced by a rename (another inode), as AtomicFile writes.
    writeText(tmp.path("new.bin"), "cccc");
    std::filesystem::rename(tmp.path("new.bin"), f);
    EXPECT_EQ(core::io::hashFile(f), core::io::hashBytes("cccc", 4));
}

}  // namespace
}  // namespace ms::test
