#include "core/data/npy.h"

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

NpyArray readNpy(const std::string& path, bool headerOnly) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path, "cannot open");
    std::uint8_t magic[10] = {};
    in.read(reinterpret_cast<char*>(magic), 8);
    if (in.gcount() != 8 || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw FormatError(path, "not a .npy file (no \\x93NUMPY magic)");
    const int major = magic[6];
    if (major < 1 || major > 3) throw FormatError(path, ".npy format version " + std::to_string(major) + " (1 to 3 are read)");
    std::uint32_t headerLen = 0;
    if (major == 1) {
        in.read(reinterpret_cast<char*>(magic + 8), 2);
        if (in.gcount() != 2) throw FormatError(path, "the .npy header is truncated");
        headerLen = magic[8] | (magic[9] << 8);
    } else {
        std::uint8_t b[4];
        in.read(reinterpret_cast<char*>(b), 4);
        if (in.gcount() != 4) throw FormatError(path, "the .npy header is truncated");
        headerLen = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
    }
    if (headerLen > (1u << 20)) throw FormatError(path, "the .npy header claims " + std::to_string(headerLen) + " bytes");
    std::string header(headerLen, '\0');
    in.read(header.data(), headerLen);
    if (in.gcount() != static_cast<std::streamsize>(headerLen)) throw FormatError(path, "the .npy header is truncated");
    NpyArray a;
    bool fortran = false;
    HeaderParser(header, path).parse(a.descr, fortran, a.shape);
    if (a.shape.size() > 4) throw FormatError(path, std::to_string(a.shape.size()) + "-D array (up to 4-D are read)");

    const std::string& d = a.descr;
    if (d.size() < 3) throw FormatError(path, "element type '" + d + "' is not one NumPy writes for numbers");
    const char order = d[0], kind = d[1];
    int itemSize = 0;
    try {
        itemSize = std::stoi(d.substr(2));
    } catch (const std::exception&) {
        itemSize = 0;
    }
    const bool known = (kind == 'b' && itemSize == 1) || ((kind == 'i' || kind == 'u') && (itemSize == 1 || itemSize == 2 || itemSize == 4 || itemSize == 8)) ||
                       (kind == 'f' && (itemSize == 2 || itemSize == 4 || itemSize == 8));
    if (!known || (order != '<' && order != '>' && order != '|' && order != '='))
        throw FormatError(path, "element type '" + d + "' (numbers are read: bool, int8–64, uint8–64, float16/32/64)");
    const bool swap = order == '>';  // this machine is little-endian (x86-64, arm64)
    a.integral = kind != 'f';

    std::uint64_t count = 1;
    for (auto dim : a.shape)
        if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(dim), &count)) throw FormatError(path, "the shape's size overflows");
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(itemSize), &bytes)) throw FormatError(path, "the shape's size overflows");
    std::error_code ec;
    const std::uintmax_t fileSize = std::filesystem::file_size(path, ec);
    const std::uint64_t dataStart = (major == 1 ? 10u : 12u) + headerLen;
    if (ec || fileSize < dataStart || fileSize - dataStart != bytes)
        throw FormatError(path, "the data holds " + std::to_string(ec || fileSize < dataStart ? 0 : fileSize - dataStart) +
                                    " bytes, the header's shape and type say " + std::to_string(bytes));
    if (headerOnly) return a;
    std::vector<std::uint8_t> raw(static_cast<std::size_t>(bytes));
    in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(bytes));
    if (static_cast<std::uint64_t>(in.gcount()) != bytes) throw IoError(path, "read failed");

    std::vector<float> stored(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < stored.size(); ++i) {
        const std::uint8_t* p = raw.data() + i * static_cast<std::size_t>(itemSize);
        float v = 0;
        switch (kind) {
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
    if (!fortran || a.shape.size() < 2) {
        a.values = std::move(stored);
        return a;
    }
    // Fortran order: the first index varies fastest in storage. Walk the C order and gather.
    const std::size_t rank = a.shape.size();
    std::vector<std::uint64_t> fstride(rank, 1);
    for (std::size_t k = 1; k < rank; ++k) fstride[k] = fstride[k - 1] * static_cast<std::uint64_t>(a.shape[k - 1]);
    a.values.resize(stored.size());
    std::vector<std::int64_t> idx(rank, 0);
    for (std::size_t c = 0; c < stored.size(); ++c) {
        std::uint64_t f = 0;
        for (std::size_t k = 0; k < rank; ++k) f += static_cast<std::uint64_t>(idx[k]) * fstride[k];
        a.values[c] = stored[static_cast<std::size_t>(f)];
        for (std::size_t k = rank; k-- > 0;) {  // C order: the last index fastest
            if (++idx[k] < a.shape[k]) break;
            idx[k] = 0;
        }
    }
    return a;
}

}  // namespace ms::core::data
