// A user kit at real size: ViT-B/32 at 224 px in the Hugging Face CLIP layout (random weights,
// made by bench/vit_b32_kit.py with python3-torch), 4 experts, 32 JPEG images per task, zero-shot
// heads. Prints, each against a floor measured in the same run:
//   forward     our encoder's images/s on task 0's 32 images  vs  python3-torch's forward of the
//               same weights on the same batch (CLIP's vision tower as Hugging Face computes it)
//   proxy       seconds per sweep point (task arithmetic at a new λ, merged weights through the
//               layout, task-alignment proxy)  vs  the bare forward passes over the probe sets
// and the kit's load time (5 checkpoints, decoding, expert scores), the feature cache's size, the
// live slider (KitSession::live: time to the first estimate and to the full score over a λ sweep,
// and how far the estimate lies from the full score), and the peak RSS of `mergescope-cli sweep`
// on the kit from a cold cache (load, proxy setup, 2 points) as a child process.
// Usage: bench_kit [DIR] (default $TMPDIR/mergescope-vitb32-kit; made if missing).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "bench/regmean_row.h"
#include "core/eval/kit_suite.h"
#include "core/merge/merge_engine.h"
#include "core/model/param_io.h"
#include "core/jobs/parallel.h"
#include "core/model/precision.h"
#include "core/proxy/task_alignment.h"
#include "core/session/kit_session.h"
#include "core/session/suite_loader.h"
#include "core/session/sweep_runner.h"

using namespace ms;
using namespace ms::core;
namespace fs = std::filesystem;

