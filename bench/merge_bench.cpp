// Merging a ViT-B-sized model (≈86 M float32 parameters, 4 experts) against floors measured in
// the same run:
//   I/O floor:    read every input byte once + write one output of the base's size (fsync'ed),
//   apply floor:  memcpy of the merged parameters (what one λ-slider step must at least cost).
// `mergescope-cli merge` runs as a child process so its wall time and peak RSS are the product's.
// Usage: bench_merge [DIR] (default: a temporary directory; needs ≈2.2 GB of disk)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/content_hash.h"
#include "core/io/source_factory.h"
#include "core/jobs/parallel.h"
#include "core/merge/linalg.h"
#include "core/merge/merge_engine.h"

using namespace ms;
using namespace ms::core;

namespace {

std::vector<io::TensorToWrite> vitBase() {
    std::vector<io::TensorToWrite> t;
    const std::int64_t D = 768, H = 3072;
    t.push_back({"cls_token", io::DType::F32, {1, 1, D}});
    t.push_back({"pos_embed", io::DType::F32, {1, 197, D}});
    t.push_back({"patch_embed.proj.weight", io::DType::F32, {D, 3, 16, 16}});
    t.push_back({"patch_embed.proj.bias", io::DType::F32, {D}});
    for (int b = 0; b < 12; ++b) {
        const std::string p = "blocks." + std::to_string(b) + ".";
        t.push_back({p + "norm1.weight", io::DType::F32, {D}});
        t.push_back({p + "norm1.bias", io::DType::F32, {D}});
        t.push_back({p + "attn.qkv.weight", io::DType::F32, {3 * D, D}});
        t.push_back({p + "attn.qkv.bias", io::DType::F32, {3 * D}});
        t.push_back({p + "attn.proj.weight", io::DType::F32, {D, D}});
        t.push_back({p + "attn.proj.bias", io::DType::F32, {D}});
        t.push_back({p + "norm2.weight", io::DType::F32, {D}});
        t.push_back({p + "norm2.bias", io::DType::F32, {D}});
        t.push_back({p + "mlp.fc1.weight", io::DType::F32, {H, D}});
        t.push_back({p + "mlp.fc1.bias", io::DType::F32, {H}});
        t.push_back({p + "mlp.fc2.weight", io::DType::F32, {D, H}});
        t.push_back({p + "mlp.fc2.bias", io::DType::F32, {D}});
    }
    t.push_back({"norm.weight", io::DType::F32, {D}});
    t.push_back({"norm.bias", io::DType::F32, {D}});
    return t;
}

std::uint64_t numel(const io::TensorToWrite& t) {
    std::uint64_t n = 1;
    for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
    return n;
}

// Fast deterministic pseudo-normal-ish values: base ~ ±0.05, experts = base + ±0.002 noise.
void writeModel(const std::string& path, const std::vector<io::TensorToWrite>& specs, std::uint64_t seed, bool expert) {
    io::writeSafetensors(path, specs, [&](std::size_t i, std::byte* dst) {
        float* f = reinterpret_cast<float*>(dst);
        std::uint64_t s = 0x9E3779B97F4A7C15ull * (i + 1);
        std::uint64_t e = seed * 0xD1B54A32D192ED03ull + i;
        for (std::uint64_t j = 0; j < numel(specs[i]); ++j) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            float v = (static_cast<float>(s >> 40) / 16777216.0f - 0.5f) * 0.1f;
            if (expert) {
                e ^= e << 13, e ^= e >> 7, e ^= e << 17;
                v += (static_cast<float>(e >> 40) / 16777216.0f - 0.5f) * 0.004f;
            }
            f[j] = v;
        }
    }, {});
}

bench::ChildRun runCli(const std::vector<std::string>& args, const std::string& threads) {
    const bench::ChildRun r = bench::runChild(MS_CLI_PATH, args, {{"MS_THREADS", threads}});
    if (!r.ok) std::fprintf(stderr, "mergescope-cli failed\n");
    return r;
}

}  // namespace

