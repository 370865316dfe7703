// mergescope-cli cache info [--json] | cache clear [features|statistics|heads|all]
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/io/cache_paths.h"
#include "core/io/cache_store.h"

namespace ms::cli {

namespace {
std::string mib(std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return buf;
}
}  // namespace

void addCacheCommand(CLI::App& app, int& exitCode) {
    auto* cache = app.add_subcommand("cache", "What MergeScope keeps in its caches (all of it can be rebuilt), and clearing them");
    cache->require_subcommand(1);
    auto json = std::make_shared<bool>(false);
    auto* info = cache->add_subcommand("info", "Each cache's folder, files and size, and the cap ($MS_CACHE_MAX_GB, default 20 GiB per cache)");
    info->add_flag("--json", *json, "print {cap_bytes, caches: [{kind, dir, files, bytes}]}");
    info->callback([json, &exitCode] {
        exitCode = runGuarded([&] {
            const auto usage = core::io::cacheUsage();
            if (*json) {
                nlohmann::ordered_json j;
                j["cap_bytes"] = core::io::cacheCapBytes();
                j["caches"] = nlohmann::ordered_json::array();
                for (const auto& u : usage) j["caches"].push_back({{"kind", u.kind}, {"dir", u.dir}, {"files", u.files}, {"bytes", u.bytes}});
                std::cout << j.dump(1) << "\n";
                return kExitOk;
            }
            std::uint64_t total = 0;
            for (const auto& u : usage) {
                std::printf("%-11s %6zu files %12s  %s\n", u.kind.c_str(), u.files, mib(u.bytes).c_str(), u.dir.c_str());
                total += u.bytes;
            }
            std::printf("total                    %12s  (cap %s per cache: MS_CACHE_MAX_GB)\n", mib(total).c_str(), mib(core::io::cacheCapBytes()).c_str());
            return kExitOk;
        });
    });
    auto kind = std::make_shared<std::string>("all");
    auto* clear = cache->add_subcommand("clear", "Remove cached entries: features (the proxy's expert features), statistics "
                                                 "(RegMean/Fisher), heads (zero-shot heads from class names), or all");
    clear->add_option("kind", *kind, "features | statistics | heads | all (default)");
    clear->callback([kind, &exitCode] {
        exitCode = runGuarded([&] {
            const std::uint64_t freed = core::io::clearCache(*kind);
            std::cout << "cleared " << *kind << ": " << mib(freed) << " freed\n";
            return kExitOk;
        });
    });
}

}  // namespace ms::cli
