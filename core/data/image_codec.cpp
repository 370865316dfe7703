#include "core/data/image_codec.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/data/npy.h"
#include "core/errors.h"
#include "core/io/atomic_file.h"

namespace ms::core::data {

namespace {

constexpr std::uint64_t kMaxPixels = 1ull << 30;  // refused beyond: a hostile header, not a photo

std::vector<std::uint8_t> readFile(const std::string& path, std::streamoff limit = -1) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path, "cannot open the image");
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size < 0) throw IoError(path, "cannot read the image");
    in.seekg(0);
    const std::streamoff want = limit >= 0 ? std::min(limit, size) : size;
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(want));
    if (want > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), want)) throw IoError(path, "cannot read the image");
    return bytes;
}

bool isPng(const std::uint8_t* d, std::size_t n) { return n >= 8 && png_sig_cmp(d, 0, 8) == 0; }
bool isJpeg(const std::uint8_t* d, std::size_t n) { return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF; }

void checkSize(const std::string& name, std::uint64_t w, std::uint64_t h) {
    if (w == 0 || h == 0) throw FormatError(name, "the image has no pixels");
    if (w * h > kMaxPixels) throw FormatError(name, "image of " + std::to_string(w) + "×" + std::to_string(h) + " pixels is too large");
}

// Before allocating for a header's size: the compressed bytes must be able to hold that many
// pixels. A JPEG spends at least ~4 bits per 8×8 block (a flat image: DC code and EOB), a PNG's
// deflate stream at most ~1032:1 of one-bit pixels; the bounds leave a margin of 8× and more.
void checkPlausible(const std::string& name, std::size_t bytes, std::uint64_t w, std::uint64_t h, std::uint64_t pixelsPerByte) {
    if (w * h > static_cast<std::uint64_t>(bytes) * pixelsPerByte)
        throw FormatError(name, "the header says " + std::to_string(w) + "×" + std::to_string(h) + " pixels, far more than " +
                                    std::to_string(bytes) + " bytes can hold (a truncated or forged file)");
}

// ---- JPEG -----------------------------------------------------------------------------------

struct TjHandle {
    tjhandle h = tjInitDecompress();
    ~TjHandle() {
        if (h) tjDestroy(h);
    }
};

ImageHeader jpegHeader(tjhandle h, const std::uint8_t* data, std::size_t size, const std::string& name, int* colorspace) {
    int w = 0, ht = 0, sub = 0, cs = 0;
    if (tjDecompressHeader3(h, data, static_cast<unsigned long>(size), &w, &ht, &sub, &cs) != 0)
        throw FormatError(name, std::string("not a readable JPEG: ") + tjGetErrorStr2(h));
    if (cs == TJCS_CMYK || cs == TJCS_YCCK) throw FormatError(name, "CMYK JPEGs are not supported (convert the image to RGB)");
    checkSize(name, static_cast<std::uint64_t>(w), static_cast<std::uint64_t>(ht));
    if (colorspace) *colorspace = cs;
    return {"jpeg", w, ht, cs == TJCS_GRAY ? 1 : 3, 8};
}

DecodedImage decodeJpeg(const std::uint8_t* data, std::size_t size, const std::string& name) {
    TjHandle tj;
    if (!tj.h) throw Error("libjpeg-turbo could not start a decoder");
    int cs = 0;
    const ImageHeader hdr = jpegHeader(tj.h, data, size, name, &cs);
    checkPlausible(name, size, static_cast<std::uint64_t>(hdr.width), static_cast<std::uint64_t>(hdr.height), 1024);
    DecodedImage img;
    img.width = hdr.width;
    img.height = hdr.height;
    img.channels = hdr.channels;
    img.pixels.resize(static_cast<std::size_t>(hdr.width) * static_cast<std::size_t>(hdr.height) * static_cast<std::size_t>(hdr.channels));
    // Flags 0: the accurate integer DCT and fancy upsampling, libjpeg's (and so Pillow's) defaults.
    if (tjDecompress2(tj.h, data, static_cast<unsigned long>(size), img.pixels.data(), hdr.width, 0, hdr.height,
                      hdr.channels == 1 ? TJPF_GRAY : TJPF_RGB, 0) != 0) {
        const std::string why = tjGetErrorStr2(tj.h);
        // Warnings leave a whole image (extraneous bytes, ...), except a truncated file's.
        if (tjGetErrorCode(tj.h) != TJERR_WARNING || why.find("Premature end") != std::string::npos)
            throw FormatError(name, "broken JPEG data: " + why);
    }
    return img;
}

