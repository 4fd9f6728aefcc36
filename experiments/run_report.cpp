// Seed aggregation and the text, CSV, JSON and SVG renderings of a run's results.
#include "experiments/run_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/paired_stats.h"
#include "experiments/svg_plot.h"

namespace ca {

namespace {

std::string fixed(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
    return buffer;
}

// Decimals that show about four significant digits of the table's typical magnitude.
int decimals_for(double magnitude) {
    if (magnitude <= 0.0) return 4;
    int digits = int(std::floor(std::log10(magnitude)));
    return std::clamp(3 - digits, 0, 6);
}

const MethodOutcome* find_method(const SplitOutcome& split, const std::string& name) {
    for (const auto& method : split.methods)
        if (method.method == name) return &method;
    return nullptr;
}

LevelSummary summarize_level(const std::vector<SplitOutcome>& splits, const std::string& name,
                             const std::string& reference, size_t level) {
    std::vector<double> eoms, reference_eoms, ratios, costs, truths, regrets;
    LevelSummary out;
    for (const auto& split : splits) {
        const MethodOutcome* method = find_method(split, name);
        if (!method) continue;
        const EomResult& point = method->eom[level];
        eoms.push_back(point.value);
        costs.push_back(point.cost);
        out.reached += point.reached ? 1 : 0;
        if (const MethodOutcome* ref = find_method(split, reference)) {
            reference_eoms.push_back(ref->eom[level].value);
            double denominator = ref->eom[level].value;
            ratios.push_back(std::abs(denominator) > 1e-12 ? point.value / denominator : 1.0);
        }
        if (!method->truth.empty()) {
            truths.push_back(method->truth[level].value);
            if (level < split.oracle_value.size())
                regrets.push_back(split.oracle_value[level] - method->truth[level].value);
        }
    }
    SummaryStats eom_stats = summarize(eoms);
    out.eom_mean = eom_stats.mean;
    out.eom_std = eom_stats.std;
    out.cost_mean = sample_mean(costs);
    if (!ratios.empty()) {
        SummaryStats ratio_stats = summarize(ratios);
        out.normalized_mean = ratio_stats.mean;
        out.normalized_std = ratio_stats.std;
    }
    if (reference_eoms.size() == eoms.size() && eoms.size() >= 2 && name != reference)
        out.p_value_vs_reference = paired_t_test(eoms, reference_eoms).p_value;
    if (!truths.empty()) {
        SummaryStats truth_stats = summarize(truths);
        out.true_value_mean = truth_stats.mean;
        out.true_value_std = truth_stats.std;
        out.regret_mean = regrets.empty() ? 0.0 : sample_mean(regrets);
    }
    return out;
}

DistillationSummary summarize_distillation(const std::vector<SplitOutcome>& splits) {
    DistillationSummary out;
    std::vector<double> agreements;
    for (const auto& split : splits) {
        if (!split.distillation) continue;
        const DistillationOutcome& seed = *split.distillation;
        agreements.push_back(seed.test_agreement);
        size_t levels = seed.student_eom.size();
        if (out.seeds == 0) {
            for (auto* mean : {&out.teacher_eom_mean, &out.student_eom_mean, &out.teacher_cost_mean,
                               &out.student_cost_mean})
                mean->assign(levels, 0.0);
            if (!seed.student_truth.empty()) {
                out.teacher_true_mean.assign(levels, 0.0);
                out.student_true_mean.assign(levels, 0.0);
            }
        }
        ++out.seeds;
        for (size_t l = 0; l < levels && l < out.student_eom_mean.size(); ++l) {
            out.teacher_eom_mean[l] += seed.teacher_eom[l].value;
            out.student_eom_mean[l] += seed.student_eom[l].value;
            out.teacher_cost_mean[l] += seed.teacher_eom[l].cost;
            out.student_cost_mean[l] += seed.student_eom[l].cost;
            if (l < out.student_true_mean.size() && l < seed.student_truth.size()) {
                out.teacher_true_mean[l] += seed.teacher_truth[l].value;
                out.student_true_mean[l] += seed.student_truth[l].value;
            }
        }
    }
    if (out.seeds == 0) return out;
    for (auto* mean : {&out.teacher_eom_mean, &out.student_eom_mean, &out.teacher_cost_mean,
                       &out.student_cost_mean, &out.teacher_true_mean, &out.student_true_mean})
        for (double& value : *mean) value /= out.seeds;
    SummaryStats stats = summarize(agreements);
    out.agreement_mean = stats.mean;
    out.agreement_std = stats.std;
    return out;
}

// Mean over levels of student EOM / teacher EOM (levels where the teacher's EOM is not ~0).
double mean_student_ratio(const DistillationSummary& summary) {
    double sum = 0.0;
    int count = 0;
    for (size_t l = 0; l < summary.student_eom_mean.size(); ++l) {
        if (std::abs(summary.teacher_eom_mean[l]) < 1e-12) continue;
        sum += summary.student_eom_mean[l] / summary.teacher_eom_mean[l];
        ++count;
    }
    return count ? sum / count : 1.0;
}

std::string distillation_markdown(const RunSummary& summary, int decimals) {
    const DistillationSummary& student = summary.distillation;
    std::ostringstream out;
    out << "\n## Distilled student\n\nThe student classifier agrees with HRC's clusters on "
        << fixed(100.0 * student.agreement_mean, 1) << "% ± "
        << fixed(100.0 * student.agreement_std, 1) << "% of the test rows (" << student.seeds
        << " seed" << (student.seeds == 1 ? "" : "s")
        << "). Below, both serve HRC's allocation at its matched budget; only each user's "
           "cluster differs.\n\n| budget | HRC EOM | student EOM | student / HRC | HRC cost | "
           "student cost |";
    bool truth = !student.student_true_mean.empty();
    if (truth) out << " HRC true value | student true value |";
    out << "\n|---|---|---|---|---|---|" << (truth ? "---|---|" : "") << "\n";
    for (size_t l = 0; l < student.student_eom_mean.size(); ++l) {
        double teacher = student.teacher_eom_mean[l];
        out << "| " << fixed(100.0 * summary.budget_fractions[l], 0) << "% | "
            << fixed(teacher, decimals) << " | " << fixed(student.student_eom_mean[l], decimals)
            << " | "
            << (std::abs(teacher) > 1e-12 ? fixed(student.student_eom_mean[l] / teacher, 3) : "-")
            << " | " << fixed(student.teacher_cost_mean[l], decimals) << " | "
            << fixed(student.student_cost_mean[l], decimals) << " |";
        if (truth)
            out << ' ' << fixed(student.teacher_true_mean[l], decimals) << " | "
                << fixed(student.student_true_mean[l], decimals) << " |";
        out << "\n";
    }
    return out.str();
}

nlohmann::json distillation_json(const RunSummary& summary,
                                 const std::vector<SplitOutcome>& splits) {
    const DistillationSummary& student = summary.distillation;
    nlohmann::json levels = nlohmann::json::array();
    for (size_t l = 0; l < student.student_eom_mean.size(); ++l) {
        nlohmann::json level = {{"budget_fraction", summary.budget_fractions[l]},
                                {"budget_per_capita", summary.budget_means[l]},
                                {"teacher_eom_mean", student.teacher_eom_mean[l]},
                                {"student_eom_mean", student.student_eom_mean[l]},
                                {"teacher_cost_mean", student.teacher_cost_mean[l]},
                                {"student_cost_mean", student.student_cost_mean[l]}};
        if (l < student.student_true_mean.size()) {
            level["teacher_true_value_mean"] = student.teacher_true_mean[l];
            level["student_true_value_mean"] = student.student_true_mean[l];
        }
        levels.push_back(level);
    }
    nlohmann::json per_seed = nlohmann::json::array();
    for (const auto& split : splits) {
        if (!split.distillation) continue;
        const DistillationOutcome& seed = *split.distillation;
        nlohmann::json student_eom = nlohmann::json::array();
        for (size_t l = 0; l < seed.student_eom.size(); ++l) {
            nlohmann::json point = {{"value", seed.student_eom[l].value},
                                    {"cost", seed.student_eom[l].cost},
                                    {"teacher_value", seed.teacher_eom[l].value},
                                    {"teacher_cost", seed.teacher_eom[l].cost}};
            if (l < seed.student_truth.size()) {
                point["true_value"] = seed.student_truth[l].value;
                point["teacher_true_value"] = seed.teacher_truth[l].value;
            }
            student_eom.push_back(point);
        }
        per_seed.push_back({{"seed", split.seed},
                            {"test_agreement", seed.test_agreement},
                            {"student_widths", seed.student_widths},
                            {"student_parameters", seed.student_parameters},
                            {"training", seed.training.to_json()},
                            {"levels", student_eom}});
    }
    return {{"seeds", student.seeds},
            {"agreement_mean", student.agreement_mean},
            {"agreement_std", student.agreement_std},
            {"student_eom_over_teacher_mean", mean_student_ratio(student)},
            {"levels", levels},
            {"per_seed", per_seed}};
}

}  // namespace

RunSummary summarize(const std::vector<SplitOutcome>& splits) {
    RunSummary summary;
    if (splits.empty()) return summary;
    summary.seeds = int(splits.size());
    summary.budget_fractions = splits[0].budget_fractions;
    summary.has_reference = find_method(splits[0], summary.reference) != nullptr;
    summary.has_truth = !splits[0].oracle_value.empty();
    size_t levels = summary.budget_fractions.size();
    summary.budget_means.assign(levels, 0.0);
    summary.oracle_value_mean.assign(summary.has_truth ? levels : 0, 0.0);
    for (const auto& split : splits) {
        for (size_t l = 0; l < levels; ++l) {
            summary.budget_means[l] += split.budgets[l] / splits.size();
            if (summary.has_truth)
                summary.oracle_value_mean[l] += split.oracle_value[l] / splits.size();
        }
    }
    for (const auto& first : splits[0].methods) {
        MethodSummary method;
        method.method = first.method;
        for (size_t l = 0; l < levels; ++l)
            method.levels.push_back(summarize_level(splits, first.method, summary.reference, l));
        std::vector<double> auccs, fits;
        for (const auto& split : splits) {
            const MethodOutcome* outcome = find_method(split, first.method);
            if (!outcome) continue;
            if (outcome->aucc >= 0.0) auccs.push_back(outcome->aucc);
            fits.push_back(outcome->fit_seconds + outcome->evaluate_seconds);
        }
        if (!auccs.empty()) {
            summary.has_aucc = true;
            SummaryStats aucc_stats = summarize(auccs);
            method.aucc_mean = aucc_stats.mean;
            method.aucc_std = aucc_stats.std;
        }
        method.fit_seconds_mean = sample_mean(fits);
        summary.methods.push_back(method);
    }
    summary.distillation = summarize_distillation(splits);
    return summary;
}

std::string format_console_table(const RunSummary& summary, const std::string& title) {
    double magnitude = 0.0;
    for (const auto& method : summary.methods)
        for (const auto& level : method.levels) magnitude = std::max(magnitude, level.eom_mean);
    int decimals = decimals_for(magnitude);

    std::ostringstream out;
    out << title << "\nEOM per capita at each budget (mean +- std over " << summary.seeds << " seed"
        << (summary.seeds == 1 ? "" : "s") << ")";
    if (summary.has_reference) out << "; [x] = EOM / " << summary.reference;
    out << "\n";
    const int width = summary.has_reference ? 26 : 18;
    char cell[96];
    std::snprintf(cell, sizeof(cell), "%-8s %-9s", "budget", "per-cap");
    out << cell;
    for (const auto& method : summary.methods) {
        std::snprintf(cell, sizeof(cell), " %*s", width, method.method.c_str());
        out << cell;
    }
    out << "\n";
    for (size_t l = 0; l < summary.budget_fractions.size(); ++l) {
        std::snprintf(
            cell, sizeof(cell), "%-8s %-9s",
            (fixed(100.0 * summary.budget_fractions[l], 0) + "%").c_str(),
            fixed(summary.budget_means[l], decimals_for(summary.budget_means.back())).c_str());
        out << cell;
        for (const auto& method : summary.methods) {
            const LevelSummary& level = method.levels[l];
            std::string text =
                fixed(level.eom_mean, decimals) + "+-" + fixed(level.eom_std, decimals);
            if (summary.has_reference) text += " [" + fixed(level.normalized_mean, 3) + "]";
            if (level.reached < summary.seeds) text += "*";
            std::snprintf(cell, sizeof(cell), " %*s", width, text.c_str());
            out << cell;
        }
        out << "\n";
    }
    if (summary.has_aucc) {
        out << "AUCC:";
        for (const auto& method : summary.methods)
            if (method.aucc_mean >= 0.0)
                out << "  " << method.method << " " << fixed(method.aucc_mean, 4) << "+-"
                    << fixed(method.aucc_std, 4);
        out << "\n";
    }
    if (summary.has_truth) {
        out << "True value per capita under the synthetic truth (mean over seeds); optimum = the "
               "ceiling:\n";
        for (size_t l = 0; l < summary.budget_fractions.size();
             l += std::max<size_t>(1, summary.budget_fractions.size() / 5)) {
            out << "  " << fixed(100.0 * summary.budget_fractions[l], 0) << "%: optimum "
                << fixed(summary.oracle_value_mean[l], decimals);
            for (const auto& method : summary.methods)
                out << "  " << method.method << " "
                    << fixed(method.levels[l].true_value_mean, decimals);
            out << "\n";
        }
    }
    if (summary.distillation.seeds > 0)
        out << "Distilled student: agrees with HRC's clusters on "
            << fixed(100.0 * summary.distillation.agreement_mean, 1) << "% +- "
            << fixed(100.0 * summary.distillation.agreement_std, 1)
            << "% of test rows; its EOM at HRC's allocation is "
            << fixed(mean_student_ratio(summary.distillation), 3)
            << " of HRC's (mean over budgets)\n";
    out << "* = the method could not spend the budget in every seed (its maximal spend is shown)\n";
    return out.str();
}

std::string budget_curve_csv(const RunSummary& summary) {
    std::ostringstream out;
    out << "budget_fraction,budget_per_capita,method,eom_mean,eom_std,eom_normalized_mean,"
           "eom_normalized_std,cost_mean,p_value_vs_reference,true_value_mean,true_value_std,"
           "regret_mean,seeds_reached\n";
    out.precision(10);
    for (const auto& method : summary.methods) {
        for (size_t l = 0; l < summary.budget_fractions.size(); ++l) {
            const LevelSummary& level = method.levels[l];
            out << summary.budget_fractions[l] << ',' << summary.budget_means[l] << ','
                << method.method << ',' << level.eom_mean << ',' << level.eom_std << ',';
            if (summary.has_reference)
                out << level.normalized_mean << ',' << level.normalized_std;
            else
                out << ',';
            out << ',' << level.cost_mean << ',' << level.p_value_vs_reference << ',';
            if (summary.has_truth)
                out << level.true_value_mean << ',' << level.true_value_std << ','
                    << level.regret_mean;
            else
                out << ",,";
            out << ',' << level.reached << '\n';
        }
    }
    return out.str();
}

std::string summary_markdown(const RunSummary& summary, const std::string& title,
                             const std::string& provenance) {
    double magnitude = 0.0;
    for (const auto& method : summary.methods)
        for (const auto& level : method.levels) magnitude = std::max(magnitude, level.eom_mean);
    int decimals = decimals_for(magnitude);
    std::ostringstream out;
    out << "# " << title << "\n\n" << provenance << "\n\n";
    out << "EOM per capita on the test split, mean ± std over " << summary.seeds
        << " seeds; in brackets EOM / " << summary.reference
        << " (mean of per-seed ratios); p = paired t-test against " << summary.reference
        << ".\n\n| budget | per capita |";
    for (const auto& method : summary.methods) out << ' ' << method.method << " |";
    out << "\n|---|---|";
    for (size_t i = 0; i < summary.methods.size(); ++i) out << "---|";
    out << "\n";
    for (size_t l = 0; l < summary.budget_fractions.size(); ++l) {
        out << "| " << fixed(100.0 * summary.budget_fractions[l], 0) << "% | "
            << fixed(summary.budget_means[l], decimals) << " |";
        for (const auto& method : summary.methods) {
            const LevelSummary& level = method.levels[l];
            out << ' ' << fixed(level.eom_mean, decimals) << " ± "
                << fixed(level.eom_std, decimals);
            if (summary.has_reference) {
                out << " [" << fixed(level.normalized_mean, 3) << "]";
                if (method.method != summary.reference && summary.seeds >= 2)
                    out << " p=" << fixed(level.p_value_vs_reference, 2);
            }
            out << " |";
        }
        out << "\n";
    }
    if (summary.has_aucc) {
        out << "\n| method | AUCC |\n|---|---|\n";
        for (const auto& method : summary.methods)
            if (method.aucc_mean >= 0.0)
                out << "| " << method.method << " | " << fixed(method.aucc_mean, 4) << " ± "
                    << fixed(method.aucc_std, 4) << " |\n";
    }
    if (summary.has_truth) {
        out << "\nTrue value per capita under the generator's truth (policy at the matched "
               "budget), and the oracle's optimum:\n\n| budget | oracle |";
        for (const auto& method : summary.methods) out << ' ' << method.method << " |";
        out << "\n|---|---|";
        for (size_t i = 0; i < summary.methods.size(); ++i) out << "---|";
        out << "\n";
        for (size_t l = 0; l < summary.budget_fractions.size(); ++l) {
            out << "| " << fixed(100.0 * summary.budget_fractions[l], 0) << "% | "
                << fixed(summary.oracle_value_mean[l], decimals) << " |";
            for (const auto& method : summary.methods)
                out << ' ' << fixed(method.levels[l].true_value_mean, decimals) << " |";
            out << "\n";
        }
    }
    if (summary.distillation.seeds > 0) out << distillation_markdown(summary, decimals);
    out << "\n| method | fit + evaluate seconds (mean per seed) |\n|---|---|\n";
    for (const auto& method : summary.methods)
        out << "| " << method.method << " | " << fixed(method.fit_seconds_mean, 2) << " |\n";
    return out.str();
}

std::string budget_curve_svg(const RunSummary& summary, const std::string& title, bool normalized) {
    LinePlot plot;
    plot.title = title;
    plot.x_label = "budget per capita";
    plot.y_label = normalized ? "EOM / " + summary.reference : "EOM per capita";
    for (const auto& method : summary.methods) {
        PlotSeries series;
        series.label = method.method;
        series.dashed = method.method == "random" || method.method == "oracle";
        for (size_t l = 0; l < method.levels.size(); ++l) {
            series.x.push_back(summary.budget_means[l]);
            series.y.push_back(normalized ? method.levels[l].normalized_mean
                                          : method.levels[l].eom_mean);
            series.y_error.push_back(normalized ? method.levels[l].normalized_std
                                                : method.levels[l].eom_std);
        }
        plot.series.push_back(series);
    }
    return render_svg(plot);
}

std::string cost_curve_svg(const SplitOutcome& split, const std::string& title) {
    LinePlot plot;
    plot.title = title;
    plot.x_label = "cumulative incremental cost";
    plot.y_label = "cumulative incremental value";
    for (const auto& method : split.methods) {
        if (method.cost_curve.empty()) continue;
        PlotSeries series;
        series.label = method.method;
        series.dashed = method.method == "random";
        for (const auto& point : method.cost_curve) {
            series.x.push_back(point.cost);
            series.y.push_back(point.value);
        }
        plot.series.push_back(series);
    }
    return render_svg(plot);
}

nlohmann::json metrics_json(const RunSummary& summary, const std::vector<SplitOutcome>& splits) {
    nlohmann::json methods = nlohmann::json::array();
    for (const auto& method : summary.methods) {
        nlohmann::json levels = nlohmann::json::array();
        for (size_t l = 0; l < method.levels.size(); ++l) {
            const LevelSummary& level = method.levels[l];
            nlohmann::json entry = {{"budget_fraction", summary.budget_fractions[l]},
                                    {"budget_per_capita", summary.budget_means[l]},
                                    {"eom_mean", level.eom_mean},
                                    {"eom_std", level.eom_std},
                                    {"cost_mean", level.cost_mean},
                                    {"seeds_reached", level.reached}};
            if (summary.has_reference) {
                entry["eom_normalized_mean"] = level.normalized_mean;
                entry["eom_normalized_std"] = level.normalized_std;
                entry["p_value_vs_reference"] = level.p_value_vs_reference;
            }
            if (summary.has_truth) {
                entry["true_value_mean"] = level.true_value_mean;
                entry["true_value_std"] = level.true_value_std;
                entry["regret_mean"] = level.regret_mean;
            }
            levels.push_back(entry);
        }
        nlohmann::json item = {{"method", method.method},
                               {"levels", levels},
                               {"seconds_per_seed", method.fit_seconds_mean}};
        if (method.aucc_mean >= 0.0)
            item["aucc"] = {{"mean", method.aucc_mean}, {"std", method.aucc_std}};
        methods.push_back(item);
    }
    nlohmann::json per_seed = nlohmann::json::array();
    for (const auto& split : splits) {
        nlohmann::json seed = {{"seed", split.seed},
                               {"costliest_arm_cost_per_capita", split.max_cost},
                               {"propensity_source", split.propensity_source},
                               {"budgets", split.budgets}};
        if (!split.oracle_value.empty()) seed["oracle_value"] = split.oracle_value;
        nlohmann::json outcomes = nlohmann::json::object();
        for (const auto& method : split.methods) {
            nlohmann::json eoms = nlohmann::json::array();
            for (const auto& point : method.eom)
                eoms.push_back({{"value", point.value},
                                {"cost", point.cost},
                                {"knob", point.knob},
                                {"reached", point.reached}});
            outcomes[method.method] = {{"eom", eoms},
                                       {"fit_seconds", method.fit_seconds},
                                       {"evaluate_seconds", method.evaluate_seconds},
                                       {"diagnostics", method.diagnostics}};
            if (method.aucc >= 0.0) outcomes[method.method]["aucc"] = method.aucc;
        }
        seed["methods"] = outcomes;
        per_seed.push_back(seed);
    }
    nlohmann::json metrics = {{"reference", summary.reference},
                              {"seeds", summary.seeds},
                              {"methods", methods},
                              {"per_seed", per_seed}};
    if (summary.distillation.seeds > 0)
        metrics["distillation"] = distillation_json(summary, splits);
    return metrics;
}

}  // namespace ca
