#include "core/store/experiment_store.h"

#include <hdf5.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/errors.h"
#include "core/io/atomic_file.h"
#include "core/io/hdf5_lock.h"
#include "core/io/hdf5_util.h"
#include "core/merge/recipe.h"

namespace ms::core::store {

namespace {
using io::Hdf5Handle;

constexpr hsize_t kChunkRows = 1024;   // rows per chunk of the per-point datasets
constexpr std::size_t kTimeBytes = 32;  // completed_at: fixed-length ASCII ("2026-11-23T10:00:00Z")

// Files are written in HDF5's newest format (1.10): SWMR appending needs it; h5py reads it.
hid_t newestFormatAccess() {
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    return fapl;
}

hid_t timeType() {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, kTimeBytes);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    return t;
}

// ---- writing ---------------------------------------------------------------------------

class Writer {
public:
    explicit Writer(std::string path) : m_path(std::move(path)) {}

    hid_t group(hid_t parent, const std::string& name) {
        const hid_t g = H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) fail("cannot create group '" + name + "'");
        return g;
    }
    void string(hid_t obj, const std::string& name, const std::string& value) {
        if (!io::writeStringAttribute(obj, name, value)) fail("cannot write attribute '" + name + "'");
    }
    void integer(hid_t obj, const std::string& name, long long value) {
        Hdf5Handle space(H5Screate(H5S_SCALAR));
        Hdf5Handle attr(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space.id, H5P_DEFAULT, H5P_DEFAULT));
        if (!attr.ok() || H5Awrite(attr.id, H5T_NATIVE_LLONG, &value) < 0) fail("cannot write attribute '" + name + "'");
    }
    void number(hid_t obj, const std::string& name, double value) {
        Hdf5Handle space(H5Screate(H5S_SCALAR));
        Hdf5Handle attr(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT));
        if (!attr.ok() || H5Awrite(attr.id, H5T_NATIVE_DOUBLE, &value) < 0) fail("cannot write attribute '" + name + "'");
    }
    // A 1-D array of strings (h5py: numpy object array of str).
    void strings(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
        Hdf5Handle type(H5Tcopy(H5T_C_S1));
        H5Tset_size(type.id, H5T_VARIABLE);
        H5Tset_cset(type.id, H5T_CSET_UTF8);
        const hsize_t n = values.size();
        Hdf5Handle space(H5Screate_simple(1, &n, nullptr));
        Hdf5Handle attr(H5Acreate2(obj, name.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT));
        std::vector<const char*> p;
        for (const auto& v : values) p.push_back(v.c_str());
        if (!attr.ok() || (n > 0 && H5Awrite(attr.id, type.id, p.data()) < 0)) fail("cannot write attribute '" + name + "'");
    }
    // A rows × cols float64 dataset, chunked and extendible along its rows (NaN: missing, and the
    // fill value of rows an appender added but did not commit).
    void matrix(hid_t parent, const std::string& name, const std::vector<double>& values, hsize_t rows, hsize_t cols) {
        const hsize_t dims[2] = {rows, cols};
        const hsize_t maxDims[2] = {H5S_UNLIMITED, cols > 0 ? cols : H5S_UNLIMITED};
        const hsize_t chunk[2] = {kChunkRows, cols > 0 ? cols : 1};
        Hdf5Handle space(H5Screate_simple(2, dims, maxDims));
        Hdf5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
        const double fill = kMissing;
        H5Pset_chunk(dcpl.id, 2, chunk);
        H5Pset_fill_value(dcpl.id, H5T_NATIVE_DOUBLE, &fill);
        Hdf5Handle ds(H5Dcreate2(parent, name.c_str(), H5T_IEEE_F64LE, space.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT));
        if (!ds.ok()) fail("cannot create dataset '" + name + "'");
        if (rows * cols > 0 && H5Dwrite(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
            fail("cannot write dataset '" + name + "'");
    }
    // completed_at: one fixed-length time string per point, extendible; its length is the number
    // of committed points.
    void times(hid_t parent, const std::string& name, const std::vector<std::string>& values) {
        const hsize_t n = values.size(), maxDims = H5S_UNLIMITED, chunk = kChunkRows;
        Hdf5Handle type(timeType());
        Hdf5Handle space(H5Screate_simple(1, &n, &maxDims));
        Hdf5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
        H5Pset_chunk(dcpl.id, 1, &chunk);
        Hdf5Handle ds(H5Dcreate2(parent, name.c_str(), type.id, space.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT));
        if (!ds.ok()) fail("cannot create dataset '" + name + "'");
        std::vector<char> buf(values.size() * kTimeBytes, '\0');
        for (std::size_t i = 0; i < values.size(); ++i)
            std::memcpy(buf.data() + i * kTimeBytes, values[i].data(), std::min(values[i].size(), kTimeBytes));
        if (n > 0 && H5Dwrite(ds.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
            fail("cannot write dataset '" + name + "'");
    }
    // An N-d float64 dataset.
    void array(hid_t parent, const std::string& name, const std::vector<double>& values, const std::vector<hsize_t>& dims) {
        Hdf5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
        Hdf5Handle ds(H5Dcreate2(parent, name.c_str(), H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        if (!ds.ok()) fail("cannot create dataset '" + name + "'");
        if (!values.empty() && H5Dwrite(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
            fail("cannot write dataset '" + name + "'");
    }
    [[noreturn]] void fail(const std::string& what) { throw OutputError(m_path, what + ": " + io::hdf5LastError()); }

private:
    std::string m_path;
};

// The recipe of a sweep's fixed settings ("" where a spec from an old file cannot make one).
std::string recipeOf(const merge::MergeSpec& spec) {
    try {
        return merge::saveRecipe(spec);
    } catch (const Error&) {
        return {};
    }
}

void writeSweep(Writer& w, hid_t sweeps, const SweepRecord& s) {
    Hdf5Handle g(w.group(sweeps, s.id));
    w.string(g.id, "id", s.id);
    // The typed record at the HDF5 boundary: spec and scoring options as JSON; method, kind,
    // downstream mode, proxies and the recipe written beside them for readers without our parser
    // (h5py), derived here, never kept twice in memory.
    w.string(g.id, "kind", sweepKindName(s.kind()));
    w.string(g.id, "method", s.method());
    w.string(g.id, "spec", s.spec.toJson());
    w.string(g.id, "recipe", recipeOf(s.spec.merge));
    w.string(g.id, "options", s.scoring.toJson());
    w.string(g.id, "downstream_mode", s.downstream());
    w.string(g.id, "status", sweepStatusName(s.status));
    w.string(g.id, "created", s.created);
    w.string(g.id, "updated", s.updated);
    w.integer(g.id, "planned_points", s.plannedPoints);
    w.string(g.id, "shard", s.shard);
    w.strings(g.id, "tasks", s.tasks);
    w.strings(g.id, "param_names", s.paramNames);
    w.strings(g.id, "proxies", s.proxies());
    if (!s.metricNames.empty()) w.strings(g.id, "metric_names", s.metricNames);

    const hsize_t P = s.points.size(), K = s.paramNames.size(), T = s.tasks.size();
    std::vector<double> params, seconds, metric, normalized;
    std::vector<std::string> completed;
    for (const auto& p : s.points) {
        for (hsize_t k = 0; k < K; ++k) params.push_back(k < p.params.size() ? p.params[k] : kMissing);
        seconds.insert(seconds.end(), {p.mergeSeconds, p.proxySeconds, p.downstreamSeconds});
        for (hsize_t t = 0; t < T; ++t) {
            metric.push_back(t < p.metric.size() ? p.metric[t] : kMissing);
            normalized.push_back(t < p.normalized.size() ? p.normalized[t] : kMissing);
        }
        completed.push_back(p.completedAt);
    }
    w.matrix(g.id, "params", params, P, K);
    {
        Hdf5Handle secs(H5Dopen2(g.id, "params", H5P_DEFAULT));
        w.strings(secs.id, "columns", s.paramNames);
    }
    w.matrix(g.id, "seconds", seconds, P, 3);
    {
        Hdf5Handle secs(H5Dopen2(g.id, "seconds", H5P_DEFAULT));
        w.strings(secs.id, "columns", {"merge", "proxy", "downstream"});
    }
    w.times(g.id, "completed_at", completed);
    Hdf5Handle proxy(w.group(g.id, "proxy"));
    for (const auto& variant : s.proxies()) {
        std::vector<double> v;
        for (const auto& p : s.points) {
            const auto it = p.proxy.find(variant);
            for (hsize_t t = 0; t < T; ++t)
                v.push_back(it != p.proxy.end() && t < it->second.size() ? it->second[t] : kMissing);
        }
        w.matrix(proxy.id, variant, v, P, T);
    }
    Hdf5Handle down(w.group(g.id, "downstream"));
    w.matrix(down.id, "metric", metric, P, T);
    w.matrix(down.id, "normalized", normalized, P, T);
    if (!s.metricNames.empty()) {
        std::vector<double> delta;
        for (const auto& p : s.points)
            for (hsize_t t = 0; t < T; ++t) delta.push_back(t < p.delta.size() ? p.delta[t] : kMissing);
        w.matrix(down.id, "delta", delta, P, T);
        Hdf5Handle metrics(w.group(down.id, "metrics"));
        for (const auto& name : s.metricNames) {
            std::vector<double> v;
            for (const auto& p : s.points) {
                const auto it = p.metrics.find(name);
                for (hsize_t t = 0; t < T; ++t) v.push_back(it != p.metrics.end() && t < it->second.size() ? it->second[t] : kMissing);
            }
            w.matrix(metrics.id, name, v, P, T);
        }
    }
    bool anyArtifacts = false;
    for (const auto& p : s.points) anyArtifacts = anyArtifacts || !p.artifacts.empty();
    if (anyArtifacts) {
        Hdf5Handle arts(w.group(g.id, "artifacts"));
        for (std::size_t i = 0; i < s.points.size(); ++i) {
            if (s.points[i].artifacts.empty()) continue;
            char name[32];
            std::snprintf(name, sizeof name, "%04zu", i);
            Hdf5Handle pg(w.group(arts.id, name));
            for (const auto& [key, a] : s.points[i].artifacts) {
                std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
                w.array(pg.id, key, a.values, dims);
                Hdf5Handle ds(H5Dopen2(pg.id, key.c_str(), H5P_DEFAULT));
                if (!a.rows.empty()) w.strings(ds.id, "rows", a.rows);
                if (!a.columns.empty()) w.strings(ds.id, "columns", a.columns);
            }
        }
    }
    Hdf5Handle summary(w.group(g.id, "summary"));
    for (const auto& q : s.summaries()) {
        Hdf5Handle v(w.group(summary.id, q.proxy));
        w.integer(v.id, "points", q.points);
        w.string(v.id, "downstream", downstreamAggregateName(q.downstream));
        w.number(v.id, "spearman", q.spearman);
        w.number(v.id, "kendall", q.kendall);
        w.number(v.id, "regret", q.regret);
        w.number(v.id, "cost_ratio", q.costRatio);
        w.integer(v.id, "proxy_best", q.proxyBest);
        w.integer(v.id, "downstream_best", q.downstreamBest);
    }
}

// ---- reading ---------------------------------------------------------------------------

class Reader {
public:
    explicit Reader(std::string path) : m_path(std::move(path)) {}
    const std::string& path() const { return m_path; }

    std::string string(hid_t obj, const char* name) { return io::readStringAttribute(obj, name); }
    long long integer(hid_t obj, const char* name) {
        if (H5Aexists(obj, name) <= 0) fail(std::string("attribute '") + name + "' is missing");
        Hdf5Handle attr(H5Aopen(obj, name, H5P_DEFAULT));
        long long v = 0;
        if (!attr.ok() || H5Aread(attr.id, H5T_NATIVE_LLONG, &v) < 0) fail(std::string("cannot read attribute '") + name + "'");
        return v;
    }
    std::vector<std::string> strings(hid_t obj, const char* name) {
        std::vector<std::string> out;
        if (H5Aexists(obj, name) <= 0) return out;
        Hdf5Handle attr(H5Aopen(obj, name, H5P_DEFAULT));
        Hdf5Handle space(H5Aget_space(attr.id));
        const hssize_t n = H5Sget_simple_extent_npoints(space.id);
        if (n <= 0) return out;
        Hdf5Handle mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem.id, H5T_VARIABLE);
        H5Tset_cset(mem.id, H5T_CSET_UTF8);
        std::vector<char*> p(static_cast<std::size_t>(n), nullptr);
        if (H5Aread(attr.id, mem.id, p.data()) < 0) fail(std::string("cannot read attribute '") + name + "'");
        for (char* c : p) {
            out.emplace_back(c ? c : "");
            if (c) H5free_memory(c);
        }
        return out;
    }
    // The first `rows` rows of a 2-D float64 dataset of `cols` columns. Schema 2 datasets may hold
    // more rows (an appender stopped between a point's rows and its commit); schema 1 ones exactly.
    std::vector<double> matrix(hid_t parent, const std::string& name, hsize_t rows, hsize_t cols, bool exact) {
        Hdf5Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT));
        if (!ds.ok()) fail("dataset '" + name + "' is missing");
        Hdf5Handle space(H5Dget_space(ds.id));
        hsize_t dims[2] = {0, 0};
        if (H5Sget_simple_extent_ndims(space.id) != 2 || H5Sget_simple_extent_dims(space.id, dims, nullptr) != 2 ||
            dims[1] != cols || dims[0] < rows || (exact && dims[0] != rows))
            fail("dataset '" + name + "' should be " + std::to_string(rows) + " x " + std::to_string(cols) + ", not " +
                 std::to_string(dims[0]) + " x " + std::to_string(dims[1]));
        std::vector<double> v(rows * cols);
        if (v.empty()) return v;
        const hsize_t start[2] = {0, 0}, count[2] = {rows, cols};
        Hdf5Handle mem(H5Screate_simple(2, count, nullptr));
        if (H5Sselect_hyperslab(space.id, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
            H5Dread(ds.id, H5T_NATIVE_DOUBLE, mem.id, space.id, H5P_DEFAULT, v.data()) < 0)
            fail("cannot read dataset '" + name + "': " + io::hdf5LastError());
        return v;
    }
    // A 1-D dataset of fixed-length strings.
    std::vector<std::string> times(hid_t parent, const std::string& name) {
        Hdf5Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT));
        if (!ds.ok()) fail("dataset '" + name + "' is missing");
        Hdf5Handle space(H5Dget_space(ds.id));
        Hdf5Handle type(H5Dget_type(ds.id));
        hsize_t n = 0;
        if (H5Sget_simple_extent_ndims(space.id) != 1 || H5Tget_class(type.id) != H5T_STRING || H5Tis_variable_str(type.id) > 0)
            fail("dataset '" + name + "' should be a list of fixed-length strings");
        H5Sget_simple_extent_dims(space.id, &n, nullptr);
        const std::size_t size = H5Tget_size(type.id);
        std::vector<char> buf(static_cast<std::size_t>(n) * size + 1, '\0');
        if (n > 0 && H5Dread(ds.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
            fail("cannot read dataset '" + name + "'");
        std::vector<std::string> out;
        for (hsize_t i = 0; i < n; ++i) {
            const char* c = buf.data() + i * size;
            out.emplace_back(c, strnlen(c, size));
        }
        return out;
    }
    hid_t group(hid_t parent, const std::string& name) {
        const hid_t g = H5Gopen2(parent, name.c_str(), H5P_DEFAULT);
        if (g < 0) fail("group '" + name + "' is missing");
        return g;
    }
    std::vector<std::string> children(hid_t g) {
        std::vector<std::string> names;
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, nullptr,
                   [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
                       static_cast<std::vector<std::string>*>(data)->emplace_back(name);
                       return 0;
                   },
                   &names);
        return names;
    }
    // An N-d float64 dataset, with its shape.
    Artifact array(hid_t parent, const std::string& name) {
        Hdf5Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT));
        if (!ds.ok()) fail("dataset '" + name + "' is missing");
        Hdf5Handle space(H5Dget_space(ds.id));
        const int rank = H5Sget_simple_extent_ndims(space.id);
        if (rank < 0 || rank > 8) fail("dataset '" + name + "' has an unsupported rank");
        std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
        H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
        Artifact a;
        std::size_t n = 1;
        for (hsize_t d : dims) a.shape.push_back(static_cast<std::size_t>(d)), n *= static_cast<std::size_t>(d);
        a.values.resize(n);
        if (n > 0 && H5Dread(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data()) < 0)
            fail("cannot read dataset '" + name + "'");
        a.rows = strings(ds.id, "rows");
        a.columns = strings(ds.id, "columns");
        return a;
    }
    [[noreturn]] void fail(const std::string& what) { throw FormatError(m_path, what); }

private:
    std::string m_path;
};

SweepRecord readSweep(Reader& r, hid_t sweeps, const std::string& name, int schema) {
    Hdf5Handle g(r.group(sweeps, name));
    SweepRecord s;
    s.id = r.string(g.id, "id");
    if (s.id.empty()) s.id = name;
    const std::string where = r.path() + ": sweep " + s.id;
    try {
        s.spec = sweep::SweepSpec::fromJson(r.string(g.id, "spec"));
    } catch (const InvalidArgument&) {
        // A spec this version cannot read (hand-made files): its points still read; what needs
        // the plan (point numbers, resume, re-making a point) says so when asked.
        s.spec = {};
    }
    // The attributes every schema wrote are authoritative where an older spec JSON is thinner.
    s.spec.kind = parseSweepKind(r.string(g.id, "kind"), where);
    if (s.spec.merge.method.empty()) s.spec.merge.method = r.string(g.id, "method");
    s.scoring = sweep::ScoringOptions::fromJson(r.string(g.id, "options"), where);
    try {
        s.scoring.downstream.mode = sweep::parseDownstreamMode(r.string(g.id, "downstream_mode"));
    } catch (const InvalidArgument& e) {
        throw FormatError(where, e.what());
    }
    s.status = parseSweepStatus(r.string(g.id, "status"), r.path() + ": sweep " + s.id);
    s.created = r.string(g.id, "created");
    s.updated = r.string(g.id, "updated");
    s.plannedPoints = static_cast<int>(r.integer(g.id, "planned_points"));
    s.tasks = r.strings(g.id, "tasks");
    s.paramNames = r.strings(g.id, "param_names");
    s.scoring.proxies = r.strings(g.id, "proxies");  // the variants whose datasets the file holds
    s.metricNames = r.strings(g.id, "metric_names");
    s.shard = r.string(g.id, "shard");
    // Schema 1: completed_at is an attribute and every dataset has exactly one row per point.
    // Schema 2: completed_at is a dataset; its length is the number of committed points.
    const bool exact = schema < 2;
    const std::vector<std::string> completed = exact ? r.strings(g.id, "completed_at") : r.times(g.id, "completed_at");
    const hsize_t P = completed.size(), K = s.paramNames.size(), T = s.tasks.size();
    const auto params = r.matrix(g.id, "params", P, K, exact);
    const auto seconds = r.matrix(g.id, "seconds", P, 3, exact);
    Hdf5Handle down(r.group(g.id, "downstream"));
    const auto metric = r.matrix(down.id, "metric", P, T, exact);
    const auto normalized = r.matrix(down.id, "normalized", P, T, exact);
    std::vector<double> delta;
    std::map<std::string, std::vector<double>> metricValues;
    if (!s.metricNames.empty()) {
        delta = r.matrix(down.id, "delta", P, T, exact);
        Hdf5Handle metrics(r.group(down.id, "metrics"));
        for (const auto& name : s.metricNames) metricValues[name] = r.matrix(metrics.id, name, P, T, exact);
    }
    Hdf5Handle proxy(r.group(g.id, "proxy"));
    std::map<std::string, std::vector<double>> proxies;
    for (const auto& v : s.proxies()) proxies[v] = r.matrix(proxy.id, v, P, T, exact);
    for (hsize_t i = 0; i < P; ++i) {
        PointRecord p;
        p.params.assign(params.begin() + static_cast<long>(i * K), params.begin() + static_cast<long>((i + 1) * K));
        p.mergeSeconds = seconds[i * 3];
        p.proxySeconds = seconds[i * 3 + 1];
        p.downstreamSeconds = seconds[i * 3 + 2];
        p.completedAt = completed[i];
        const auto row = [&](const std::vector<double>& m) {
            return std::vector<double>(m.begin() + static_cast<long>(i * T), m.begin() + static_cast<long>((i + 1) * T));
        };
        std::vector<double> n = row(normalized);
        bool any = false;
        for (double x : n) any = any || !std::isnan(x);
        if (any) {
            p.normalized = n;
            p.metric = row(metric);
            if (!delta.empty()) p.delta = row(delta);
            for (const auto& [name, m] : metricValues) p.metrics[name] = row(m);
        }
        for (const auto& [v, m] : proxies) {
            std::vector<double> pr = row(m);
            bool has = false;
            for (double x : pr) has = has || !std::isnan(x);
            if (has) p.proxy[v] = pr;
        }
        s.points.push_back(std::move(p));
    }
    if (H5Lexists(g.id, "artifacts", H5P_DEFAULT) > 0) {
        Hdf5Handle arts(r.group(g.id, "artifacts"));
        for (const auto& name : r.children(arts.id)) {
            const std::size_t i = static_cast<std::size_t>(std::strtoul(name.c_str(), nullptr, 10));
            if (i >= s.points.size()) r.fail("artifacts of point " + name + ": no such point");
            Hdf5Handle pg(r.group(arts.id, name));
            for (const auto& key : r.children(pg.id)) s.points[i].artifacts[key] = r.array(pg.id, key);
        }
    }
    return s;
}

}  // namespace

Experiment readExperiment(const std::string& path) {
    auto lock = io::lockHdf5();
    if (H5Fis_hdf5(path.c_str()) <= 0) {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) throw IoError(path, "cannot open the experiment file");
        std::fclose(f);
        throw FormatError(path, "not an HDF5 file (a MergeScope experiment file is HDF5)");
    }
    Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!file.ok()) {
        // A sweep appending to it now, or killed while it did: HDF5 marks such a file open for
        // writing, and only a SWMR reader may open it (its content is consistent either way).
        const std::string plain = io::hdf5LastError();
        file.id = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
        if (!file.ok()) throw IoError(path, "cannot open the experiment file: " + plain);
    }
    Reader r(path);
    if (io::readStringAttribute(file.id, "format") != kFormatName)
        r.fail("not a MergeScope experiment file (no format = \"" + std::string(kFormatName) + "\" attribute)");
    Experiment e;
    e.schemaVersion = static_cast<int>(r.integer(file.id, "schema_version"));
    if (e.schemaVersion > kSchemaVersion)
        r.fail("written with experiment schema " + std::to_string(e.schemaVersion) + " by a newer MergeScope (" +
               io::readStringAttribute(file.id, "tool_version") + "); this version reads schemas up to " +
               std::to_string(kSchemaVersion) + ": please update MergeScope");
    if (e.schemaVersion < 1) r.fail("invalid schema_version " + std::to_string(e.schemaVersion));
    e.toolVersion = r.string(file.id, "tool_version");
    e.created = r.string(file.id, "created");
    e.modified = r.string(file.id, "modified");
    e.kitDir = r.string(file.id, "kit_dir");
    e.kitManifest = r.string(file.id, "kit_manifest");
    Hdf5Handle inputs(r.group(file.id, "inputs"));
    for (const auto& name : r.children(inputs.id)) {
        Hdf5Handle g(r.group(inputs.id, name));
        e.inputs.push_back({r.string(g.id, "role"), r.string(g.id, "task"), r.string(g.id, "path"), r.string(g.id, "xxh128")});
    }
    Hdf5Handle sweeps(r.group(file.id, "sweeps"));
    for (const auto& name : r.children(sweeps.id)) e.sweeps.push_back(readSweep(r, sweeps.id, name, e.schemaVersion));
    return e;
}

