// Small helpers shared by the HDF5 readers (weights and image sets). Internal to core: includes
// the HDF5 C header. Callers hold the HDF5 lock (hdf5_lock.h).
#pragma once

#include <hdf5.h>

#include <string>

namespace ms::core::io {

// Closes an HDF5 identifier of any kind.
struct Hdf5Handle {
    hid_t id = -1;
    explicit Hdf5Handle(hid_t i) : id(i) {}
    ~Hdf5Handle() {
        if (id >= 0) H5Idec_ref(id);
    }
    Hdf5Handle(const Hdf5Handle&) = delete;
    Hdf5Handle& operator=(const Hdf5Handle&) = delete;
    bool ok() const { return id >= 0; }
};

// A string attribute (fixed or variable length, ASCII or UTF-8, as h5py writes them); "" when
// absent or not a string.
std::string readStringAttribute(hid_t object, const char* name);

// Writes a UTF-8 variable-length string attribute (what h5py reads back as str); false on failure.
bool writeStringAttribute(hid_t object, const std::string& name, const std::string& value);

}  // namespace ms::core::io
