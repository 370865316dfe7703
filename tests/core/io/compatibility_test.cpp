// The compatibility report of a base against experts.
#include "core/io/compatibility.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/io/checkpoint_writer.h"
#include "core/io/source_factory.h"
#include "tests/test_support.h"

namespace ms::core::io {
namespace {

void writeFloats(const std::string& path, const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& specs,
                 DType dtype = DType::F32, float fillValue = 0.5f) {
    std::vector<TensorToWrite> t;
    for (const auto& [n, s] : specs) t.push_back({n, dtype, s});
    writeSafetensors(path, t, [&](std::size_t i, std::byte* dst) {
        const auto n = *checkedNumel(t[i].shape.data(), t[i].shape.size());
        std::vector<float> v(n, fillValue);
        fromFloat32(dtype, v.data(), dst, n);
    }, {});
}

TEST(Compatibility, MatchingFilesAreClean) {
    test::TempDir tmp;
    writeFloats(tmp.path("base.safetensors"), {{"a", {2, 2}}, {"b", {3}}});
    writeFloats(tmp.path("e1.safetensors"), {{"a", {2, 2}}, {"b", {3}}});
    const auto base = openCheckpoint(tmp.path("base.safetensors"));
    const auto e1 = openCheckpoint(tmp.path("e1.safetensors"));
    const auto r = checkCompatibility(*base, {e1.get()});
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.issues.empty());
    EXPECT_EQ(r.format(), "");
}

TEST(Compatibility, ReportsEveryProblemPerFileAndTensor) {
    test::TempDir tmp;
    writeFloats(tmp.path("base.safetensors"), {{"a", {2, 2}}, {"b", {3}}, {"c", {1}}});
    // e1: 'b' missing, 'a' reshaped, an extra head.
    writeFloats(tmp.path("e1.safetensors"), {{"a", {4}}, {"c", {1}}, {"head.weight", {10, 2}}});
    // e2: right names and shapes, but bf16 and full of NaN.
    writeFloats(tmp.path("e2.safetensors"), {{"a", {2, 2}}, {"b", {3}}, {"c", {1}}}, DType::BF16, std::nanf(""));
    const auto base = openCheckpoint(tmp.path("base.safetensors"));
    const auto e1 = openCheckpoint(tmp.path("e1.safetensors"));
    const auto e2 = openCheckpoint(tmp.path("e2.safetensors"));
    const auto r = checkCompatibility(*base, {e1.get(), e2.get()});
    EXPECT_FALSE(r.ok());
    auto has = [&](const std::string& file, const std::string& tensor, CompatKind k, Severity s) {
        for (const auto& i : r.issues)
            if (i.file == file && i.tensor == tensor && i.kind == k && i.severity == s) return true;
        return false;
    };
    EXPECT_TRUE(has(e1->path(), "b", CompatKind::Missing, Severity::Error));
    EXPECT_TRUE(has(e1->path(), "a", CompatKind::ShapeMismatch, Severity::Error));
    EXPECT_TRUE(has(e1->path(), "head.weight", CompatKind::Extra, Severity::Warning));
    EXPECT_TRUE(has(e2->path(), "a", CompatKind::DTypeMismatch, Severity::Warning));
    EXPECT_TRUE(has(e2->path(), "b", CompatKind::NonFinite, Severity::Error));
    EXPECT_EQ(r.errorCount(), 2u + 3u);  // missing, shape; NaN in a, b, c
    const std::string text = r.format();
    EXPECT_NE(text.find("e1.safetensors:\n"), std::string::npos) << text;
    EXPECT_NE(text.find("a: shape mismatch (base [2, 2], here [4])"), std::string::npos) << text;
    EXPECT_NE(text.find("3 of 3 values are NaN or infinite"), std::string::npos) << text;
}

TEST(Compatibility, CountsNonFiniteInEveryFloatFormat) {
    const float f32[] = {1.0f, INFINITY, std::nanf(""), -INFINITY};
    EXPECT_EQ(countNonFinite(DType::F32, reinterpret_cast<const std::byte*>(f32), 4), 3u);
    const double f64[] = {1.0, NAN};
    EXPECT_EQ(countNonFinite(DType::F64, reinterpret_cast<const std::byte*>(f64), 2), 1u);
    const std::uint16_t f16[] = {0x3c00, 0x7c00, 0x7e00, 0xfc00, 0x7bff};
    EXPECT_EQ(countNonFinite(DType::F16, reinterpret_cast<const std::byte*>(f16), 5), 3u);
    const std::uint16_t bf16[] = {0x3f80, 0x7f80, 0x7fc0, 0x7f7f};
    EXPECT_EQ(countNonFinite(DType::BF16, reinterpret_cast<const std::byte*>(bf16), 4), 2u);
}

}  // namespace
}  // namespace ms::core::io
