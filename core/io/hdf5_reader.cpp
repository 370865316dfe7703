#include "core/io/hdf5_reader.h"

#include <hdf5.h>

#include <cstring>

#include "core/errors.h"
#include "core/io/hdf5_lock.h"
#include "core/io/hdf5_util.h"
#include "core/io/mapped_file.h"

namespace ms::core::io {

namespace {

constexpr const char* kDTypeAttr = "mergescope_dtype";

using Handle = Hdf5Handle;

// Maps a dataset's file type to our dtype; nullopt for types we do not read (strings, ...).
std::optional<DType> mapType(hid_t dset, hid_t type) {
    const std::string tag = readStringAttribute(dset, kDTypeAttr);
    if (!tag.empty()) return parseDType(tag);
    const std::size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
        case H5T_FLOAT:
            if (size == 8) return DType::F64;
            if (size == 4) return DType::F32;
            if (size == 2) return DType::F16;
            return std::nullopt;
        case H5T_INTEGER: {
            const bool isSigned = H5Tget_sign(type) == H5T_SGN_2;
            if (!isSigned) return size == 1 ? std::optional(DType::U8) : std::nullopt;
            if (size == 8) return DType::I64;
            if (size == 4) return DType::I32;
            if (size == 2) return DType::I16;
            if (size == 1) return DType::I8;
            return std::nullopt;
        }
        case H5T_ENUM:  // h5py's bool: an int8 enum {FALSE, TRUE}
            if (size == 1 && H5Tget_nmembers(type) == 2) return DType::Bool;
            return std::nullopt;
        default: return std::nullopt;
    }
}

class Hdf5Source final : public TensorSource {
public:
    explicit Hdf5Source(std::string path) : TensorSource(std::move(path)) {}
    ~Hdf5Source() override {
        auto lock = lockHdf5();
        if (m_file >= 0) H5Fclose(m_file);
    }

    std::string_view format() const override { return "hdf5"; }

