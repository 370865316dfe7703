#include "core/sweep/sweep_options.h"

#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace ms::core::sweep {

std::string downstreamModeName(DownstreamMode m) {
    switch (m) {
        case DownstreamMode::None: return "none";
        case DownstreamMode::Frozen: return "frozen";
        case DownstreamMode::HeadRealign: return "head-realign";
        case DownstreamMode::ReprRealign: return "repr-realign";
    }
    return "?";
}

DownstreamMode parseDownstreamMode(const std::string& name) {
    for (auto m : {DownstreamMode::None, DownstreamMode::Frozen, DownstreamMode::HeadRealign, DownstreamMode::ReprRealign})
        if (downstreamModeName(m) == name) return m;
    throw InvalidArgument("unknown downstream mode '" + name + "' (none, frozen, head-realign, repr-realign)");
}

std::string ScoringOptions::toJson() const {
    nlohmann::ordered_json j;
    j["proxies"] = proxies;
    const auto& d = downstream;
    j["downstream"] = {{"mode", downstreamModeName(d.mode)}, {"head_steps", d.headSteps}, {"head_batch", d.headBatch},
                       {"head_lr", d.headLr}, {"repr_steps", d.reprSteps}, {"repr_batch", d.reprBatch},
                       {"repr_lr", d.reprLr}, {"adapter_rank", d.adapterRank}, {"seed", d.seed}};
    j["data"] = {{"probe_size", data.probeSize}, {"realign_samples", data.realignSamples}, {"eval_limit", data.evalLimit},
                 {"seed", data.seed}};
    return j.dump();
}

ScoringOptions ScoringOptions::fromJson(const std::string& text, const std::string& source) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return {};  // written empty by hand-made records
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(source, std::string("sweep options are not JSON: ") + e.what());
    }
    if (!j.is_object()) throw FormatError(source, "sweep options are not a JSON object");
    ScoringOptions o;
    const auto get = [&](const nlohmann::json& obj, const char* key, auto& into) {
        if (!obj.is_object() || !obj.contains(key)) return;
        try {
            into = obj.at(key).get<std::decay_t<decltype(into)>>();
        } catch (const nlohmann::json::exception&) {
            throw FormatError(source, std::string("sweep options: '") + key + "' has the wrong type");
        }
    };
    get(j, "proxies", o.proxies);
    if (j.contains("downstream")) {
        const auto& d = j["downstream"];
        std::string mode = downstreamModeName(o.downstream.mode);
        get(d, "mode", mode);
        try {
            o.downstream.mode = parseDownstreamMode(mode);
        } catch (const InvalidArgument& e) {
            throw FormatError(source, e.what());
        }
        get(d, "head_steps", o.downstream.headSteps);
        get(d, "head_batch", o.downstream.headBatch);
        get(d, "head_lr", o.downstream.headLr);
        get(d, "repr_steps", o.downstream.reprSteps);
        get(d, "repr_batch", o.downstream.reprBatch);
        get(d, "repr_lr", o.downstream.reprLr);
        get(d, "adapter_rank", o.downstream.adapterRank);
        get(d, "seed", o.downstream.seed);
    }
    if (j.contains("data")) {
        const auto& d = j["data"];
        get(d, "probe_size", o.data.probeSize);
        get(d, "realign_samples", o.data.realignSamples);
        get(d, "eval_limit", o.data.evalLimit);
        get(d, "seed", o.data.seed);
    }
    return o;
}

bool operator==(const ScoringOptions& a, const ScoringOptions& b) { return a.toJson() == b.toJson(); }

}  // namespace ms::core::sweep
