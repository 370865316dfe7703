// Decoding, resizing and preprocessing against what Pillow makes of the same files
// (tests/fixtures/images/make_image_fixtures.py), and hostile files refused by name.
#include "core/data/image_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/data/image_list.h"
#include "core/data/preprocess.h"
#include "core/data/resize.h"
#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::core::data {
namespace {

const nlohmann::json& expected() {
    static const nlohmann::json j = [] {
        std::ifstream in(test::fixture("images/expected.json"));
        return nlohmann::json::parse(in);
    }();
    return j;
}

std::vector<std::uint8_t> raw(const std::string& name) {
    std::ifstream in(test::fixture("images/" + name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Largest difference, and how many samples differ at all.
std::pair<int, std::size_t> compare(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    EXPECT_EQ(a.size(), b.size());
    int worst = 0;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        const int d = std::abs(int(a[i]) - int(b[i]));
        worst = std::max(worst, d);
        differ += d != 0;
    }
    return {worst, differ};
}

TEST(ImageCodec, DecodesLikePillow) {
    for (const auto& c : expected()["decode"]) {
        const std::string file = c["file"];
        SCOPED_TRACE(file);
        DecodedImage img = decodeImageFile(test::fixture("images/" + file));
        EXPECT_EQ(img.width, c["width"].get<int>());
        EXPECT_EQ(img.height, c["height"].get<int>());
        EXPECT_EQ(img.channels, c["channels"].get<int>());
        EXPECT_EQ(img.bits, c["bits"].get<int>());
        const auto want = raw(file + ".pixels");
        if (img.bits == 16) {
            ASSERT_EQ(img.pixels16.size() * 2, want.size());
            for (std::size_t i = 0; i < img.pixels16.size(); ++i)
                ASSERT_EQ(img.pixels16[i], want[2 * i] | (want[2 * i + 1] << 8)) << "sample " << i;
        } else {
            // The same libraries decode: identical pixels (JPEG too: libjpeg-turbo's accurate DCT).
            EXPECT_EQ(compare(img.pixels, want).first, 0);
        }
        const ImageHeader h = readImageHeader(test::fixture("images/" + file));
        EXPECT_EQ(h.width, img.width);
        EXPECT_EQ(h.height, img.height);
    }
}

TEST(ImageCodec, ResizesLikePillowWithinOneGreyLevel) {
    const DecodedImage rgb = decodeImageFile(test::fixture("images/photo.png"));
    const DecodedImage grey = toChannels(rgb, 1);
    int cases = 0;
    for (const auto& c : expected()["resize"]) {
        const std::string name = c["pixels"];
        SCOPED_TRACE(name);
        const DecodedImage& src = c["mode"] == "L" ? grey : rgb;
        const auto out = resizeImage(src.pixels.data(), src.width, src.height, src.channels, c["width"], c["height"],
                                     parseInterpolation(c["filter"]));
        const auto [worst, differ] = compare(out, raw(name));
        // The same fixed-point arithmetic as Pillow's Resample.c: bit for bit (the brief asks for
        // one grey level; anything above zero means the arithmetic drifted).
        EXPECT_EQ(worst, 0);
        EXPECT_EQ(differ, 0u);
        ++cases;
    }
    EXPECT_EQ(cases, 24);
}

TEST(ImageCodec, ClipAndImagenetPreprocessingMatchTorchvisionGeometry) {
    const DecodedImage big = decodeImageFile(test::fixture("images/big.jpg"));
    for (const auto& c : expected()["preprocess"]) {
        SCOPED_TRACE(c["preset"].get<std::string>());
        const Preprocess p = preprocessPreset(c["preset"], 3, 224);
        const DecodedImage out = preprocessImage(big, p, "big.jpg");
        EXPECT_EQ(out.width, 224);
        EXPECT_EQ(out.height, 224);
        EXPECT_LE(compare(out.pixels, raw(c["pixels"])).first, 1);
    }
    // Torchvision rounds the crop origin half to even; the long edge is int(224 · 301 / 203).
    EXPECT_EQ(cropOrigin(225, 224, 224), std::make_pair(0, 0));   // round(0.5) = 0
    EXPECT_EQ(cropOrigin(227, 224, 224), std::make_pair(0, 2));   // round(1.5) = 2
    EXPECT_EQ(resizedSize(preprocessPreset("clip", 3, 224), 301, 203), std::make_pair(332, 224));
}

TEST(ImageCodec, BrokenAndHostileFilesAreRefusedByName) {
    for (const auto& name : expected()["bad"]) {
        const std::string path = test::fixture("images/" + name.get<std::string>());
        SCOPED_TRACE(path);
        try {
            decodeImageFile(path);
            ADD_FAILURE() << "decoded a broken file";
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
}

TEST(ImageCodec, AHeaderClaimingFarMorePixelsThanTheBytesHoldIsRefusedBeforeAllocating) {
    auto jpg = raw("photo.jpg");
    // SOF0/SOF2: FF C0|C2, length (2), precision (1), height (2), width (2).
    std::size_t sof = 0;
    for (std::size_t i = 0; i + 9 < jpg.size(); ++i)
        if (jpg[i] == 0xFF && (jpg[i + 1] == 0xC0 || jpg[i + 1] == 0xC2)) {
            sof = i;
            break;
        }
    ASSERT_GT(sof, 0u);
    jpg[sof + 5] = jpg[sof + 7] = 0x75;  // 30000 × 30000 (0x7530): 900 M pixels in 3 KB
    jpg[sof + 6] = jpg[sof + 8] = 0x30;
    try {
        decodeImage(jpg.data(), jpg.size(), "forged.jpg");
        ADD_FAILURE();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("far more than"), std::string::npos) << e.what();
    }
}

TEST(ImageCodec, PngRoundTripsEightAndSixteenBits) {
    test::TempDir dir;
    DecodedImage a;
    a.width = 5, a.height = 3, a.channels = 3;
    for (int i = 0; i < 45; ++i) a.pixels.push_back(static_cast<std::uint8_t>(i * 5));
    writePng(dir.path("a.png"), a);
    EXPECT_EQ(decodeImageFile(dir.path("a.png")).pixels, a.pixels);
    DecodedImage d;
    d.width = 4, d.height = 2, d.channels = 1, d.bits = 16;
    d.pixels16 = {0, 1, 255, 256, 1000, 40000, 65535, 12345};
    writePng(dir.path("d.png"), d);
    const DecodedImage back = decodeImageFile(dir.path("d.png"));
    EXPECT_EQ(back.bits, 16);
    EXPECT_EQ(back.pixels16, d.pixels16);
}

// A 16-bit RGB PNG (a normal map, written by hand in the fixture script): a target map keeps its
// 16 bits, an image is read at 8 bits as Pillow reads it; writePng round-trips 16-bit colour.
TEST(ImageCodec, SixteenBitColourStaysSixteenBitForTargetMapsAndIsReadAsPillowDoesForImages) {
    const std::string path = test::fixture("images/normals16.png");
    const auto want = raw("normals16.png.pixels");
    const DecodedImage t = decodeImageFile(path, true);
    ASSERT_EQ(t.bits, 16);
    ASSERT_EQ(t.channels, 3);
    ASSERT_EQ(t.width, 9);
    ASSERT_EQ(t.height, 7);
    ASSERT_EQ(t.pixels16.size() * 2, want.size());
    for (std::size_t i = 0; i < t.pixels16.size(); ++i) ASSERT_EQ(t.pixels16[i], want[2 * i] | (want[2 * i + 1] << 8)) << i;
    const DecodedImage img = decodeImageFile(path);
    EXPECT_EQ(img.bits, 8);
    EXPECT_EQ(img.pixels, raw("normals16.png.pillow"));
    const TargetMap m = readTargetMap(path);
    EXPECT_EQ(m.bits, 16);
    EXPECT_EQ(m.channels, 3);
    EXPECT_EQ(m.values[5], static_cast<float>(t.pixels16[5]));
    test::TempDir dir;
    writePng(dir.path("rgb16.png"), t);
    EXPECT_EQ(decodeImageFile(dir.path("rgb16.png"), true).pixels16, t.pixels16);
}

// Writes an uncompressed IDX file: magic 0x08 0x<dims>, big-endian sizes, uint8 data.
void writeIdx(const std::string& path, const std::vector<std::int32_t>& dims, const std::vector<std::uint8_t>& data) {
    std::ofstream out(path, std::ios::binary);
    const unsigned char magic[4] = {0, 0, 0x08, static_cast<unsigned char>(dims.size())};
    out.write(reinterpret_cast<const char*>(magic), 4);
    for (std::int32_t d : dims) {
        const unsigned char be[4] = {static_cast<unsigned char>(d >> 24), static_cast<unsigned char>(d >> 16),
                                     static_cast<unsigned char>(d >> 8), static_cast<unsigned char>(d)};
        out.write(reinterpret_cast<const char*>(be), 4);
    }
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

TEST(ImageList, IdxImagesAsTheMnistFamilyShipsThem) {
    test::TempDir tmp;
    std::vector<std::uint8_t> pixels(3 * 4 * 4);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 5);
    writeIdx(tmp.path("train-images-idx3-ubyte"), {3, 4, 4}, pixels);
    // Unlabelled without the labels file beside it.
    ImageList u = listImages(tmp.path("train-images-idx3-ubyte"));
    EXPECT_EQ(u.kind, "idx");
    EXPECT_EQ(u.count(), 3u);
    EXPECT_FALSE(u.labelled());
    writeIdx(tmp.path("train-labels-idx1-ubyte"), {3}, {2, 0, 7});
    const ImageList l = listImages(tmp.path("train-images-idx3-ubyte"));
    EXPECT_EQ(l.labels, (std::vector<std::int32_t>{2, 0, 7}));
    EXPECT_EQ(l.classes(), 8);
    // Decoded as the pixels are (preset none: no resize; one channel).
    Preprocess p = preprocessPreset("none", 1, 4);
    const ImageSet set = loadImages(l, {2, 0}, p, "idx");
    ASSERT_EQ(set.count, 2);
    EXPECT_EQ(set.image(0)[0], pixels[32]);
    EXPECT_EQ(set.image(1)[15], pixels[15]);
    // A labels file that does not fit is named.
    writeIdx(tmp.path("t10k-images-idx3-ubyte"), {3, 4, 4}, pixels);
    writeIdx(tmp.path("t10k-labels-idx1-ubyte"), {2}, {1, 1});
    try {
        listImages(tmp.path("t10k-images-idx3-ubyte"));
        FAIL() << "labels for 2 of 3 images were accepted";
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("t10k-labels-idx1-ubyte"), std::string::npos) << e.what();
    }
    // Target maps kept apart from the images, in their order: class indices as bytes, values as
    // big-endian float32.
    std::vector<std::uint8_t> masks(3 * 16);
    for (std::size_t i = 0; i < masks.size(); ++i) masks[i] = static_cast<std::uint8_t>(i % 3);
    writeIdx(tmp.path("train-masks-idx3-ubyte"), {3, 4, 4}, masks);
    std::vector<std::uint8_t> floats;
    for (int i = 0; i < 3 * 16; ++i) {
        const float v = 0.25f * static_cast<float>(i) + 0.125f;
        std::uint32_t u;
        std::memcpy(&u, &v, 4);
        for (int b = 3; b >= 0; --b) floats.push_back(static_cast<std::uint8_t>(u >> (8 * b)));
    }
    {
        std::ofstream out(tmp.path("train-depth.idx"), std::ios::binary);
        const unsigned char header[16] = {0, 0, 0x0D, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 4};
        out.write(reinterpret_cast<const char*>(header), 16);
        out.write(reinterpret_cast<const char*>(floats.data()), static_cast<std::streamsize>(floats.size()));
    }
    EXPECT_TRUE(isTargetMapFile(tmp.path("train-masks-idx3-ubyte")));
    EXPECT_FALSE(isTargetMapFile(tmp.dir().string()));
    const TargetMaps m = loadTargets(l, {2, 0}, tmp.path("train-masks-idx3-ubyte"), p, 1.0);
    ASSERT_EQ(m.count, 2);
    EXPECT_EQ(m.bits, 8);
    EXPECT_EQ(m.values[0], static_cast<float>(32 % 3));
    EXPECT_EQ(m.values[16 + 5], static_cast<float>(5 % 3));
    const TargetMaps d = loadTargets(l, {1}, tmp.path("train-depth.idx"), p, 2.0);
    EXPECT_EQ(d.bits, 32);
    EXPECT_EQ(d.values[3], 2.0f * (0.25f * 19 + 0.125f));  // image 1, pixel 3, times the scale
    // N×H×W×3: a channel per pixel component (normals as 8-bit RGB codes); 2 channels refused.
    std::vector<std::uint8_t> rgb(3 * 16 * 3);
    for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>(i);
    writeIdx(tmp.path("normals-idx4-ubyte"), {3, 4, 4, 3}, rgb);
    const TargetMaps n = loadTargets(l, {1}, tmp.path("normals-idx4-ubyte"), p, 1.0);
    ASSERT_EQ(n.channels, 3);
    EXPECT_EQ(n.values[2 * 16 + 5], static_cast<float>(48 + 3 * 5 + 2));  // image 1, pixel 5, blue (maps come channel-first)
    writeIdx(tmp.path("two-idx4-ubyte"), {3, 4, 4, 2}, std::vector<std::uint8_t>(3 * 16 * 2));
    try {
        loadTargets(l, {0}, tmp.path("two-idx4-ubyte"), p, 1.0);
        FAIL() << "2-channel maps were accepted";
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("with 2 channels"), std::string::npos) << e.what();
    }
    writeIdx(tmp.path("short-masks"), {2, 4, 4}, std::vector<std::uint8_t>(32));
    try {
        loadTargets(l, {0}, tmp.path("short-masks"), p, 1.0);
        FAIL() << "2 maps for 3 images were accepted";
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("2 maps for the 3 images"), std::string::npos) << e.what();
    }
    // A hostile header whose sizes multiply past 64 bits is refused, not wrapped around.
    writeIdx(tmp.path("huge-images-idx3-ubyte"), {0x7fffffff, 0x7fffffff, 0x7fffffff}, std::vector<std::uint8_t>(64));
    EXPECT_THROW(listImages(tmp.path("huge-images-idx3-ubyte")), FormatError);
    // The real Fashion-MNIST training split, from its Debian package.
    const std::string fashion = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    if (!std::filesystem::exists(fashion)) GTEST_SKIP() << fashion << " is not installed";
    const ImageList f = listImages(fashion);
    EXPECT_EQ(f.count(), 60000u);
    EXPECT_EQ(f.classes(), 10);
}

TEST(ImageList, FoldersCsvListsAndTheirProblems) {
    test::TempDir dir;
    namespace fs = std::filesystem;
    DecodedImage img;
    img.width = img.height = 4, img.channels = 1, img.pixels.assign(16, 7);
    for (const char* f : {"b-class/x1.png", "b-class/sub/x2.png", "a-class/y.png"}) {
        fs::create_directories(fs::path(dir.path(f)).parent_path());
        writePng(dir.path(f), img);
    }
    const ImageList tree = listImages(dir.path(""));
    EXPECT_EQ(tree.kind, "imagefolder");
    ASSERT_EQ(tree.count(), 3u);
    EXPECT_EQ(tree.classNames, (std::vector<std::string>{"a-class", "b-class"}));
    EXPECT_EQ(tree.labels, (std::vector<std::int32_t>{0, 1, 1}));  // recursive, sorted, as torchvision
    {
        std::ofstream csv(dir.path("list.csv"));
        csv << "path,label\n\"a-class/y.png\",cat\nb-class/x1.png,dog\n";
    }
    const ImageList l = listImages(dir.path("list.csv"));
    EXPECT_EQ(l.kind, "csv");
    EXPECT_EQ(l.classNames, (std::vector<std::string>{"cat", "dog"}));
    EXPECT_EQ(l.labels, (std::vector<std::int32_t>{0, 1}));
    const ImageSet s = loadImages(l, {1, 0}, preprocessPreset("none", 1, 4), "csv");
    EXPECT_EQ(s.count, 2);
    EXPECT_EQ(s.labels, (std::vector<std::int32_t>{1, 0}));
    EXPECT_EQ(s.files.front(), dir.path("b-class/x1.png"));
    {
        std::ofstream csv(dir.path("mixed.csv"));
        csv << "a-class/y.png,1\nb-class/x1.png\n";
    }
    EXPECT_THROW(listImages(dir.path("mixed.csv")), FormatError);
    fs::create_directories(dir.path("empty"));
    try {
        listImages(dir.path("empty"));
        ADD_FAILURE();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos);
    }
    // A broken image among good ones is named when decoded.
    fs::copy_file(test::fixture("images/truncated.png"), dir.path("b-class/zz.png"));
    const ImageList withBad = listImages(dir.path(""));
    try {
        loadImages(withBad, {0, 1, 2, 3}, preprocessPreset("none", 1, 4), "bad");
        ADD_FAILURE();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("zz.png"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ms::core::data
