// HDF5 weight-file writer: one contiguous dataset per tensor under nested groups (the dotted
// name split at '.'), root string attributes for the metadata. Types follow h5py so that
// `h5py.File(path)` reads everything back naturally.
#include <hdf5.h>

#include <filesystem>

#include "core/errors.h"
#include "core/io/atomic_file.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/hdf5_lock.h"
#include "core/io/hdf5_util.h"

namespace ms::core::io {

namespace {

using Handle = Hdf5Handle;

hid_t fileType(DType t) {
    switch (t) {
        case DType::F64: return H5Tcopy(H5T_IEEE_F64LE);
        case DType::F32: return H5Tcopy(H5T_IEEE_F32LE);
        case DType::F16: {  // IEEE half, as h5py defines numpy's float16
            hid_t h = H5Tcopy(H5T_IEEE_F32LE);
            H5Tset_fields(h, 15, 10, 5, 0, 10);
            H5Tset_size(h, 2);
            H5Tset_ebias(h, 15);
            return h;
        }
        case DType::BF16: return H5Tcopy(H5T_STD_U16LE);  // tagged with an attribute
        case DType::I64: return H5Tcopy(H5T_STD_I64LE);
        case DType::I32: return H5Tcopy(H5T_STD_I32LE);
        case DType::I16: return H5Tcopy(H5T_STD_I16LE);
        case DType::I8: return H5Tcopy(H5T_STD_I8LE);
        case DType::U8: return H5Tcopy(H5T_STD_U8LE);
        case DType::Bool: {  // h5py's bool enum
            hid_t e = H5Tenum_create(H5T_NATIVE_INT8);
            const std::int8_t f = 0, t = 1;
            H5Tenum_insert(e, "FALSE", &f);
            H5Tenum_insert(e, "TRUE", &t);
            return e;
        }
    }
    return -1;
}

void writeStringAttr(hid_t obj, const std::string& name, const std::string& value,
                     const std::string& path) {
    if (!writeStringAttribute(obj, name, value))
        throw OutputError(path, "cannot write attribute '" + name + "': " + hdf5LastError());
}

}  // namespace

std::vector<std::string> writeHdf5(const std::string& path,
                                   const std::vector<TensorToWrite>& tensors,
                                   const TensorFiller& fill, const WriteOptions& options,
                                   ProgressSink& progress, const CancelToken* cancel) {
    AtomicFile out(path);
    std::uint64_t total = 0, done = 0;
    for (const auto& t : tensors) {
        const auto n = checkedNumel(t.shape.data(), t.shape.size());
        if (!n) throw InvalidArgument("tensor '" + t.name + "' has an invalid shape");
        total += *n * dtypeSize(t.dtype);
    }
    {
        auto lock = lockHdf5();
        Handle file(H5Fcreate(out.tempPath().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
        if (file.id < 0) throw OutputError(path, "cannot create HDF5 file: " + hdf5LastError());
        Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
        H5Pset_create_intermediate_group(lcpl.id, 1);
        for (const auto& [k, v] : options.metadata) writeStringAttr(file.id, k, v, path);
        std::vector<std::byte> buf;
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            if (cancel) cancel->throwIfCancelled();
            const auto& t = tensors[i];
            if (t.name.empty() || t.name.find('/') != std::string::npos || t.name.front() == '.' ||
                t.name.back() == '.' || t.name.find("..") != std::string::npos)
                throw InvalidArgument(path + ": tensor name '" + t.name +
                                      "' cannot be stored as an HDF5 group path");
            std::string dsPath = t.name;
            for (auto& c : dsPath)
                if (c == '.') c = '/';
            std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
            Handle space(t.shape.empty() ? H5Screate(H5S_SCALAR)
                                         : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
            Handle type(fileType(t.dtype));
            Handle ds(H5Dcreate2(file.id, dsPath.c_str(), type.id, space.id, lcpl.id, H5P_DEFAULT, H5P_DEFAULT));
            if (ds.id < 0)
                throw InvalidArgument(path + ": cannot store tensor '" + t.name +
                                      "' (a group or dataset of that name exists already: HDF5 "
                                      "cannot hold both 'a.b' and 'a.b.c'): " + hdf5LastError());
            if (t.dtype == DType::BF16) writeStringAttr(ds.id, "mergescope_dtype", "BF16", path);
            const std::uint64_t nbytes = *checkedNumel(t.shape.data(), t.shape.size()) * dtypeSize(t.dtype);
            buf.resize(nbytes);
            fill(i, buf.data());
            if (nbytes > 0 && H5Dwrite(ds.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
                throw OutputError(path, "cannot write tensor '" + t.name + "': " + hdf5LastError());
            done += nbytes;
            progress.report("writing", done, total);
        }
        if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0)
            throw OutputError(path, "cannot flush HDF5 file: " + hdf5LastError());
    }
    out.commit();
    return {path};
}

}  // namespace ms::core::io
