#include "app/cli/cli_common.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "core/errors.h"

namespace ms::cli {

int runGuarded(const std::function<int()>& body) {
    try {
        return body();
    } catch (const core::OutputError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitFailure;
    } catch (const core::Cancelled&) {
        std::cerr << "cancelled\n";
        return kExitFailure;
    } catch (const core::Error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitBadInput;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitFailure;
    }
}

void OpenFlags::addTo(CLI::App& cmd) {
    cmd.add_option("--key", key,
                   "PyTorch checkpoints: dotted path of the weights inside the file "
                   "(default: detect state_dict, model, module, ...)");
    cmd.add_option("--pickle-allow", pickleAllow,
                   "PyTorch checkpoints: read this extra pickle global (module.name, or a "
                   "module.* glob, or *) as an inert placeholder instead of refusing the file; "
                   "nothing is ever executed");
}

core::io::OpenOptions OpenFlags::options() const {
    core::io::OpenOptions o;
    o.torch.key = key;
    o.torch.inertGlobals = pickleAllow;
    return o;
}

namespace {
std::vector<std::string>& argvStore() {
    static std::vector<std::string> v;
    return v;
}
}  // namespace

void setCommandLine(int argc, char** argv) { argvStore().assign(argv, argv + argc); }
const std::vector<std::string>& commandLine() { return argvStore(); }

const CLI::Validator& waitSeconds() {
    static const CLI::Validator v(
        [](std::string& text) -> std::string {
            char* end = nullptr;
            const double s = std::strtod(text.c_str(), &end);
            if (end == text.c_str() || *end != '\0' || !(s >= 0)) return "takes seconds >= 0, not '" + text + "'";
            return {};
        },
        "SECONDS");
    return v;
}

std::string shellQuote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

std::string humanBytes(std::uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string groupedInt(std::uint64_t n) {
    std::string s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
    return s;
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

bool naturalLess(const std::string& a, const std::string& b) {
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
            std::size_t i2 = i, j2 = j;
            while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
            while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
            const std::string na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
            if (na.size() != nb.size()) return na.size() < nb.size();
            if (na != nb) return na < nb;
            i = i2;
            j = j2;
        } else {
            if (a[i] != b[j]) return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    return a.size() - i < b.size() - j;
}

}  // namespace ms::cli
