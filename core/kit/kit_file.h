// A kit file (schema `kit: 1`, docs/kits.md): the user's base, experts, weight layout,
// architecture, preprocessing and tasks with their data, heads and metrics, as written in YAML.
// Reading checks the structure (known keys, types, required fields) and resolves paths against
// the file's folder; whether the files exist and fit together is kit check's job (kit_check.h).
// Torch-free: the workbench's New kit dialog writes kits with it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/data/preprocess.h"
#include "core/io/source_factory.h"
#include "core/kit/task.h"
#include "core/kit/vit_config.h"

namespace ms::core::kit {

constexpr int kKitSchema = 1;

struct HeadSpec {
    // linear: {weight [C, D], bias [C]} (or head.weight/head.bias); zeroshot: text embeddings
    // [C, P] applied to the base's visual projection; dense: the per-patch map without `layers`,
    // DINOv2's probe with them; dense_patch: always the per-patch map (also on `layers`);
    // dense_probe: always the probe. "" (auto): `file` as linear (dense for dense tasks), else
    // the expert's own head.* tensors, else none.
    std::string kind;
    std::string file;  // absolute; empty: none
    std::string pool = "cls";  // linear heads: cls | mean
    // Blocks the head reads (negative: from the end), their tokens concatenated; empty: the final
    // tokens. A dense head with layers is DINOv2's linear probe (batch norm, 1×1 map, bilinear)
    // unless its kind is dense_patch.
    std::vector<int> layers;
    // A zero-shot head from class names (`classes:`), made with the base's text tower: the names in
    // label order (from the kit, or the file `classesFile`: one per line, or a JSON list), and the
    // prompt templates — a named set (`templateSet`: openai | simple) or the kit's own list.
    std::vector<std::string> classNames;
    std::string classesFile;  // absolute; empty: listed in the kit
    std::string templateSet;  // "openai" when the kit names none and lists none
    std::vector<std::string> templates;
    bool fromClassNames() const { return !classNames.empty(); }
};

struct TaskEntry {
    std::string name;
    std::string expert;                   // absolute
    std::string images;                   // probe (and re-alignment) images
    std::string eval;                     // optional: labelled eval images
    std::string targets, evalTargets;     // dense tasks: target maps beside `images` / `eval`
    TaskType type = TaskType::Classification;
    std::optional<kit::Metric> metric;   // default by type
    int classes = 0;                      // 0: from the head, else the labels
    double targetScale = 0;               // regression, depth: value = stored value × scale (0: see docs/kits.md)
    std::optional<int> ignoreIndex;       // segmentation: the mask value of unlabelled pixels (default 255, -1 for .npy)
    std::optional<double> invalidValue;   // depth: the stored value of invalid pixels (default 0)
    HeadSpec head;
    std::string dataset;                  // share key; default: the images path
    // The expert's scores on the whole eval set, as its producer measured them (`expert_score`:
    // a number for the primary metric, or a map metric → value): used instead of re-scoring when a
    // load draws no eval subset and they cover every metric of the task's type (kit check
    // measures them again).
    std::map<kit::Metric, double> expertScores;
    kit::Metric primaryMetric() const { return metric ? *metric : defaultMetric(type); }
};

struct KitFile {
    std::string path;  // the kit file
    std::string dir;   // its folder (relative paths start here)
    std::string text;  // as read
    std::string name;
    std::string base;           // absolute
    std::string layout = "auto";  // auto | timm | hf_clip | hf_dinov2 | open_clip | torchvision
    std::map<std::string, std::string> architecture;  // given fields (image_size, width, ...), as text
    std::string preprocessPreset = "clip";            // clip | imagenet | none | custom
    std::optional<data::Preprocess> preprocessCustom;
    std::vector<TaskEntry> tasks;
    // Pickle globals (classes) read as inert placeholders in this kit's PyTorch files (`pickle_allow`:
    // names or `module.*` globs): whole pickled modules, as the task-vectors release saves them.
    std::vector<std::string> pickleAllow;
    // Zero-shot heads from class names: the checkpoint holding CLIP's text tower (default: the
    // base) and the tokenizer's vocabulary (default: found beside it).
    std::string textTower, vocabulary;  // absolute; empty: default
    // Encoder forwards: fp32 | bf16 | auto (--precision overrides); empty: fp32.
    std::string precision;

    const TaskEntry& task(const std::string& name) const;
};

// Throws IoError (unreadable) or FormatError naming the kit file and the field at fault
// ("tasks[2] (cars): unknown key 'expet' (name, expert, images, ...)").
KitFile readKitFile(const std::string& path);
// The YAML of a kit (paths written relative to `dir` where they lie below it).
std::string kitFileYaml(const KitFile& kit, const std::string& dir);
// Class names from a file: a JSON (or YAML flow) list, else one name per line (blank lines
// skipped, surrounding spaces trimmed). Throws IoError / FormatError naming the file.
std::vector<std::string> readClassNames(const std::string& path);
// Whether `path` looks like a kit file (a .yaml/.yml file whose top level has `kit:`).
bool isKitFile(const std::string& path);

// The kit file a kit path names: the path itself, or the kit.yaml in a folder. A demo kit of an
// earlier release (a folder whose kit.yaml is the demo's manifest) is refused with the command
// that writes its kit file.
std::string resolveKitFile(const std::string& path);

// A regex matching the names under `prefix` (its special characters escaped): what a kit's merge
// includes when the base keeps its encoder under a prefix.
std::string prefixPattern(const std::string& prefix);

// The architecture fields known to a kit file, and applying given ones onto a config.
const std::vector<std::string>& architectureKeys();
void applyArchitecture(kit::VitConfig& config, const std::map<std::string, std::string>& fields, const std::string& where);

// How the kit's checkpoints are opened (its pickle_allow).
io::OpenOptions kitOpenOptions(const KitFile& kit);

// The preprocessing of a kit, resolved for a model's channels.
data::Preprocess kitPreprocess(const KitFile& kit, int modelChannels, int modelImageSize);

}  // namespace ms::core::kit
