#include "tests/test_support.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace ms::test {

std::string fixture(const std::string& relative) {
    return std::string(MS_FIXTURES_DIR) + "/" + relative;
}

const nlohmann::json& expectedIo() {
    static const nlohmann::json j = [] {
        std::ifstream in(fixture("io/expected.json"));
        return nlohmann::json::parse(in);
    }();
    return j;
}

TempDir::TempDir() {
    std::random_device rd;
    m_dir = std::filesystem::temp_directory_path() /
            ("mergescope-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(m_dir);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
}

namespace {
std::string readAll(int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
    return s;
}
}  // namespace

int startCli(const std::vector<std::string>& args, const std::string& outPath, const std::string& errPath) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        const int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(out, 1);
        ::dup2(err, 2);
        std::vector<char*> argv;
        std::string cli = MS_CLI_PATH;
        argv.push_back(cli.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(cli.c_str(), argv.data());
        ::_exit(127);
    }
    return pid;
}

CommandResult runCli(const std::vector<std::string>& args) {
    // stdout and stderr go to temporary files (no pipe deadlock), then are read back.
    TempDir tmp;
    const std::string outPath = tmp.path("out"), errPath = tmp.path("err");
    const pid_t pid = startCli(args, outPath, errPath);
    int status = 0;
    struct rusage usage {};
    ::wait4(pid, &status, 0, &usage);
    CommandResult r;
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.maxRssKb = usage.ru_maxrss;
    const int o = ::open(outPath.c_str(), O_RDONLY), e = ::open(errPath.c_str(), O_RDONLY);
    r.out = readAll(o);
    r.err = readAll(e);
    ::close(o);
    ::close(e);
    return r;
}

}  // namespace ms::test
