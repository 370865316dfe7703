#include "tests/core/eval/reduced_kit.h"
#include "tests/core/eval/reduced_kit_path.h"

#include <memory>

#include "tests/test_support.h"

namespace ms::test {

const core::demo::KitManifest& reducedKit() {
    static TempDir dir;
    static const core::demo::KitManifest kit = [] {
        core::demo::KitOptions o;
        o.dir = dir.path("kit");
        o.seed = 2;
        o.budget.pretrainSteps = 30;
        o.budget.finetuneSteps = 25;
        o.budget.batch = 32;
        o.budget.evalLimit = 200;
        o.digitsDir = MS_MNIST_DIGITS_DIR;
        return core::demo::buildDemoKit(o, core::nullProgress(), nullptr);
    }();
    return kit;
}

core::eval::SuiteOptions reducedSuiteOptions() {
    core::eval::SuiteOptions o;
    o.probeSize = 32;
    o.realignSamples = 200;
    o.evalLimit = 200;
    o.digitsDir = MS_MNIST_DIGITS_DIR;
    return o;
}

const core::eval::TaskSuite& reducedSuite() {
    static const core::eval::TaskSuite suite = core::eval::loadTaskSuite(reducedKit().dir, reducedSuiteOptions());
    return suite;
}

}  // namespace ms::test

namespace ms::test {
std::string reducedKitDir() { return reducedKit().dir; }
}  // namespace ms::test
