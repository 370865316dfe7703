// The demo's dense targets (demo_tasks.h) against numpy's computation from their definitions
// (tests/fixtures/demo/make_demo_targets.py), and the targets' tensor form.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>

#include "core/data/mnist_readers.h"
#include "core/data/npy.h"
#include "core/demo/demo_tasks.h"
#include "core/demo/kit_trainer.h"
#include "core/errors.h"

namespace ms::core::demo {
namespace {

const data::ImageSet& testImages() {
    static const data::ImageSet s = data::loadFashionMnist(data::kFashionMnistDir, data::Split::Test);
    return s;
}

data::NpyArray fixture(const char* name) { return data::readNpy(std::string(MS_FIXTURES_DIR) + "/demo/" + name); }

TEST(DemoTargets, EqualNumpysFromTheirDefinitions) {
    const auto& set = testImages();
    const data::NpyArray seg = fixture("segmentation.npy"), depth = fixture("depth.npy"), normals = fixture("normals.npy");
    ASSERT_EQ(seg.shape, (std::vector<std::int64_t>{8, 28, 28}));
    ASSERT_EQ(normals.shape, (std::vector<std::int64_t>{8, 28, 28, 3}));
    const std::size_t plane = 28 * 28;
    std::size_t band = 0, codesOff = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        std::vector<std::uint8_t> s(plane), n(3 * plane);
        std::vector<float> d(plane);
        segmentationTarget(set.image(i), set.labels[i], 28, 28, s.data());
        depthTarget(set.image(i), 28, 28, d.data());
        normalsTarget(set.image(i), 28, 28, n.data());
        for (std::size_t p = 0; p < plane; ++p) {
            ASSERT_EQ(s[p], seg.values[i * plane + p]) << "image " << i << " pixel " << p;
            band += s[p] == kUnlabelled;
            EXPECT_NEAR(d[p], depth.values[i * plane + p], 2e-6) << "image " << i << " pixel " << p;
            for (std::size_t c = 0; c < 3; ++c) {
                const float want = normals.values[3 * (i * plane + p) + c];
                ASSERT_LE(std::abs(n[3 * p + c] - want), 1.0f) << "image " << i << " pixel " << p;
                codesOff += n[3 * p + c] != want;  // a value within float32's rounding of k + 0.5
            }
        }
    }
    EXPECT_GT(band, 0u);
    EXPECT_LE(codesOff, 20u);
}

TEST(DemoTargets, TensorFormMarksUnlabelledAndInvalidPixels) {
    const auto& set = testImages();
    const std::vector<std::size_t> idx = {0, 1, 2};
    const at::Tensor seg = demoTargets(findDemoTask("fashion-seg"), set, idx);
    const at::Tensor depth = demoTargets(findDemoTask("fashion-depth"), set, idx);
    const at::Tensor normals = demoTargets(findDemoTask("fashion-normals"), set, idx);
    ASSERT_EQ(seg.sizes(), (at::IntArrayRef{3, 28, 28}));
    ASSERT_EQ(depth.sizes(), (at::IntArrayRef{3, 1, 28, 28}));
    ASSERT_EQ(normals.sizes(), (at::IntArrayRef{3, 3, 28, 28}));
    const data::NpyArray segRef = fixture("segmentation.npy");
    for (std::int64_t b = 0; b < 3; ++b)
        for (std::int64_t p = 0; p < 28 * 28; ++p) {
            const float stored = segRef.values[static_cast<std::size_t>(b * 784 + p)];
            const std::int64_t got = seg[b].flatten()[p].item<std::int64_t>();
            EXPECT_EQ(got, stored == 255 ? -1 : static_cast<std::int64_t>(stored));
            const bool background = set.image(static_cast<std::size_t>(b))[p] <= kForegroundThreshold;
            EXPECT_EQ(std::isnan(depth[b][0].flatten()[p].item<float>()), background);
            EXPECT_EQ(std::isnan(normals[b][0].flatten()[p].item<float>()), background);
        }
    // Valid normals are unit vectors with z towards the camera.
    const at::Tensor valid = ~normals.isnan().any(1);
    const at::Tensor norm = normals.norm(2, 1).masked_select(valid);
    EXPECT_NEAR(norm.min().item<float>(), 1.0f, 1e-5);
    EXPECT_NEAR(norm.max().item<float>(), 1.0f, 1e-5);
    EXPECT_GT(normals.select(1, 2).masked_select(valid).min().item<float>(), 0.0f);
}

TEST(DemoTargets, GarmentClassesGroupFashionMnistsLabels) {
    EXPECT_EQ(garmentClass(0), 1);  // T-shirt/top
    EXPECT_EQ(garmentClass(1), 2);  // trouser
    EXPECT_EQ(garmentClass(3), 3);  // dress
    EXPECT_EQ(garmentClass(9), 4);  // ankle boot
    EXPECT_EQ(garmentClass(8), 5);  // bag
    EXPECT_THROW(garmentClass(10), InvalidArgument);
}

}  // namespace
}  // namespace ms::core::demo