// Best time of a λ change (the live slider's path): update the engine, apply into `merged`.
double lambdaChangeSeconds(merge::MergeEngine& engine, std::vector<std::vector<float>>& merged, double& lambda) {
    return bench::bestSeconds(5, [&] {
        lambda += 0.01;
        merge::MergeSpec s = engine.spec();
        s.params = {{"lambda", lambda}};
        engine.update(s);
        engine.applyToMemory(-1, merged);
    });
}

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / ("mergescope-bench-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const auto specs = vitBase();
    std::uint64_t params = 0;
    for (const auto& s : specs) params += numel(s);
    const std::uint64_t bytes = params * 4;
    std::printf("MergeScope merge benchmark: ViT-B layout, %.1f M float32 parameters (%.0f MiB per model), 4 experts, %u threads\n",
                static_cast<double>(params) / 1e6, static_cast<double>(bytes) / 1048576.0, workerThreads());
    const std::string base = (dir / "base.safetensors").string();
    writeModel(base, specs, 0, false);
    std::vector<std::string> experts;
    for (int t = 1; t <= 4; ++t) {
        experts.push_back((dir / ("expert" + std::to_string(t) + ".safetensors")).string());
        writeModel(experts.back(), specs, static_cast<std::uint64_t>(t), true);
    }
    const std::string out = (dir / "merged.safetensors").string();

    // I/O floor: touch every input byte, write one model's bytes (through the same writer, fsync).
    const double readS = bench::bestSeconds(2, [&] {
        double s = 0;
        for (const auto& f : std::vector<std::string>{base, experts[0], experts[1], experts[2], experts[3]}) {
            const auto src = io::openCheckpoint(f);
            for (const auto& t : src->tensors()) {
                const auto d = src->load(t.name);
                const float* p = reinterpret_cast<const float*>(d.data());
                for (std::uint64_t i = 0; i < t.numel; i += 16) s += p[i];  // one load per cache line
            }
        }
        bench::sink(s);
    });
    const auto baseSrc = io::openCheckpoint(base);
    const double writeS = bench::bestSeconds(2, [&] {
        io::convertCheckpoint(*baseSrc, out, {});
    });
    const double hashS = bench::bestSeconds(2, [&] {
        for (const auto& f : std::vector<std::string>{base, experts[0], experts[1], experts[2], experts[3]}) (void)io::hashFile(f);
    });
    const double ioFloor = readS + writeS;
    bench::header("Whole merge (mergescope-cli merge, child process; inputs page-cached)");
    bench::report("floor: read 5 models + write 1 (fsync)", 6 * bytes, ioFloor, ioFloor);
    bench::report("  of which: XXH3 of the 5 inputs (provenance)", 5 * bytes, hashS, ioFloor);
    std::vector<std::string> common = {"merge", "--base", base};
    for (const auto& e : experts) {
        common.push_back("--model");
        common.push_back(e);
    }
    common.push_back("--out");
    common.push_back(out);
    for (const char* threads : {"1", "2"}) {
        for (const char* method : {"task_arithmetic", "ties"}) {
            auto args = common;
            args.push_back("--method");
            args.push_back(method);
            if (std::string(method) == "ties") {
                args.push_back("--set");
                args.push_back("density=0.2");
            }
            runCli(args, threads);  // warm
            const bench::ChildRun r = runCli(args, threads);
            char name[96];
            std::snprintf(name, sizeof name, "%s, %s thread(s) (peak RSS %.0f MiB)", method, threads, r.peakMiB);
            bench::report(name, 6 * bytes, r.seconds, ioFloor);
        }
    }

    // The interactive path: prepare once, then λ changes.
    merge::MergeSpec spec;
    spec.base = base;
    for (const auto& e : experts) spec.models.push_back({e, "", {}, ""});
    std::vector<float> a(params), b(params);
    const double memcpyS = bench::bestSeconds(5, [&] { std::memcpy(b.data(), a.data(), bytes); });
    bench::header("Interactive apply (in memory, after prepare) vs memcpy of the parameters");
    bench::report("memcpy of the parameters (floor)", bytes, memcpyS, memcpyS);
    for (const char* method : {"task_arithmetic", "ties"}) {
        spec.method = method;
        merge::MergeEngine engine(spec);
        const double prepS = bench::bestSeconds(1, [&] { engine.prepare(); });
        std::vector<std::vector<float>> merged;  // reused, as the workbench's slider does
        const double firstS = bench::bestSeconds(1, [&] { engine.applyToMemory(-1, merged); });
        double lambda = 0.3;
        const double lambdaS = lambdaChangeSeconds(engine, merged, lambda);
        double w = 0.5;
        const double weightS = bench::bestSeconds(2, [&] {
            w += 0.1;
            merge::MergeSpec s = engine.spec();
            s.params = {{"lambda", lambda}};
            s.models[0].params = {{"weight", w}};
            engine.update(s);
            engine.applyToMemory(-1, merged);
        });
        std::string m(method);
        if (m != "task_arithmetic") bench::report(m + ": prepare", 5 * bytes, prepS, memcpyS);
        bench::report(m + ": first apply (fills the λ cache)", 5 * bytes, firstS, memcpyS);
        bench::report(m + ": λ change (θ0 + λ·M)", bytes, lambdaS, memcpyS);
        bench::report(m + ": weight change (full apply)", 5 * bytes, weightS, memcpyS);
    }
    // The subspace methods: their preparation is SVDs of every weight matrix (float64, LAPACK);
    // the floor is one SVD per weight matrix (Iso-C's minimum), on the same threads.
    {
        spec.method = "iso_c";
        merge::MergeEngine probe(spec);
        std::vector<merge::linalg::Matrix> mats;
        for (const auto& t : probe.problem().plan().merged)
            if (t.shape.size() == 2) {
                merge::linalg::Matrix m(t.shape[0], t.shape[1]);
                for (std::size_t i = 0; i < m.v.size(); ++i) m.v[i] = std::sin(0.37 * static_cast<double>(i)) * 0.01;
                mats.push_back(std::move(m));
            }
        const double svdS = bench::bestSeconds(1, [&] {
            const merge::linalg::SerialBlas serial;  // as the methods run them
            parallelEach(mats.size(), [&](unsigned, std::size_t i) { bench::sink(merge::linalg::svd(mats[i]).s[0]); });
        });
        bench::header("Subspace methods: prepare vs one float64 SVD of each of the " + std::to_string(mats.size()) + " weight matrices");
        bench::report("one SVD per weight matrix (floor)", 0, svdS, svdS);
        for (const char* method : {"iso_c", "iso_cts", "tsv_m", "cart"}) {
            spec.method = method;
            merge::MergeEngine engine(spec);
            const double prepS = bench::bestSeconds(1, [&] { engine.prepare(); });
            std::vector<std::vector<float>> merged;
            engine.applyToMemory(-1, merged);
            double lambda = 0.3;
            const double lambdaS = lambdaChangeSeconds(engine, merged, lambda);
            bench::report(std::string(method) + ": prepare", 0, prepS, svdS);
            bench::report(std::string(method) + ": λ change (θ0 + λ·M; vs memcpy)", bytes, lambdaS, memcpyS);
        }
        // WUDI: Adam steps, each one product τ_m·G per weight matrix; the floor is those products
        // alone (float64 BLAS), for a short run of kWudiSteps (the default 400 scale linearly).
        constexpr int kWudiSteps = 10;
        const double productS = bench::bestSeconds(1, [&] {
            const merge::linalg::SerialBlas serial;
            parallelEach(mats.size(), [&](unsigned, std::size_t i) {
                const merge::linalg::Matrix g(mats[i].cols, mats[i].cols);
                merge::linalg::Matrix out(mats[i].rows, mats[i].cols);
                for (int s = 0; s < kWudiSteps; ++s) merge::linalg::multiplyInto(mats[i], g, out);
                bench::sink(out.v[0]);
            });
        });
        spec.method = "wudi";
        spec.params["steps"] = static_cast<double>(kWudiSteps);
        merge::MergeEngine wudi(spec);
        const double wudiS = bench::bestSeconds(1, [&] { wudi.prepare(); });
        bench::report("wudi: prepare, " + std::to_string(kWudiSteps) + " Adam steps (vs the steps' products)", 0, wudiS, productS);
        spec.params.erase("steps");
    }
    std::printf("\n(GB/s counts the bytes each path must touch at least: inputs + output for the\n"
                " whole merge; the merged parameters for the apply paths.)\n");
    if (argc <= 1) fs::remove_all(dir);
    return 0;
}
