#include "core/io/hdf5_lock.h"

#include <hdf5.h>

namespace ms::core::io {

std::recursive_mutex& hdf5Mutex() {
    static std::recursive_mutex m;
    return m;
}

std::unique_lock<std::recursive_mutex> lockHdf5() {
    std::unique_lock<std::recursive_mutex> lock(hdf5Mutex());
    static const bool silenced = [] {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        return true;
    }();
    (void)silenced;
    return lock;
}

std::string hdf5LastError() {
    std::string msg;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD,
             [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
                 if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
                 return 0;
             },
             &msg);
    H5Eclear2(H5E_DEFAULT);
    return msg;
}

}  // namespace ms::core::io
