#include "core/io/output_path.h"

#include <filesystem>
#include <system_error>

#include "core/errors.h"

namespace ms::core::io {

namespace fs = std::filesystem;

namespace {
// Same file: by inode when both exist, else by the canonical spelling of the path.
bool sameFile(const fs::path& a, const fs::path& b) {
    std::error_code ec;
    if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec) && !ec;
    return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}
}  // namespace

void checkOutputPath(const std::string& output, const std::vector<std::string>& inputs) {
    if (output.empty()) throw InvalidArgument("no output path given");
    std::error_code ec;
    const fs::path out = fs::absolute(output, ec);
    if (fs::is_directory(out, ec)) throw InvalidArgument("the output " + output + " is a folder; give a file name in it");
    const fs::path dir = out.parent_path();
    if (!fs::is_directory(dir, ec))
        throw InvalidArgument("the folder " + dir.string() + " of the output " + output + " does not exist");
    for (const auto& in : inputs)
        if (!in.empty() && sameFile(out, fs::absolute(in, ec)))
            throw InvalidArgument("the output " + output + " is the input " + in +
                                  ": writing it would destroy what is read; choose another output path");
}

}  // namespace ms::core::io
