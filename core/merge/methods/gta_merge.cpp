// The "generalized task arithmetic" family: each task vector is sparsified (none, top-k by
// magnitude, DARE's random drop-and-rescale, Breadcrumbs' outlier band, DELLA's magnitude-ranked
// drop), weighted, then either summed (task arithmetic) or combined by sign consensus (TIES:
// elect a sign per coordinate, keep the entries that agree, take their weighted mean or sum).
// θ = θ0 + λ·τ_m. Two conventions, a parameter of each sparsifying method:
//   official  the papers' reference code: TIES' global top-k keeping every |τ| ≥ the threshold,
//             the majority sign for exact ties, Breadcrumbs per row, DARE rescaled by 1/density;
//   mergekit  mergekit 0.1.x (generalized_task_arithmetic.py, sparsify.py): per tensor exactly
//             ⌊k·n⌋ entries (ties at the cut to the lower index), +1 for an exact sign tie,
//             Breadcrumbs over the whole tensor, DARE/DELLA rescaled to keep each tensor's L1 norm.
// Both take weights as mergekit does (sign elected on weighted entries; the mean divides by the
// weights of the agreeing entries). docs/merging.md lists every rule.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <atomic>
#include <mutex>
#include <optional>

#include "core/errors.h"
#include "core/jobs/parallel.h"

#include "core/merge/methods/methods.h"
#include "core/merge/topk_selection.h"

