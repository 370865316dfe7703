// Decoded image sets kept by content: a second draw reads the cache and equals a fresh decode; a
// changed image file, another draw or other preprocessing is another entry; a damaged entry is
// decoded again.
#include "core/data/image_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/data/preprocess.h"
#include "tests/test_support.h"

namespace ms::core::data {
namespace {

namespace fs = std::filesystem;

std::size_t entries(const std::string& dir) {
    std::error_code ec;
    return fs::exists(dir, ec) ? static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator())) : 0u;
}

TEST(ImageCache, SecondDrawsReadTheCacheAndEqualAFreshDecode) {
    test::TempDir tmp;
    fs::copy(test::fixture("kits/clip_tiny/train"), tmp.path("train"), fs::copy_options::recursive);
    const std::string cache = tmp.path("cache");
    const ImageList list = listImages(tmp.path("train"));
    const Preprocess pre = preprocessPreset("clip", 3, 32);
    const std::vector<std::size_t> draw = {3, 0, 7, 12};
    const ImageSet fresh = loadImages(list, draw, pre, "fresh");
    const ImageSet first = loadImagesCached(list, draw, pre, "train/probe", cache);
    EXPECT_EQ(entries(cache), 1u);
    const ImageSet second = loadImagesCached(list, draw, pre, "train/probe", cache);
    for (const ImageSet* s : {&first, &second}) {
        EXPECT_EQ(s->pixels, fresh.pixels);
        EXPECT_EQ(s->labels, fresh.labels);
        EXPECT_EQ(s->files, fresh.files);
        EXPECT_EQ(s->classes, fresh.classes);
        EXPECT_EQ(s->mean, fresh.mean);
        EXPECT_EQ(s->height, fresh.height);
        EXPECT_EQ(s->name, "train/probe");
    }
    // Another draw, other preprocessing: other entries.
    (void)loadImagesCached(list, {0, 3, 7, 12}, pre, "x", cache);
    (void)loadImagesCached(list, draw, preprocessPreset("imagenet", 3, 32), "x", cache);
    EXPECT_EQ(entries(cache), 3u);
    // A changed image (same name) is decoded again, as a new entry.
    fs::copy_file(list.files[7], list.files[0], fs::copy_options::overwrite_existing);
    const ImageList changed = listImages(tmp.path("train"));
    const ImageSet after = loadImagesCached(changed, draw, pre, "x", cache);
    EXPECT_EQ(entries(cache), 4u);
    EXPECT_EQ(after.pixels, loadImages(changed, draw, pre, "y").pixels);
    // A damaged entry: decoded again and replaced.
    for (const auto& f : fs::directory_iterator(cache)) std::ofstream(f.path(), std::ios::trunc) << "MSIMAGES1\n{\"count\": 9}\n";
    EXPECT_EQ(loadImagesCached(changed, draw, pre, "x", cache).pixels, after.pixels);
}

}  // namespace
}  // namespace ms::core::data