void writeExperiment(const std::string& path, const Experiment& e) {
    io::AtomicFile out(path);
    {
        auto lock = io::lockHdf5();
        Hdf5Handle fapl(newestFormatAccess());
        Hdf5Handle file(H5Fcreate(out.tempPath().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id));
        if (!file.ok()) throw OutputError(path, "cannot create HDF5 file: " + io::hdf5LastError());
        Writer w(path);
        w.string(file.id, "format", kFormatName);
        w.integer(file.id, "schema_version", kSchemaVersion);
        w.string(file.id, "tool_version", e.toolVersion.empty() ? MS_VERSION : e.toolVersion);
        w.string(file.id, "created", e.created);
        w.string(file.id, "modified", e.modified);
        w.string(file.id, "kit_dir", e.kitDir);
        w.string(file.id, "kit_manifest", e.kitManifest);
        Hdf5Handle inputs(w.group(file.id, "inputs"));
        for (std::size_t i = 0; i < e.inputs.size(); ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "%03zu", i);
            Hdf5Handle g(w.group(inputs.id, name));
            w.string(g.id, "role", e.inputs[i].role);
            w.string(g.id, "task", e.inputs[i].task);
            w.string(g.id, "path", e.inputs[i].path);
            w.string(g.id, "xxh128", e.inputs[i].hash);
        }
        Hdf5Handle sweeps(w.group(file.id, "sweeps"));
        for (const auto& s : e.sweeps) writeSweep(w, sweeps.id, s);
        if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0) w.fail("cannot flush");
    }
    out.commit();
}

