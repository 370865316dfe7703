// mergescope-cli methods [--json]: the merge methods and their parameters (from the registry).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/merge/method_registry.h"

namespace ms::cli {

namespace {
int runMethods(bool json) {
    using namespace core::merge;
    if (json) {
        nlohmann::ordered_json out = nlohmann::ordered_json::array();
        for (const auto* m : allMethods()) {
            const auto& i = m->info();
            nlohmann::ordered_json params = nlohmann::ordered_json::array();
            for (const auto& p : i.params) {
                nlohmann::ordered_json j = {{"name", p.name}, {"help", p.help}, {"per_model", p.perModel},
                                            {"affects_prepare", p.affectsPrepare}};
                if (p.kind == ParamKind::Choice) {
                    j["type"] = "choice";
                    j["choices"] = p.choices;
                    j["default"] = p.defaultChoice;
                } else {
                    j["type"] = p.kind == ParamKind::Integer ? "integer" : "number";
                    j["min"] = p.min;
                    j["max"] = p.max;
                    j["default"] = p.defaultNumber;
                }
                params.push_back(j);
            }
            out.push_back({{"name", i.name}, {"summary", i.summary}, {"per_task_outputs", i.perTaskOutputs},
                           {"min_models", i.minModels}, {"max_models", i.maxModels}, {"parameters", params}});
        }
        std::cout << nlohmann::ordered_json{{"methods", out}}.dump(2) << "\n";
        return kExitOk;
    }
    for (const auto* m : allMethods()) {
        const auto& i = m->info();
        std::cout << i.name << (i.perTaskOutputs ? "  (one model per task)" : "") << "\n    " << i.summary << "\n";
        for (const auto& p : i.params) {
            std::cout << "    " << p.name << " = ";
            if (p.kind == ParamKind::Choice) {
                std::cout << p.defaultChoice << "  {";
                for (std::size_t c = 0; c < p.choices.size(); ++c) std::cout << (c ? "|" : "") << p.choices[c];
                std::cout << "}";
            } else {
                std::cout << paramValueText(p.defaultNumber) << "  [" << paramValueText(p.min) << ", "
                          << paramValueText(p.max) << "]";
            }
            std::cout << (p.perModel ? "  per model" : "") << "\n        " << p.help << "\n";
        }
        std::cout << "\n";
    }
    return kExitOk;
}
}  // namespace

void addMethodsCommand(CLI::App& app, int& exitCode) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("methods", "List the merge methods and their parameters");
    cmd->add_flag("--json", *json, "print {\"methods\": [{name, summary, parameters: [...]}]}");
    cmd->callback([json, &exitCode] { exitCode = runMethods(*json); });
}

}  // namespace ms::cli
