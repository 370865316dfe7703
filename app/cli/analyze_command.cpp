// mergescope-cli analyze --base B --model M1 --model M2 ... [--json]: task interference.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/analysis/interference.h"
#include "core/errors.h"
#include "core/merge/merge_spec.h"
#include "core/merge/tensor_plan.h"

namespace ms::cli {

namespace {
struct AnalyzeArgs {
    std::string base;
    std::vector<std::string> models, taskNames, include, exclude;
    bool json = false, perTensor = false, spectra = false;
    double density = 0.2, tallLambda = 0.4;
    OpenFlags open;
};

nlohmann::ordered_json groupJson(const core::analysis::GroupStats& g) {
    return {{"name", g.name}, {"elements", g.elements}, {"norms", g.norms}, {"cosine", g.cosine},
            {"mean_pairwise_cosine", g.meanPairwiseCosine()}, {"sign_conflict_rate", g.signConflictRate}};
}

void printMatrix(const std::string& title, const std::vector<std::string>& tasks, const std::vector<double>& m) {
    std::size_t w = 8;
    for (const auto& t : tasks) w = std::max(w, t.size());
    std::printf("%s\n  %-*s", title.c_str(), static_cast<int>(w), "");
    for (const auto& t : tasks) std::printf("  %*s", static_cast<int>(w), t.c_str());
    std::printf("\n");
    for (std::size_t s = 0; s < tasks.size(); ++s) {
        std::printf("  %-*s", static_cast<int>(w), tasks[s].c_str());
        for (std::size_t t = 0; t < tasks.size(); ++t) std::printf("  %*.3f", static_cast<int>(w), m[s * tasks.size() + t]);
        std::printf("\n");
    }
    std::printf("\n");
}

void printGroups(const std::vector<core::analysis::GroupStats>& groups, const std::vector<std::string>& tasks) {
    std::size_t w = 10;
    for (const auto& g : groups) w = std::max(w, g.name.size());
    std::printf("  %-*s %12s %9s %10s   task-vector norm per task:", static_cast<int>(w), "", "elements", "mean cos",
                "conflicts");
    std::printf("\n  %-*s %12s %9s %10s", static_cast<int>(w), "", "", "", "");
    for (const auto& t : tasks) std::printf(" %12s", t.substr(0, 12).c_str());
    std::printf("\n");
    for (const auto& g : groups) {
        std::printf("  %-*s %12s %9.3f %9.1f%%", static_cast<int>(w), g.name.c_str(), groupedInt(g.elements).c_str(),
                    g.meanPairwiseCosine(), 100.0 * g.signConflictRate);
        for (double n : g.norms) std::printf(" %12.4f", n);
        std::printf("\n");
    }
    std::printf("\n");
}

int runAnalyze(const AnalyzeArgs& a) {
    return runGuarded([&] {
        const auto base = core::io::openCheckpoint(a.base, a.open.options());
        std::vector<std::unique_ptr<core::io::TensorSource>> owned;
        std::vector<const core::io::TensorSource*> experts;
        std::vector<std::string> tasks;
        for (std::size_t i = 0; i < a.models.size(); ++i) {
            owned.push_back(core::io::openCheckpoint(a.models[i], a.open.options()));
            experts.push_back(owned.back().get());
            tasks.push_back(i < a.taskNames.size() ? a.taskNames[i]
                                                   : std::filesystem::path(a.models[i]).stem().string());
        }
        if (experts.size() > 32) throw core::InvalidArgument("analyze takes at most 32 models");
        core::merge::TensorFilter filter;
        filter.include = a.include;
        filter.exclude = a.exclude;
        core::merge::MergeProblem problem(*base, experts, core::merge::makePlan(*base, experts, filter));
        TerminalProgress progress;
        const auto r = core::analysis::analyzeInterference(problem, tasks, {a.density, a.tallLambda}, progress);
        std::optional<core::analysis::SpectrumReport> spectra;
        if (a.spectra) spectra = core::analysis::analyzeSpectra(problem, tasks, progress);
        if (a.json) {
            nlohmann::ordered_json j;
            j["tasks"] = r.tasks;
            j["all"] = groupJson(r.all);
            j["blocks"] = nlohmann::ordered_json::array();
            for (const auto& g : r.blocks) j["blocks"].push_back(groupJson(g));
            j["tensors"] = nlohmann::ordered_json::array();
            for (const auto& g : r.tensors) j["tensors"].push_back(groupJson(g));
            j["ties_mask_overlap"] = {{"density", a.density}, {"jaccard", r.tiesOverlap}};
            j["tall_mask_overlap"] = {{"tall_lambda", a.tallLambda}, {"jaccard", r.tallOverlap}};
            if (spectra) {
                j["spectra"] = nlohmann::ordered_json::array();
                for (const auto& m : spectra->matrices)
                    j["spectra"].push_back({{"name", m.name}, {"block", m.block}, {"shape", {m.rows, m.cols}},
                                            {"effective_rank", m.effectiveRank}, {"sum_effective_rank", m.sumEffectiveRank},
                                            {"sum_anisotropy", m.anisotropy()}, {"sum_singular_values", m.sumSingularValues}});
            }
            std::cout << j.dump(2) << "\n";
            return kExitOk;
        }
        std::printf("Task vectors τ_t = θ_t − θ0: %zu tasks, %s parameters merged\n\n", tasks.size(),
                    groupedInt(r.all.elements).c_str());
        printMatrix("Cosine similarity of task vectors (whole model)", tasks, r.all.cosine);
        std::printf("Sign conflicts: %.2f%% of coordinates are changed in opposite directions by two tasks or more\n\n",
                    100.0 * r.all.signConflictRate);
        char title[128];
        std::snprintf(title, sizeof title, "Overlap (Jaccard) of the TIES top-%.0f%% masks", 100 * a.density);
        printMatrix(title, tasks, r.tiesOverlap);
        std::snprintf(title, sizeof title, "Overlap (Jaccard) of the TALL masks (λ_t = %.2f)", a.tallLambda);
        printMatrix(title, tasks, r.tallOverlap);
        std::printf("Per block\n");
        printGroups(r.blocks, tasks);
        if (a.perTensor) {
            std::printf("Per tensor\n");
            printGroups(r.tensors, tasks);
        }
        if (spectra) {
            std::printf("Spectra of the weight matrices, per block (means over its matrices): effective rank of each τ_t and\n"
                        "of Σ τ_t, and Σ τ_t's largest singular value over their mean (Iso-C flattens it to 1)\n");
            std::size_t w = 10;
            for (const auto& t : tasks) w = std::max(w, std::min<std::size_t>(t.size(), 14));
            std::printf("  %-10s %8s", "", "matrices");
            for (const auto& t : tasks) std::printf(" %*s", static_cast<int>(w), t.substr(0, 14).c_str());
            std::printf(" %*s %11s\n", static_cast<int>(w), "Σ τ_t", "s_max/mean");
            for (const auto& b : spectra->blocks) {
                std::printf("  %-10s %8d", b.name.c_str(), b.matrices);
                for (double e : b.effectiveRank) std::printf(" %*.1f", static_cast<int>(w), e);
                std::printf(" %*.1f %11.2f\n", static_cast<int>(w), b.sumEffectiveRank, b.anisotropy);
            }
            std::printf("\n");
        }
        return kExitOk;
    });
}
}  // namespace

void addAnalyzeCommand(CLI::App& app, int& exitCode) {
    auto a = std::make_shared<AnalyzeArgs>();
    auto* cmd = app.add_subcommand("analyze", "Task interference: task-vector cosines, norms and sign conflicts per block, mask overlaps");
    cmd->add_option("--base", a->base, "the pretrained base checkpoint")->required();
    cmd->add_option("--model", a->models, "a fine-tuned checkpoint (repeat)")->required();
    cmd->add_option("--task-name", a->taskNames, "task name of each --model, in order (default: file stem)");
    cmd->add_option("--include", a->include, "analyse only tensors matching this regex (repeat)");
    cmd->add_option("--exclude", a->exclude, "leave out tensors matching this regex (repeat)");
    cmd->add_option("--density", a->density, "TIES k of the masks compared")->check(CLI::Range(1e-6, 1.0));
    cmd->add_option("--tall-lambda", a->tallLambda, "TALL λ_t of the masks compared")->check(CLI::Range(0.0, 100.0));
    cmd->add_flag("--per-tensor", a->perTensor, "also print one row per tensor");
    cmd->add_flag("--spectra", a->spectra,
                  "also the spectra of the weight matrices: effective rank of each task vector and of their sum per block, "
                  "and how far the sum is from isotropic (per task and matrix the eigenvalues of its Gram matrix, in float64)");
    cmd->add_flag("--json", a->json, "print JSON (tasks, all, blocks, tensors, ties_mask_overlap, tall_mask_overlap)");
    a->open.addTo(*cmd);
    cmd->callback([a, &exitCode] { exitCode = runAnalyze(*a); });
}

}  // namespace ms::cli
