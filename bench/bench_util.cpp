#include "bench/bench_util.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace ms::bench {

ChildRun runChild(const std::string& program, const std::vector<std::string>& args,
                  const std::vector<std::pair<std::string, std::string>>& env) {
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        std::vector<std::string> copy = args;
        std::string path = program;
        std::vector<char*> argv = {path.data()};
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (!freopen("/dev/null", "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        execv(path.c_str(), argv.data());
        _exit(127);
    }
    int status = 0;
    struct rusage u {};
    wait4(pid, &status, 0, &u);
    ChildRun r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.peakMiB = static_cast<double>(u.ru_maxrss) / 1024.0;
    r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return r;
}

double bestSeconds(int reps, const std::function<void()>& fn) {
    double best = 1e300;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
    }
    return best;
}

void header(const std::string& title) {
    std::printf("\n%s\n%-44s %10s %10s %14s\n", title.c_str(), "path", "GB/s", "ms", "x floor");
}

void report(const std::string& name, std::uint64_t bytes, double seconds, double floorSeconds) {
    std::printf("%-44s %10.2f %10.1f %14.2f\n", name.c_str(), static_cast<double>(bytes) / seconds / 1e9,
                seconds * 1e3, seconds / floorSeconds);
    std::fflush(stdout);
}

double peakRssMiB() {
    struct rusage u {};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

volatile double g_sink = 0;

void sink(double v) { g_sink = g_sink + v; }

}  // namespace ms::bench
