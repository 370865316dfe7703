#include "core/io/hdf5_util.h"

#include <cstring>

namespace ms::core::io {

std::string readStringAttribute(hid_t obj, const char* name) {
    if (H5Aexists(obj, name) <= 0) return {};
    Hdf5Handle attr(H5Aopen(obj, name, H5P_DEFAULT));
    if (!attr.ok()) return {};
    Hdf5Handle type(H5Aget_type(attr.id));
    if (H5Tget_class(type.id) != H5T_STRING) return {};
    if (H5Tis_variable_str(type.id) > 0) {
        Hdf5Handle mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem.id, H5T_VARIABLE);
        H5Tset_cset(mem.id, H5Tget_cset(type.id));
        char* value = nullptr;
        if (H5Aread(attr.id, mem.id, &value) < 0 || !value) return {};
        std::string s(value);
        H5free_memory(value);
        return s;
    }
    const std::size_t n = H5Tget_size(type.id);
    std::string s(n, '\0');
    if (H5Aread(attr.id, type.id, s.data()) < 0) return {};
    s.resize(std::strlen(s.c_str()));
    return s;
}

bool writeStringAttribute(hid_t obj, const std::string& name, const std::string& value) {
    Hdf5Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.id, H5T_VARIABLE);
    H5Tset_cset(type.id, H5T_CSET_UTF8);
    Hdf5Handle space(H5Screate(H5S_SCALAR));
    Hdf5Handle attr(H5Acreate2(obj, name.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT));
    const char* p = value.c_str();
    return attr.ok() && H5Awrite(attr.id, type.id, &p) >= 0;
}

}  // namespace ms::core::io
