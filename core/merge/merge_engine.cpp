#include "core/merge/merge_engine.h"

#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/jobs/parallel.h"
#include "core/io/prefixed_source.h"
#include "core/io/source_factory.h"
#include "core/merge/method_registry.h"
#include "core/merge/recipe.h"

namespace ms::core::merge {

namespace {
// The parts of a spec that decide the engine itself (what update() cannot change), as JSON.
std::string engineKey(MergeSpec spec) {
    spec.params.clear();
    spec.lambda = {};
    spec.rules.clear();
    spec.baseHash.clear();
    for (auto& m : spec.models) m.params.clear(), m.hash.clear();
    return toJson(spec);
}
}  // namespace

namespace {
// dst = base + λ·delta. Large outputs are written with streaming (non-temporal) stores, as
// memcpy does at this size: no read-for-ownership of dst, a third less memory traffic. Lane-wise
// the same IEEE operations as the scalar loop, so the values are identical.
void axpyStream(const float* base, const float* delta, float lambda, float* dst, std::size_t n) {
    std::size_t j = 0;
#if defined(__SSE2__)
    if (n >= (1u << 16)) {
        for (; j < n && reinterpret_cast<std::uintptr_t>(dst + j) % 16 != 0; ++j) dst[j] = base[j] + lambda * delta[j];
        const __m128 l = _mm_set1_ps(lambda);
        for (; j + 4 <= n; j += 4)
            _mm_stream_ps(dst + j, _mm_add_ps(_mm_loadu_ps(base + j), _mm_mul_ps(l, _mm_loadu_ps(delta + j))));
        _mm_sfence();
    }
#endif
    for (; j < n; ++j) dst[j] = base[j] + lambda * delta[j];
}
}  // namespace

MergeEngine::MergeEngine(MergeSpec spec, const KitContext* kit) : m_spec(std::move(spec)), m_kit(kit) {
    m_method = &findMethod(m_spec.method);
    const MethodInfo& info = m_method->info();
    if (info.needsKit && !m_kit) throw InvalidArgument(needsKitMessage(info.name));
    const int n = static_cast<int>(m_spec.models.size());
    if (n < info.minModels || n > info.maxModels)
        throw InvalidArgument("method '" + info.name + "' takes " + std::to_string(info.minModels) +
                              (info.maxModels < (1 << 20) ? " to " + std::to_string(info.maxModels) : " or more") +
                              " models besides the base, not " + std::to_string(n));
    if (m_spec.base.empty()) throw InvalidArgument("no base model given");
    m_spec = canonical(m_spec);  // validates the parameters; provenance records them normalised
    m_engineKey = engineKey(m_spec);
    m_args = methodArgsFor(m_spec, info);
    m_base = io::openCheckpoint(m_spec.base, m_spec.open);
    std::vector<const io::TensorSource*> experts;
    for (const auto& m : m_spec.models) {
        auto expert = io::openCheckpoint(m.path, m_spec.open);
        // An expert saved by another class than its base (module., vision_model., ...) is read
        // under the base's names.
        const io::PrefixChange change = io::alignPrefixes(*m_base, *expert);
        m_experts.push_back(io::withPrefix(std::move(expert), change));
        experts.push_back(m_experts.back().get());
    }
    TensorPlan plan = makePlan(*m_base, experts, m_spec.filter);
    if (plan.merged.empty())
        throw InvalidArgument("no tensor to merge: every tensor of the base is excluded or not floating point");
    m_problem = std::make_unique<MergeProblem>(*m_base, std::move(experts), std::move(plan));
    m_problem->setComputeDtype(m_spec.computeDtype);
    m_problem->setKit(m_kit);
    setLambdaSchedule(m_spec.lambda);
}

const Artifacts& MergeEngine::artifacts() const {
    static const Artifacts kNone;
    const Artifacts* a = m_prepared ? m_prepared->artifacts() : nullptr;
    return a ? *a : kNone;
}

const std::vector<std::string>& MergeEngine::inputHashes(ProgressSink& progress, const CancelToken* cancel) const {
    if (m_hashes.empty()) {
        std::vector<std::string> h{m_base->contentHash(progress, cancel)};
        for (const auto& e : m_experts) h.push_back(e->contentHash(progress, cancel));
        m_hashes = std::move(h);
    }
    return m_hashes;
}

void MergeEngine::verifyInputs(ProgressSink& progress, const CancelToken* cancel) const {
    const auto& h = inputHashes(progress, cancel);
    const auto check = [](const std::string& path, const std::string& recorded, const std::string& now) {
        if (!recorded.empty() && recorded != now)
            throw InvalidArgument(path + " has changed since it was recorded (xxh128 " + now + ", recorded " + recorded +
                                  "): the merge would not be the one recorded");
    };
    check(m_spec.base, m_spec.baseHash, h[0]);
    for (std::size_t i = 0; i < m_spec.models.size(); ++i) check(m_spec.models[i].path, m_spec.models[i].hash, h[i + 1]);
}

MergeEngine::~MergeEngine() = default;


bool MergeEngine::accepts(const MergeSpec& spec) const { return engineKey(spec) == m_engineKey; }

void MergeEngine::update(const MergeSpec& spec) {
    if (!accepts(spec))
        throw InvalidArgument("these settings need another merge engine (method '" + spec.method + "' on " + spec.base +
                              "; this engine runs '" + m_spec.method + "' on " + m_spec.base + ")");
    MergeSpec withModels = spec;
    withModels.models.resize(m_spec.models.size());
    MethodArgs next = methodArgsFor(withModels, m_method->info());  // validates
    m_args = std::move(next);
    m_spec.rules = spec.rules;
    m_spec.params = m_args.global();
    for (std::size_t i = 0; i < m_spec.models.size(); ++i) m_spec.models[i].params = m_args.perModel()[i];
    setLambdaSchedule(spec.lambda);
}

void MergeEngine::setLambdaSchedule(LambdaSchedule schedule) {
    m_spec.lambda = std::move(schedule);
    const bool hasLambda = m_method->info().has("lambda");
    const auto& plan = m_problem->plan();
    m_tensorLambda.clear();
    for (const auto& t : plan.merged) {
        const double global = hasLambda ? m_args.numberFor("lambda", -1, t.name, t.depth) : 1.0;
        m_tensorLambda.push_back(m_spec.lambda.lambdaFor(t.name, t.block, plan.blockCount, global));
    }
}

void MergeEngine::prepare(ProgressSink& progress, const CancelToken* cancel) {
    const std::string key = m_args.prepareKey();
    if (m_isPrepared && key == m_preparedKey) return;
    m_prepared = m_method->prepare(*m_problem, m_args, progress, cancel);
    m_preparedKey = key;
    m_isPrepared = true;
    ++m_prepareCount;
}

Coefficients MergeEngine::coefficientsFor(std::size_t tensor, int task) const {
    Coefficients k;
    k.lambda = m_tensorLambda.at(tensor);
    k.task = task;
    if (m_method->info().has("weight")) {
        const auto& t = m_problem->plan().merged.at(tensor);
        for (std::size_t m = 0; m < m_spec.models.size(); ++m)
            k.weights.push_back(m_args.numberFor("weight", static_cast<int>(m), t.name, t.depth));
    } else {
        k.weights.assign(m_spec.models.size(), 1.0);
    }
    return k;
}

void MergeEngine::applyTensor(std::size_t tensor, int task, float* out, const CancelToken* cancel) const {
    if (!m_isPrepared) throw Error("internal: apply before prepare");
    const Coefficients k = coefficientsFor(tensor, task);
    m_problem->forEachChunkOf(tensor, [&](unsigned, const ChunkView& c) {
        m_method->apply(*m_problem, m_prepared.get(), m_args, k, c, out + c.begin);
    }, cancel);
}

const float* MergeEngine::baseFloats(std::size_t tensor) {
    if (m_baseCopies.size() != m_problem->plan().merged.size()) m_baseCopies.assign(m_problem->plan().merged.size(), {});
    const auto& t = m_problem->plan().merged[tensor];
    const io::TensorData d = m_base->load(t.name);  // a view: the mapping outlives this call
    if (t.baseDtype == io::DType::F32 && reinterpret_cast<std::uintptr_t>(d.data()) % alignof(float) == 0)
        return reinterpret_cast<const float*>(d.data());
    auto& copy = m_baseCopies[tensor];
    if (copy.size() != t.numel) {
        copy.resize(t.numel);
        io::toFloat32(t.baseDtype, d.data(), copy.data(), t.numel);
    }
    return copy.data();
}

std::vector<std::vector<float>> MergeEngine::applyToMemory(int task, ProgressSink& progress, const CancelToken* cancel) {
    std::vector<std::vector<float>> out;
    applyToMemory(task, out, progress, cancel);
    return out;
}

void MergeEngine::applyToMemory(int task, std::vector<std::vector<float>>& out, ProgressSink& progress,
                                const CancelToken* cancel) {
    prepare(progress, cancel);
    const auto& merged = m_problem->plan().merged;
    out.resize(merged.size());
    std::uint64_t done = 0;
    if (!m_method->info().linearInLambda) {
        for (std::size_t i = 0; i < merged.size(); ++i) {
            out[i].resize(merged[i].numel);
            applyTensor(i, task, out[i].data(), cancel);
            m_problem->release(i);
            done += merged[i].numel;
            progress.report("merging", done, m_problem->plan().mergedElements);
        }
        return;
    }
    std::string key = m_preparedKey + "|task=" + std::to_string(task) + "|w=";
    if (m_method->info().has("weight"))
        for (double w : m_args.perModelNumbers("weight")) key += paramValueText(w) + ",";
    key += m_args.rulesText("weight");
    if (key != m_deltaKey) {
        m_delta.resize(merged.size());  // capacity is kept: no fresh pages to fault in
        m_deltaKey.clear();
        for (std::size_t i = 0; i < merged.size(); ++i) {
            m_delta[i].resize(merged[i].numel);
            Coefficients k = coefficientsFor(i, task);
            k.lambda = 1.0;
            k.addBase = false;
            m_problem->forEachChunkOf(i, [&](unsigned, const ChunkView& c) {
                m_method->apply(*m_problem, m_prepared.get(), m_args, k, c, m_delta[i].data() + c.begin);
            }, cancel);
            m_problem->release(i);  // read once: N experts' pages are never resident together
        }
        m_deltaKey = key;
        ++m_deltaComputations;
    }
    for (std::size_t i = 0; i < merged.size(); ++i) {
        if (cancel) cancel->throwIfCancelled();
        const float* base = baseFloats(i);
        const float* delta = m_delta[i].data();
        const float lambda = static_cast<float>(m_tensorLambda[i]);
        out[i].resize(merged[i].numel);
        float* dst = out[i].data();
        parallelFor(merged[i].numel, 1 << 16, [&](unsigned, std::size_t b, std::size_t e) {
            axpyStream(base + b, delta + b, lambda, dst + b, e - b);
        });
        m_problem->release(i);
        done += merged[i].numel;
        progress.report("merging", done, m_problem->plan().mergedElements);
    }
}

std::vector<std::string> MergeEngine::write(const std::string& path, int task, io::WriteOptions options,
                                            ProgressSink& progress, const CancelToken* cancel) {
    if (m_method->info().perTaskOutputs && (task < 0 || static_cast<std::size_t>(task) >= m_spec.models.size()))
        throw InvalidArgument("method '" + m_method->info().name + "' makes one model per task: choose the task");
    prepare(progress, cancel);
    for (auto& [k, v] : provenance(progress, cancel)) options.metadata[k] = v;
    if (task >= 0) options.metadata["mergescope.task"] = m_spec.taskNames()[static_cast<std::size_t>(task)];

    const auto& plan = m_problem->plan();
    std::unordered_map<std::string, std::size_t> mergedIndex;
    for (std::size_t i = 0; i < plan.merged.size(); ++i) mergedIndex[plan.merged[i].name] = i;
    std::vector<io::TensorToWrite> specs;
    std::vector<long> which;  // merged index or -1 (copied)
    for (const auto& t : m_base->tensors()) {
        const auto it = mergedIndex.find(t.name);
        const bool merged = it != mergedIndex.end();
        specs.push_back({t.name, merged && m_spec.dtype ? *m_spec.dtype : t.dtype, t.shape});
        which.push_back(merged ? static_cast<long>(it->second) : -1);
    }
    std::vector<float> buffer;
    const auto fill = [&](std::size_t i, std::byte* dst) {
        if (which[i] < 0) {
            const io::TensorData d = m_base->load(specs[i].name);
            if (d.size() > 0) std::memcpy(dst, d.data(), d.size());
            m_base->release(specs[i].name);
            return;
        }
        const auto mi = static_cast<std::size_t>(which[i]);
        const io::DType outType = specs[i].dtype;
        float* target = reinterpret_cast<float*>(dst);
        const bool direct = outType == io::DType::F32 && reinterpret_cast<std::uintptr_t>(dst) % alignof(float) == 0;
        if (!direct) {
            buffer.resize(plan.merged[mi].numel);
            target = buffer.data();
        }
        applyTensor(mi, task, target, cancel);
        if (!direct) io::fromFloat32(outType, buffer.data(), dst, buffer.size());
        // Streaming: this tensor's input pages are not needed again.
        m_base->release(specs[i].name);
        for (const auto& e : m_experts) e->release(specs[i].name);
    };
    return io::writeCheckpoint(path, specs, fill, options, progress, cancel);
}

io::Metadata MergeEngine::provenance(ProgressSink& progress, const CancelToken* cancel) const {
    const auto& hashes = inputHashes(progress, cancel);
    MergeSpec recorded = m_spec;  // with the hashes of what was read
    recorded.baseHash = hashes[0];
    for (std::size_t i = 0; i < recorded.models.size(); ++i) recorded.models[i].hash = hashes[i + 1];
    nlohmann::ordered_json inputs = nlohmann::ordered_json::array();
    inputs.push_back({{"role", "base"}, {"path", m_spec.base}, {"xxh128", hashes[0]}});
    const auto names = m_spec.taskNames();
    for (std::size_t i = 0; i < m_experts.size(); ++i)
        inputs.push_back({{"role", "model"}, {"task", names[i]}, {"path", m_spec.models[i].path}, {"xxh128", hashes[i + 1]}});
    io::Metadata out{{"mergescope.provenance", std::to_string(kProvenanceVersion)},
                     {"mergescope.spec", toJson(recorded)},
                     {"mergescope.recipe", saveRecipe(recorded)},
                     {"mergescope.inputs", inputs.dump()},
                     {"mergescope.version", MS_VERSION}};
    if (m_kit) out["mergescope.kit"] = m_kit->kitDir();
    if (m_prepared && !m_prepared->summaryJson().empty()) out["mergescope.learned"] = m_prepared->summaryJson();
    return out;
}

}  // namespace ms::core::merge
