#include "core/io/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "core/errors.h"

namespace ms::core::io {

namespace {
constexpr std::uint32_t kEocdSig = 0x06054b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::uint32_t kZip64EocdSig = 0x06064b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kLocalSig = 0x04034b50;

std::uint64_t le(const std::byte* p, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
    return v;
}
}  // namespace

ZipArchive::ZipArchive(std::shared_ptr<const MappedFile> file) : m_file(std::move(file)) {
    parse();
}

void ZipArchive::parse() {
    const std::byte* d = m_file->data();
    const std::uint64_t size = m_file->size();
    const std::string& path = m_file->path();
    auto need = [&](std::uint64_t off, std::uint64_t len, const char* what) {
        if (off > size || len > size - off)
            throw FormatError(path, std::string("zip archive is truncated or corrupt (") + what +
                                        " lies outside the file)");
    };
    if (size < 22) throw FormatError(path, "zip archive is too short");

    // The end-of-central-directory record sits within the last 64 KiB + 22 bytes.
    std::uint64_t eocd = UINT64_MAX;
    const std::uint64_t lowest = size > 65557 ? size - 65557 : 0;
    for (std::uint64_t p = size - 22 + 1; p-- > lowest;) {
        if (le(d + p, 4) == kEocdSig) {
            eocd = p;
            break;
        }
    }
    if (eocd == UINT64_MAX)
        throw FormatError(path, "zip end-of-central-directory record not found (truncated file?)");
    std::uint64_t count = le(d + eocd + 10, 2);
    std::uint64_t cdSize = le(d + eocd + 12, 4);
    std::uint64_t cdOffset = le(d + eocd + 16, 4);
    if (count == 0xffff || cdSize == 0xffffffff || cdOffset == 0xffffffff) {
        if (eocd < 20 || le(d + eocd - 20, 4) != kZip64LocatorSig)
            throw FormatError(path, "zip64 locator missing");
        const std::uint64_t rec = le(d + eocd - 20 + 8, 8);
        need(rec, 56, "zip64 end record");
        if (le(d + rec, 4) != kZip64EocdSig) throw FormatError(path, "zip64 end record corrupt");
        count = le(d + rec + 32, 8);
        cdSize = le(d + rec + 40, 8);
        cdOffset = le(d + rec + 48, 8);
    }
    need(cdOffset, cdSize, "central directory");
    if (count > cdSize / 46) throw FormatError(path, "zip entry count exceeds the directory size");

    std::uint64_t p = cdOffset;
    const std::uint64_t cdEnd = cdOffset + cdSize;
    for (std::uint64_t i = 0; i < count; ++i) {
        if (p + 46 > cdEnd || le(d + p, 4) != kCentralSig)
            throw FormatError(path, "zip central directory entry " + std::to_string(i) + " corrupt");
        Entry e;
        e.method = static_cast<std::uint16_t>(le(d + p + 10, 2));
        e.compressedSize = le(d + p + 20, 4);
        e.size = le(d + p + 24, 4);
        const std::uint64_t nameLen = le(d + p + 28, 2);
        const std::uint64_t extraLen = le(d + p + 30, 2);
        const std::uint64_t commentLen = le(d + p + 32, 2);
        std::uint64_t localOffset = le(d + p + 42, 4);
        if (p + 46 + nameLen + extraLen + commentLen > cdEnd)
            throw FormatError(path, "zip central directory entry " + std::to_string(i) + " overruns");
        e.name.assign(reinterpret_cast<const char*>(d + p + 46), nameLen);
        // ZIP64 extended information: only the fields saturated above are present, in order.
        std::uint64_t x = p + 46 + nameLen;
        const std::uint64_t xEnd = x + extraLen;
        while (x + 4 <= xEnd) {
            const auto id = le(d + x, 2);
            const auto len = le(d + x + 2, 2);
            if (x + 4 + len > xEnd) break;
            if (id == 0x0001) {
                std::uint64_t q = x + 4;
                auto take = [&](std::uint64_t& field) {
                    if (field != 0xffffffff) return;
                    if (q + 8 > x + 4 + len) throw FormatError(path, "zip64 extra field too short");
                    field = le(d + q, 8);
                    q += 8;
                };
                take(e.size);
                take(e.compressedSize);
                take(localOffset);
            }
            x += 4 + len;
        }
        need(localOffset, 30, ("local header of '" + e.name + "'").c_str());
        if (le(d + localOffset, 4) != kLocalSig)
            throw FormatError(path, "zip local header of '" + e.name + "' corrupt");
        e.dataOffset = localOffset + 30 + le(d + localOffset + 26, 2) + le(d + localOffset + 28, 2);
        need(e.dataOffset, e.compressedSize, ("data of '" + e.name + "'").c_str());
        if (e.method != 0 && e.method != 8)
            throw FormatError(path, "zip entry '" + e.name + "' uses unsupported compression method " +
                                        std::to_string(e.method));
        if (e.method == 0 && e.size != e.compressedSize)
            throw FormatError(path, "zip entry '" + e.name + "' has inconsistent sizes");
        m_index.emplace(e.name, m_entries.size());
        m_entries.push_back(std::move(e));
        p += 46 + nameLen + extraLen + commentLen;
    }
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &m_entries[it->second];
}

TensorData ZipArchive::read(const Entry& e) const {
    const std::byte* src = m_file->data() + e.dataOffset;
    if (e.method == 0) return TensorData::view(m_file, src, e.size);
    // Deflate cannot expand beyond ~1032:1; a larger claim is a zip bomb or corruption.
    if (e.size > e.compressedSize * 1100 + 1024)
        throw FormatError(path(), "zip entry '" + e.name + "' claims an impossible size");
    std::vector<std::byte> out(e.size);
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw FormatError(path(), "zlib init failed");
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(src));
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    std::uint64_t inLeft = e.compressedSize, outLeft = e.size;
    int rc = Z_OK;
    while (rc == Z_OK) {
        const uInt inChunk = static_cast<uInt>(std::min<std::uint64_t>(inLeft, 1u << 30));
        const uInt outChunk = static_cast<uInt>(std::min<std::uint64_t>(outLeft, 1u << 30));
        zs.avail_in = inChunk;
        zs.avail_out = outChunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        inLeft -= inChunk - zs.avail_in;
        outLeft -= outChunk - zs.avail_out;
        if (rc == Z_OK && zs.avail_in == inChunk && zs.avail_out == outChunk) break;  // stuck
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || outLeft != 0)
        throw FormatError(path(), "zip entry '" + e.name + "' does not inflate to its declared size");
    return TensorData::owned(std::move(out));
}

}  // namespace ms::core::io
