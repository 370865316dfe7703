// The malformed and hostile corpus (tests/fixtures/io/bad, made by make_fixtures.py): each
// file fails with the expected message naming the file; nothing is executed. Then a seeded
// corruption sweep over every good fixture: any outcome but a clean error or success (a crash,
// a sanitizer report, a hang) fails the test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "tests/test_support.h"

namespace ms::core::io {
namespace {

TEST(MalformedFiles, EachFailsWithItsExpectedMessage) {
    std::ifstream in(test::fixture("io/bad/expected_errors.json"));
    const auto expected = nlohmann::json::parse(in);
    ASSERT_GE(expected.size(), 20u);
    for (const auto& [name, message] : expected.items()) {
        SCOPED_TRACE(name);
        const std::string path = test::fixture("io/bad/" + name);
        try {
            const auto src = openCheckpoint(path);
            for (const auto& t : src->tensors()) (void)src->load(t.name);
            ADD_FAILURE() << "no error for " << name;
        } catch (const Error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(message.get<std::string>()), std::string::npos) << what;
            EXPECT_NE(what.find(path), std::string::npos) << "message must name the file: " << what;
        }
    }
}

TEST(MalformedFiles, HostilePicklesExecuteNothing) {
    std::filesystem::remove("/tmp/mergescope-pwned");
    for (const char* f : {"io/bad/evil_os_system.pt", "io/bad/evil_eval.pt"})
        EXPECT_THROW(openCheckpoint(test::fixture(f)), FormatError);
    EXPECT_FALSE(std::filesystem::exists("/tmp/mergescope-pwned"));
}

std::string readFile(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(MalformedFiles, SeededCorruptionOfEveryGoodFixtureFailsCleanly) {
    test::TempDir tmp;
    std::mt19937 rng(1234);
    int clean = 0, errors = 0;
    for (const char* name : {"all_dtypes.pt", "module_state_dict.pt", "training_checkpoint.ckpt",
                             "all_dtypes.safetensors", "weights.h5"}) {
        const std::string good = readFile(test::fixture(std::string("io/") + name));
        const std::string ext = std::filesystem::path(name).extension().string();
        for (int trial = 0; trial < 120; ++trial) {
            std::string bad = good;
            const int mode = trial % 3;
            if (mode == 0) {  // truncate
                bad.resize(std::uniform_int_distribution<std::size_t>(0, good.size() - 1)(rng));
            } else {  // flip 1-8 random bytes (mode 2 biases towards the first 512 bytes)
                const int flips = 1 + static_cast<int>(rng() % 8);
                for (int i = 0; i < flips; ++i) {
                    const std::size_t limit = mode == 2 ? std::min<std::size_t>(512, bad.size()) : bad.size();
                    bad[rng() % limit] = static_cast<char>(rng());
                }
            }
            const std::string path = tmp.path("corrupt" + ext);
            std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
            try {
                const auto src = openCheckpoint(path);
                for (const auto& t : src->tensors()) (void)src->load(t.name);
                ++clean;
            } catch (const Error&) {
                ++errors;
            }
        }
    }
    // Most corruptions must be detected; the rest read as (different) valid data.
    EXPECT_GT(errors, 100);
    RecordProperty("clean_reads", clean);
}

}  // namespace
}  // namespace ms::core::io