namespace {

std::string run(const std::string& command) {
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        if (::pclose(p) != 0) return {};
    }
    return out;
}

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : (fs::temp_directory_path() / "mergescope-vitb32-kit").string();
    const std::string script = std::string(MS_SOURCE_DIR) + "/bench/vit_b32_kit.py";
    if (!fs::exists(dir + "/kit.yaml")) {
        std::printf("making the ViT-B/32 kit in %s (python3-torch, ~1.7 GB)\n", dir.c_str());
        if (std::system(("/usr/bin/python3 " + script + " make " + dir).c_str()) != 0) {
            std::fprintf(stderr, "could not make the kit (needs python3-torch and python3-pil)\n");
            return 2;
        }
    }
    // The product's peak: mergescope-cli sweep on the kit from a cold cache (the kit, the proxy's
    // features, 2 points), a child process so this bench's own copies do not count. Run first: a
    // child's peak RSS includes what it inherited before exec (the kernel keeps the high-water
    // mark across exec), so it is forked while this process is still small.
    double productPeak = 0, productSeconds = 0;
    bool productOk = false;
    {
        const fs::path coldCache = fs::temp_directory_path() / "mergescope-bench-rss-cache";
        const fs::path out = fs::temp_directory_path() / "mergescope-bench-rss.h5";
        fs::remove_all(coldCache);
        fs::remove(out);
        const bench::ChildRun r = bench::runChild(MS_CLI_PATH,
                                                  {"sweep", "--kit", dir + "/kit.yaml", "--out", out.string(), "--probe-size", "32",
                                                   "--eval-limit", "32", "--grid", "lambda=0.2,0.4"},
                                                  {{"XDG_CACHE_HOME", coldCache.string()}});
        productPeak = r.peakMiB, productSeconds = r.seconds, productOk = r.ok;
        fs::remove_all(coldCache);
        fs::remove(out);
    }
    const std::string torchJson = run("/usr/bin/python3 " + script + " forward " + dir);
    if (torchJson.empty()) {
        std::fprintf(stderr, "python3-torch's forward failed\n");
        return 2;
    }
    const auto torch = nlohmann::json::parse(torchJson);
    // A cache of the bench's own: the first load is cold (no expert scores, heads or features kept).
    const fs::path cacheHome = fs::temp_directory_path() / "mergescope-bench-cache";
    fs::remove_all(cacheHome);
    ::setenv("XDG_CACHE_HOME", cacheHome.c_str(), 1);
    bench::header("a ViT-B/32 kit at 224 px, HF CLIP layout, 4 experts x 32 JPEGs (" + std::to_string(at::get_num_threads()) +
                  " LibTorch threads)");
    eval::SuiteOptions so;
    so.probeSize = 32;
    so.realignSamples = 32;
    so.evalLimit = 32;
    auto t0 = std::chrono::steady_clock::now();
    const eval::TaskSuite suite = eval::loadKitSuite(dir + "/kit.yaml", so);
    const double load = since(t0);
    const data::ImageSet& batch = *suite.tasks[0].probe;
    bench::sink(eval::encodeSet(suite.config(), suite.base, batch).tokens.sum().item<double>());  // warm-up
    const double ours = bench::bestSeconds(3, [&] { bench::sink(eval::encodeSet(suite.config(), suite.base, batch).tokens.sum().item<double>()); });
    const double theirs = torch["seconds"].get<double>();
    const double n = static_cast<double>(batch.count);
    std::printf("  %-34s %9.2f img/s  python3-torch %7.2f img/s   time ratio %5.2f (target <= 1.10)\n", "encoder forward fp32, batch 32",
                n / ours, n / theirs, ours / theirs);
    // Threads (--threads N): the same forward with OpenBLAS's pool at 1 and at 2 threads.
    for (unsigned threads : {1u, 2u}) {
        core::useThreads(threads);
        const double t = bench::bestSeconds(3, [&] { bench::sink(eval::encodeSet(suite.config(), suite.base, batch).tokens.sum().item<double>()); });
        std::printf("  %-34s %9.2f img/s\n", ("encoder forward fp32, " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : "")).c_str(), n / t);
    }
    core::useThreads(std::thread::hardware_concurrency());
    // The same forward in bfloat16 (--precision bf16), against fp32's in this run.
    model::setEncoderPrecision(model::Precision::Bf16);
    bench::sink(eval::encodeSet(suite.config(), suite.base, batch).tokens.sum().item<double>());
    const double half = bench::bestSeconds(3, [&] { bench::sink(eval::encodeSet(suite.config(), suite.base, batch).tokens.sum().item<double>()); });
    model::setEncoderPrecision(model::Precision::Fp32);
    std::printf("  %-34s %9.2f img/s  fp32 %7.2f img/s            ratio %5.2f (target >= 1.6)\n", "encoder forward bf16, batch 32", n / half,
                n / ours, ours / half);

    const std::string cache = (fs::temp_directory_path() / "mergescope-vitb32-features").string();
    fs::remove_all(cache);
    t0 = std::chrono::steady_clock::now();
    const proxy::TaskAlignmentProxy proxy(suite, {proxy::parseProxyVariant("task-alignment")}, cache);
    const double proxySetup = since(t0);
    merge::MergeSpec spec;
    spec.method = "task_arithmetic";
    sweep::bindToKit(spec, session::kitBinding(suite));
    merge::MergeEngine engine(spec);
    std::vector<std::vector<float>> buffers;
    double lambda = 0.3;
    const auto& planned = engine.problem().plan().merged;
    // Seconds per sweep point (best of 3): task arithmetic at a new λ, mapped, scored by `p`.
    const auto pointSeconds = [&](const proxy::TaskAlignmentProxy& p) {
        return bench::bestSeconds(3, [&] {
            lambda = lambda == 0.3 ? 0.4 : 0.3;
            merge::MergeSpec s = engine.spec();
            s.params = {{"lambda", lambda}};
            engine.update(s);
            engine.prepare();
            engine.applyToMemory(-1, buffers);
            model::ParamMap views;
            for (std::size_t i = 0; i < planned.size(); ++i) views[planned[i].name] = model::viewFloats(buffers[i].data(), planned[i].shape);
            bench::sink(p.score(eval::toEncoder(suite, views)).begin()->second[0]);
        });
    };
    const double point = pointSeconds(proxy);
    double floor = 0;
    for (const auto& g : suite.groups(&eval::SuiteTask::probe)) (void)g, floor += ours * static_cast<double>(g.set->count) / n;
    std::printf("  %-34s %9.2f s      floor %7.2f s (forward over the probe sets)   ratio %5.2f\n", "proxy, one sweep point", point, floor,
                point / floor);
    {
        // The same point with bf16 forwards (its own expert features, cached apart).
        model::setEncoderPrecision(model::Precision::Bf16);
        const proxy::TaskAlignmentProxy halfProxy(suite, {proxy::parseProxyVariant("task-alignment")}, cache);
        const double halfPoint = pointSeconds(halfProxy);
        model::setEncoderPrecision(model::Precision::Fp32);
        std::printf("  %-34s %9.2f s      fp32 %7.2f s                        ratio %5.2f (target <= 5 s)\n", "proxy, one sweep point bf16",
                    halfPoint, point, point / halfPoint);
    }
    bench::regmeanRow(suite, 32);
    std::uintmax_t cacheBytes = 0;
    for (const auto& f : fs::recursive_directory_iterator(cache)) if (f.is_regular_file()) cacheBytes += f.file_size();
    std::printf("  %-34s %9.2f s  (5 checkpoints, 4x32 + 4x32 JPEGs decoded, 4 expert scores)\n", "kit load cold", load);
    t0 = std::chrono::steady_clock::now();
    bench::sink(static_cast<double>(eval::loadKitSuite(dir + "/kit.yaml", so).tasks.size()));
    std::printf("  %-34s %9.2f s  (the same load again: expert scores from the cache, files in the page cache; target <= 3 s)\n",
                "kit load warm", since(t0));
    std::printf("  %-34s %9.2f s  (expert and base features of the probe sets, cached)\n", "proxy setup", proxySetup);
    std::printf("  %-34s %9.1f MiB\n", "feature cache", static_cast<double>(cacheBytes) / (1 << 20));
    // The live slider (the workbench's KitSession::live) over a λ sweep: the first estimate from as
    // many probe images as fit in its 1 s budget (4 per set the first time), then the full 32.
    for (const model::Precision precision : {model::Precision::Fp32, model::Precision::Bf16}) {
        model::setEncoderPrecision(precision);
        session::SessionOptions lo;
        lo.probeSize = lo.liveProbeSize = lo.evalLimit = lo.realignSamples = 32;
        lo.featureCache = cache;
        lo.densePreview = false;
        const auto ks = session::KitSession::open(dir + "/kit.yaml", lo);
        merge::MergeSpec s;
        s.method = "task_arithmetic";
        double firstSum = 0, fullSum = 0, absSum = 0, absMax = 0;
        int points = 0, pairs = 0, within = 0, imagesMin = 1 << 30, imagesMax = 0;
        for (int i = 0; i < 9; ++i) {
            s.params["lambda"] = 0.1 * (i + 1);
            session::LiveResult early;
            double earlyAt = 0;
            t0 = std::chrono::steady_clock::now();
            const session::LiveResult full = ks->live(s, nullptr, [&](const session::LiveResult& e) { early = e, earlyAt = since(t0); });
            const double fullAt = since(t0);
            if (!early.estimate) continue;
            ++points;
            firstSum += earlyAt, fullSum += fullAt;
            imagesMin = std::min(imagesMin, early.images), imagesMax = std::max(imagesMax, early.images);
            for (std::size_t t = 0; t < full.perTask.size(); ++t) {
                const double d = std::fabs(early.perTask[t] - full.perTask[t]);
                absSum += d, absMax = std::max(absMax, d), ++pairs;
                within += d <= 2 * early.perTaskError[t];
            }
        }
        const std::string label = "live slider " + model::precisionName(precision);
        if (points == 0) {
            std::printf("  %-34s no estimate: the full score fits in the estimate's budget\n", label.c_str());
        } else {
            std::printf("  %-34s first estimate %5.2f s (%d-%d of 32 images per set), full score %5.2f s; mean |estimate - full| %.4f "
                        "(max %.4f), within 2 SE %.0f%% (%d lambda points x %zu tasks)\n",
                        label.c_str(), firstSum / points, imagesMin, imagesMax, fullSum / points, absSum / pairs, absMax,
                        100.0 * within / pairs, points, suite.tasks.size());
        }
    }
    model::setEncoderPrecision(model::Precision::Fp32);
    std::printf("  peak RSS %.0f MiB  (mergescope-cli sweep from a cold cache: kit load, proxy setup, 2 points, %.1f s%s; target <= 1536)\n",
                productPeak, productSeconds, productOk ? "" : ", FAILED");
    std::printf("  bench process peak RSS %.0f MiB  (this bench: two suites, both precisions' proxies, RegMean's Gram statistics)\n",
                bench::peakRssMiB());
    fs::remove_all(cache);
    fs::remove_all(cacheHome);
    return 0;
}
