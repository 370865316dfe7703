// Exception hierarchy used inside core. Every job boundary (CLI command, GUI worker) catches
// ms::core::Error and turns it into an outcome with a message; nothing else should escape.
#pragma once

#include <stdexcept>
#include <string>

namespace ms::core {

// Base of every error core throws on purpose. what() is a complete, user-facing sentence.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The operating system refused (open, read, write, rename, mmap ...).
class IoError : public Error {
public:
    IoError(const std::string& path, const std::string& reason);
};

// Writing an output failed (disk full, permissions, rename). Exit code 1, not 2: the input
// was fine.
class OutputError : public IoError {
public:
    using IoError::IoError;
};

// A file exists but its contents are not what its format promises (bad magic, truncated, bad
// JSON, out-of-range offsets, refused pickle global ...). Names the file, the tensor when one is
// concerned, and the reason.
class FormatError : public Error {
public:
    FormatError(const std::string& path, const std::string& reason);
    FormatError(const std::string& path, const std::string& tensor, const std::string& reason);
};

// Inputs that do not fit together (names, shapes, dtypes).
class MismatchError : public Error {
public:
    using Error::Error;
};

// A user-supplied value is invalid (option, parameter, recipe field).
class InvalidArgument : public Error {
public:
    using Error::Error;
};

// Cooperative cancellation reached a check point.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

}  // namespace ms::core