// ---- appending -------------------------------------------------------------------------

struct ExperimentAppender::Handles {
    struct Rows {
        hid_t ds;
        hsize_t cols;
    };
    hid_t file = -1;
    std::vector<Rows> rows;  // params, seconds, proxy/<variant>..., downstream/{metric, normalized, delta, metrics/<name>...}
    hid_t completed = -1;
    std::vector<std::string> proxies, metricNames;
    hsize_t params = 0, tasks = 0;
    ~Handles() {
        auto lock = io::lockHdf5();  // also when a constructor that failed half-way unwinds
        for (const auto& r : rows) H5Dclose(r.ds);
        if (completed >= 0) H5Dclose(completed);
        if (file >= 0) H5Fclose(file);
    }
};

ExperimentAppender::ExperimentAppender(const std::string& path, const std::string& sweepId, bool durable)
    : m_path(path), m_sweepId(sweepId), m_durable(durable), m_lock(io::WriterLock::unlessHeldHere(path)),
      m_h(std::make_unique<Handles>()) {
    auto lock = io::lockHdf5();
    const auto fail = [&](const std::string& what) { throw OutputError(path, "cannot append to sweep " + sweepId + ": " + what); };
    Hdf5Handle fapl(newestFormatAccess());
    m_h->file = H5Fopen(path.c_str(), H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl.id);
    if (m_h->file < 0) fail("cannot open it for appending: " + io::hdf5LastError());
    if (io::readStringAttribute(m_h->file, "format") != kFormatName) fail("not a MergeScope experiment file");
    Reader r(path);
    if (r.integer(m_h->file, "schema_version") != kSchemaVersion)
        fail("only schema " + std::to_string(kSchemaVersion) + " files are appended to (rewrite it first)");
    Hdf5Handle g(H5Gopen2(m_h->file, ("sweeps/" + sweepId).c_str(), H5P_DEFAULT));
    if (!g.ok()) fail("the file has no such sweep");
    m_h->params = r.strings(g.id, "param_names").size();
    m_h->tasks = r.strings(g.id, "tasks").size();
    m_h->proxies = r.strings(g.id, "proxies");
    const auto open = [&](const std::string& name, hsize_t cols) {
        const hid_t ds = H5Dopen2(g.id, name.c_str(), H5P_DEFAULT);
        if (ds < 0) fail("dataset '" + name + "' is missing");
        m_h->rows.push_back({ds, cols});
    };
    open("params", m_h->params);
    open("seconds", 3);
    for (const auto& v : m_h->proxies) open("proxy/" + v, m_h->tasks);
    open("downstream/metric", m_h->tasks);
    open("downstream/normalized", m_h->tasks);
    m_h->metricNames = r.strings(g.id, "metric_names");
    if (!m_h->metricNames.empty()) {
        open("downstream/delta", m_h->tasks);
        for (const auto& name : m_h->metricNames) open("downstream/metrics/" + name, m_h->tasks);
    }
    m_h->completed = H5Dopen2(g.id, "completed_at", H5P_DEFAULT);
    if (m_h->completed < 0) fail("dataset 'completed_at' is missing");
    Hdf5Handle space(H5Dget_space(m_h->completed));
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.id, &n, nullptr);
    m_points = static_cast<std::size_t>(n);
}

