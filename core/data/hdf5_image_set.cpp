#include "core/data/hdf5_image_set.h"

#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/hdf5_lock.h"
#include "core/io/hdf5_util.h"

namespace ms::core::data {

namespace {
using H = io::Hdf5Handle;

std::vector<hsize_t> dimsOf(hid_t ds) {
    H space(H5Dget_space(ds));
    const int rank = H5Sget_simple_extent_ndims(space.id);
    std::vector<hsize_t> d(static_cast<std::size_t>(std::max(rank, 0)));
    if (rank > 0) H5Sget_simple_extent_dims(space.id, d.data(), nullptr);
    return d;
}

template <typename T>
std::vector<T> readAll(hid_t ds, hid_t memType, std::size_t n, const std::string& path, const char* what) {
    std::vector<T> v(n);
    if (n > 0 && H5Dread(ds, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
        throw FormatError(path, std::string("cannot read /") + what + ": " + io::hdf5LastError());
    return v;
}
}  // namespace

Hdf5ImageSet loadHdf5ImageSet(const std::string& path) {
    if (!std::filesystem::exists(path)) throw IoError(path, "no such file");
    auto lock = io::lockHdf5();
    if (H5Fis_hdf5(path.c_str()) <= 0) throw FormatError(path, "not an HDF5 file");
    H file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (file.id < 0) throw FormatError(path, "cannot open as HDF5: " + io::hdf5LastError());
    Hdf5ImageSet out;
    ImageSet& s = out.images;
    s.name = io::readStringAttribute(file.id, "name");
    if (s.name.empty()) s.name = std::filesystem::path(path).stem().string();

    if (H5Lexists(file.id, "images", H5P_DEFAULT) <= 0) throw FormatError(path, "no /images dataset");
    H images(H5Dopen2(file.id, "images", H5P_DEFAULT));
    const auto d = dimsOf(images.id);
    if (d.size() != 3 && d.size() != 4) throw FormatError(path, "/images must be [N, H, W] or [N, C, H, W]");
    s.count = static_cast<std::int64_t>(d[0]);
    s.channels = d.size() == 4 ? static_cast<std::int64_t>(d[1]) : 1;
    s.height = static_cast<std::int64_t>(d[d.size() - 2]);
    s.width = static_cast<std::int64_t>(d[d.size() - 1]);
    const std::size_t total = static_cast<std::size_t>(s.count) * s.imageSize();
    H type(H5Dget_type(images.id));
    if (H5Tget_class(type.id) == H5T_FLOAT) {
        const auto f = readAll<float>(images.id, H5T_NATIVE_FLOAT, total, path, "images");
        s.pixels.resize(total);
        for (std::size_t i = 0; i < total; ++i) {
            if (!(f[i] >= 0.0f && f[i] <= 1.0f)) throw FormatError(path, "/images: float pixels must lie in [0, 1]");
            s.pixels[i] = static_cast<std::uint8_t>(std::lround(f[i] * 255.0f));
        }
    } else if (H5Tget_class(type.id) == H5T_INTEGER && H5Tget_size(type.id) == 1 && H5Tget_sign(type.id) == H5T_SGN_NONE) {
        s.pixels = readAll<std::uint8_t>(images.id, H5T_NATIVE_UINT8, total, path, "images");
    } else {
        throw FormatError(path, "/images must be uint8 or float32");
    }

    if (H5Lexists(file.id, "labels", H5P_DEFAULT) > 0) {
        H labels(H5Dopen2(file.id, "labels", H5P_DEFAULT));
        const auto ld = dimsOf(labels.id);
        if (ld.size() != 1 || static_cast<std::int64_t>(ld[0]) != s.count)
            throw FormatError(path, "/labels must be [N] with N = " + std::to_string(s.count));
        const auto l = readAll<std::int64_t>(labels.id, H5T_NATIVE_INT64, ld[0], path, "labels");
        for (auto v : l) {
            if (v < 0 || v > 1'000'000) throw FormatError(path, "/labels: label " + std::to_string(v) + " out of range");
            s.labels.push_back(static_cast<std::int32_t>(v));
            s.classes = std::max(s.classes, static_cast<int>(v) + 1);
        }
    }
    if (H5Lexists(file.id, "targets", H5P_DEFAULT) > 0) {
        H targets(H5Dopen2(file.id, "targets", H5P_DEFAULT));
        const auto td = dimsOf(targets.id);
        if (td.size() != 4 || static_cast<std::int64_t>(td[0]) != s.count || static_cast<std::int64_t>(td[2]) != s.height ||
            static_cast<std::int64_t>(td[3]) != s.width)
            throw FormatError(path, "/targets must be [N, K, H, W] matching /images");
        out.targetChannels = static_cast<std::int64_t>(td[1]);
        out.targets = readAll<float>(targets.id, H5T_NATIVE_FLOAT, td[0] * td[1] * td[2] * td[3], path, "targets");
    }
    if (H5Lexists(file.id, "splits", H5P_DEFAULT) > 0) {
        H group(H5Gopen2(file.id, "splits", H5P_DEFAULT));
        hsize_t n = 0;
        H5Gget_num_objs(group.id, &n);
        for (hsize_t i = 0; i < n; ++i) {
            char name[256] = {};
            H5Gget_objname_by_idx(group.id, i, name, sizeof name);
            H ds(H5Dopen2(group.id, name, H5P_DEFAULT));
            const auto sd = dimsOf(ds.id);
            if (sd.size() != 1) throw FormatError(path, std::string("/splits/") + name + " must be 1-D indices");
            const auto idx = readAll<std::int64_t>(ds.id, H5T_NATIVE_INT64, sd[0], path, name);
            auto& split = out.splits[name];
            for (auto v : idx) {
                if (v < 0 || v >= s.count)
                    throw FormatError(path, std::string("/splits/") + name + ": index " + std::to_string(v) + " out of range");
                split.push_back(static_cast<std::size_t>(v));
            }
        }
    }
    const std::string classNames = io::readStringAttribute(file.id, "class_names");
    if (!classNames.empty()) {
        const auto j = nlohmann::json::parse(classNames, nullptr, false);
        if (j.is_array())
            for (const auto& c : j) out.classNames.push_back(c.is_string() ? c.get<std::string>() : c.dump());
        s.classes = std::max(s.classes, static_cast<int>(out.classNames.size()));
    }
    return out;
}

}  // namespace ms::core::data
