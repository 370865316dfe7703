#include "core/data/npy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "core/io/atomic_file.h"

namespace ms::core::data {

namespace {

// The header dict NumPy writes ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }),
// parsed as data: string, boolean and integer-tuple values only.
class HeaderParser {
public:
    HeaderParser(const std::string& text, const std::string& path) : m_s(text), m_path(path) {}

    void parse(std::string& descr, bool& fortran, std::vector<std::int64_t>& shape) {
        bool haveDescr = false, haveFortran = false, haveShape = false;
        expect('{');
        while (true) {
            skip();
            if (peek() == '}') break;
            const std::string key = string();
            expect(':');
            skip();
            if (key == "descr") {
                descr = string();
                haveDescr = true;
            } else if (key == "fortran_order") {
                fortran = boolean();
                haveFortran = true;
            } else if (key == "shape") {
                shape = tuple();
                haveShape = true;
            } else {
                fail("unknown header key '" + key + "'");
            }
            skip();
            if (peek() == ',') ++m_i;
        }
        if (!haveDescr || !haveFortran || !haveShape) fail("the header lacks descr, fortran_order or shape");
    }

private:
    [[noreturn]] void fail(const std::string& why) const { throw FormatError(m_path, "not a .npy header: " + why); }
    void skip() {
        while (m_i < m_s.size() && (m_s[m_i] == ' ' || m_s[m_i] == '\n' || m_s[m_i] == '\t' || m_s[m_i] == '\r')) ++m_i;
    }
    char peek() const {
        if (m_i >= m_s.size()) fail("it ends early");
        return m_s[m_i];
    }
    void expect(char c) {
        skip();
        if (peek() != c) fail(std::string("expected '") + c + "' at offset " + std::to_string(m_i));
        ++m_i;
    }
    std::string string() {
        skip();
        const char q = peek();
        if (q != '\'' && q != '"') fail("expected a quoted string at offset " + std::to_string(m_i));
        const std::size_t end = m_s.find(q, m_i + 1);
        if (end == std::string::npos) fail("an unterminated string");
        std::string out = m_s.substr(m_i + 1, end - m_i - 1);
        m_i = end + 1;
        return out;
    }
    bool boolean() {
        if (m_s.compare(m_i, 4, "True") == 0) return m_i += 4, true;
        if (m_s.compare(m_i, 5, "False") == 0) return m_i += 5, false;
        fail("fortran_order must be True or False");
    }
    std::vector<std::int64_t> tuple() {
        std::vector<std::int64_t> out;
        expect('(');
        while (true) {
            skip();
            if (peek() == ')') break;
            std::size_t used = 0;
            long long v = 0;
            try {
                v = std::stoll(m_s.substr(m_i, 24), &used);
            } catch (const std::exception&) {
                fail("a shape entry is not an integer");
            }
            if (v < 0) fail("a negative dimension");
            out.push_back(v);
            m_i += used;
            if (m_i < m_s.size() && m_s[m_i] == 'L') ++m_i;  // Python 2's long literals
            skip();
            if (peek() == ',') ++m_i;
        }
        ++m_i;
        return out;
    }

    const std::string& m_s;
    const std::string& m_path;
    std::size_t m_i = 0;
};

float halfToFloat(std::uint16_t h) {
    const std::uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    float v;
    if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);  // subnormal (or zero)
    else if (exp == 31) v = mant ? std::nanf("") : INFINITY;
    else v = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
    return sign ? -v : v;
}

template <typename T>
T load(const std::uint8_t* p, bool swap) {
    std::uint8_t b[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = swap ? p[sizeof(T) - 1 - i] : p[i];
    T v;
    std::memcpy(&v, b, sizeof(T));
    return v;
}

}  // namespace

std::int64_t NpyArray::size() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

bool isNpyFile(const std::string& path) { return std::filesystem::path(path).extension() == ".npy"; }

void writeNpy(const std::string& path, const std::vector<std::int64_t>& shape, const float* values, bool durable) {
    std::string dims;
    std::int64_t count = 1;
    for (auto d : shape) {
        dims += std::to_string(d) + ", ";
        count *= d;
    }
    if (shape.size() > 1) dims.resize(dims.size() - 2);  // (3,) for one dimension, (3, 4) for more
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    header.append(63 - (10 + header.size()) % 64, ' ');  // padded so the data starts at a multiple of 64
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    bytes += header;
    bytes.append(reinterpret_cast<const char*>(values), static_cast<std::size_t>(count) * 4);  // x86-64 and arm64: little-endian
    if (!durable) {  // many small files (an export): written in place, as writePng does
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!f) throw OutputError(path, "cannot write the .npy file");
        return;
    }
    io::AtomicFile f(path);
    f.writeAll(bytes.data(), bytes.size());
    f.commit();
}