// ---- PNG ------------------------------------------------------------------------------------

struct PngReader {
    const std::uint8_t* data;
    std::size_t size, pos;
    char error[200];
};

void pngRead(png_structp png, png_bytep out, png_size_t n) {
    auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
    if (n > r->size - r->pos) png_error(png, "the file ends inside the image");
    std::memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

void pngError(png_structp png, png_const_charp msg) {
    auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
    if (r) std::snprintf(r->error, sizeof r->error, "%s", msg);
    png_longjmp(png, 1);
}

void pngWarning(png_structp, png_const_charp) {}

struct PngResult {
    int width, height, channels, bits;
    std::uint8_t* buffer;  // malloc'd, height × rowbytes
    png_bytep* rows;       // malloc'd row pointers (here, not a local: locals changed after setjmp are lost by longjmp)
    std::size_t rowBytes;
    int headerOnly;
    int keepColour16;  // 16-bit colour stays 16-bit (target maps: normals), else 8 bits as Pillow reads photos
};

// Plain C-style code between setjmp and longjmp: no object with a destructor lives in this
// frame, and everything that changes after setjmp lives in *res (the caller's frame).
bool pngDecodeRaw(PngReader* reader, PngResult* res) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, reader, pngError, pngWarning);
    if (!png) return false;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        std::free(res->rows);
        res->rows = nullptr;
        std::free(res->buffer);
        res->buffer = nullptr;
        png_destroy_read_struct(&png, &info, nullptr);
        return false;
    }
    png_set_read_fn(png, reader, pngRead);
    png_set_user_limits(png, 1u << 20, 1u << 20);
    png_read_info(png, info);
    const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    const int colorType = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (static_cast<std::uint64_t>(w) * h > kMaxPixels) png_error(png, "image too large");
    if (!res->headerOnly && static_cast<std::uint64_t>(w) * h > static_cast<std::uint64_t>(reader->size) * 8 * 1100)
        png_error(png, "the header's size is far more than the file's bytes can hold (truncated or forged)");
    res->width = static_cast<int>(w);
    res->height = static_cast<int>(h);
    res->bits = depth == 16 ? 16 : 8;
    res->channels = (colorType == PNG_COLOR_TYPE_GRAY || colorType == PNG_COLOR_TYPE_GRAY_ALPHA) ? 1 : 3;
    if (res->headerOnly) {
        png_destroy_read_struct(&png, &info, nullptr);
        return true;
    }
    if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colorType == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (colorType & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (depth == 16 && res->channels == 3 && !res->keepColour16) {
        png_set_strip_16(png);  // 16-bit colour photos: 8 bits, as Pillow reads them
        res->bits = 8;
    }
    // A palette's or grey image's transparency chunk adds no channel here (never expanded to alpha).
    png_read_update_info(png, info);
    res->rowBytes = png_get_rowbytes(png, info);
    const std::size_t expected = static_cast<std::size_t>(w) * static_cast<std::size_t>(res->channels) * (res->bits / 8);
    if (res->rowBytes != expected) png_error(png, "unexpected row layout");
    res->buffer = static_cast<std::uint8_t*>(std::malloc(res->rowBytes * h));
    res->rows = static_cast<png_bytepp>(std::malloc(sizeof(png_bytep) * h));
    if (!res->buffer || !res->rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; ++y) res->rows[y] = res->buffer + y * res->rowBytes;
    png_read_image(png, res->rows);
    png_read_end(png, nullptr);
    std::free(res->rows);
    res->rows = nullptr;
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
}

