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
#include <set>
#include <sstream>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/report_printer.h"
#include "app/cli/terminal_progress.h"
#include "core/errors.h"
#include "core/merge/lambda_schedule.h"
#include "core/eval/kit_suite.h"
#include "core/io/atomic_file.h"
#include "core/io/cache_paths.h"
#include "core/io/output_path.h"
#include "core/io/writer_lock.h"
#include "core/jobs/background_job.h"
#include "core/model/device.h"
#include "core/model/precision.h"
#include "core/proxy/task_alignment.h"
#include "core/session/suite_loader.h"
#include "core/session/sweep_runner.h"
#include "core/store/experiment_store.h"

namespace ms::cli {

namespace {

struct SweepArgs {
    std::string kit, out, method = "task_arithmetic", taskWeights, downstream = "none", featureCache;
    std::string shard, slurm, partition, time, device = "auto", precision;
    int shards = 0, gpusPerTask = 0, cpusPerTask = 0;
    std::vector<std::string> grids, sets, proxies;
    std::string lambdaBlocks;
    bool resume = false, noProxy = false, noFeatureCache = false;
    double waitSeconds = 0;
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
    c->add_flag("--resume", a.resume, "continue the newest sweep in --out with the same settings, skipping its done points");
    c->add_option("--wait", a.waitSeconds,
                  "when another process is writing --out: wait up to SECONDS for it to finish, then add this sweep "
                  "(default 0: refuse at once, exit 2, naming it)")
        ->check(waitSeconds());
    c->add_option("--device", a.device, "where encoders run: auto, cpu, cuda or cuda:N (default auto; this version: the CPU)");
    c->add_option("--precision", a.precision,
                  "encoder forwards in fp32 (default, or the kit's `precision:`), bf16 (bfloat16 weights and activations, float32 "
                  "features back; training stays float32) or auto (bf16 where it is faster here); merged weights are never affected")
        ->check(CLI::IsMember({"fp32", "bf16", "auto"}));
    c->add_option("--shard", a.shard,
                  "compute shard I of N (I from 1): a contiguous 1/N of the plan, into --out; `gather` joins the parts "
                  "(default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT when they are set)");
    c->add_option("--slurm", a.slurm,
                  "write a Slurm job script for --shards N array tasks and a dependent gather into --out, then stop "
                  "(docs/cluster.md)");
    c->add_option("--shards", a.shards, "--slurm: number of shards (array tasks)");
    c->add_option("--partition", a.partition, "--slurm: partition");
    c->add_option("--time", a.time, "--slurm: time limit per shard (e.g. 2:00:00)");
    c->add_option("--gpus-per-task", a.gpusPerTask, "--slurm: GPUs per shard");
    c->add_option("--cpus-per-task", a.cpusPerTask, "--slurm: CPU cores per shard");
}

// The shard this run computes: --shard, else a Slurm array task's place in its array.
core::sweep::Shard shardOf(const SweepArgs& a) {
    if (!a.shard.empty()) return core::sweep::parseShard(a.shard);
    const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
    const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
    if (!id || !count) return {};
    const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
    try {
        const int index = std::stoi(id) - (min ? std::stoi(min) : 1) + 1;
        const std::string text = std::to_string(index) + "/" + count;
        const auto s = core::sweep::parseShard(text);
        std::cerr << "shard " << text << " (from SLURM_ARRAY_TASK_ID=" << id << ", SLURM_ARRAY_TASK_COUNT=" << count << ")\n";
        return s;
    } catch (const std::logic_error&) {
        throw core::InvalidArgument(std::string("SLURM_ARRAY_TASK_ID=") + id + " with SLURM_ARRAY_TASK_COUNT=" + count +
                                    " is no shard I/N (an array 1-N, or 0-(N-1), of consecutive tasks is); give --shard");
    }
}

// This command line without the options that --slurm consumes or the script sets itself.
std::vector<std::string> shardArguments() {
    static const std::set<std::string> withValue = {"--slurm", "--shards", "--partition", "--time", "--gpus-per-task",
                                                    "--cpus-per-task", "--shard", "--out"};  // --device travels
    const auto& argv = commandLine();
    std::vector<std::string> out;
    std::size_t i = 1;
    while (i < argv.size() && argv[i] != "sweep" && argv[i] != "relations") ++i;
    for (; i < argv.size(); ++i) {
        const std::string& t = argv[i];
        const std::string name = t.substr(0, t.find('='));
        if (t == "--resume") continue;  // the script always resumes (a requeued task continues)
        if (withValue.count(name)) {
            if (name == t) ++i;  // "--out X" (else "--out=X")
            continue;
        }
        out.push_back(t);
    }
    return out;
}

// Everything that would fail on the cluster fails here first: the options, the kit file, the
// plan, the paths. Returns the plan's points.
std::size_t checkSlurmJob(const SweepArgs& a, const core::sweep::SweepSpec& spec) {
    namespace fs = std::filesystem;
    if (a.shards < 1) throw core::InvalidArgument("--slurm needs --shards N (N >= 1)");
    if (!a.shard.empty()) throw core::InvalidArgument("--slurm writes every shard's job: leave --shard out");
    if (a.gpusPerTask < 0 || a.cpusPerTask < 0) throw core::InvalidArgument("--gpus-per-task and --cpus-per-task take counts >= 0");
    const std::string kit = a.kit.empty() ? core::io::demoKitDir(0) : a.kit;
    const auto plan = core::sweep::planSweep(spec, core::session::kitTaskNames(kit));
    (void)core::sweep::shardPoints(plan.points.size(), {1, a.shards});
    core::io::checkOutputPath(a.out, {});
    core::io::checkOutputPath(a.slurm, {});
    if (fs::exists(a.out)) throw core::InvalidArgument(a.out + " exists: the gather job writes a new experiment file; choose another --out");
    return plan.points.size();
}

int writeSlurmScript(const SweepArgs& a, const core::sweep::SweepSpec& spec) {
    namespace fs = std::filesystem;
    const std::size_t P = checkSlurmJob(a, spec);
    const fs::path out = fs::absolute(a.out);
    const fs::path parts = out.parent_path() / (out.stem().string() + ".shards");
    fs::create_directories(parts);  // Slurm opens the tasks' log files there before they start
    const std::string cli = fs::read_symlink("/proc/self/exe").string();
    const std::string cwd = fs::current_path().string();
    const std::string N = std::to_string(a.shards);
    std::string args;
    for (const auto& t : shardArguments()) args += " " + shellQuote(t);
    std::string common;  // sbatch options of both jobs
    if (!a.partition.empty()) common += " --partition=" + shellQuote(a.partition);
    if (!a.time.empty()) common += " --time=" + shellQuote(a.time);
    std::string gatherParts;
    for (int i = 1; i <= a.shards; ++i) gatherParts += " " + shellQuote((parts / ("shard-" + std::to_string(i) + ".h5")).string());

    std::ostringstream s;
    const std::size_t n = static_cast<std::size_t>(a.shards);
    s << "#!/bin/bash\n"
      << "# A MergeScope sweep as " << N << " Slurm array tasks (" << P << " points, " << P / n << "-" << (P + n - 1) / n
      << " per shard), gathered into\n# " << out.string() << " by a job that starts once every shard succeeded.\n"
      << "# Written by mergescope-cli " MS_VERSION " on " << core::store::isoNow() << ". Submit it on the login node with\n"
      << "#   bash " << a.slurm << "      (submits the shards, then the gather job: --dependency=afterok)\n"
      << "# or `sbatch " << a.slurm << "` for the shards alone. Parts and logs: " << parts.string() << "/\n"
      << "#SBATCH --job-name=mergescope-sweep\n"
      << "#SBATCH --array=1-" << N << "\n"
      << "#SBATCH --ntasks=1\n"
      << "#SBATCH --chdir=" << cwd << "\n"
      << "#SBATCH --output=" << (parts / "slurm-%A_%a.out").string() << "\n";
    if (!a.partition.empty()) s << "#SBATCH --partition=" << a.partition << "\n";
    if (!a.time.empty()) s << "#SBATCH --time=" << a.time << "\n";
    if (a.cpusPerTask > 0) s << "#SBATCH --cpus-per-task=" << a.cpusPerTask << "\n";
    if (a.gpusPerTask > 0) s << "#SBATCH --gpus-per-task=" << a.gpusPerTask << "\n";
    s << "set -euo pipefail\n"
      << "MERGESCOPE=" << shellQuote(cli) << "\n"
      << "if [ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]; then\n"
      << "  # On the login node: submit the array, then the gather job after it.\n"
      << "  jid=$(sbatch --parsable \"$0\")\n"
      << "  gid=$(sbatch --parsable --dependency=afterok:\"${jid%%;*}\" --job-name=mergescope-gather --ntasks=1" << common
      << " --chdir=" << shellQuote(cwd) << " --output=" << shellQuote((parts / "slurm-gather-%j.out").string())
      << " --wrap=\"$(printf '%q ' \"$MERGESCOPE\" gather " << shellQuote(out.string()) << gatherParts << ")\")\n"
      << "  echo \"submitted: shards as job $jid, gather as job $gid (after every shard succeeded)\"\n"
      << "  echo \"watch: squeue -j $jid,$gid    result: " << out.string() << "\"\n"
      << "  exit 0\n"
      << "fi\n"
      << "exec \"$MERGESCOPE\"" << args << " --resume --shard \"${SLURM_ARRAY_TASK_ID}/" << N << "\" --out "
      << shellQuote((parts / "shard-").string()) << "\"${SLURM_ARRAY_TASK_ID}\".h5\n";
    {
        core::io::AtomicFile file(a.slurm);
        const std::string text = s.str();
        file.writeAll(text.data(), text.size());
        file.commit();
    }
    fs::permissions(a.slurm, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
    std::cout << "wrote " << a.slurm << ": " << P << " points in " << N << " shards; submit with\n  bash " << a.slurm
              << "\nthe gathered experiment will be " << out.string() << "\n";
    return kExitOk;
}

std::string pointLine(const core::store::SweepRecord& r, const core::store::PointRecord& p) {
    std::string s;
    char buf[96];
    for (std::size_t c = 0; c < r.paramNames.size(); ++c) {
        std::snprintf(buf, sizeof buf, "%s%s=%.4g", c ? " " : "", r.paramNames[c].c_str(), p.params[c]);
        s += buf;
    }
    if (!r.proxies().empty()) {
        std::snprintf(buf, sizeof buf, "  proxy %.4f", p.proxyMean(r.proxies().front()));
        s += buf;
    }
    if (p.hasDownstream()) {
        std::snprintf(buf, sizeof buf, "  downstream %.4f", p.downstreamMean());
        s += buf;
    }
    std::snprintf(buf, sizeof buf, "  (%.2f s)", p.mergeSeconds + p.proxySeconds + p.downstreamSeconds);
    return s + buf;
}

// The sweep's events on the terminal: the progress bar from Progress events, a line per
// committed point ("[k/N] settings  proxy  downstream  (seconds), ETA").
class PointPrinter {
public:
    explicit PointPrinter(TerminalProgress& bar) : m_bar(&bar) {}
    void operator()(const core::session::SweepEvent& e) {
        using Kind = core::session::SweepEvent::Kind;
        const auto& p = e.progress;
        if (e.kind == Kind::Progress) {
            m_bar->report(core::sweep::progressText(p), static_cast<std::uint64_t>(p.done), static_cast<std::uint64_t>(std::max(p.total, 1)));
            return;
        }
        if (e.kind == Kind::Started) m_firstPoint = static_cast<int>(e.sweep->points.size()), m_start = std::chrono::steady_clock::now();
        if (e.kind != Kind::PointCommitted) return;
        const auto& r = *e.sweep;
        const int printed = static_cast<int>(r.points.size());
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
        const char* clearLine = ::isatty(STDERR_FILENO) == 1 ? "\r\033[K" : "";  // over the progress bar
        std::fprintf(stderr, "%s[%d/%d] %s, ETA %s\n", clearLine, printed, r.plannedPoints, pointLine(r, r.points.back()).c_str(),
                     core::sweep::etaText(core::sweep::etaSeconds(elapsed, printed - m_firstPoint, r.plannedPoints - m_firstPoint)).c_str());
    }

private:
    TerminalProgress* m_bar;
    int m_firstPoint = 0;
    std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

// The sweep's options from the command line, everything cheap checked before the kit loads.
core::sweep::SweepOptions sweepOptionsOf(const SweepArgs& a, core::sweep::SweepSpec spec) {
    for (const auto* opt : {&a.partition, &a.time})
        if (!opt->empty()) throw core::InvalidArgument("--partition and --time belong to --slurm");
    if (a.shards || a.gpusPerTask || a.cpusPerTask) throw core::InvalidArgument("--shards, --gpus-per-task and --cpus-per-task belong to --slurm");
    core::sweep::SweepOptions o;
    o.spec = std::move(spec);
    o.spec.seed = a.seed;
    if (a.noProxy) {
        if (!a.proxies.empty()) throw core::InvalidArgument("--proxy and --no-proxy exclude each other");
        o.scoring.proxies.clear();
    } else if (!a.proxies.empty()) {
        o.scoring.proxies = a.proxies;  // else the default, task-alignment
    }
    o.scoring.downstream = a.down;
    o.scoring.downstream.mode = core::sweep::parseDownstreamMode(a.downstream);
    o.scoring.downstream.seed = a.seed;
    if (o.scoring.proxies.empty() && o.scoring.downstream.mode == core::sweep::DownstreamMode::None)
        throw core::InvalidArgument("nothing to score: give a --proxy or a --downstream mode");
    for (const auto& p : o.scoring.proxies) core::proxy::parseProxyVariant(p);
    o.featureCache = a.noFeatureCache ? "" : (a.featureCache.empty() ? core::io::featureCacheDir() : a.featureCache);
    o.resume = a.resume;
    o.shard = shardOf(a);
    return o;
}

int runSweepCommand(SweepArgs& a, core::sweep::SweepSpec spec) {
    namespace fs = std::filesystem;
    if (const auto d = core::model::resolveDevice(a.device); !d.note.empty()) std::cerr << "device " << d.note << "\n";
    if (!a.precision.empty())
        if (const auto p = core::model::setEncoderPrecision(core::model::parsePrecision(a.precision)); !p.note.empty())
            std::cerr << "precision " << p.note << "\n";
    if (!a.slurm.empty()) {
        spec.seed = a.seed;
        return writeSlurmScript(a, spec);
    }
    core::sweep::SweepOptions o = sweepOptionsOf(a, std::move(spec));
    a.suite.seed = a.seed;
    core::io::checkOutputPath(a.out, {});
    // One writer per experiment file: held from before the file is read until the last commit,
    // so a second sweep into it is refused (exit 2, naming this one) before it loads its kit.
    const core::io::WriterLock lock(a.out, "mergescope-cli " + std::string(o.spec.kind == core::store::SweepKind::Relations ? "relations" : "sweep"),
                                    a.waitSeconds);
    if (fs::exists(a.out)) (void)core::store::readExperiment(a.out);  // a bad --out is named before the kit loads
    core::store::Experiment fresh;
    fresh.created = core::store::isoNow();
    TerminalProgress progress;
    const std::string kit = a.kit.empty() ? core::io::demoKitDir(0) : a.kit;
    const core::eval::TaskSuite suite = core::session::loadSuite(kit, a.suite, progress);
    // Fixed settings: --set key=value for all tasks, key=v1,v2,... one value per task in kit order.
    for (const auto& t : suite.taskNames()) o.spec.merge.models.push_back({"", t, {}, ""});
    core::merge::applyAssignments(o.spec.merge, a.sets);
    core::session::SweepRun run(suite, o);
    std::string id;
    core::BackgroundJob job([&](const core::CancelToken& cancel) {
        id = run.runInto(a.out, fresh, PointPrinter(progress), &cancel);
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
    sweep->add_option("--lambda-blocks", a->lambdaBlocks,
                      "λ curve over the transformer blocks, interpolated (e.g. 0.2,1.0), or LiNeS: lines:ALPHA,BETA "
                      "(blocks from α to α + β, the rest at α; then λ is not an axis)");
    sweep->add_option("--task-weights", a->taskWeights, "per-task weights sampled: random:N[:LO:HI] or lhs:N[:LO:HI]");
    sweep->callback([a, &exitCode] {
        exitCode = runGuarded([&] {
            core::sweep::SweepSpec spec;
            spec.merge.method = a->method;
            for (const auto& g : a->grids) spec.axes.push_back(core::sweep::parseGridAxis(g));
            if (!a->lambdaBlocks.empty()) {
                const auto schedule = core::merge::parseBlockSchedule(a->lambdaBlocks);
                spec.merge.lambda.blockCurve = schedule.curve;
                if (schedule.lambda) {
                    for (const auto& axis : spec.axes)
                        if (axis.label() == "lambda")
                            throw core::InvalidArgument("--lambda-blocks " + a->lambdaBlocks + " fixes λ (α, outside the blocks): λ cannot be an axis too");
                    for (const auto& set : a->sets)
                        if (set.rfind("lambda=", 0) == 0)
                            throw core::InvalidArgument("--lambda-blocks " + a->lambdaBlocks + " sets λ (α, outside the blocks): drop --set " + set);
                    std::ostringstream alpha;
                    alpha.precision(17);
                    alpha << *schedule.lambda;
                    a->sets.push_back("lambda=" + alpha.str());
                }
            }
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
            if (r->grids.size() > 1) throw core::InvalidArgument("relations takes one --grid, over lambda");
            return runSweepCommand(*r, core::sweep::relationsSweep(core::sweep::parseGridAxis(r->grids.empty() ? "lambda=0:1.5:16" : r->grids[0])));
        });
    });
}

}  // namespace ms::cli
