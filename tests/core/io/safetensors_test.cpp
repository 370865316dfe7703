// safetensors: reading PyTorch-made fixtures (single and sharded), zero-copy views, and the
// writer's layout, sharding and atomicity.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/safetensors_reader.h"
#include "core/io/source_factory.h"
#include "tests/core/io/expected_tensors.h"
#include "tests/test_support.h"

namespace ms::core::io {
namespace {

using test::TempDir;

std::string fileText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(SafetensorsReader, ReadsEveryDtypeWrittenByPython) {
    const auto src = openCheckpoint(test::fixture("io/all_dtypes.safetensors"));
    EXPECT_EQ(src->format(), "safetensors");
    test::expectMatchesFixture(*src, test::expectedIo().at("all_dtypes.safetensors"));
    EXPECT_EQ(src->metadata().at("note"), "fixture");
    EXPECT_EQ(src->metadata().at("format"), "pt");
}

TEST(SafetensorsReader, LoadsAreZeroCopyViews) {
    const auto src = openSafetensors(test::fixture("io/all_dtypes.safetensors"));
    const auto a = src->load("f32");
    const auto b = src->load("f32");
    EXPECT_TRUE(a.isView());
    EXPECT_EQ(a.data(), b.data());  // the same mapped bytes, not two copies
}

TEST(SafetensorsReader, ShardedCheckpointReadsAsOne) {
    const std::string index = test::fixture("io/sharded/model.safetensors.index.json");
    const auto src = openCheckpoint(index);
    test::expectMatchesFixture(*src, test::expectedIo().at("sharded/model.safetensors.index.json"));
    EXPECT_EQ(src->files().size(), 2u);
    EXPECT_EQ(src->metadata().at("total_size"), "2036");
    // The directory resolves to its index.
    const auto viaDir = openCheckpoint(test::fixture("io/sharded"));
    EXPECT_EQ(viaDir->tensors().size(), src->tensors().size());
}

TEST(SafetensorsReader, UnknownTensorNameIsAnErrorNamingIt) {
    const auto src = openSafetensors(test::fixture("io/all_dtypes.safetensors"));
    try {
        src->load("nope");
        FAIL();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos);
    }
}

struct Written {
    std::vector<TensorToWrite> specs;
    std::vector<std::vector<std::byte>> bytes;
    TensorFiller filler() const {
        return [this](std::size_t i, std::byte* dst) {
            if (!bytes[i].empty()) std::memcpy(dst, bytes[i].data(), bytes[i].size());
        };
    }
    void add(std::string name, DType t, std::vector<std::int64_t> shape, unsigned seed) {
        std::uint64_t n = 1;
        for (auto d : shape) n *= static_cast<std::uint64_t>(d);
        std::vector<std::byte> b(n * dtypeSize(t));
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
        if (t == DType::Bool)
            for (auto& x : b) x = static_cast<std::byte>(static_cast<unsigned>(x) & 1);
        specs.push_back({std::move(name), t, std::move(shape)});
        bytes.push_back(std::move(b));
    }
};

Written sampleTensors() {
    Written w;
    w.add("blocks.0.attn.qkv.weight", DType::F32, {6, 4}, 1);
    w.add("mask", DType::Bool, {3}, 2);  // 3 bytes: would misalign what follows if unsorted
    w.add("blocks.0.norm.bias", DType::BF16, {5}, 3);
    w.add("pos", DType::F64, {2, 3}, 4);
    w.add("steps", DType::I64, {}, 5);
    w.add("empty", DType::F16, {0, 7}, 6);
    return w;
}

TEST(SafetensorsWriter, RoundTripsBytesWithAlignedLayoutAndMetadata) {
    TempDir tmp;
    const Written w = sampleTensors();
    const std::string out = tmp.path("model.safetensors");
    WriteOptions opts;
    opts.metadata["recipe"] = "merge_method: ties\n";
    const auto files = writeSafetensors(out, w.specs, w.filler(), opts);
    ASSERT_EQ(files, std::vector<std::string>{out});

    // Independent check of the layout: parse the header by hand.
    const std::string raw = fileText(out);
    std::uint64_t n = 0;
    std::memcpy(&n, raw.data(), 8);
    EXPECT_EQ((8 + n) % 8, 0u) << "data section must start 8-byte aligned";
    const auto header = nlohmann::json::parse(raw.substr(8, n));
    EXPECT_EQ(header.at("__metadata__").at("format"), "pt");
    EXPECT_EQ(header.at("__metadata__").at("recipe"), "merge_method: ties\n");
    for (const auto& s : w.specs) {
        const auto& e = header.at(s.name);
        const auto begin = e.at("data_offsets")[0].get<std::uint64_t>();
        EXPECT_EQ((8 + n + begin) % dtypeSize(s.dtype), 0u) << s.name << " misaligned";
    }

    const auto src = openSafetensors(out);
    for (std::size_t i = 0; i < w.specs.size(); ++i) {
        const auto* info = src->find(w.specs[i].name);
        ASSERT_NE(info, nullptr);
        EXPECT_EQ(info->dtype, w.specs[i].dtype);
        EXPECT_EQ(info->shape, w.specs[i].shape);
        const auto d = src->load(w.specs[i].name);
        ASSERT_EQ(d.size(), w.bytes[i].size());
        if (d.size() > 0) {
            EXPECT_EQ(std::memcmp(d.data(), w.bytes[i].data(), d.size()), 0) << w.specs[i].name;
        }
    }
}

TEST(SafetensorsWriter, ShardsAboveTheLimitWithAnIndex) {
    TempDir tmp;
    Written w;
    for (int i = 0; i < 5; ++i) w.add("layer." + std::to_string(i), DType::F32, {64}, static_cast<unsigned>(i));
    const std::string out = tmp.path("model.safetensors");
    WriteOptions opts;
    opts.maxShardBytes = 600;  // 256 bytes a tensor: two per shard
    const auto files = writeSafetensors(out, w.specs, w.filler(), opts);
    ASSERT_EQ(files.size(), 4u);  // 3 shards + index
    EXPECT_TRUE(std::filesystem::exists(tmp.path("model-00001-of-00003.safetensors")));
    EXPECT_FALSE(std::filesystem::exists(out)) << "a sharded write has no single file";
    const auto index = nlohmann::json::parse(fileText(out + ".index.json"));
    EXPECT_EQ(index.at("metadata").at("total_size"), 5 * 256);
    EXPECT_EQ(index.at("weight_map").at("layer.4"), "model-00003-of-00003.safetensors");
    const auto src = openCheckpoint(out + ".index.json");
    ASSERT_EQ(src->tensors().size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        const auto d = src->load(w.specs[i].name);
        EXPECT_EQ(std::memcmp(d.data(), w.bytes[i].data(), d.size()), 0);
    }
}

TEST(SafetensorsWriter, FailureLeavesNothingAndKeepsTheOldFile) {
    TempDir tmp;
    const std::string out = tmp.path("model.safetensors");
    { std::ofstream(out) << "previous content"; }
    const Written w = sampleTensors();
    const TensorFiller failing = [&](std::size_t i, std::byte* dst) {
        if (i == 3) throw std::runtime_error("simulated failure mid-write");
        w.filler()(i, dst);
    };
    EXPECT_THROW(writeSafetensors(out, w.specs, failing, {}), std::runtime_error);
    EXPECT_EQ(fileText(out), "previous content");
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(tmp.dir())) ++entries;
    EXPECT_EQ(entries, 1u) << "the temporary file must be removed";
}