namespace ms::core::merge {

namespace {

enum class Sparsify { None, Magnitude, Random, Outliers, Della };

struct GtaConfig {
    std::string name;
    std::string summary;
    Sparsify sparsify = Sparsify::None;
    bool consensus = false;
    std::string defaultDisjoint = "mean";
    double defaultDensity = 1.0;
    bool rescaleByDefault = false;  // DARE, DELLA
};

// One task's selection in one tensor, made in prepare: which entries survive (a bit per entry)
// and the factor the survivors take (the L1 rescale; 1 without it).
struct Selection {
    std::vector<std::uint64_t> bits;
    float ratio = 1.0f;
    bool all = false;  // density ≥ 1: every entry, no rescale
    bool kept(std::uint64_t i) const { return all || ((bits[i >> 6] >> (i & 63)) & 1u); }
};

struct GtaPrepared : PreparedState {
    std::optional<TopKThresholds> topk;
    bool mergekit = false;                     // convention
    std::vector<std::vector<Selection>> sel;   // [task][tensor] when selections are made in prepare
    // The official code breaks exact ties of the elected sign with the majority of all elected
    // signs. Only a coordinate whose weighted sum is exactly 0 while some entry is not needs it —
    // rare with real weights — so it is computed (one extra pass) the first time such a
    // coordinate is met, before any value depending on it is written.
    mutable std::once_flag majorityOnce;
    mutable float majority = 0.0f;
    mutable std::atomic<bool> majorityKnown{false};
    // The sign a tie takes: the majority when known (a sign of 0 acts as −1, as the official
    // code's torch.where(sign > 0, τ > 0, τ < 0) keeps the negative entries).
    float tieSign() const {
        return majorityKnown.load(std::memory_order_acquire) && majority > 0 ? 1.0f : -1.0f;
    }
};

// The fused kernel of magnitude-trimmed methods (ties, magnitude): one loop over the chunk with
// the task count known at compile time, so that GCC keeps v[] in registers and vectorises.
constexpr int kMaxFusedTasks = 8;
struct FusedArgs {
    const float* base;
    const float* ex[kMaxFusedTasks];
    float thr[kMaxFusedTasks];
    bool all[kMaxFusedTasks];
    float w[kMaxFusedTasks];
    float lambda;
    float tieSign;
    bool addBase;
};

// Returns whether a coordinate had an exactly-zero elected sum with a non-zero entry (a tie).
// 4 float lanes (SSE2, the x86-64 baseline; NEON on Arm) with GCC/Clang vector extensions: every operation is lane-wise IEEE in the same
// order as the scalar code below, so both give bit-identical results; selects are bit masks, so
// the random keep/drop pattern of trimming costs no branch mispredictions.
typedef float Vf __attribute__((vector_size(16)));
typedef std::int32_t Vi __attribute__((vector_size(16)));
constexpr int kLanes = 4;

inline Vf loadV(const float* p) {
    Vf v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline Vf selectV(Vi mask, Vf a, Vf b) { return (Vf)((mask & (Vi)a) | (~mask & (Vi)b)); }
inline Vf splat(float x) { return Vf{} + x; }

template <int N, bool Consensus, bool Mean>
bool fusedMagnitude(const FusedArgs& a, std::size_t n, float* out) {
    const float baseScale = a.addBase ? 1.0f : 0.0f;
    float thr[N];
    for (int t = 0; t < N; ++t) thr[t] = a.all[t] ? -1.0f : a.thr[t];  // -1: keep everything
    const Vi absMask = Vi{} + 0x7fffffff;
    Vi tieLanes = Vi{};
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const Vf b = loadV(a.base + i);
        Vf v[N];
        Vf s = Vf{};
        for (int t = 0; t < N; ++t) {
            const Vf tau = loadV(a.ex[t] + i) - b;
            const Vi keep = (Vf)((Vi)tau & absMask) >= splat(thr[t]);
            v[t] = selectV(keep, splat(a.w[t]) * tau, Vf{});
            s += v[t];
        }
        Vf merged = s;
        if constexpr (Consensus) {
            const Vi zero = s == Vf{};
            const Vf sign = selectV(zero, splat(a.tieSign), selectV(s > Vf{}, splat(1.0f), splat(-1.0f)));
            Vf total = Vf{}, div = Vf{};
            for (int t = 0; t < N; ++t) {
                const Vi agree = v[t] * sign > Vf{};
                total += selectV(agree, v[t], Vf{});
                div += selectV(agree, splat(a.w[t]), Vf{});
                tieLanes |= zero & (v[t] != Vf{});
            }
            if constexpr (Mean) merged = total / selectV(div == Vf{}, splat(1.0f), div);
            else merged = total;
        }
        const Vf r = splat(baseScale) * b + splat(a.lambda) * merged;
        std::memcpy(out + i, &r, sizeof r);
    }
    bool tie = false;
    for (int l = 0; l < kLanes; ++l) tie |= tieLanes[l] != 0;
    for (; i < n; ++i) {  // the tail, scalar, same arithmetic
        const float b = a.base[i];
        float v[N];
        float s = 0;
        for (int t = 0; t < N; ++t) {
            const float tau = a.ex[t][i] - b;
            v[t] = std::fabs(tau) >= thr[t] ? a.w[t] * tau : 0.0f;
            s += v[t];
        }
        float merged = s;
        if constexpr (Consensus) {
            const float sign = s == 0 ? a.tieSign : (s > 0 ? 1.0f : -1.0f);
            float total = 0, div = 0;
            for (int t = 0; t < N; ++t) {
                const bool agree = v[t] * sign > 0;
                total += agree ? v[t] : 0.0f;
                div += agree ? a.w[t] : 0.0f;
                tie |= s == 0 && v[t] != 0;
            }
            merged = Mean ? total / (div == 0 ? 1.0f : div) : total;
        }
        out[i] = baseScale * b + a.lambda * merged;
    }
    return tie;
}

template <int N>
bool fusedMagnitudeFor(bool consensus, bool mean, const FusedArgs& a, std::size_t n, float* out) {
    if (!consensus) return fusedMagnitude<N, false, false>(a, n, out);
    return mean ? fusedMagnitude<N, true, true>(a, n, out) : fusedMagnitude<N, true, false>(a, n, out);
}

bool runFused(int tasks, bool consensus, bool mean, const FusedArgs& a, std::size_t n, float* out) {
    switch (tasks) {
        case 1: return fusedMagnitudeFor<1>(consensus, mean, a, n, out);
        case 2: return fusedMagnitudeFor<2>(consensus, mean, a, n, out);
        case 3: return fusedMagnitudeFor<3>(consensus, mean, a, n, out);
        case 4: return fusedMagnitudeFor<4>(consensus, mean, a, n, out);
        case 5: return fusedMagnitudeFor<5>(consensus, mean, a, n, out);
        case 6: return fusedMagnitudeFor<6>(consensus, mean, a, n, out);
        case 7: return fusedMagnitudeFor<7>(consensus, mean, a, n, out);
        default: return fusedMagnitudeFor<8>(consensus, mean, a, n, out);
    }
}

// DARE's keep decision for one element: a counter-based hash of (seed, task, tensor, index), so
// masks are reproducible from the seed and independent of chunking and threads.
inline bool dareKeep(std::uint64_t seed, std::size_t task, std::uint64_t nameHash, std::uint64_t index,
                     double density) {  // keeps with probability `density` (DELLA: p_i)
    std::uint64_t z = seed * 0x9E3779B97F4A7C15ull ^ (task + 1) * 0xD1B54A32D192ED03ull ^ nameHash ^
                      (index * 0xBF58476D1CE4E5B9ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
    return u < density;
}

// Breadcrumbs (official): in each row, sort |τ| ascending (stable), drop the largest ⌊γ·L⌋
// (outliers) and the smallest, keeping the ⌊β·L⌋ entries below the outliers. `mag` holds |τ|.
void outlierMask(const float* mag, std::size_t rowLen, double density, double gamma, std::vector<std::uint32_t>& order,
                 std::uint8_t* keep) {
    order.resize(rowLen);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return mag[a] < mag[b]; });
    const auto L = static_cast<std::int64_t>(rowLen);
    const auto target = static_cast<std::int64_t>(static_cast<double>(L) * density);
    auto top = static_cast<std::int64_t>(static_cast<double>(L) * gamma);
    auto bottom = L - target - top;
    if (bottom < 0) {
        bottom = 0;
        top = L - target;
    }
    std::fill(keep, keep + rowLen, 0);
    for (std::int64_t r = bottom; r < L - top; ++r) keep[order[static_cast<std::size_t>(r)]] = 1;
}

// The entry at ascending rank r (0-based) in the order (|τ| ascending, index ascending): its
// value and index. `a` holds |τ|; `scratch` is reused.
std::pair<float, std::uint64_t> ascendingAt(const std::vector<float>& a, std::uint64_t r, std::vector<float>& scratch) {
    scratch = a;
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(r), scratch.end());
    const float v = scratch[r];
    std::uint64_t below = 0;
    for (float x : a) below += x < v;
    std::uint64_t m = r - below;  // the m-th (0-based) entry equal to v, by index
    for (std::uint64_t i = 0; i < a.size(); ++i)
        if (a[i] == v && m-- == 0) return {v, i};
    return {v, a.size() - 1};
}