ExperimentAppender::~ExperimentAppender() {
    try {
        close();
    } catch (...) {  // destructors do not throw; close() reports errors to callers that ask
    }
}

void ExperimentAppender::close() {
    if (!m_h) return;
    auto lock = io::lockHdf5();
    m_h.reset();
}

void ExperimentAppender::append(const PointRecord& p) {
    if (!m_h) throw OutputError(m_path, "sweep " + m_sweepId + ": the appender is closed");
    if (!p.artifacts.empty())
        throw OutputError(m_path, "sweep " + m_sweepId + ": a point with artifacts is saved by rewriting the file, not appended");
    auto lock = io::lockHdf5();
    const auto fail = [&](const std::string& what) {
        throw OutputError(m_path, "cannot append point " + std::to_string(m_points + 1) + " to sweep " + m_sweepId + ": " + what +
                                      ": " + io::hdf5LastError());
    };
    const hsize_t T = m_h->tasks, row = m_points;
    const auto pad = [](const std::vector<double>& v, hsize_t n) {
        std::vector<double> out(n, kMissing);
        for (hsize_t i = 0; i < n && i < v.size(); ++i) out[i] = v[i];
        return out;
    };
    std::vector<std::vector<double>> values;
    values.push_back(pad(p.params, m_h->params));
    values.push_back({p.mergeSeconds, p.proxySeconds, p.downstreamSeconds});
    for (const auto& v : m_h->proxies) {
        const auto it = p.proxy.find(v);
        values.push_back(pad(it != p.proxy.end() ? it->second : std::vector<double>{}, T));
    }
    values.push_back(pad(p.metric, T));
    values.push_back(pad(p.normalized, T));
    if (!m_h->metricNames.empty()) {
        values.push_back(pad(p.delta, T));
        for (const auto& name : m_h->metricNames) {
            const auto it = p.metrics.find(name);
            values.push_back(pad(it != p.metrics.end() ? it->second : std::vector<double>{}, T));
        }
    }
    // The point's rows first, flushed; then completed_at grows by one: the commit.
    for (std::size_t d = 0; d < m_h->rows.size(); ++d) {
        const auto& [ds, cols] = m_h->rows[d];
        const hsize_t dims[2] = {row + 1, cols};
        if (H5Dset_extent(ds, dims) < 0) fail("cannot extend a dataset");
        if (cols == 0) continue;
        Hdf5Handle space(H5Dget_space(ds));
        const hsize_t start[2] = {row, 0}, count[2] = {1, cols};
        Hdf5Handle mem(H5Screate_simple(2, count, nullptr));
        if (H5Sselect_hyperslab(space.id, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
            H5Dwrite(ds, H5T_NATIVE_DOUBLE, mem.id, space.id, H5P_DEFAULT, values[d].data()) < 0)
            fail("cannot write a row");
    }
    if (H5Fflush(m_h->file, H5F_SCOPE_LOCAL) < 0) fail("cannot flush");
    {
        const hsize_t n = row + 1, start = row, count = 1;
        if (H5Dset_extent(m_h->completed, &n) < 0) fail("cannot extend completed_at");
        Hdf5Handle type(timeType());
        Hdf5Handle space(H5Dget_space(m_h->completed));
        Hdf5Handle mem(H5Screate_simple(1, &count, nullptr));
        char text[kTimeBytes] = {};
        std::memcpy(text, p.completedAt.data(), std::min(p.completedAt.size(), kTimeBytes));
        if (H5Sselect_hyperslab(space.id, H5S_SELECT_SET, &start, nullptr, &count, nullptr) < 0 ||
            H5Dwrite(m_h->completed, type.id, mem.id, space.id, H5P_DEFAULT, text) < 0)
            fail("cannot write completed_at");
    }
    if (H5Fflush(m_h->file, H5F_SCOPE_LOCAL) < 0) fail("cannot flush");
    if (m_durable) {
        void* handle = nullptr;
        if (H5Fget_vfd_handle(m_h->file, H5P_DEFAULT, &handle) < 0 || !handle || ::fsync(*static_cast<int*>(handle)) != 0)
            fail("cannot sync the file to disk");
    }
    ++m_points;
}

ExperimentSaver::ExperimentSaver(std::string path, bool durable)
    : m_path(std::move(path)), m_durable(durable), m_lock(io::WriterLock::unlessHeldHere(m_path)) {}

ExperimentSaver::~ExperimentSaver() = default;

void ExperimentSaver::close() { m_appender.reset(); }

void ExperimentSaver::save(const Experiment& e, const SweepRecord& sweep, bool pointAdded) {
    if (pointAdded && m_appender && m_appender->sweepId() == sweep.id && sweep.status == SweepStatus::Running &&
        !sweep.points.empty() && sweep.points.back().artifacts.empty() && m_appender->points() + 1 == sweep.points.size()) {
        m_appender->append(sweep.points.back());
        ++m_appends;
        return;
    }
    close();
    Experiment copy = e;
    copy.modified = isoNow();
    writeExperiment(m_path, copy);
    ++m_rewrites;
    if (sweep.status == SweepStatus::Running) m_appender = std::make_unique<ExperimentAppender>(m_path, sweep.id, m_durable);
}

}  // namespace ms::core::store