NpyLayout npyImageLayout(const NpyArray& a, const std::string& path) {
    std::vector<std::int64_t> s = a.shape;
    while (s.size() > 2 && s.front() == 1 && !(s.size() == 3 && (s[2] == 1 || s[2] == 3) && s[0] == 1 && s[1] > 3)) s.erase(s.begin());
    NpyLayout l;
    auto dims = [&] {
        std::string t;
        for (auto d : a.shape) t += (t.empty() ? "" : "×") + std::to_string(d);
        return t;
    };
    if (s.size() == 2) {
        l.height = static_cast<int>(s[0]);
        l.width = static_cast<int>(s[1]);
    } else if (s.size() == 3 && (s[2] == 1 || s[2] == 3)) {
        l.height = static_cast<int>(s[0]);
        l.width = static_cast<int>(s[1]);
        l.channels = static_cast<int>(s[2]);
    } else if (s.size() == 3 && (s[0] == 1 || s[0] == 3)) {
        l.channels = static_cast<int>(s[0]);
        l.height = static_cast<int>(s[1]);
        l.width = static_cast<int>(s[2]);
        l.channelFirst = true;
    } else {
        throw FormatError(path, "a " + dims() + " array is not an image or a map: H×W, H×W×C or C×H×W with C = 1 or 3");
    }
    if (l.height <= 0 || l.width <= 0 || l.height > 65535 || l.width > 65535) throw FormatError(path, "a " + dims() + " array is not an image");
    return l;
}

namespace {

// What a .npy header says, and where the data starts.
struct NpyHeader {
    NpyArray array;  // shape, descr, integral (values empty)
    bool fortran = false, swap = false;
    char kind = 'f';
    int itemSize = 0;
    std::uint64_t dataStart = 0, dataBytes = 0;
};

// The header from the file's first bytes (at least its 10 or 12 + header-length bytes).
// `prefixOnly`: `bytes` may be the prefix of a longer file (its data not checked here).
NpyHeader parseHeader(const std::uint8_t* bytes, std::size_t size, const std::string& path) {
    if (size < 8 || std::memcmp(bytes, "\x93NUMPY", 6) != 0) throw FormatError(path, "not a .npy file (no \\x93NUMPY magic)");
    const int major = bytes[6];
    if (major < 1 || major > 3) throw FormatError(path, ".npy format version " + std::to_string(major) + " (1 to 3 are read)");
    const std::size_t lenBytes = major == 1 ? 2 : 4;
    if (size < 8 + lenBytes) throw FormatError(path, "the .npy header is truncated");
    std::uint32_t headerLen = bytes[8] | (bytes[9] << 8);
    if (major > 1) headerLen |= (bytes[10] << 16) | (static_cast<std::uint32_t>(bytes[11]) << 24);
    if (headerLen > (1u << 20)) throw FormatError(path, "the .npy header claims " + std::to_string(headerLen) + " bytes");
    NpyHeader h;
    h.dataStart = 8 + lenBytes + headerLen;
    if (size < h.dataStart) throw FormatError(path, "the .npy header is truncated");
    const std::string header(reinterpret_cast<const char*>(bytes) + 8 + lenBytes, headerLen);
    NpyArray& a = h.array;
    HeaderParser(header, path).parse(a.descr, h.fortran, a.shape);
    if (a.shape.size() > 4) throw FormatError(path, std::to_string(a.shape.size()) + "-D array (up to 4-D are read)");
    const std::string& d = a.descr;
    if (d.size() < 3) throw FormatError(path, "element type '" + d + "' is not one NumPy writes for numbers");
    const char order = d[0];
    h.kind = d[1];
    try {
        h.itemSize = std::stoi(d.substr(2));
    } catch (const std::exception&) {
        h.itemSize = 0;
    }
    const char kind = h.kind;
    const int itemSize = h.itemSize;
    const bool known = (kind == 'b' && itemSize == 1) || ((kind == 'i' || kind == 'u') && (itemSize == 1 || itemSize == 2 || itemSize == 4 || itemSize == 8)) ||
                       (kind == 'f' && (itemSize == 2 || itemSize == 4 || itemSize == 8));
    if (!known || (order != '<' && order != '>' && order != '|' && order != '='))
        throw FormatError(path, "element type '" + d + "' (numbers are read: bool, int8–64, uint8–64, float16/32/64)");
    h.swap = order == '>';  // this machine is little-endian (x86-64, arm64)
    a.integral = kind != 'f';
    std::uint64_t count = 1;
    for (auto dim : a.shape)
        if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(dim), &count)) throw FormatError(path, "the shape's size overflows");
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(itemSize), &h.dataBytes)) throw FormatError(path, "the shape's size overflows");
    return h;
}