void setBit(std::vector<std::uint64_t>& bits, std::uint64_t i) { bits[i >> 6] |= std::uint64_t{1} << (i & 63); }

// mergekit's magnitude(): exactly k = int(density·n) entries, the largest |τ| (ties at the cut to
// the lower index: the order |τ| descending, index ascending).
void magnitudeExact(const std::vector<float>& a, std::uint64_t k, std::vector<std::uint64_t>& bits, std::vector<float>& scratch) {
    const std::uint64_t n = a.size();
    scratch = a;
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(n - k), scratch.end());
    const float v = scratch[n - k];  // the k-th largest
    std::uint64_t above = 0;
    for (float x : a) above += x > v;
    std::uint64_t equalsToKeep = k - above;
    for (std::uint64_t i = 0; i < n; ++i)
        if (a[i] > v || (a[i] == v && equalsToKeep > 0 && (--equalsToKeep, true))) setBit(bits, i);
}

// mergekit's magnitude_outliers(): over the whole tensor, ascending ranks [n_bot, n − n_top) of
// (|τ|, index); int(γ·n) = 0 keeps nothing (its idx[n_bot:-0] is empty).
void outliersPerTensor(const std::vector<float>& a, double density, double gamma, std::vector<std::uint64_t>& bits,
                       std::vector<float>& scratch) {
    const auto n = static_cast<std::int64_t>(a.size());
    const auto target = static_cast<std::int64_t>(density * static_cast<double>(n));
    auto top = static_cast<std::int64_t>(gamma * static_cast<double>(n));
    auto bottom = n - target - top;
    if (bottom < 0) {
        top += bottom;
        bottom = 0;
    }
    if (top == 0 || bottom > n - top - 1) return;  // nothing kept
    const auto lo = ascendingAt(a, static_cast<std::uint64_t>(bottom), scratch);
    const auto hi = ascendingAt(a, static_cast<std::uint64_t>(n - top - 1), scratch);
    for (std::uint64_t i = 0; i < a.size(); ++i) {
        const bool aboveLo = a[i] > lo.first || (a[i] == lo.first && i >= lo.second);
        const bool belowHi = a[i] < hi.first || (a[i] == hi.first && i <= hi.second);
        if (aboveLo && belowHi) setBit(bits, i);
    }
}

