// The cost of one sweep point on the demo kit, each part against its floor measured in the same
// run:
//   apply      λ change → merged weights in reused buffers  vs  memcpy of the same bytes
//   proxy      every variant of the task alignment proxy     vs  the bare encoder forward passes
//                                                               over the probe images
//   frozen     downstream with the experts' heads            vs  bare forward passes over the eval images
//   head-realign                                             vs  the same, plus the realign images
// and the experiment file's save per point. Needs the demo kit (mergescope-cli demo build).
// Usage: bench_sweep [KIT_DIR]
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bench/bench_util.h"
#include "bench/regmean_row.h"
#include "core/io/cache_paths.h"
#include "core/session/suite_loader.h"
#include "core/eval/kit_suite.h"
#include "core/eval/downstream.h"
#include "core/merge/merge_engine.h"
#include "core/model/param_io.h"
#include "core/proxy/task_alignment.h"
#include "core/store/experiment_store.h"

using namespace ms;
using namespace ms::core;

namespace {

double forwardSeconds(const eval::TaskSuite& suite, const model::ParamMap& enc,
                      std::shared_ptr<const data::ImageSet> eval::SuiteTask::*member) {
    return bench::bestSeconds(3, [&] {
        for (const auto& g : suite.groups(member)) bench::sink(eval::encodeSet(suite.config(), enc, *g.set).tokens.sum().item<double>());
    });
}

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : io::demoKitDir(0);
    if (!std::filesystem::exists(dir + "/kit.yaml")) {
        std::fprintf(stderr, "no kit in %s: run `mergescope-cli demo build` first\n", dir.c_str());
        return 2;
    }
    const eval::TaskSuite suite = session::loadSuite(dir, {});
    merge::MergeSpec spec;
    spec.base = suite.kit.baseFile;
    for (const auto& t : suite.tasks) spec.models.push_back({t.expertFile, t.task.name, {}, ""});
    merge::MergeEngine engine(spec);
    std::vector<std::vector<float>> buffers;
    engine.applyToMemory(-1, buffers);
    std::uint64_t bytes = 0;
    for (const auto& b : buffers) bytes += b.size() * sizeof(float);
    std::vector<std::vector<float>> copy = buffers;
    double lambda = 0.3;
    bench::header("one sweep point on the demo kit (" + std::to_string(at::get_num_threads()) + " LibTorch threads)");
    const double memcpyFloor = bench::bestSeconds(20, [&] {
        for (std::size_t i = 0; i < buffers.size(); ++i) std::memcpy(copy[i].data(), buffers[i].data(), buffers[i].size() * sizeof(float));
        bench::sink(copy[0][0]);
    });
    const double apply = bench::bestSeconds(20, [&] {
        lambda = lambda == 0.3 ? 0.4 : 0.3;
        merge::MergeSpec s = engine.spec();
        s.params = {{"lambda", lambda}};
        engine.update(s);
        engine.applyToMemory(-1, buffers);
    });
    bench::report("apply (λ change)", bytes, apply, memcpyFloor);
    bench::regmeanRow(suite, 256);

    model::ParamMap merged = suite.base;
    const auto& planned = engine.problem().plan().merged;
    for (std::size_t i = 0; i < planned.size(); ++i) merged[planned[i].name] = model::viewFloats(buffers[i].data(), planned[i].shape);

    std::vector<proxy::ProxyVariant> variants;
    for (const char* v : {"task-alignment"}) variants.push_back(proxy::parseProxyVariant(v));
    const proxy::TaskAlignmentProxy one(suite, variants, "");
    for (const char* v : {"cls-cosine", "mean-cosine", "tokens-cka", "mean-cka", "tokens-cosine@2", "weight-space"})
        variants.push_back(proxy::parseProxyVariant(v));
    const proxy::TaskAlignmentProxy all(suite, variants, "");
    const double probeFloor = forwardSeconds(suite, merged, &eval::SuiteTask::probe);
    const double proxyOne = bench::bestSeconds(5, [&] { bench::sink(one.score(merged).begin()->second[0]); });
    const double proxyAll = bench::bestSeconds(5, [&] { bench::sink(all.score(merged).begin()->second[0]); });
    std::printf("  %-34s %9.1f ms   floor %7.1f ms   ratio %5.2f\n", "proxy (task-alignment)", proxyOne * 1e3, probeFloor * 1e3, proxyOne / probeFloor);
    std::printf("  %-34s %9.1f ms   floor %7.1f ms   ratio %5.2f\n", "proxy (7 variants)", proxyAll * 1e3, probeFloor * 1e3, proxyAll / probeFloor);

    const double evalFloor = forwardSeconds(suite, merged, &eval::SuiteTask::eval);
    const double realignFloor = forwardSeconds(suite, merged, &eval::SuiteTask::realign);
    eval::DownstreamOptions frozen;
    frozen.mode = eval::DownstreamMode::Frozen;
    const double f = bench::bestSeconds(2, [&] { bench::sink(eval::evaluateDownstream(suite, merged, frozen).mean()); });
    std::printf("  %-34s %9.1f ms   floor %7.1f ms   ratio %5.2f\n", "downstream frozen", f * 1e3, evalFloor * 1e3, f / evalFloor);
    eval::DownstreamOptions head;
    head.mode = eval::DownstreamMode::HeadRealign;
    const double h = bench::bestSeconds(2, [&] { bench::sink(eval::evaluateDownstream(suite, merged, head).mean()); });
    std::printf("  %-34s %9.1f ms   floor %7.1f ms   ratio %5.2f\n", "downstream head-realign", h * 1e3,
                (evalFloor + realignFloor) * 1e3, h / (evalFloor + realignFloor));
    std::printf("  %-34s %9.1fx\n", "cost ratio head-realign / proxy", h / proxyOne);

    // Saving the experiment after a point: a 16-point and a 1,000-point sweep.
    for (int points : {16, 1000}) {
        store::Experiment e;
        store::SweepRecord s;
        s.id = "sweep-001";
        s.tasks = suite.taskNames();
        s.paramNames = {"lambda"};
        s.scoring.proxies = {"task-alignment"};
        for (int i = 0; i < points; ++i) {
            store::PointRecord p;
            p.params = {i * 0.01};
            p.proxy["task-alignment"] = {0.1, 0.2, 0.3, 0.4};
            p.metric = p.normalized = {0.5, 0.6, 0.7, 0.8};
            s.points.push_back(p);
        }
        e.sweeps.push_back(s);
        const std::string path = std::filesystem::temp_directory_path() / "bench_sweep_exp.h5";
        const double save = bench::bestSeconds(5, [&] { store::writeExperiment(path, e); });
        std::printf("  %-34s %9.2f ms   (%ju bytes)\n", ("save experiment, " + std::to_string(points) + " points").c_str(), save * 1e3,
                    static_cast<std::uintmax_t>(std::filesystem::file_size(path)));
        std::filesystem::remove(path);
    }
    std::printf("  peak RSS %.0f MiB\n", bench::peakRssMiB());
    return 0;
}