void checkDataSize(const NpyHeader& h, std::uint64_t total, const std::string& path) {
    if (total < h.dataStart || total - h.dataStart != h.dataBytes)
        throw FormatError(path, "the data holds " + std::to_string(total < h.dataStart ? 0 : total - h.dataStart) +
                                    " bytes, the header's shape and type say " + std::to_string(h.dataBytes));
}

// The values of a checked header's data, in C order.
std::vector<float> convert(const NpyHeader& h, const std::uint8_t* raw) {
    const NpyArray& a = h.array;
    const std::size_t count = static_cast<std::size_t>(h.dataBytes / static_cast<std::uint64_t>(h.itemSize));
    const int itemSize = h.itemSize;
    const bool swap = h.swap;
    std::vector<float> stored(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t* p = raw + i * static_cast<std::size_t>(itemSize);
        float v = 0;
        switch (h.kind) {
            case 'b': v = p[0] ? 1.0f : 0.0f; break;
            case 'i':
                v = itemSize == 1 ? static_cast<float>(static_cast<std::int8_t>(p[0]))
                    : itemSize == 2 ? static_cast<float>(load<std::int16_t>(p, swap))
                    : itemSize == 4 ? static_cast<float>(load<std::int32_t>(p, swap))
                                    : static_cast<float>(load<std::int64_t>(p, swap));
                break;
            case 'u':
                v = itemSize == 1 ? static_cast<float>(p[0])
                    : itemSize == 2 ? static_cast<float>(load<std::uint16_t>(p, swap))
                    : itemSize == 4 ? static_cast<float>(load<std::uint32_t>(p, swap))
                                    : static_cast<float>(load<std::uint64_t>(p, swap));
                break;
            default:
                v = itemSize == 2 ? halfToFloat(load<std::uint16_t>(p, swap))
                    : itemSize == 4 ? load<float>(p, swap)
                                    : static_cast<float>(load<double>(p, swap));
        }
        stored[i] = v;
    }
    if (!h.fortran || a.shape.size() < 2) return stored;
    // Fortran order: the first index varies fastest in storage. Walk the C order and gather.
    const std::size_t rank = a.shape.size();
    std::vector<std::uint64_t> fstride(rank, 1);
    for (std::size_t k = 1; k < rank; ++k) fstride[k] = fstride[k - 1] * static_cast<std::uint64_t>(a.shape[k - 1]);
    std::vector<float> out(stored.size());
    std::vector<std::int64_t> idx(rank, 0);
    for (std::size_t c = 0; c < stored.size(); ++c) {
        std::uint64_t f = 0;
        for (std::size_t k = 0; k < rank; ++k) f += static_cast<std::uint64_t>(idx[k]) * fstride[k];
        out[c] = stored[static_cast<std::size_t>(f)];
        for (std::size_t k = rank; k-- > 0;) {  // C order: the last index fastest
            if (++idx[k] < a.shape[k]) break;
            idx[k] = 0;
        }
    }
    return out;
}

}  // namespace

NpyArray parseNpy(const std::uint8_t* bytes, std::size_t size, const std::string& name) {
    NpyHeader h = parseHeader(bytes, size, name);
    checkDataSize(h, size, name);
    h.array.values = convert(h, bytes + h.dataStart);
    return std::move(h.array);
}

NpyArray readNpy(const std::string& path, bool headerOnly) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path, "cannot open");
    std::error_code ec;
    const std::uintmax_t fileSize = std::filesystem::file_size(path, ec);
    if (ec) throw IoError(path, "cannot read its size: " + ec.message());
    // The header first (its length is in the first 12 bytes), then the data only when asked for.
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(std::min<std::uintmax_t>(fileSize, 12)));
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    std::size_t want = bytes.size();
    if (bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0) {
        std::uint64_t len = bytes[8] | (bytes[9] << 8);
        if (bytes[6] > 1 && bytes.size() >= 12) len |= (bytes[10] << 16) | (static_cast<std::uint64_t>(bytes[11]) << 24);
        want = static_cast<std::size_t>(std::min<std::uint64_t>(fileSize, (bytes[6] == 1 ? 10 : 12) + std::min<std::uint64_t>(len, 1u << 21)));
    }
    if (!headerOnly) want = static_cast<std::size_t>(fileSize);
    const std::size_t have = bytes.size();
    bytes.resize(std::max(want, have));
    if (bytes.size() > have) {
        in.read(reinterpret_cast<char*>(bytes.data() + have), static_cast<std::streamsize>(bytes.size() - have));
        if (static_cast<std::size_t>(in.gcount()) != bytes.size() - have) throw IoError(path, "read failed");
    }
    if (!headerOnly) return parseNpy(bytes.data(), bytes.size(), path);
    NpyHeader h = parseHeader(bytes.data(), bytes.size(), path);
    checkDataSize(h, fileSize, path);
    return std::move(h.array);
}

}  // namespace ms::core::data