DecodedImage decodePng(const std::uint8_t* data, std::size_t size, const std::string& name, bool headerOnly,
                       ImageHeader* header, bool keepColour16 = false) {
    PngReader reader{data, size, 0, {}};
    PngResult res{0, 0, 0, 8, nullptr, nullptr, 0, headerOnly ? 1 : 0, keepColour16 ? 1 : 0};
    if (!pngDecodeRaw(&reader, &res))
        throw FormatError(name, std::string("broken PNG data: ") + (reader.error[0] ? reader.error : "libpng failed"));
    const std::unique_ptr<std::uint8_t, void (*)(void*)> owned(res.buffer, std::free);
    checkSize(name, static_cast<std::uint64_t>(res.width), static_cast<std::uint64_t>(res.height));
    if (header) *header = {"png", res.width, res.height, res.channels, res.bits};
    DecodedImage img;
    img.width = res.width;
    img.height = res.height;
    img.channels = res.channels;
    img.bits = res.bits;
    if (headerOnly) return img;
    const std::size_t n = static_cast<std::size_t>(res.width) * static_cast<std::size_t>(res.height) * static_cast<std::size_t>(res.channels);
    if (res.bits == 16) {
        img.pixels16.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            img.pixels16[i] = static_cast<std::uint16_t>((res.buffer[2 * i] << 8) | res.buffer[2 * i + 1]);  // PNG is big-endian
    } else {
        img.pixels.assign(res.buffer, res.buffer + n);
    }
    return img;
}

struct PngBuffer {
    std::vector<std::uint8_t> bytes;
    char error[200];
};

void pngWrite(png_structp png, png_bytep data, png_size_t n) {
    auto* b = static_cast<PngBuffer*>(png_get_io_ptr(png));
    b->bytes.insert(b->bytes.end(), data, data + n);
}
void pngFlush(png_structp) {}
void pngWriteError(png_structp png, png_const_charp msg) {
    auto* b = static_cast<PngBuffer*>(png_get_io_ptr(png));
    if (b) std::snprintf(b->error, sizeof b->error, "%s", msg);
    png_longjmp(png, 1);
}

// As pngDecodeRaw: nothing with a destructor lives in this frame across setjmp.
bool pngEncodeRaw(PngBuffer* out, const std::uint8_t* rowsData, int w, int h, int channels, int bits) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, out, pngWriteError, pngWarning);
    if (!png) return false;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_set_write_fn(png, out, pngWrite, pngFlush);
    png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), bits,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const std::size_t rowBytes = static_cast<std::size_t>(w) * static_cast<std::size_t>(channels) * static_cast<std::size_t>(bits / 8);
    for (int y = 0; y < h; ++y) png_write_row(png, rowsData + static_cast<std::size_t>(y) * rowBytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return true;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

bool isImageFileName(const std::string& name) {
    const std::string n = lower(name);
    return n.ends_with(".jpg") || n.ends_with(".jpeg") || n.ends_with(".png") || n.ends_with(".npy");
}

DecodedImage decodeNpyImage(const std::string& path) {
    const NpyArray a = readNpy(path);
    const NpyLayout l = npyImageLayout(a, path);
    DecodedImage img;
    img.width = l.width;
    img.height = l.height;
    img.channels = l.channels;
    img.pixels.resize(static_cast<std::size_t>(l.width) * static_cast<std::size_t>(l.height) * static_cast<std::size_t>(l.channels));
    // Integers are 0..255 pixels; floats [0, 1] (the NYUv2 and Cityscapes releases), scaled by 255.
    const float top = a.integral ? 255.0f : 1.0f;
    std::size_t k = 0;
    for (int y = 0; y < l.height; ++y)
        for (int x = 0; x < l.width; ++x)
            for (int c = 0; c < l.channels; ++c) {
                const float v = a.values[l.at(y, x, c)];
                if (!(v >= -1e-6f && v <= top + 1e-6f))
                    throw FormatError(path, std::string("pixel value ") + std::to_string(v) + " at (" + std::to_string(y) + ", " +
                                                std::to_string(x) + "): " + (a.integral ? "integer images hold 0..255" : "float images hold [0, 1]"));
                img.pixels[k++] = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, top) * (255.0f / top)));
            }
    return img;
}