    void open() {
        m_map = MappedFile::open(m_path);
        if (m_map->size() == 0) throw FormatError(m_path, "file is empty");
        auto lock = lockHdf5();
        if (H5Fis_hdf5(m_path.c_str()) <= 0)
            throw FormatError(m_path, "not an HDF5 file (no HDF5 signature)");
        m_file = H5Fopen(m_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        if (m_file < 0) throw FormatError(m_path, "cannot open as HDF5: " + hdf5LastError());
        if (H5Ovisit2(m_file, H5_INDEX_NAME, H5_ITER_INC, &Hdf5Source::visit, this, H5O_INFO_BASIC) < 0) {
            if (!m_error.empty()) throw FormatError(m_path, m_error);
            throw FormatError(m_path, "cannot list the file's objects: " + hdf5LastError());
        }
        if (!m_error.empty()) throw FormatError(m_path, m_error);
        // Root attributes that are strings are the file's metadata.
        H5Aiterate2(m_file, H5_INDEX_NAME, H5_ITER_INC, nullptr,
                    [](hid_t loc, const char* name, const H5A_info_t*, void* self) -> herr_t {
                        auto* src = static_cast<Hdf5Source*>(self);
                        const std::string v = readStringAttribute(loc, name);
                        if (!v.empty()) src->m_metadata[name] = v;
                        return 0;
                    },
                    this);
        if (m_skipped > 0) m_metadata["hdf5.skipped_datasets"] = std::to_string(m_skipped);
    }

protected:
    TensorData loadImpl(const TensorInfo& info) const override {
        auto lock = lockHdf5();
        const std::string& dsPath = m_paths.at(info.name);
        Handle ds(H5Dopen2(m_file, dsPath.c_str(), H5P_DEFAULT));
        if (!ds.ok()) throw FormatError(m_path, info.name, "cannot open dataset: " + hdf5LastError());
        Handle type(H5Dget_type(ds.id));
        // Contiguous, unfiltered, little-endian data is read in place through the mapping.
        Handle plist(H5Dget_create_plist(ds.id));
        const bool contiguous = H5Pget_layout(plist.id) == H5D_CONTIGUOUS && H5Pget_nfilters(plist.id) == 0;
        const haddr_t offset = H5Dget_offset(ds.id);
        const bool littleEndian = H5Tget_order(type.id) == H5T_ORDER_LE || H5Tget_size(type.id) == 1;
        if (contiguous && littleEndian && offset != HADDR_UNDEF && offset <= m_map->size() &&
            info.nbytes <= m_map->size() - offset)
            return TensorData::view(m_map, m_map->data() + offset, info.nbytes);
        std::vector<std::byte> out(info.nbytes);
        if (info.nbytes == 0) return TensorData::owned(std::move(out));
        Handle mem(memoryType(info.dtype, type.id));
        if (H5Dread(ds.id, mem.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
            throw FormatError(m_path, info.name, "cannot read dataset: " + hdf5LastError());
        return TensorData::owned(std::move(out));
    }

private:
    static hid_t memoryType(DType t, hid_t fileType) {
        switch (t) {
            case DType::F64: return H5Tcopy(H5T_IEEE_F64LE);
            case DType::F32: return H5Tcopy(H5T_IEEE_F32LE);
            case DType::I64: return H5Tcopy(H5T_STD_I64LE);
            case DType::I32: return H5Tcopy(H5T_STD_I32LE);
            case DType::I16: return H5Tcopy(H5T_STD_I16LE);
            case DType::I8: return H5Tcopy(H5T_STD_I8LE);
            case DType::U8: return H5Tcopy(H5T_STD_U8LE);
            case DType::BF16: return H5Tcopy(H5T_STD_U16LE);
            default: {  // F16 and bool: the file's own type, little-endian
                hid_t c = H5Tcopy(fileType);
                H5Tset_order(c, H5T_ORDER_LE);
                return c;
            }
        }
    }

    static herr_t visit(hid_t root, const char* name, const H5O_info_t* info, void* self) {
        auto* src = static_cast<Hdf5Source*>(self);
        if (info->type != H5O_TYPE_DATASET) return 0;
        Handle ds(H5Dopen2(root, name, H5P_DEFAULT));
        if (!ds.ok()) return 0;
        Handle type(H5Dget_type(ds.id));
        const auto dtype = mapType(ds.id, type.id);
        if (!dtype) {
            ++src->m_skipped;
            return 0;
        }
        Handle space(H5Dget_space(ds.id));
        const int rank = H5Sget_simple_extent_ndims(space.id);
        if (rank < 0 || rank > 32) {
            src->m_error = std::string("dataset '") + name + "' has an unsupported dataspace";
            return -1;
        }
        std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
        H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
        TensorInfo t;
        t.name = name;
        for (auto& c : t.name)
            if (c == '/') c = '.';
        t.dtype = *dtype;
        for (hsize_t d : dims) t.shape.push_back(static_cast<std::int64_t>(d));
        const auto numel = checkedNumel(t.shape.data(), t.shape.size());
        if (!numel || *numel > (1ULL << 60)) {
            src->m_error = std::string("dataset '") + name + "' is too large";
            return -1;
        }
        t.numel = *numel;
        t.nbytes = t.numel * dtypeSize(t.dtype);
        src->m_paths[t.name] = name;
        try {
            src->addTensor(std::move(t));
        } catch (const Error& e) {
            src->m_error = e.what();
            return -1;
        }
        return 0;
    }

    std::shared_ptr<const MappedFile> m_map;
    hid_t m_file = -1;
    std::unordered_map<std::string, std::string> m_paths;
    std::size_t m_skipped = 0;
    std::string m_error;
};

}  // namespace

std::unique_ptr<TensorSource> openHdf5(const std::string& path) {
    auto src = std::make_unique<Hdf5Source>(path);
    src->open();
    return src;
}

}  // namespace ms::core::io
