// Debian's HDF5 is the serial (not thread-safe) build: every HDF5 call in the process goes
// through this one lock. Also silences HDF5's own error printing; errors become exceptions.
#pragma once

#include <mutex>
#include <string>

namespace ms::core::io {

std::recursive_mutex& hdf5Mutex();
// Takes the lock and makes sure automatic HDF5 error printing is off.
std::unique_lock<std::recursive_mutex> lockHdf5();
// The innermost message of the current HDF5 error stack ("" if none).
std::string hdf5LastError();

}  // namespace ms::core::io
