#include "core/errors.h"

namespace ms::core {

IoError::IoError(const std::string& path, const std::string& reason)
    : Error(path + ": " + reason) {}

FormatError::FormatError(const std::string& path, const std::string& reason)
    : Error(path + ": " + reason) {}

FormatError::FormatError(const std::string& path, const std::string& tensor,
                         const std::string& reason)
    : Error(path + ": tensor '" + tensor + "': " + reason) {}

}  // namespace ms::core
