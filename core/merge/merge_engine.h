// Runs merges: opens the inputs of a MergeSpec, plans the tensors, prepares the method once and
// applies it as often as asked — to an output file (streamed tensor by tensor, atomic, with the
// recipe and input hashes in its metadata) or to memory (the interactive path). Changing λ or
// weights keeps the prepared state; changing a prepare-affecting parameter redoes it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/io/checkpoint_writer.h"
#include "core/merge/kit_context.h"
#include "core/merge/merge_method.h"
#include "core/merge/merge_spec.h"

namespace ms::core::merge {

class MergeEngine {
public:
    // Throws IoError/FormatError (inputs), MismatchError (they do not fit), InvalidArgument
    // (method, parameters, model count; a method that needs a kit without one — checked before
    // any file is opened). `kit` must outlive the engine.
    explicit MergeEngine(MergeSpec spec, const KitContext* kit = nullptr);
    ~MergeEngine();

    const MergeSpec& spec() const { return m_spec; }
    const MergeProblem& problem() const { return *m_problem; }
    const MergeMethod& method() const { return *m_method; }
    const MethodArgs& args() const { return m_args; }

    // Whether `spec` runs on this engine: the same method, inputs, filter, output dtype and open
    // options (its parameters, per-model parameters and λ schedule may differ).
    bool accepts(const MergeSpec& spec) const;
    // Takes the settings of `spec` — one value, validated here once — and decides itself what to
    // redo: prepare() re-prepares only when a prepare-affecting parameter changed; λ, weights and
    // the λ schedule keep the prepared state. InvalidArgument (engine unchanged) for an invalid
    // parameter, or when !accepts(spec): that needs a new engine.
    void update(const MergeSpec& spec);

    // Prepares if the prepared state is missing or stale; counts real preparations.
    void prepare(ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);
    int prepareCount() const { return m_prepareCount; }
    // What the last preparation produced besides weights (learned methods), else empty.
    const Artifacts& artifacts() const;

    // xxh128 of each input file (base first, then the models), computed once.
    const std::vector<std::string>& inputHashes(ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr) const;
    // Throws InvalidArgument naming the file when an input's hash differs from the one the spec
    // records (MergeSpec::baseHash, ModelRef::hash); inputs without a recorded hash pass.
    void verifyInputs(ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr) const;

    // The coefficients apply uses for one merged tensor.
    Coefficients coefficientsFor(std::size_t tensor, int task) const;

    // Merged float32 values of merged tensor `tensor` (task: per-task methods, else -1).
    void applyTensor(std::size_t tensor, int task, float* out, const CancelToken* cancel = nullptr) const;
    // All merged tensors as float32, in plan order. For methods linear in λ (θ = θ0 + λ·M) the
    // merged task vectors M are cached per (prepared state, weights, task): a change of λ alone
    // (or of the λ schedule) then costs one pass of θ0 + λ·M — the interactive slider's path.
    std::vector<std::vector<float>> applyToMemory(int task, ProgressSink& progress = nullProgress(),
                                                  const CancelToken* cancel = nullptr);
    // The same into caller-owned buffers, reused across calls (no page faults on fresh memory:
    // what a λ slider should call).
    void applyToMemory(int task, std::vector<std::vector<float>>& out, ProgressSink& progress = nullProgress(),
                       const CancelToken* cancel = nullptr);
    int deltaComputations() const { return m_deltaComputations; }

    // Writes every base tensor (merged or copied) to `path` (.safetensors / .h5). For per-task
    // methods `task` chooses the task's model. Returns the files written.
    std::vector<std::string> write(const std::string& path, int task, io::WriteOptions options = {},
                                   ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

    // Provenance metadata (docs/merging.md, "Provenance"): mergescope.provenance (schema version),
    // .spec (the MergeSpec as canonical JSON), .recipe (YAML), .inputs (JSON with xxh128 hashes),
    // .version, and .kit / .learned when a kit was used.
    io::Metadata provenance(ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr) const;

private:
    MergeSpec m_spec;
    const KitContext* m_kit = nullptr;
    mutable std::vector<std::string> m_hashes;
    std::unique_ptr<io::TensorSource> m_base;
    std::vector<std::unique_ptr<io::TensorSource>> m_experts;
    std::unique_ptr<MergeProblem> m_problem;
    const MergeMethod* m_method = nullptr;
    MethodArgs m_args;
    std::string m_engineKey;  // what update() cannot change, computed once (accepts() runs per point)
    void setLambdaSchedule(LambdaSchedule schedule);
    std::shared_ptr<const PreparedState> m_prepared;
    std::string m_preparedKey;
    bool m_isPrepared = false;
    int m_prepareCount = 0;
    std::vector<double> m_tensorLambda;
    std::vector<std::vector<float>> m_delta;      // cached merged task vectors (λ = 1)
    std::string m_deltaKey;
    int m_deltaComputations = 0;
    std::vector<std::vector<float>> m_baseCopies;  // float32 copies of non-float32 base tensors
    const float* baseFloats(std::size_t tensor);
};

}  // namespace ms::core::merge
