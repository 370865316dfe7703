// Helpers shared by the core tests: fixture paths, temporary directories, the expected values
// written by tests/fixtures/make_fixtures.py, and running mergescope-cli.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace ms::test {

std::string fixture(const std::string& relative);  // tests/fixtures/<relative>
const nlohmann::json& expectedIo();                 // tests/fixtures/io/expected.json

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string path(const std::string& name) const { return (m_dir / name).string(); }
    const std::filesystem::path& dir() const { return m_dir; }

private:
    std::filesystem::path m_dir;
};

struct CommandResult {
    int exitCode = -1;
    std::string out;  // stdout
    std::string err;  // stderr
    long maxRssKb = 0;
};

// Runs mergescope-cli with the given arguments (not through a shell).
CommandResult runCli(const std::vector<std::string>& args);
// Starts mergescope-cli in the background, stdout and stderr into the given files; returns its pid.
int startCli(const std::vector<std::string>& args, const std::string& outPath, const std::string& errPath);

}  // namespace ms::test
