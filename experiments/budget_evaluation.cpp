// One split: train the shared network once, fit every method, then match each method's knob
// to every budget of the grid on the test rows.
#include "experiments/budget_evaluation.h"

#include <algorithm>
#include <cstdio>

#include "core/errors.h"
#include "core/hrc_method.h"

namespace ca {

EvaluationParams EvaluationParams::from_config(const ConfigNode& node) {
    node.allow_only({"seeds", "first_seed", "budget_levels", "methods", "oracle", "aucc_points",
                     "propensity", "clip_propensity", "clip_low", "clip_high",
                     "bisection_iterations"});
    EvaluationParams params;
    params.seeds = int(node.integer_in("seeds", params.seeds, 1, 1000));
    params.first_seed = uint64_t(node.integer_in("first_seed", 0, 0, 1L << 40));
    params.budget_levels = int(node.integer_in("budget_levels", params.budget_levels, 1, 1000));
    params.methods = node.strings("methods", params.methods);
    if (params.methods.empty()) node.fail("methods", "at least one method is required");
    params.oracle = node.boolean("oracle", params.oracle);
    params.aucc_points = int(node.integer_in("aucc_points", params.aucc_points, 2, 100000));
    params.matching.max_iterations =
        int(node.integer_in("bisection_iterations", params.matching.max_iterations, 5, 200));
    std::string source = node.choice("propensity", "row", {"row", "arm_share"});
    params.matching.eom.use_row_propensity = source == "row";
    params.matching.eom.clip_propensity = node.boolean("clip_propensity", false);
    params.matching.eom.clip_low = node.number_in("clip_low", 0.01, 1e-9, 0.5);
    params.matching.eom.clip_high = node.number_in("clip_high", 0.99, 0.5, 1.0);
    return params;
}

nlohmann::json EvaluationParams::to_json() const {
    return {{"seeds", seeds},
            {"first_seed", first_seed},
            {"budget_levels", budget_levels},
            {"methods", methods},
            {"oracle", oracle},
            {"aucc_points", aucc_points},
            {"propensity", matching.eom.use_row_propensity ? "row" : "arm_share"},
            {"clip_propensity", matching.eom.clip_propensity},
            {"clip_low", matching.eom.clip_low},
            {"clip_high", matching.eom.clip_high},
            {"bisection_iterations", matching.max_iterations}};
}

namespace {

// IPW cost per capita of giving everyone the same arm; the costliest arm sets the grid's top.
double costliest_arm_cost(const Dataset& test, const EomParams& params) {
    double best = 0.0;
    for (int j = 0; j < test.m; ++j) {
        std::vector<int32_t> everyone(test.n, j);
        best = std::max(best, eom(test, everyone, params).cost);
    }
    return best;
}

MethodOutcome evaluate_method(AllocationMethod& method, MethodContext& context,
                              const Dataset& test, const SplitOutcome& split,
                              const EvaluationParams& params) {
    MethodOutcome outcome;
    outcome.method = method.name();
    double start = wall_seconds();
    method.fit(context);
    method.prepare(test, context.backend);
    outcome.fit_seconds = wall_seconds() - start;

    start = wall_seconds();
    KnobPolicy policy = [&method](double knob) {
        std::vector<int32_t> choice;
        method.choose(knob, choice);
        return choice;
    };
    for (double budget : split.budgets) {
        EomResult point = eom_at_budget(test, policy, method.knob_range(), budget, params.matching);
        outcome.eom.push_back(point);
        if (test.has_truth()) outcome.truth.push_back(true_policy_value(test, policy(point.knob)));
    }
    std::vector<double> scores = method.treatment_scores();
    if (test.m == 2 && !scores.empty()) {
        AuccParams aucc_params;
        aucc_params.points = params.aucc_points;
        outcome.aucc = aucc(test, scores, aucc_params).aucc;
        outcome.cost_curve = cumulative_cost_curve(test, scores);
    }
    outcome.evaluate_seconds = wall_seconds() - start;
    outcome.diagnostics = method.diagnostics();
    return outcome;
}

}  // namespace

SplitOutcome evaluate_split(const DataSplits& splits, const EvaluationParams& params,
                            const MultiTaskNetworkParams& network_params,
                            const MethodFactory& factory, Backend& backend, uint64_t seed,
                            StageTimer& timer) {
    const Dataset& test = splits.test;
    SplitOutcome split;
    split.seed = seed;
    split.max_cost = costliest_arm_cost(test, params.matching.eom);
    split.propensity_source =
        propensity_source_name(eom(test, std::vector<int32_t>(test.n, 0), params.matching.eom)
                                   .propensity_source);
    for (int level = 1; level <= params.budget_levels; ++level) {
        double fraction = double(level) / params.budget_levels;
        split.budget_fractions.push_back(fraction);
        split.budgets.push_back(fraction * split.max_cost);
        if (test.has_truth())
            split.oracle_value.push_back(oracle_at_budget(test, fraction * split.max_cost).value);
    }

    // The shared network is trained on first use, once per split.
    std::unique_ptr<MultiTaskNetwork> network;
    MethodContext context{splits.train, splits.validation, backend, seed, nullptr};
    context.shared_network = [&]() -> const MultiTaskNetwork& {
        if (!network) {
            ScopedStage stage(timer, "train network");
            MultiTaskNetworkParams seeded = network_params;
            seeded.seed = network_params.seed + seed;
            network = std::make_unique<MultiTaskNetwork>(seeded, splits.train.d, splits.train.m,
                                                         int(splits.train.aux.size()));
            network->fit(splits.train, splits.validation, backend);
        }
        return *network;
    };

    std::vector<std::string> names = params.methods;
    if (params.oracle && test.has_truth() &&
        std::find(names.begin(), names.end(), "oracle") == names.end())
        names.push_back("oracle");
    for (const std::string& name : names) {
        std::unique_ptr<AllocationMethod> method = factory(name, seed);
        MethodOutcome outcome = evaluate_method(*method, context, test, split, params);
        timer.add("method " + name, outcome.fit_seconds + outcome.evaluate_seconds);
        char line[160];
        std::snprintf(line, sizeof(line), "seed %llu: %s fitted in %.2f s, evaluated in %.2f s",
                      (unsigned long long)seed, name.c_str(), outcome.fit_seconds,
                      outcome.evaluate_seconds);
        log_info(line);
        if (auto* hrc = dynamic_cast<HrcMethod*>(method.get()))
            split.cluster_table_csv = cluster_table_csv(hrc->table());
        split.methods.push_back(std::move(outcome));
    }
    return split;
}

}  // namespace ca
