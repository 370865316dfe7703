// The experiment file: one HDF5 file per experiment, schema in docs/experiment-file.md.
//
// Two ways to write it, both leaving a file that opens after a kill -9 at any moment:
//   writeExperiment   the whole experiment to a temporary file beside the target, fsync'ed and
//                     renamed over it (a new sweep, a status change, learned points' artifacts);
//   ExperimentAppender one point at a time onto a sweep already in the file: its per-point
//                     datasets are chunked and extendible, the file is open in HDF5's SWMR
//                     (single writer, multiple readers) mode, whose ordered metadata writes keep
//                     the file consistent for readers at every instant — and so for whoever opens
//                     it after the writer is killed. A point is committed when `completed_at`
//                     grows, which happens after its rows are flushed.
// ExperimentSaver picks between the two for a sweep runner's commits (appends while a sweep runs,
// a rewrite when it starts and ends): the cost of a point no longer grows with the file.
#pragma once

#include <memory>
#include <string>

#include "core/io/writer_lock.h"
#include "core/store/experiment.h"

namespace ms::core::store {

// Schema 2 (this version): per-point datasets chunked and extendible, `completed_at` a dataset
// whose length is the number of committed points, `shard`. Schema 1 files are read as well.
inline constexpr int kSchemaVersion = 2;
inline constexpr const char* kFormatName = "mergescope-experiment";

// Throws IoError (cannot open), FormatError (not an experiment file, corrupt, or written by a
// newer schema — the message says which version this build reads). Reads files a writer holds
// open for appending (or was killed while holding) through HDF5's SWMR read mode.
Experiment readExperiment(const std::string& path);

// Atomic; throws OutputError.
void writeExperiment(const std::string& path, const Experiment& experiment);

// Appends points to sweep `sweepId` of a file written by writeExperiment (schema 2). Points with
// artifacts cannot be appended (their groups are new objects, which SWMR forbids): save those with
// writeExperiment. Throws OutputError naming the file.
class ExperimentAppender {
public:
    // `durable`: fsync after every point (survives power loss, not only a killed process).
    ExperimentAppender(const std::string& path, const std::string& sweepId, bool durable = true);
    ~ExperimentAppender();
    ExperimentAppender(const ExperimentAppender&) = delete;
    ExperimentAppender& operator=(const ExperimentAppender&) = delete;

    const std::string& sweepId() const { return m_sweepId; }
    std::size_t points() const { return m_points; }  // committed points of the sweep in the file
    void append(const PointRecord& point);
    void close();

private:
    struct Handles;
    std::string m_path, m_sweepId;
    bool m_durable;
    std::size_t m_points = 0;
    std::optional<io::WriterLock> m_lock;  // unless the caller's run holds it
    std::unique_ptr<Handles> m_h;
};

// Saves a running sweep's commits (session::CommitFn) into `path`: a point added to the sweep the
// saver is appending to is appended; anything else (the sweep's first commit, a status change, a
// point with artifacts) rewrites the file and, while the sweep runs, reopens it for appending.
// It holds the file's WriterLock from construction to destruction, unless this process already
// holds it (a run that locked the file before reading it: sweep::SweepRun).
class ExperimentSaver {
public:
    explicit ExperimentSaver(std::string path, bool durable = true);
    ~ExperimentSaver();
    // `experiment.modified` is set on rewrites (an append leaves the file's attributes alone).
    void save(const Experiment& experiment, const SweepRecord& sweep, bool pointAdded);
    void close();  // before the file is read or replaced by someone else
    int rewrites() const { return m_rewrites; }
    int appends() const { return m_appends; }

private:
    std::string m_path;
    bool m_durable;
    std::optional<io::WriterLock> m_lock;
    std::unique_ptr<ExperimentAppender> m_appender;
    int m_rewrites = 0, m_appends = 0;
};

}  // namespace ms::core::store
