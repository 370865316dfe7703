#include "app/cli/report_printer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/store/sweep_points.h"
#include "core/errors.h"
#include "core/kit/metrics.h"
#include "core/sweep/sweep_point.h"

namespace ms::cli {

namespace {
using core::store::PointRecord;
using core::store::SweepRecord;

// printf of v, or "-" right-aligned to the format's width when v is missing.
std::string fmt(const char* f, double v) {
    char buf[64];
    if (std::isnan(v)) {
        const int width = std::atoi(f + 1);  // "%10.4f" → 10
        std::snprintf(buf, sizeof buf, "%*s", width, "-");
        return buf;
    }
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

// Short column names for tasks: "fashion-class" → "fashion-cl".
std::string shortName(const std::string& s, std::size_t n = 10) { return s.size() <= n ? s : s.substr(0, n); }

// The points in plotting order (by parameter values).
// Each point's number (from 1, the sweep's plan order: what `merge --experiment --point N` takes).
std::vector<int> numbersOf(const SweepRecord& s) {
    try {
        return core::store::pointNumbers(s);
    } catch (const core::Error&) {  // a spec this build cannot plan: number them as stored
        std::vector<int> n(s.points.size());
        for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<int>(i) + 1;
        return n;
    }
}

// The points in plan order.
std::vector<std::size_t> sortedPoints(const SweepRecord& s) {
    const std::vector<int> number = numbersOf(s);
    std::vector<std::size_t> idx(s.points.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return number[a] < number[b]; });
    return idx;
}

// Proxy (P) and downstream (D) against the one swept parameter, each scaled to its own range.
void textPlot(std::ostream& out, const SweepRecord& s, const std::vector<std::size_t>& order) {
    if (s.paramNames.size() != 1 || order.size() < 3) return;
    const std::string primary = s.proxies().empty() ? "" : s.proxies().front();
    std::vector<double> p, d;
    for (std::size_t i : order) {
        p.push_back(primary.empty() ? NAN : s.points[i].proxyMean(primary));
        d.push_back(s.points[i].downstreamMean());
    }
    constexpr int kRows = 10;
    auto rowsOf = [&](const std::vector<double>& v) {
        std::vector<int> r(v.size(), -1);
        double lo = INFINITY, hi = -INFINITY;
        for (double x : v)
            if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
        if (!std::isfinite(lo)) return r;
        for (std::size_t i = 0; i < v.size(); ++i)
            if (std::isfinite(v[i])) r[i] = hi > lo ? static_cast<int>(std::lround((v[i] - lo) / (hi - lo) * (kRows - 1))) : kRows / 2;
        return r;
    };
    const auto rp = rowsOf(p), rd = rowsOf(d);
    out << "\n  P = proxy (" << (primary.empty() ? "none" : primary) << "), D = downstream, X = both; each scaled to its own range\n";
    for (int row = kRows - 1; row >= 0; --row) {
        out << "  |";
        for (std::size_t i = 0; i < order.size(); ++i) {
            const bool hp = rp[i] == row, hd = rd[i] == row;
            out << ' ' << (hp && hd ? 'X' : hp ? 'P' : hd ? 'D' : ' ') << ' ';
        }
        out << "\n";
    }
    out << "  +" << std::string(order.size() * 3, '-') << "\n   ";
    const double first = s.points[order.front()].params[0], last = s.points[order.back()].params[0];
    const std::string a = fmt("%.3g", first), b = fmt("%.3g", last);
    const std::size_t width = order.size() * 3;
    out << a << std::string(width > a.size() + b.size() ? width - a.size() - b.size() : 1, ' ') << b << "   " << s.paramNames[0] << "\n";
}

void printRelations(std::ostream& out, const SweepRecord& s) {
    // For each added task vector: every task's normalized performance against λ.
    for (std::size_t added = 0; added < s.tasks.size(); ++added) {
        out << "\n  adding τ[" << s.tasks[added] << "]: normalized performance\n  " << std::string(8, ' ');
        for (const auto& t : s.tasks) out << " " << std::string(std::max<int>(0, 11 - static_cast<int>(shortName(t).size())), ' ') << shortName(t);
        out << "\n";
        for (std::size_t i : sortedPoints(s)) {
            const PointRecord& p = s.points[i];
            if (p.params[0] != static_cast<double>(added)) continue;
            out << "  λ=" << fmt("%-6.3g", p.params[1]);
            for (std::size_t t = 0; t < s.tasks.size(); ++t)
                out << " " << fmt("%11.4f", p.hasDownstream() ? p.normalized[t] : NAN);
            out << "\n";
        }
    }
}

// Whether task t's primary metric (the one its downstream value is) is better higher; true when
// the file does not say (files before 0.2).
std::string primaryMetric(const PointRecord& p, std::size_t t) {
    for (const auto& [name, values] : p.metrics)
        if (t < values.size() && values[t] == p.metric[t]) return name;
    return "";
}

bool higherIsBetter(const PointRecord& p, std::size_t t) {
    try {
        const std::string name = primaryMetric(p, t);
        return name.empty() || core::kit::higherIsBetter(core::kit::parseMetric(name));
    } catch (const core::Error&) {
        return true;
    }
}

// The CLIP benchmark tables' view of one point: per task the merged model's absolute metric, the
// expert's (absolute / normalized) and the normalized performance, and their averages.
void printBenchmarkTable(std::ostream& out, const SweepRecord& s, std::size_t i, double number, const std::string& label) {
    const PointRecord& p = s.points[i];
    if (!p.hasDownstream() || p.metric.size() != s.tasks.size()) return;
    out << "  " << label << " (#" << fmt("%.0f", number) << "):\n";
    out << "    task                  merged     expert  normalized\n";
    double sumMerged = 0, sumExpert = 0, sumNormalized = 0;
    int n = 0, nExpert = 0;
    for (std::size_t t = 0; t < s.tasks.size(); ++t) {
        const double merged = p.metric[t], normalized = p.normalized[t];
        // normalized = merged / expert (expert / merged where lower is better)
        const double expert = !std::isfinite(normalized) || normalized == 0 ? NAN
                              : higherIsBetter(p, t)                       ? merged / normalized
                                                                           : merged * normalized;
        out << "    " << shortName(s.tasks[t], 20) << std::string(std::max<int>(0, 20 - static_cast<int>(shortName(s.tasks[t], 20).size())), ' ')
            << " " << fmt("%9.4f", merged) << " " << fmt("%10.4f", expert) << " " << fmt("%10.1f", 100.0 * normalized) << " %\n";
        if (std::isfinite(merged) && std::isfinite(normalized)) {
            sumMerged += merged;
            sumNormalized += normalized;
            ++n;
        }
        if (std::isfinite(expert)) {
            sumExpert += expert;
            ++nExpert;
        }
    }
    // Absolute averages only where every task reports the same metric (the CLIP tables' accuracy).
    bool oneMetric = true;
    for (std::size_t t = 1; t < s.tasks.size(); ++t) oneMetric &= primaryMetric(p, t) == primaryMetric(p, 0);
    if (n > 0)
        out << "    average              " << fmt("%9.4f", oneMetric ? sumMerged / n : NAN) << " "
            << fmt("%10.4f", oneMetric && nExpert ? sumExpert / nExpert : NAN) << " " << fmt("%10.1f", 100.0 * sumNormalized / n) << " %\n";
}

}  // namespace

void printSweepReport(std::ostream& out, const SweepRecord& s, DownstreamAggregate against) {
    out << s.id << "  " << core::store::sweepKindName(s.kind()) << "  " << s.method() << "  " << (s.shard.empty() ? "" : "shard " + s.shard + "  ")
        << s.points.size() << "/" << s.plannedPoints << " points  "
        << core::store::sweepStatusName(s.status) << "  downstream: " << s.downstream() << "  proxy: ";
    for (std::size_t i = 0; i < s.proxies().size(); ++i) out << (i ? ", " : "") << s.proxies()[i];
    out << (s.proxies().empty() ? "none" : "") << "\n";
    if (s.kind() == core::store::SweepKind::Relations) {
        printRelations(out, s);
        return;
    }
    const std::string primary = s.proxies().empty() ? "" : s.proxies().front();
    out << "     #";
    for (const auto& n : s.paramNames) out << " " << std::string(std::max<int>(0, 10 - static_cast<int>(shortName(n, 22).size())), ' ') << shortName(n, 22);
    const auto taskHeaders = [&] {
        for (const auto& t : s.tasks) out << " " << std::string(std::max<int>(0, 10 - static_cast<int>(shortName(t).size())), ' ') << shortName(t);
    };
    if (!primary.empty()) {
        out << "      proxy";
        taskHeaders();
    }
    out << "  downstream";
    taskHeaders();
    const bool deltas = !s.metricNames.empty();
    if (deltas) out << "   ΔMTL %";
    out << "   seconds\n";
    const auto summaries = s.summaries(against);
    const auto order = sortedPoints(s);
    const auto number = numbersOf(s);
    for (std::size_t i : order) {
        const PointRecord& p = s.points[i];
        out << fmt("%6.0f", number[i]);
        for (double v : p.params) out << " " << fmt("%10.4g", v);
        if (!primary.empty()) {
            out << " " << fmt("%10.4f", p.proxyMean(primary));
            const auto it = p.proxy.find(primary);
            for (std::size_t t = 0; t < s.tasks.size(); ++t)
                out << " " << fmt("%10.4f", it != p.proxy.end() ? it->second[t] : NAN);
        }
        out << " " << fmt("%11.4f", p.downstreamMean());
        for (std::size_t t = 0; t < s.tasks.size(); ++t) out << " " << fmt("%10.4f", p.hasDownstream() ? p.normalized[t] : NAN);
        if (deltas) out << " " << fmt("%9.2f", 100.0 * p.deltaMtl());
        out << " " << fmt("%9.2f", p.mergeSeconds + p.proxySeconds + p.downstreamSeconds);
        std::string marks;
        for (const auto& q : summaries) {
            if (q.proxy != primary) continue;
            if (static_cast<int>(i) == q.proxyBest) marks += " <- best by proxy";
            if (static_cast<int>(i) == q.downstreamBest) marks += " <- best downstream";
        }
        out << marks << "\n";
    }
    textPlot(out, s, order);
    if (!summaries.empty()) {
        const auto& q = summaries.front();
        if (q.proxyBest >= 0)
            printBenchmarkTable(out, s, static_cast<std::size_t>(q.proxyBest), number[static_cast<std::size_t>(q.proxyBest)], "the proxy's pick");
        if (q.downstreamBest >= 0 && q.downstreamBest != q.proxyBest)
            printBenchmarkTable(out, s, static_cast<std::size_t>(q.downstreamBest), number[static_cast<std::size_t>(q.downstreamBest)],
                                "the best downstream point");
    }
    for (const auto& q : summaries)
        out << "  " << q.proxy << " against " << (q.downstream == DownstreamAggregate::DeltaMtl ? "ΔMTL" : "mean normalized performance")
            << ": Spearman " << fmt("%.3f", q.spearman) << ", Kendall " << fmt("%.3f", q.kendall)
            << ", regret " << fmt("%.4f", q.regret) << ", cost ratio " << fmt("%.1f", q.costRatio) << "x over " << q.points
            << " points\n";
}

void printJsonReport(std::ostream& out, const core::store::Experiment& e, DownstreamAggregate against) {
    nlohmann::ordered_json j;
    j["schema_version"] = e.schemaVersion;
    j["tool_version"] = e.toolVersion;
    j["kit"] = e.kitDir;
    j["sweeps"] = nlohmann::ordered_json::array();
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); };
    for (const auto& s : e.sweeps) {
        nlohmann::ordered_json js;
        js["id"] = s.id;
        js["kind"] = core::store::sweepKindName(s.kind());
        js["method"] = s.method();
        js["status"] = core::store::sweepStatusName(s.status);
        js["tasks"] = s.tasks;
        js["proxies"] = s.proxies();
        js["downstream_mode"] = s.downstream();
        js["planned_points"] = s.plannedPoints;
        js["shard"] = s.shard;  // "I/N" for a shard of a sweep (sweep --shard), "" for a whole sweep
        js["points"] = nlohmann::ordered_json::array();
        const auto number = numbersOf(s);
        for (std::size_t i : sortedPoints(s)) {
            const PointRecord& p = s.points[i];
            nlohmann::ordered_json jp;
            jp["point"] = number[i];
            jp["params"] = nlohmann::ordered_json::object();
            for (std::size_t c = 0; c < s.paramNames.size(); ++c) {
                if (s.kind() == core::store::SweepKind::Relations && s.paramNames[c] == "task") jp["params"]["task"] = s.tasks[static_cast<std::size_t>(p.params[c])];
                else jp["params"][s.paramNames[c]] = p.params[c];
            }
            if (!s.proxies().empty() && p.proxy.count(s.proxies().front())) {
                auto proxyJson = [&](const std::string& v) {
                    nlohmann::ordered_json o;
                    o["mean"] = num(p.proxyMean(v));
                    o["min"] = num(p.proxyMin(v));
                    o["per_task"] = nlohmann::ordered_json::object();
                    for (std::size_t t = 0; t < s.tasks.size(); ++t) o["per_task"][s.tasks[t]] = num(p.proxy.at(v)[t]);
                    return o;
                };
                jp["proxy"] = proxyJson(s.proxies().front());
                if (s.proxies().size() > 1) {
                    jp["proxies"] = nlohmann::ordered_json::object();
                    for (const auto& v : s.proxies())
                        if (p.proxy.count(v)) jp["proxies"][v] = proxyJson(v);
                }
            }
            if (p.hasDownstream()) {
                nlohmann::ordered_json d;
                d["mean"] = num(p.downstreamMean());  // normalized: merged / expert, the CLIP benchmark tables' convention
                double absolute = 0;
                int scored = 0;
                bool oneMetric = true;
                for (std::size_t t = 0; t < p.metric.size(); ++t) {
                    oneMetric &= primaryMetric(p, t) == primaryMetric(p, 0);
                    if (std::isfinite(p.metric[t])) absolute += p.metric[t], ++scored;
                }
                d["absolute_mean"] = num(scored && oneMetric ? absolute / scored : NAN);  // null when the tasks' metrics differ
                d["delta_mtl"] = num(p.deltaMtl());  // LibMTL's, a fraction; null in files before 0.2
                d["per_task"] = nlohmann::ordered_json::object();
                d["metric"] = nlohmann::ordered_json::object();
                for (std::size_t t = 0; t < s.tasks.size(); ++t) {
                    d["per_task"][s.tasks[t]] = num(p.normalized[t]);
                    d["metric"][s.tasks[t]] = num(p.metric[t]);
                }
                if (!p.delta.empty()) {
                    d["delta"] = nlohmann::ordered_json::object();
                    d["metrics"] = nlohmann::ordered_json::object();
                    for (std::size_t t = 0; t < s.tasks.size(); ++t) {
                        d["delta"][s.tasks[t]] = num(p.delta[t]);
                        nlohmann::ordered_json m = nlohmann::ordered_json::object();
                        for (const auto& name : s.metricNames)
                            if (auto it = p.metrics.find(name); it != p.metrics.end() && t < it->second.size() && std::isfinite(it->second[t]))
                                m[name] = it->second[t];
                        d["metrics"][s.tasks[t]] = m;
                    }
                }
                jp["downstream"] = d;
            }
            jp["seconds"] = {{"merge", p.mergeSeconds}};
            if (!p.proxy.empty()) jp["seconds"]["proxy"] = p.proxySeconds;
            if (p.hasDownstream()) jp["seconds"]["downstream"] = p.downstreamSeconds;
            js["points"].push_back(jp);
        }
        const auto summaries = s.summaries(against);
        // Best points by their numbers (what `merge --experiment --point` takes), as the points above.
        const auto numberAt = [&](int i) {
            return i >= 0 && static_cast<std::size_t>(i) < number.size() ? nlohmann::ordered_json(number[static_cast<std::size_t>(i)])
                                                                         : nlohmann::ordered_json(nullptr);
        };
        if (!summaries.empty()) {
            auto sj = [&](const core::store::SweepSummary& q) {
                return nlohmann::ordered_json{{"proxy", q.proxy}, {"downstream", core::store::downstreamAggregateName(q.downstream)},
                                              {"points", q.points}, {"spearman", num(q.spearman)},
                                              {"kendall", num(q.kendall)}, {"regret", num(q.regret)},
                                              {"cost_ratio", num(q.costRatio)}, {"proxy_best", numberAt(q.proxyBest)},
                                              {"downstream_best", numberAt(q.downstreamBest)}};
            };
            js["summary"] = sj(summaries.front());
            if (summaries.size() > 1) {
                js["summaries"] = nlohmann::ordered_json::array();
                for (const auto& q : summaries) js["summaries"].push_back(sj(q));
            }
        }
        j["sweeps"].push_back(js);
    }
    out << j.dump(2) << "\n";
}

