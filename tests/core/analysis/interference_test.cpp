// Task interference on hand-worked task vectors.
#include "core/analysis/interference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/io/checkpoint_writer.h"
#include "core/io/source_factory.h"
#include "tests/test_support.h"

namespace ms::core::analysis {
namespace {

void writeModel(const std::string& path, const std::vector<std::pair<std::string, std::vector<float>>>& tensors) {
    std::vector<io::TensorToWrite> specs;
    for (const auto& [n, v] : tensors) specs.push_back({n, io::DType::F32, {static_cast<std::int64_t>(v.size())}});
    io::writeSafetensors(path, specs, [&](std::size_t i, std::byte* d) {
        std::memcpy(d, tensors[i].second.data(), tensors[i].second.size() * 4);
    }, {});
}

TEST(Interference, HandWorkedCosinesConflictsAndOverlaps) {
    test::TempDir tmp;
    // Base 0 everywhere, so θ_t = τ_t.   block 0: 4 coords; "norm": 2 coords (outside blocks).
    writeModel(tmp.path("base.safetensors"), {{"blocks.0.w", {0, 0, 0, 0}}, {"norm.w", {0, 0}}});
    writeModel(tmp.path("a.safetensors"), {{"blocks.0.w", {1, 0, 2, 0}}, {"norm.w", {1, 1}}});
    writeModel(tmp.path("b.safetensors"), {{"blocks.0.w", {-1, 0, 2, 0}}, {"norm.w", {0, 3}}});
    const auto base = io::openCheckpoint(tmp.path("base.safetensors"));
    const auto a = io::openCheckpoint(tmp.path("a.safetensors"));
    const auto b = io::openCheckpoint(tmp.path("b.safetensors"));
    merge::MergeProblem problem(*base, {a.get(), b.get()}, merge::makePlan(*base, {a.get(), b.get()}, {}));
    const auto r = analyzeInterference(problem, {"a", "b"}, {0.5, 0.4});
    // Whole model: τa = [1,0,2,0,1,1], τb = [-1,0,2,0,0,3]: dot = -1+4+3 = 6, ‖a‖² = 7, ‖b‖² = 14.
    EXPECT_NEAR(r.all.cosine[1], 6 / std::sqrt(7.0 * 14.0), 1e-12);
    EXPECT_NEAR(r.all.norms[0], std::sqrt(7.0), 1e-12);
    EXPECT_EQ(r.all.elements, 6u);
    EXPECT_NEAR(r.all.signConflictRate, 1.0 / 6.0, 1e-12);  // only coordinate 0
    ASSERT_EQ(r.blocks.size(), 2u);
    EXPECT_EQ(r.blocks[0].name, "block 0");
    EXPECT_NEAR(r.blocks[0].cosine[1], 3.0 / 5.0, 1e-12);  // (-1+4)/(√5·√5)
    EXPECT_NEAR(r.blocks[0].signConflictRate, 0.25, 1e-12);
    EXPECT_EQ(r.blocks[1].name, "other");
    EXPECT_NEAR(r.blocks[1].cosine[1], 3.0 / (std::sqrt(2.0) * 3.0), 1e-12);
    // TIES top-50%: d = 6, rank 3. |τa| sorted 0,0,1,1,1,2 → thr 1 → mask a = {0,2,4,5};
    // |τb| sorted 0,0,0,1,2,3 → thr 0 → mask b = all 6. Jaccard = 4/6.
    EXPECT_NEAR(r.tiesOverlap[1], 4.0 / 6.0, 1e-12);
    // TALL (λ=0.4): τ_MTL = [0,0,4,0,1,4]; m_a: |τa| > 0.4|MTL−τa| → coords 0 (1>0.4), 2 (2>0.8),
    // 4 (1>0), 5 (1>1.2? no) → {0,2,4}; m_b: coords 0 (1>0.4), 2, 5 (3>0.4) → {0,2,5}. J = 2/4.
    EXPECT_NEAR(r.tallOverlap[1], 0.5, 1e-12);
    EXPECT_DOUBLE_EQ(r.tallOverlap[0], 1.0);
}

// Spectra on hand-worked 2×2 task vectors (a 1-D tensor beside them is not a matrix):
// τa = diag(3, 0): singular values (3, 0), effective rank exp(0) = 1; τb = diag(1, 1): rank 2;
// Σ τ = diag(4, 1): p = (0.8, 0.2), rank exp(−0.8 ln 0.8 − 0.2 ln 0.2); s_max/mean = 4/2.5.
TEST(Spectra, EffectiveRanksAndAnisotropyOfHandWorkedMatrices) {
    test::TempDir tmp;
    const auto write = [&](const std::string& file, std::vector<float> w) {
        const std::vector<io::TensorToWrite> specs = {{"blocks.0.bias", io::DType::F32, {2}}, {"blocks.0.weight", io::DType::F32, {2, 2}}};
        const std::vector<float> bias = {0, 1};
        io::writeSafetensors(tmp.path(file), specs, [&](std::size_t i, std::byte* d) {
            std::memcpy(d, (i == 0 ? bias : w).data(), (i == 0 ? bias : w).size() * 4);
        }, {});
    };
    write("base.safetensors", {0, 0, 0, 0});
    write("a.safetensors", {3, 0, 0, 0});
    write("b.safetensors", {1, 0, 0, 1});
    const auto base = io::openCheckpoint(tmp.path("base.safetensors"));
    const auto a = io::openCheckpoint(tmp.path("a.safetensors"));
    const auto b = io::openCheckpoint(tmp.path("b.safetensors"));
    merge::MergeProblem problem(*base, {a.get(), b.get()}, merge::makePlan(*base, {a.get(), b.get()}, {}));
    const SpectrumReport r = analyzeSpectra(problem, {"a", "b"});
    ASSERT_EQ(r.matrices.size(), 1u);
    const MatrixSpectrum& m = r.matrices[0];
    EXPECT_EQ(m.name, "blocks.0.weight");
    ASSERT_EQ(m.sumSingularValues.size(), 2u);
    EXPECT_NEAR(m.sumSingularValues[0], 4.0, 1e-12);
    EXPECT_NEAR(m.sumSingularValues[1], 1.0, 1e-12);
    EXPECT_NEAR(m.effectiveRank[0], 1.0, 1e-12);
    EXPECT_NEAR(m.effectiveRank[1], 2.0, 1e-12);
    EXPECT_NEAR(m.sumEffectiveRank, std::exp(-0.8 * std::log(0.8) - 0.2 * std::log(0.2)), 1e-12);
    EXPECT_NEAR(m.anisotropy(), 1.6, 1e-12);
    ASSERT_EQ(r.blocks.size(), 1u);
    EXPECT_EQ(r.blocks[0].name, "block 0");
    EXPECT_NEAR(r.blocks[0].effectiveRank[1], 2.0, 1e-12);
}

}  // namespace
}  // namespace ms::core::analysis