// mergekit's della_magprune(): along dim 1 (a 1-D tensor is one row), rank |τ| (ascending, ties
// by index), p_i = (density − ε) + 2ε·(rank − 1)/(n1 − 1), keep with probability p_i.
void dellaKeep(const std::vector<float>& a, const PlannedTensor& t, std::size_t task, double density, double eps,
               std::uint64_t seed, std::vector<std::uint64_t>& bits) {
    const std::uint64_t n = a.size();
    std::uint64_t s1 = t.shape.size() >= 2 ? static_cast<std::uint64_t>(t.shape[1]) : n;
    const std::uint64_t s0 = t.shape.size() >= 2 ? static_cast<std::uint64_t>(t.shape[0]) : 1;
    std::uint64_t rest = (s0 != 0 && s1 != 0) ? n / (s0 * s1) : 0;
    if (s1 < 2) {
        // One entry along the second axis (a ViT's class token [1, 1, D], an [N, 1] weight):
        // mergekit's ranks are 0/0 there and it stops. Here each first-axis slice is ranked as one
        // row; a slice of a single entry keeps it with probability `density`.
        s1 = s0 ? n / s0 : 0;
        rest = 1;
    }
    if (s1 < 2) {
        for (std::uint64_t i = 0; i < n; ++i)
            if (dareKeep(seed, task, t.nameHash, i, density)) setBit(bits, i);
        return;
    }
    std::vector<std::uint32_t> order(s1);
    for (std::uint64_t i0 = 0; i0 < s0; ++i0)
        for (std::uint64_t r = 0; r < rest; ++r) {
            const auto at = [&](std::uint64_t i1) { return i0 * s1 * rest + i1 * rest + r; };
            std::iota(order.begin(), order.end(), 0u);
            std::stable_sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) { return a[at(x)] < a[at(y)]; });
            for (std::uint64_t rank = 0; rank < s1; ++rank) {
                const double p = (density - eps) + static_cast<double>(rank) / static_cast<double>(s1 - 1) * 2 * eps;
                const std::uint64_t idx = at(order[rank]);
                if (dareKeep(seed, task, t.nameHash, idx, p)) setBit(bits, idx);
            }
        }
}

class GtaMerge final : public MergeMethod {
public:
    explicit GtaMerge(GtaConfig c) : m_config(std::move(c)) {
        m_info.name = m_config.name;
        m_info.summary = m_config.summary;
        m_info.params = {lambdaParam(), weightParam()};
        m_info.linearInLambda = true;
        const Sparsify sp = m_config.sparsify;
        if (!m_config.consensus)
            m_info.params.push_back(choiceParam("normalize", "false", {"false", "true"},
                                                "divide the summed task vectors by Σ w_t (mergekit's normalize)"));
        if (sp == Sparsify::Magnitude)
            m_info.params.push_back(densityParam(m_config.defaultDensity, true, "fraction of each task vector kept, by magnitude (TIES k)"));
        if (sp == Sparsify::Random)
            m_info.params.push_back(densityParam(m_config.defaultDensity, true, "DARE keep probability"));
        if (sp == Sparsify::Outliers) {
            m_info.params.push_back(densityParam(m_config.defaultDensity, true, "β: fraction kept below the outliers"));
            m_info.params.push_back(numberParam("gamma", 0.01, 0, 1, "γ: fraction of the largest |τ| dropped as outliers", true, true));
        }
        if (sp == Sparsify::Della) {
            m_info.params.push_back(densityParam(m_config.defaultDensity, true, "mean keep probability"));
            m_info.params.push_back(numberParam("epsilon", 0.15, 0, 1,
                                                "keep probabilities spread over density ± ε by magnitude rank", true, true));
        }
        if (sp == Sparsify::Magnitude) m_info.params.push_back(topkScopeParam());
        if (sp == Sparsify::Random || sp == Sparsify::Della) m_info.params.push_back(seedParam(true));
        if (sp == Sparsify::Magnitude || sp == Sparsify::Random || sp == Sparsify::Outliers)
            m_info.params.push_back(choiceParam(
                "convention", "official", {"official", "mergekit"},
                "official: the paper's code (TIES global top-k keeping |τ| ≥ threshold, majority sign for exact ties, "
                "breadcrumbs per row, DARE ×1/density); mergekit: mergekit 0.1.x (exactly ⌊k·n⌋ per tensor, +1 for an "
                "exact sign tie, breadcrumbs per tensor, DARE keeps each tensor's L1 norm)",
                true));
        if (sp != Sparsify::None)
            m_info.params.push_back(choiceParam("rescale", m_config.rescaleByDefault ? "true" : "false", {"true", "false"},
                                                "rescale the survivors (DARE official: ×1/density; otherwise ×Σ|τ|/Σ|kept τ| "
                                                "per tensor, mergekit's L1 rescale)",
                                                true));
        if (m_config.consensus) m_info.params.push_back(disjointParam(m_config.defaultDisjoint));
        for (auto& p : m_info.params)  // read per (task, tensor) in prepare and apply
            if (p.name == "density" || p.name == "gamma" || p.name == "epsilon") p.perTensor = true;
    }

