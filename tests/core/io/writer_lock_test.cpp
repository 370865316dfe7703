// One writer per file: the lock conflicts between processes and inside one, names its holder,
// survives nothing of a killed holder, and guards AtomicFile outputs and experiment savers.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "core/io/atomic_file.h"
#include "core/io/writer_lock.h"
#include "core/store/experiment_store.h"
#include "tests/test_support.h"

namespace ms::test {
namespace {

using core::io::WriterLock;

// A child process that takes the lock on `target`, says so through a pipe, then waits to be
// told to let go (or to be killed).
struct Holder {
    pid_t pid = -1;
    int release = -1;
    Holder(const std::string& target, bool& ok) {
        int ready[2], go[2];
        ok = ::pipe(ready) == 0 && ::pipe(go) == 0;
        if (!ok) return;
        pid = ::fork();
        if (pid == 0) {
            ::close(ready[0]);
            ::close(go[1]);
            try {
                const WriterLock lock(target, "test holder");
                char c = 'y';
                if (::write(ready[1], &c, 1) != 1) ::_exit(3);
                (void)::read(go[0], &c, 1);
            } catch (...) {
                ::_exit(2);
            }
            ::_exit(0);
        }
        ::close(ready[1]);
        ::close(go[0]);
        release = go[1];
        char c = 0;
        ok = ::read(ready[0], &c, 1) == 1;
        ::close(ready[0]);
    }
    int letGo() {
        ::close(release);
        int status = 0;
        ::waitpid(pid, &status, 0);
        return status;
    }
    void kill9() {
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        ::close(release);
    }
};

TEST(WriterLock, ASecondWriterInTheSameProcessIsRefusedNamingTheHolder) {
    TempDir tmp;
    const std::string target = tmp.path("exp.h5");
    {
        const WriterLock first(target, "first writer");
        EXPECT_TRUE(std::filesystem::exists(target + ".lock"));
        try {
            WriterLock second(target);
            FAIL() << "a second lock was granted";
        } catch (const core::io::LockedError& e) {
            const std::string m = e.what();
            EXPECT_NE(m.find(target), std::string::npos) << m;
            EXPECT_NE(m.find("pid " + std::to_string(::getpid())), std::string::npos) << m;
            EXPECT_NE(m.find("first writer"), std::string::npos) << m;
        }
        EXPECT_FALSE(WriterLock::unlessHeldHere(target).has_value());  // the run's own writes go ahead
        const auto h = WriterLock::holder(target);
        ASSERT_TRUE(h.has_value());
        EXPECT_EQ(h->pid, ::getpid());
    }
    EXPECT_FALSE(std::filesystem::exists(target + ".lock"));  // removed as it let go
    EXPECT_FALSE(WriterLock::holder(target).has_value());
    EXPECT_NO_THROW(WriterLock again(target));
}

TEST(WriterLock, AnotherProcessHoldingItRefusesThenReleasesOnExitAndOnKill) {
    TempDir tmp;
    const std::string target = tmp.path("exp.h5");
    bool ok = false;
    Holder child(target, ok);
    ASSERT_TRUE(ok);
    try {
        WriterLock mine(target);
        FAIL() << "the lock held by pid " << child.pid << " was granted";
    } catch (const core::io::LockedError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("pid " + std::to_string(child.pid) + " on host "), std::string::npos) << m;
        EXPECT_NE(m.find("test holder"), std::string::npos) << m;
        EXPECT_EQ(m.find("this process"), std::string::npos) << m;
    }
    // An output replaced through AtomicFile is refused too, and nothing is written.
    EXPECT_THROW(core::io::AtomicFile out(target), core::io::LockedError);
    EXPECT_FALSE(std::filesystem::exists(target));
    EXPECT_THROW(core::store::ExperimentSaver saver(target), core::io::LockedError);
    EXPECT_EQ(child.letGo(), 0);
    EXPECT_NO_THROW(WriterLock mine(target));

    // Killed while holding it: the kernel lets go, the stale lock file stands in no one's way.
    Holder killed(target, ok);
    ASSERT_TRUE(ok);
    killed.kill9();
    EXPECT_TRUE(std::filesystem::exists(target + ".lock"));
    EXPECT_FALSE(WriterLock::holder(target).has_value());
    EXPECT_NO_THROW(WriterLock mine(target));
    EXPECT_FALSE(std::filesystem::exists(target + ".lock"));
}

TEST(WriterLock, AWaitingWriterGetsTheLockWhenTheHolderFinishes) {
    TempDir tmp;
    const std::string target = tmp.path("out.safetensors");
    bool ok = false;
    Holder child(target, ok);
    ASSERT_TRUE(ok);
    pid_t releaser = ::fork();
    if (releaser == 0) {  // lets the holder go after 300 ms
        ::usleep(300000);
        ::close(child.release);
        ::_exit(0);
    }
    ::close(child.release);  // only the releaser's copy keeps the holder waiting now
    child.release = -1;
    EXPECT_NO_THROW(WriterLock mine(target, "", 20.0));
    int status = 0;
    ::waitpid(releaser, &status, 0);
    ::waitpid(child.pid, &status, 0);
}

TEST(WriterLock, ALockFileThatCannotBeMadeIsAnOutputError) {
    EXPECT_THROW(WriterLock("/nonexistent-dir/exp.h5"), core::OutputError);
}

}  // namespace
}  // namespace ms::test
