#include "core/session/suite_loader.h"

#include <filesystem>

#include "core/errors.h"
#include "core/eval/kit_suite.h"
#include "core/io/content_hash.h"
#include "core/io/source_factory.h"
#include "core/kit/kit_file.h"
#include "core/model/encoder_weights.h"

namespace ms::core::session {

eval::TaskSuite loadSuite(const std::string& kitPath, const eval::SuiteOptions& options, ProgressSink& progress,
                          const CancelToken* cancel) {
    std::error_code ec;
    if (!std::filesystem::exists(kitPath, ec)) throw IoError(kitPath, "no such kit file or folder");
    return eval::loadKitSuite(kit::resolveKitFile(kitPath), options, progress, cancel);
}

std::vector<std::string> kitTaskNames(const std::string& kitPath) {
    std::vector<std::string> names;
    for (const auto& t : kit::readKitFile(kit::resolveKitFile(kitPath)).tasks) names.push_back(t.name);
    return names;
}

sweep::KitBinding kitBinding(const eval::TaskSuite& suite) {
    sweep::KitBinding b;
    b.inputs.push_back({"base", "", suite.kit.baseFile, suite.kit.baseHash});
    for (const auto& t : suite.tasks) b.inputs.push_back({"expert", t.task.name, t.expertFile, t.expertHash});
    b.basePrefix = suite.kit.basePrefix;
    b.pickleAllow = suite.kit.pickleAllow;
    return b;
}

sweep::KitBinding kitBinding(const std::string& kitPath) {
    sweep::KitBinding b;
    const kit::KitFile f = kit::readKitFile(kit::resolveKitFile(kitPath));
    b.inputs.push_back({"base", "", f.base, io::hashFile(f.base)});
    for (const auto& t : f.tasks) b.inputs.push_back({"expert", t.name, t.expert, io::hashFile(t.expert)});
    std::vector<std::string> names;
    b.pickleAllow = f.pickleAllow;
    const auto source = io::openCheckpoint(f.base, kit::kitOpenOptions(f));  // alive for the loop (a temporary would not be)
    for (const auto& t : source->tensors()) names.push_back(t.name);
    b.basePrefix = model::findLayoutInNames(names, f.layout, f.base).prefix;
    return b;
}

}  // namespace ms::core::session