    const MethodInfo& info() const override { return m_info; }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs& args,
                                                 ProgressSink& progress, const CancelToken* cancel) const override {
        auto p = std::make_shared<GtaPrepared>();
        const Sparsify sp = m_config.sparsify;
        p->mergekit = sp == Sparsify::Della || (m_info.has("convention") && args.choice("convention") == "mergekit");
        const bool rescale = sp != Sparsify::None && args.choice("rescale") == "true";
        if (sp == Sparsify::Magnitude && !p->mergekit) {
            if (args.hasRules("density"))  // the official thresholds take one density per model
                throw InvalidArgument(m_info.name + ": a density that varies by tensor (filter list or gradient) needs convention mergekit");
            p->topk = selectTopK(problem, args.perModelNumbers("density"),
                                 args.choice("topk_scope") == "per_tensor" ? TopKScope::PerTensor : TopKScope::Global,
                                 progress, cancel);
        }
        // Selections made here: every mergekit-convention sparsifier, and any L1 rescale (it needs
        // the whole tensor's kept mass). Official DARE ×1/density and the official trims without
        // rescale decide entry by entry in apply.
        const bool officialDare = sp == Sparsify::Random && !p->mergekit;
        if (sp == Sparsify::None || (!p->mergekit && (!rescale || officialDare))) return p;
        if (sp == Sparsify::Magnitude && p->mergekit && args.choice("topk_scope") == "global" && args.global().count("topk_scope"))
            throw InvalidArgument(m_info.name + ": convention mergekit selects per tensor; topk_scope global belongs to the official convention");
        const auto& tensors = problem.plan().merged;
        const std::size_t T = problem.taskCount();
        p->sel.assign(T, std::vector<Selection>(tensors.size()));
        std::atomic<std::uint64_t> done{0};
        parallelEach(tensors.size(), [&](unsigned, std::size_t ti) {
            if (cancel) cancel->throwIfCancelled();
            const PlannedTensor& pt = tensors[ti];
            std::vector<std::vector<float>> taus(T, std::vector<float>(pt.numel));
            problem.forEachChunkOf(ti, [&](unsigned, const ChunkView& c) {
                for (std::size_t t = 0; t < T; ++t)
                    for (std::size_t i = 0; i < c.n; ++i) taus[t][c.begin + i] = c.experts[t][i] - c.base[i];
            }, cancel);
            problem.release(ti);
            std::vector<float> a(pt.numel), scratch;
            std::vector<std::uint32_t> order;
            std::vector<std::uint8_t> rowKeep;
            for (std::size_t t = 0; t < T; ++t) {
                Selection& out = p->sel[t][ti];
                for (std::uint64_t i = 0; i < pt.numel; ++i) a[i] = std::fabs(taus[t][i]);
                const double density = args.numberFor("density", static_cast<int>(t), pt.name, pt.depth);
                if (density >= 1.0) {  // mergekit and the official code keep everything, rescale nothing
                    out.all = true;
                    continue;
                }
                out.bits.assign((pt.numel + 63) / 64, 0);
                switch (sp) {
                    case Sparsify::Magnitude:
                        if (p->mergekit) {
                            const auto k = static_cast<std::uint64_t>(density * static_cast<double>(pt.numel));
                            if (k == 0)
                                throw InvalidArgument(m_info.name + ": density " + paramValueText(density) + " keeps no entry of tensor " +
                                                      pt.name + " (" + std::to_string(pt.numel) + " entries) of model " +
                                                      std::to_string(t + 1) + "; mergekit stops here too");
                            magnitudeExact(a, k, out.bits, scratch);
                        } else {
                            const float thr = p->topk->threshold(t, ti);
                            for (std::uint64_t i = 0; i < pt.numel; ++i)
                                if (a[i] >= thr) setBit(out.bits, i);
                        }
                        break;
                    case Sparsify::Outliers: {
                        const double gamma = args.numberFor("gamma", static_cast<int>(t), pt.name, pt.depth);
                        if (p->mergekit) {
                            outliersPerTensor(a, density, gamma, out.bits, scratch);
                        } else {
                            const std::size_t L = static_cast<std::size_t>(pt.rowLength);
                            rowKeep.assign(pt.numel, 0);
                            for (std::size_t r = 0; r < pt.numel; r += L)
                                outlierMask(a.data() + r, std::min(L, static_cast<std::size_t>(pt.numel) - r), density, gamma, order,
                                            rowKeep.data() + r);
                            for (std::uint64_t i = 0; i < pt.numel; ++i)
                                if (rowKeep[i]) setBit(out.bits, i);
                        }
                        break;
                    }
                    case Sparsify::Random: {
                        const auto seed = static_cast<std::uint64_t>(args.number("seed"));
                        for (std::uint64_t i = 0; i < pt.numel; ++i)
                            if (dareKeep(seed, t, pt.nameHash, i, density)) setBit(out.bits, i);
                        break;
                    }
                    case Sparsify::Della: {
                        const double eps = args.numberFor("epsilon", static_cast<int>(t), pt.name, pt.depth);
                        if (density + eps >= 1.0 || density - eps <= 0.0)
                            throw InvalidArgument(m_info.name + ": density ± epsilon must lie inside (0, 1) (tensor " + pt.name +
                                                  ", model " + std::to_string(t + 1) + ": " + paramValueText(density) + " ± " +
                                                  paramValueText(eps) + ")");
                        dellaKeep(a, pt, t, density, eps, static_cast<std::uint64_t>(args.number("seed")), out.bits);
                        break;
                    }
                    case Sparsify::None: break;
                }
                if (rescale) {  // mergekit's rescaled_masked_tensor (L1), absolute ε 1e-7
                    double before = 0, after = 0;
                    for (std::uint64_t i = 0; i < pt.numel; ++i) {
                        before += a[i];
                        if (out.kept(i)) after += a[i];
                    }
                    out.ratio = (before < 1e-7 || after < 1e-7) ? 1.0f : static_cast<float>(before / after);
                }
            }
            progress.report(m_info.name + ": selecting", ++done, tensors.size());
        });
        return p;
    }

    void apply(const MergeProblem& problem, const PreparedState* prepared, const MethodArgs& args,
               const Coefficients& k, const ChunkView& c, float* out) const override {
        const std::size_t T = problem.taskCount();
        const auto* p = static_cast<const GtaPrepared*>(prepared);
        const bool normalize = !m_config.consensus && args.choice("normalize") == "true";
        if (m_config.sparsify == Sparsify::None && !m_config.consensus) {
            applyLinear(k, c, out, normalize);
            return;
        }
        const bool mean = m_config.consensus && args.choice("disjoint") == "mean";
        if (m_config.sparsify == Sparsify::Magnitude && T <= static_cast<std::size_t>(kMaxFusedTasks) && p->sel.empty() &&
            !p->mergekit && !normalize) {
            const std::size_t ti = static_cast<std::size_t>(c.tensor - problem.plan().merged.data());
            FusedArgs a{};
            a.base = c.base;
            for (std::size_t t = 0; t < T; ++t) {
                a.ex[t] = c.experts[t];
                a.thr[t] = p->topk->threshold(t, ti);
                a.all[t] = p->topk->keepAll(t);
                a.w[t] = static_cast<float>(k.weights[t]);
            }
            a.lambda = static_cast<float>(k.lambda);
            a.addBase = k.addBase;
            const bool known = p->majorityKnown.load(std::memory_order_acquire);
            a.tieSign = p->tieSign();
            const bool tie = runFused(static_cast<int>(T), m_config.consensus, mean, a, c.n, out);
            if (tie && !known) {  // rare: settle the majority sign, then redo this chunk with it
                ensureMajority(problem, args, *p);
                a.tieSign = p->tieSign();
                runFused(static_cast<int>(T), m_config.consensus, mean, a, c.n, out);
            }
            return;
        }
        thread_local std::vector<float> trimmed;  // [t][i] weighted, sparsified task vectors
        trimmed.resize(T * c.n);
        sparsifyChunk(problem, p, args, k, c, trimmed.data());
        const float lambda = static_cast<float>(k.lambda);
        if (!m_config.consensus) {
            const float div = normalize ? weightSum(k) : 1.0f;
            for (std::size_t i = 0; i < c.n; ++i) {
                float s = 0;
                for (std::size_t t = 0; t < T; ++t) s += trimmed[t * c.n + i];
                out[i] = base0(c, i, k) + lambda * (normalize ? s / div : s);
            }
            return;
        }
        thread_local std::vector<float> sum, sign, total, div;
        sum.assign(c.n, 0.0f);
        for (std::size_t t = 0; t < T; ++t) {
            const float* v = trimmed.data() + t * c.n;
            for (std::size_t i = 0; i < c.n; ++i) sum[i] += v[i];
        }
        bool tie = false;
        for (std::size_t i = 0; i < c.n && !tie; ++i)
            if (sum[i] == 0)
                for (std::size_t t = 0; t < T; ++t) tie |= trimmed[t * c.n + i] != 0;
        if (tie && !p->mergekit) ensureMajority(problem, args, *p);
        const float tieSign = p->mergekit ? 1.0f : p->tieSign();  // mergekit: sum ≥ 0 elects +
        sign.resize(c.n);
        for (std::size_t i = 0; i < c.n; ++i) sign[i] = sum[i] > 0 ? 1.0f : sum[i] < 0 ? -1.0f : tieSign;
        total.assign(c.n, 0.0f);
        div.assign(c.n, 0.0f);
        for (std::size_t t = 0; t < T; ++t) {
            const float* v = trimmed.data() + t * c.n;
            const float w = static_cast<float>(k.weights[t]);
            for (std::size_t i = 0; i < c.n; ++i) {
                const bool agree = v[i] * sign[i] > 0;
                total[i] += agree ? v[i] : 0.0f;
                div[i] += agree ? w : 0.0f;
            }
        }
        for (std::size_t i = 0; i < c.n; ++i) {
            const float merged = mean ? total[i] / (div[i] == 0 ? 1.0f : div[i]) : total[i];
            out[i] = base0(c, i, k) + lambda * merged;
        }
    }

