// An experiment file written by the previous release (MergeScope 0.1, before the sweep-run and
// kit-binding rework; tests/fixtures/store/make_release_fixture.py) opens, its killed sweep
// resumes to the points a fresh run gives bit for bit, and its points re-make the merged model
// that `merge --kit` gives for the same settings.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "core/model/param_io.h"
#include "core/store/experiment_store.h"
#include "tests/test_support.h"

namespace ms::test {
namespace {

namespace fs = std::filesystem;

const char* const kKit = "/tmp/mergescope-fixture-kit";  // where the fixture's kit lay when it was written

std::vector<std::string> killedSweepArgs(const std::string& out) {
    return {"sweep", "--kit", std::string(kKit) + "/kit.yaml", "--no-feature-cache", "--probe-size", "16", "--grid", "lambda=0:1.5:12",
            "--downstream", "head-realign", "--out", out};
}

void expectSamePoint(const core::store::PointRecord& a, const core::store::PointRecord& b) {
    EXPECT_EQ(a.params, b.params);
    EXPECT_EQ(a.proxy, b.proxy);
    EXPECT_EQ(a.metric, b.metric);
    EXPECT_EQ(a.normalized, b.normalized);
}

TEST(ReleaseFixture, OpensResumesAndRemakesPointsBitForBit) {
    std::error_code ec;
    fs::remove_all(kKit, ec);
    fs::copy(fixture("kits/clip_tiny"), kKit, fs::copy_options::recursive);
    TempDir tmp;
    const std::string exp = tmp.path("release-0.1.h5");
    fs::copy_file(fixture("store/release-0.1.h5"), exp);

    // Opens: two sweeps, the second killed mid-way.
    const core::store::Experiment old = core::store::readExperiment(exp);
    EXPECT_EQ(old.toolVersion, "0.1.0");
    ASSERT_EQ(old.sweeps.size(), 2u);
    EXPECT_EQ(old.sweeps[0].status, core::store::SweepStatus::Complete);
    EXPECT_EQ(old.sweeps[0].points.size(), 3u);
    EXPECT_EQ(old.sweeps[1].status, core::store::SweepStatus::Running);
    const std::size_t kept = old.sweeps[1].points.size();
    ASSERT_GE(kept, 3u);
    ASSERT_LT(kept, 12u);

    // Resumes into the same sweep; every point equals a fresh run of this version.
    const auto resumed = runCli([&] {
        auto a = killedSweepArgs(exp);
        a.push_back("--resume");
        return a;
    }());
    ASSERT_EQ(resumed.exitCode, 0) << resumed.err;
    const auto fresh = runCli(killedSweepArgs(tmp.path("fresh.h5")));
    ASSERT_EQ(fresh.exitCode, 0) << fresh.err;
    const core::store::Experiment after = core::store::readExperiment(exp), ref = core::store::readExperiment(tmp.path("fresh.h5"));
    ASSERT_EQ(after.sweeps.size(), 2u) << "resume continues sweep-002, it does not add a sweep";
    EXPECT_EQ(after.sweeps[1].status, core::store::SweepStatus::Complete);
    ASSERT_EQ(after.sweeps[1].points.size(), 12u);
    for (std::size_t i = 0; i < kept; ++i) expectSamePoint(after.sweeps[1].points[i], old.sweeps[1].points[i]);
    for (const auto& p : after.sweeps[1].points) {
        const int j = ref.sweeps[0].findPoint(p.params);
        ASSERT_GE(j, 0);
        expectSamePoint(p, ref.sweeps[0].points[static_cast<std::size_t>(j)]);
    }

    // Re-makes sweep-001's second point (TIES, density 0.3, λ 0.8) as merge --kit makes it.
    ASSERT_EQ(runCli({"merge", "--experiment", exp, "--sweep", "sweep-001", "--point", "2", "--out", tmp.path("remade.safetensors")}).exitCode, 0);
    const auto direct = runCli({"merge", "--kit", std::string(kKit) + "/kit.yaml", "--method", "ties", "--set", "density=0.3", "--set",
                                "lambda=0.8", "--out", tmp.path("direct.safetensors")});
    ASSERT_EQ(direct.exitCode, 0) << direct.err;
    const auto a = core::model::loadParams(*core::io::openCheckpoint(tmp.path("remade.safetensors")));
    const auto b = core::model::loadParams(*core::io::openCheckpoint(tmp.path("direct.safetensors")));
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_TRUE(t.equal(b.at(name))) << name;
    fs::remove_all(kKit, ec);
}

}  // namespace
}  // namespace ms::test