DecodedImage decodeImage(const std::uint8_t* data, std::size_t size, const std::string& name, bool keepColour16) {
    if (isPng(data, size)) return decodePng(data, size, name, false, nullptr, keepColour16);
    if (isJpeg(data, size)) return decodeJpeg(data, size, name);
    throw FormatError(name, size == 0 ? "the file is empty, not an image" : "not a JPEG or PNG image");
}

DecodedImage decodeImageFile(const std::string& path, bool keepColour16) {
    if (isNpyFile(path)) return decodeNpyImage(path);
    const std::vector<std::uint8_t> bytes = readFile(path);
    return decodeImage(bytes.data(), bytes.size(), path, keepColour16);
}

ImageHeader readImageHeader(const std::string& path) {
    if (isNpyFile(path)) {
        const NpyLayout l = npyImageLayout(readNpy(path, true), path);
        return {"npy", l.width, l.height, l.channels, 8};
    }
    std::vector<std::uint8_t> bytes = readFile(path, 256 * 1024);  // headers sit at the start (EXIF included)
    if (isPng(bytes.data(), bytes.size())) {
        ImageHeader h;
        decodePng(bytes.data(), bytes.size(), path, true, &h);
        return h;
    }
    if (isJpeg(bytes.data(), bytes.size())) {
        TjHandle tj;
        if (!tj.h) throw Error("libjpeg-turbo could not start a decoder");
        return jpegHeader(tj.h, bytes.data(), bytes.size(), path, nullptr);
    }
    throw FormatError(path, bytes.empty() ? "the file is empty, not an image" : "not a JPEG or PNG image");
}

void writePng(const std::string& path, const DecodedImage& img, bool durable) {
    if ((img.channels != 1 && img.channels != 3) || (img.bits != 8 && img.bits != 16))
        throw InvalidArgument("PNG: 8- or 16-bit grey or RGB");
    const std::size_t n = static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height) * static_cast<std::size_t>(img.channels);
    std::vector<std::uint8_t> rows;
    if (img.bits == 16) {
        if (img.pixels16.size() != n) throw InvalidArgument("PNG: pixel count does not match the size");
        rows.resize(2 * n);
        for (std::size_t i = 0; i < n; ++i) rows[2 * i] = static_cast<std::uint8_t>(img.pixels16[i] >> 8), rows[2 * i + 1] = static_cast<std::uint8_t>(img.pixels16[i] & 0xFF);
    } else {
        if (img.pixels.size() != n) throw InvalidArgument("PNG: pixel count does not match the size");
        rows = img.pixels;
    }
    PngBuffer buf{{}, {}};
    if (!pngEncodeRaw(&buf, rows.data(), img.width, img.height, img.channels, img.bits))
        throw OutputError(path, std::string("cannot encode the PNG: ") + buf.error);
    if (!durable) {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(buf.bytes.data()), static_cast<std::streamsize>(buf.bytes.size()));
        if (!f) throw OutputError(path, "cannot write the PNG");
        return;
    }
    io::AtomicFile f(path);
    f.writeAll(buf.bytes.data(), buf.bytes.size());
    f.commit();
}

DecodedImage toChannels(DecodedImage img, int channels) {
    if (img.channels == channels) return img;
    if (img.bits != 8) throw InvalidArgument("only 8-bit images change channels");
    const std::size_t n = static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height);
    std::vector<std::uint8_t> out(n * static_cast<std::size_t>(channels));
    if (img.channels == 1 && channels == 3) {
        for (std::size_t i = 0; i < n; ++i) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = img.pixels[i];
    } else if (img.channels == 3 && channels == 1) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t r = img.pixels[3 * i], g = img.pixels[3 * i + 1], b = img.pixels[3 * i + 2];
            out[i] = static_cast<std::uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
        }
    } else {
        throw InvalidArgument("images have 1 or 3 channels, not " + std::to_string(channels));
    }
    img.pixels = std::move(out);
    img.channels = channels;
    return img;
}

}  // namespace ms::core::data
