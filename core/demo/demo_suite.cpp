#include "core/demo/demo_suite.h"

#include <fstream>
#include <map>
#include <sstream>

#include "core/data/mnist_readers.h"
#include "core/demo/demo_kit.h"
#include "core/errors.h"
#include "core/io/cache_paths.h"
#include "core/io/content_hash.h"
#include "core/io/source_factory.h"
#include "core/model/param_io.h"

namespace ms::core::demo {

eval::TaskSuite loadDemoSuite(const std::string& kitDir, const eval::SuiteOptions& options, ProgressSink& progress,
                              const CancelToken* cancel) {
    eval::TaskSuite s;
    s.options = options;
    progress.report("loading kit", 0, 3);
    const KitManifest kit = loadKit(kitDir, true);
    s.kit.path = kit.dir;
    s.kit.dir = kit.dir;
    s.kit.name = "demo (seed " + std::to_string(kit.seed) + ")";
    {
        std::ifstream in(kit.dir + "/kit.yaml", std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        s.kit.manifestText = text.str();
    }
    s.kit.baseFile = kit.path(kit.baseFile);
    s.kit.baseHash = kit.baseHash;
    s.kit.layout = "timm";
    s.kit.config = kit.config;
    s.base = eval::encoderOnly(model::loadParams(*io::openCheckpoint(s.kit.baseFile)), nullptr);
    progress.report("loading data", 1, 3);
    const KitData data = loadKitData(options.fashionDir.empty() ? data::kFashionMnistDir : options.fashionDir,
                                     options.digitsDir.empty() ? io::digitsDir() : options.digitsDir, kit.seed);
    struct Sets {
        std::shared_ptr<const data::ImageSet> probe, realign, eval;
    };
    std::map<std::string, Sets> byDataset;
    for (const auto& entry : kit.tasks) {
        if (cancel) cancel->throwIfCancelled();
        eval::SuiteTask t;
        t.task = entry.task;
        t.headConfig = entry.head;
        t.expertFile = kit.path(entry.expertFile);
        t.expertHash = entry.hash;
        s.experts.push_back(eval::encoderOnly(model::loadParams(*io::openCheckpoint(t.expertFile)), &t.head));
        if (t.head.empty()) throw FormatError(t.expertFile, "the expert has no head.* tensors");
        auto [it, fresh] = byDataset.try_emplace(t.task.dataset);
        if (fresh) {
            const data::ImageSet& train = data.train(entry.task);
            const data::ImageSet& test = data.test(entry.task);
            const std::uint64_t seed =
                options.seed * 7 + std::stoull(io::hashBytes(t.task.dataset.data(), t.task.dataset.size()).substr(0, 6), nullptr, 16);
            const auto tc = static_cast<std::size_t>(train.count);
            const auto probe = eval::drawBalanced(train.labels, train.classes, tc, options.probeSize, seed);
            it->second.probe = std::make_shared<data::ImageSet>(train.subset(probe, train.name + "/probe"));
            it->second.realign = std::make_shared<data::ImageSet>(train.subset(
                eval::drawBalanced(train.labels, train.classes, tc, options.realignSamples, seed + 1, probe), train.name + "/realign"));
            it->second.eval = std::make_shared<data::ImageSet>(
                options.evalLimit > 0
                    ? test.subset(eval::drawBalanced(test.labels, test.classes, static_cast<std::size_t>(test.count), options.evalLimit, seed + 2),
                                  test.name + "/eval")
                    : test);
        }
        t.probe = it->second.probe;
        t.realign = it->second.realign;
        t.eval = it->second.eval;
        t.expertScore = entry.expertScore;
        t.realignTargets = allDemoTargets(t.task, *t.realign);
        t.evalTargets = allDemoTargets(t.task, *t.eval);
        s.tasks.push_back(std::move(t));
    }
    progress.report("expert scores", 2, 3);
    if (options.evalLimit > 0)
        for (std::size_t i = 0; i < s.tasks.size(); ++i) s.tasks[i].expertScore = eval::scoreOnEval(s, i, s.experts[i], cancel);
    progress.report("ready", 3, 3);
    return s;
}

}  // namespace ms::core::demo
