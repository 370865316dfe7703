// The experiment file at scale: 100,000 points appended to one sweep (2 parameters, 8 tasks, 2
// proxy variants, downstream), the cost per point over the first and the last 1,000, against a
// floor measured in the same run: appending the same row bytes to a plain file with write(2).
// Also the old way (rewriting the whole file per point, schema 1's design) at 1,000 points, and
// the cost of durability (fsync per point).
// Usage: bench_store [POINTS] (default 100000). Numbers: docs/perf.md.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench/bench_util.h"
#include "core/store/experiment_store.h"

using namespace ms::core::store;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kTasks = 8;

Experiment start() {
    Experiment e;
    e.created = isoNow();
    e.inputs = {{"base", "", "/kit/base.safetensors", "00"}};
    SweepRecord s;
    s.id = "sweep-001";
    s.spec.merge.method = "ties";
    s.paramNames = {"lambda", "density"};
    s.scoring.proxies = {"task-alignment", "weight-space"};
    s.scoring.downstream.mode = ms::core::sweep::DownstreamMode::Frozen;
    for (int t = 0; t < kTasks; ++t) s.tasks.push_back("task-" + std::to_string(t));
    s.status = SweepStatus::Running;
    e.sweeps.push_back(s);
    return e;
}

PointRecord point(int i) {
    PointRecord p;
    p.params = {0.001 * i, 0.5};
    for (const char* v : {"task-alignment", "weight-space"}) p.proxy[v] = std::vector<double>(kTasks, 0.25 + 1e-6 * i);
    p.metric = std::vector<double>(kTasks, 0.8);
    p.normalized = std::vector<double>(kTasks, 0.9);
    p.mergeSeconds = 0.01;
    p.completedAt = "2026-12-02T20:00:00Z";
    return p;
}

double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

}  // namespace

int main(int argc, char** argv) {
    const int N = argc > 1 ? std::atoi(argv[1]) : 100000;
    const int window = std::min(1000, N / 2);
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("bench_store." + std::to_string(::getpid()));
    fs::create_directories(dir);
    ms::bench::header("experiment file: " + std::to_string(N) + " appended points");

    // Floor: the same bytes per point appended to a plain file.
    const std::size_t rowBytes = sizeof(double) * (2 + 3 + 2 * kTasks + 2 * kTasks) + 32;
    std::vector<char> row(rowBytes, 1);
    double floor = 0;
    {
        const int fd = ::open((dir / "plain.bin").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
        const auto t0 = Clock::now();
        for (int i = 0; i < window; ++i)
            if (::write(fd, row.data(), row.size()) != static_cast<ssize_t>(row.size())) return 1;
        floor = seconds(t0) / window;
        ::close(fd);
    }

    // Appending, as a sweep's saver does (not durable: what kill -9 needs; fsync below).
    Experiment e = start();
    const std::string path = (dir / "exp.h5").string();
    double first = 0, last = 0, total = 0;
    {
        ExperimentSaver saver(path, false);
        saver.save(e, e.sweeps[0], false);
        const auto all = Clock::now();
        auto t0 = Clock::now();
        for (int i = 0; i < N; ++i) {
            if (i == window) first = seconds(t0) / window;
            if (i == N - window) t0 = Clock::now();
            e.sweeps[0].points.push_back(point(i));
            saver.save(e, e.sweeps[0], true);
        }
        last = seconds(t0) / window;
        total = seconds(all);
        e.sweeps[0].status = SweepStatus::Complete;
        const auto tc = Clock::now();
        saver.save(e, e.sweeps[0], false);  // the final rewrite
        std::printf("  final rewrite of %d points: %.1f ms; file %.1f MiB\n", N, seconds(tc) * 1e3,
                    static_cast<double>(fs::file_size(path)) / (1 << 20));
    }
    std::printf("  append, first %d points: %8.1f us/point  (%.1fx the plain-file floor of %.2f us)\n", window, first * 1e6,
                first / floor, floor * 1e6);
    std::printf("  append, last  %d points: %8.1f us/point  (%.1fx the floor)\n", window, last * 1e6, last / floor);
    std::printf("  flatness: last / first = %.2f (target <= 2); all %d points in %.1f s\n", last / first, N, total);
    const auto t0 = Clock::now();
    const Experiment r = readExperiment(path);
    std::printf("  read back %zu points: %.2f s\n", r.sweeps[0].points.size(), seconds(t0));

    // Durable appends (fsync per point).
    {
        Experiment d = start();
        const std::string dpath = (dir / "durable.h5").string();
        ExperimentSaver saver(dpath, true);
        saver.save(d, d.sweeps[0], false);
        const int n = std::min(N, 200);
        const auto t1 = Clock::now();
        for (int i = 0; i < n; ++i) {
            d.sweeps[0].points.push_back(point(i));
            saver.save(d, d.sweeps[0], true);
        }
        std::printf("  durable append (fsync per point), %d points: %.2f ms/point\n", n, seconds(t1) / n * 1e3);
    }
    // The old way: the whole file rewritten (temporary file, fsync, rename) per point, at 1,000.
    {
        Experiment o = start();
        for (int i = 0; i < std::min(N, 1000); ++i) o.sweeps[0].points.push_back(point(i));
        const double s = ms::bench::bestSeconds(3, [&] { writeExperiment((dir / "old.h5").string(), o); });
        std::printf("  rewrite per point at %zu points (schema 1's way): %.2f ms/point\n", o.sweeps[0].points.size(), s * 1e3);
    }
    std::printf("  peak RSS %.0f MiB\n", ms::bench::peakRssMiB());
    fs::remove_all(dir);
    return 0;
}