private:
    // Σ w_t for normalize, guarded as mergekit (|Σ w| < 1e-8 → 1).
    static float weightSum(const Coefficients& k) {
        float s = 0;
        for (double w : k.weights) s += static_cast<float>(w);
        return std::fabs(s) < 1e-8f ? 1.0f : s;
    }

    static void applyLinear(const Coefficients& k, const ChunkView& c, float* out, bool normalize) {
        thread_local std::vector<float> acc;
        acc.assign(c.n, 0.0f);
        for (std::size_t t = 0; t < c.experts.size(); ++t) {
            const float w = static_cast<float>(k.weights[t]);
            const float* e = c.experts[t];
            for (std::size_t i = 0; i < c.n; ++i) acc[i] += w * (e[i] - c.base[i]);
        }
        const float lambda = static_cast<float>(k.lambda);
        const float div = normalize ? weightSum(k) : 1.0f;
        for (std::size_t i = 0; i < c.n; ++i) out[i] = base0(c, i, k) + lambda * (normalize ? acc[i] / div : acc[i]);
    }

    // Writes w_t · sparsify(τ_t) for every task into dst[t * n + i].
    void sparsifyChunk(const MergeProblem& problem, const GtaPrepared* p, const MethodArgs& args,
                       const Coefficients& k, const ChunkView& c, float* dst) const {
        const std::size_t T = problem.taskCount();
        const std::size_t ti = static_cast<std::size_t>(&*c.tensor - problem.plan().merged.data());
        thread_local std::vector<std::uint8_t> keep;
        thread_local std::vector<std::uint32_t> order;
        thread_local std::vector<float> mag;
        for (std::size_t t = 0; t < T; ++t) {
            const float w = static_cast<float>(k.weights.empty() ? 1.0 : k.weights[t]);
            const float* e = c.experts[t];
            float* d = dst + t * c.n;
            if (!p->sel.empty()) {  // selected in prepare: the kept entries and their rescale
                const Selection& sel = p->sel[t][ti];
                for (std::size_t i = 0; i < c.n; ++i) {
                    const float tau = e[i] - c.base[i];
                    d[i] = sel.kept(c.begin + i) ? w * (tau * sel.ratio) : 0.0f;
                }
                continue;
            }
            switch (m_config.sparsify) {
                case Sparsify::None:
                    for (std::size_t i = 0; i < c.n; ++i) d[i] = w * (e[i] - c.base[i]);
                    break;
                case Sparsify::Magnitude: {
                    const bool all = p->topk->keepAll(t);
                    const float thr = p->topk->threshold(t, ti);
                    for (std::size_t i = 0; i < c.n; ++i) {
                        const float tau = e[i] - c.base[i];
                        d[i] = (all || std::fabs(tau) >= thr) ? w * tau : 0.0f;
                    }
                    break;
                }
                case Sparsify::Random: {  // official DARE: ×1/density (rescale) or as is
                    const double density = args.numberFor("density", static_cast<int>(t), c.tensor->name, c.tensor->depth);
                    if (density >= 1.0) {
                        for (std::size_t i = 0; i < c.n; ++i) d[i] = w * (e[i] - c.base[i]);
                        break;
                    }
                    const auto seed = static_cast<std::uint64_t>(args.number("seed"));
                    const float scale = args.choice("rescale") == "true" ? 1.0f / static_cast<float>(density) : 1.0f;
                    for (std::size_t i = 0; i < c.n; ++i) {
                        const float tau = e[i] - c.base[i];
                        d[i] = dareKeep(seed, t, c.tensor->nameHash, c.begin + i, density) ? w * (tau * scale) : 0.0f;
                    }
                    break;
                }
                case Sparsify::Outliers: {
                    const double density = args.numberFor("density", static_cast<int>(t), c.tensor->name, c.tensor->depth);
                    const double gamma = args.numberFor("gamma", static_cast<int>(t), c.tensor->name, c.tensor->depth);
                    const std::size_t L = static_cast<std::size_t>(c.tensor->rowLength);
                    keep.resize(c.n);
                    mag.resize(c.n);
                    for (std::size_t i = 0; i < c.n; ++i) mag[i] = std::fabs(e[i] - c.base[i]);
                    if (density >= 1.0) std::fill(keep.begin(), keep.end(), 1);
                    else
                        for (std::size_t r = 0; r < c.n; r += L) outlierMask(mag.data() + r, std::min(L, c.n - r), density, gamma, order, keep.data() + r);
                    for (std::size_t i = 0; i < c.n; ++i) d[i] = keep[i] ? w * (e[i] - c.base[i]) : 0.0f;
                    break;
                }
                case Sparsify::Della: break;  // always selected in prepare
            }
        }
    }

    // The official TIES code resolves coordinates whose summed sign is exactly 0 with the sign of
    // the sum of all elected signs. Computed once, with unit weights, in prepare.
    void ensureMajority(const MergeProblem& problem, const MethodArgs& args, const GtaPrepared& p) const {
        std::call_once(p.majorityOnce, [&] {
            p.majority = majoritySign(problem, args, p);
            p.majorityKnown.store(true, std::memory_order_release);
        });
    }

    float majoritySign(const MergeProblem& problem, const MethodArgs& args, const GtaPrepared& p) const {
        std::vector<std::int64_t> votes(workerThreads(), 0);
        Coefficients unit;
        unit.weights.assign(problem.taskCount(), 1.0);
        const std::size_t T = problem.taskCount();
        const bool fused = m_config.sparsify == Sparsify::Magnitude && T <= static_cast<std::size_t>(kMaxFusedTasks);
        problem.forEachChunk([&](unsigned th, const ChunkView& c) {
            thread_local std::vector<float> sums;
            sums.resize(c.n);
            if (fused) {  // the unweighted sums of the trimmed entries, by the same kernel
                FusedArgs a{};
                a.base = c.base;
                const std::size_t ti = static_cast<std::size_t>(c.tensor - problem.plan().merged.data());
                for (std::size_t t = 0; t < T; ++t) {
                    a.ex[t] = c.experts[t];
                    a.thr[t] = p.topk->threshold(t, ti);
                    a.all[t] = p.topk->keepAll(t);
                    a.w[t] = 1.0f;
                }
                a.lambda = 1.0f;
                a.addBase = false;
                runFused(static_cast<int>(T), false, false, a, c.n, sums.data());
            } else {
                thread_local std::vector<float> trimmed;
                trimmed.resize(T * c.n);
                sparsifyChunk(problem, &p, args, unit, c, trimmed.data());
                std::fill(sums.begin(), sums.end(), 0.0f);
                for (std::size_t t = 0; t < T; ++t)
                    for (std::size_t i = 0; i < c.n; ++i) sums[i] += trimmed[t * c.n + i];
            }
            std::int64_t v = 0;
            for (std::size_t i = 0; i < c.n; ++i) v += (sums[i] > 0) - (sums[i] < 0);
            votes[th] += v;
        }, nullProgress(), nullptr, "electing signs");
        const std::int64_t total = std::accumulate(votes.begin(), votes.end(), std::int64_t{0});
        return total > 0 ? 1.0f : total < 0 ? -1.0f : 0.0f;
    }

    GtaConfig m_config;
    MethodInfo m_info;
};

}  // namespace

