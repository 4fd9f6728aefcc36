// Aggregates the per-split outcomes of a run over seeds and renders them: the console table,
// budget_curve.csv, summary.md, metrics.json and the budget-curve SVG.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "experiments/budget_evaluation.h"

namespace ca {

// One method at one budget level, over seeds.
struct LevelSummary {
    double eom_mean = 0.0, eom_std = 0.0;
    double normalized_mean = 0.0, normalized_std = 0.0;  ///< EOM / TSM-SL's EOM, per seed
    double cost_mean = 0.0;
    double true_value_mean = 0.0, true_value_std = 0.0;  ///< synthetic only
    double regret_mean = 0.0;                            ///< oracle - true value
    double p_value_vs_reference = 1.0;                   ///< paired t-test against TSM-SL
    int reached = 0;                                     ///< seeds whose spend met the budget
};

struct MethodSummary {
    std::string method;
    std::vector<LevelSummary> levels;
    double aucc_mean = -1.0, aucc_std = 0.0;
    double fit_seconds_mean = 0.0;
};

// HRC's distilled student over seeds: agreement, and per level the EOM (and true value) of
// serving its clusters against HRC's at the same allocation.
struct DistillationSummary {
    int seeds = 0;  ///< seeds with a student; 0 when distillation did not run
    double agreement_mean = 0.0, agreement_std = 0.0;
    std::vector<double> teacher_eom_mean, student_eom_mean;  ///< per level
    std::vector<double> teacher_cost_mean, student_cost_mean;
    std::vector<double> teacher_true_mean, student_true_mean;  ///< synthetic only
};

struct RunSummary {
    std::string reference = "TSM-SL";  ///< the normalisation baseline, if it ran
    bool has_reference = false;
    bool has_truth = false;
    bool has_aucc = false;
    int seeds = 0;
    std::vector<double> budget_fractions;
    std::vector<double> budget_means;      ///< per-capita budget, averaged over seeds
    std::vector<double> oracle_value_mean; ///< synthetic only
    std::vector<MethodSummary> methods;
    DistillationSummary distillation;
};

RunSummary summarize(const std::vector<SplitOutcome>& splits);

/// The budget x method table printed by `clusteralloc run`: EOM mean +- std, normalised.
std::string format_console_table(const RunSummary& summary, const std::string& title);
std::string budget_curve_csv(const RunSummary& summary);
std::string summary_markdown(const RunSummary& summary, const std::string& title,
                             const std::string& provenance);
std::string budget_curve_svg(const RunSummary& summary, const std::string& title,
                             bool normalized);
/// Cumulative cost curves of the first split (binary treatment only).
std::string cost_curve_svg(const SplitOutcome& split, const std::string& title);
nlohmann::json metrics_json(const RunSummary& summary, const std::vector<SplitOutcome>& splits);

}  // namespace ca