void printCsvReport(std::ostream& out, const core::store::Experiment& e) {
    std::vector<std::string> params, tasks, proxies, metrics;
    auto addUnique = [](std::vector<std::string>& v, const std::string& s) {
        if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
    };
    for (const auto& s : e.sweeps) {
        for (const auto& n : s.paramNames) addUnique(params, n);
        for (const auto& t : s.tasks) addUnique(tasks, t);
        for (const auto& p : s.proxies()) addUnique(proxies, p);
        for (const auto& m : s.metricNames) addUnique(metrics, m);
    }
    out << "sweep,kind,method,point";
    for (const auto& p : params) out << "," << p;
    for (const auto& v : proxies) {
        out << ",proxy:" << v << ":mean";
        for (const auto& t : tasks) out << ",proxy:" << v << ":" << t;
    }
    out << ",downstream:mean";
    for (const auto& t : tasks) out << ",downstream:" << t;
    for (const auto& t : tasks) out << ",metric:" << t;
    out << ",delta_mtl";
    for (const auto& t : tasks) out << ",delta:" << t;
    for (const auto& t : tasks)
        for (const auto& m : metrics) out << ",metric:" << t << ":" << m;
    out << ",seconds:merge,seconds:proxy,seconds:downstream,completed_at\n";
    auto cell = [](double v) { return std::isfinite(v) ? fmt("%.9g", v) : std::string(); };
    for (const auto& s : e.sweeps) {
        const auto number = numbersOf(s);
        for (std::size_t i : sortedPoints(s)) {
            const PointRecord& p = s.points[i];
            out << s.id << "," << core::store::sweepKindName(s.kind()) << "," << s.method() << "," << number[i];
            for (const auto& n : params) {
                const auto it = std::find(s.paramNames.begin(), s.paramNames.end(), n);
                out << "," << (it == s.paramNames.end() ? "" : cell(p.params[static_cast<std::size_t>(it - s.paramNames.begin())]));
            }
            auto taskIndex = [&](const std::string& t) {
                const auto it = std::find(s.tasks.begin(), s.tasks.end(), t);
                return it == s.tasks.end() ? -1 : static_cast<int>(it - s.tasks.begin());
            };
            for (const auto& v : proxies) {
                const auto it = p.proxy.find(v);
                out << "," << (it == p.proxy.end() ? "" : cell(p.proxyMean(v)));
                for (const auto& t : tasks) {
                    const int k = taskIndex(t);
                    out << "," << (it == p.proxy.end() || k < 0 ? "" : cell(it->second[static_cast<std::size_t>(k)]));
                }
            }
            out << "," << cell(p.downstreamMean());
            for (const auto& t : tasks) {
                const int k = taskIndex(t);
                out << "," << (p.hasDownstream() && k >= 0 ? cell(p.normalized[static_cast<std::size_t>(k)]) : "");
            }
            for (const auto& t : tasks) {
                const int k = taskIndex(t);
                out << "," << (p.hasDownstream() && k >= 0 ? cell(p.metric[static_cast<std::size_t>(k)]) : "");
            }
            out << "," << cell(p.deltaMtl());
            for (const auto& t : tasks) {
                const int k = taskIndex(t);
                out << "," << (k >= 0 && static_cast<std::size_t>(k) < p.delta.size() ? cell(p.delta[static_cast<std::size_t>(k)]) : "");
            }
            for (const auto& t : tasks) {
                const int k = taskIndex(t);
                for (const auto& m : metrics) {
                    const auto it = p.metrics.find(m);
                    out << "," << (k >= 0 && it != p.metrics.end() && static_cast<std::size_t>(k) < it->second.size()
                                       ? cell(it->second[static_cast<std::size_t>(k)])
                                       : "");
                }
            }
            out << "," << cell(p.mergeSeconds) << "," << cell(p.proxySeconds) << "," << cell(p.downstreamSeconds) << ","
                << p.completedAt << "\n";
        }
    }
}

}  // namespace ms::cli