void addGtaMethods(std::vector<std::unique_ptr<MergeMethod>>& out) {
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "task_arithmetic", "θ0 + λ Σ w_t τ_t (Ilharco et al. 2023)", Sparsify::None, false, "mean", 1.0}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "ties", "trim each τ_t to its top-k, elect signs, disjoint mean (Yadav et al. 2023)",
        Sparsify::Magnitude, true, "mean", 0.2}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "dare_linear", "drop τ_t entries at random, rescale the survivors, then task arithmetic (Yu et al. 2024)",
        Sparsify::Random, false, "mean", 0.5, true}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "dare_ties", "DARE drop-and-rescale, then TIES sign election (disjoint sum, as mergekit)",
        Sparsify::Random, true, "sum", 0.5, true}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "magnitude", "keep the top-k of each τ_t by magnitude, then task arithmetic",
        Sparsify::Magnitude, false, "mean", 0.2}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "breadcrumbs", "drop the γ largest |τ| and keep the next β (per row; per tensor in mergekit's convention), then task "
        "arithmetic (Davari & Belilovsky 2024)", Sparsify::Outliers, false, "mean", 0.9}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "breadcrumbs_ties", "Breadcrumbs' outlier band, then TIES sign election (disjoint sum; mergekit's breadcrumbs_ties)",
        Sparsify::Outliers, true, "sum", 0.9}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "della", "DELLA: drop τ entries with probability ranked by magnitude (density ± ε), rescale to each tensor's L1 "
        "norm, then TIES sign election (Deep et al. 2024; mergekit's della)", Sparsify::Della, true, "mean", 0.7, true}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "della_linear", "DELLA's magnitude-ranked drop and L1 rescale, then task arithmetic (mergekit's della_linear)",
        Sparsify::Della, false, "mean", 0.7, true}));
}

}  // namespace ms::core::merge