TEST(SafetensorsWriter, CancellationLeavesNothing) {
    TempDir tmp;
    const std::string out = tmp.path("model.safetensors");
    const Written w = sampleTensors();
    CancelToken cancel;
    const TensorFiller cancelling = [&](std::size_t i, std::byte* dst) {
        w.filler()(i, dst);
        cancel.cancel();
    };
    EXPECT_THROW(writeSafetensors(out, w.specs, cancelling, {}, nullProgress(), &cancel), Cancelled);
    EXPECT_TRUE(std::filesystem::is_empty(tmp.dir()));
}

TEST(SafetensorsWriter, RejectsDuplicateAndReservedNames) {
    TempDir tmp;
    Written w;
    w.add("a", DType::F32, {1}, 0);
    w.add("a", DType::F32, {1}, 0);
    EXPECT_THROW(writeSafetensors(tmp.path("x.safetensors"), w.specs, w.filler(), {}), InvalidArgument);
    Written r;
    r.add("__metadata__", DType::F32, {1}, 0);
    EXPECT_THROW(writeSafetensors(tmp.path("x.safetensors"), r.specs, r.filler(), {}), InvalidArgument);
    EXPECT_TRUE(std::filesystem::is_empty(tmp.dir()));
}

TEST(CheckpointWriter, ConvertsBetweenFormatsLosslessly) {
    TempDir tmp;
    const auto pt = openCheckpoint(test::fixture("io/all_dtypes.pt"));
    convertCheckpoint(*pt, tmp.path("a.safetensors"), {});
    const auto st = openCheckpoint(tmp.path("a.safetensors"));
    test::expectMatchesFixture(*st, test::expectedIo().at("all_dtypes.pt"));
    convertCheckpoint(*st, tmp.path("a.h5"), {});
    const auto h5 = openCheckpoint(tmp.path("a.h5"));
    test::expectMatchesFixture(*h5, test::expectedIo().at("all_dtypes.pt"));
    EXPECT_THROW(convertCheckpoint(*st, tmp.path("a.txt"), {}), InvalidArgument);
}

}  // namespace
}  // namespace ms::core::io

namespace ms::core::io {
namespace {

// Regression: format sniffing once took any file whose first byte is 0x80 for a legacy torch
// pickle, which is also a safetensors header length of 128 (+ k·256).
TEST(SourceFactory, SafetensorsWithHeaderLength0x80IsNotMistakenForLegacyTorch) {
    test::TempDir tmp;
    std::string json = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    json.resize(128, ' ');
    std::string bytes(8, '\0');
    bytes[0] = static_cast<char>(0x80);
    bytes += json;
    bytes += std::string(4, '\0');
    const std::string path = tmp.path("weights.unknown-extension");
    std::ofstream(path, std::ios::binary) << bytes;
    const auto src = openCheckpoint(path);
    EXPECT_EQ(src->format(), "safetensors");
    EXPECT_EQ(src->tensors().size(), 1u);
}

}  // namespace
}  // namespace ms::core::io
