// One split: train the shared network once, fit every method, then match each method's knob
// to every budget of the grid on the test rows.
#include "experiments/budget_evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/errors.h"
#include "core/hrc_method.h"
#include "core/kmeans.h"
#include "core/policy_serving.h"
#include "core/rank_gather.h"
#include "experiments/level_sharing.h"

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

// Every rank fits and prepares the method on the whole test split; the budget levels are
// matched on the ranks in turn (experiments/level_sharing.h), and each rank ends with the
// same outcome.
MethodOutcome evaluate_method(AllocationMethod& method, MethodContext& context, const Dataset& test,
                              const SplitOutcome& split, const EvaluationParams& params,
                              Communicator& comm) {
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
    const std::vector<std::vector<double>> levels =
        share_levels(int(split.budgets.size()), comm, [&](int level) {
            EomResult point = eom_at_budget(test, policy, method.knob_range(),
                                            split.budgets[size_t(level)], params.matching);
            if (!test.has_truth()) return pack_level(point, nullptr);
            const TrueOutcome truth = true_policy_value(test, policy(point.knob));
            return pack_level(point, &truth);
        });
    for (const std::vector<double>& level : levels) {
        outcome.eom.push_back(unpack_eom(level));
        if (test.has_truth()) outcome.truth.push_back(unpack_truth(level));
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

// The teacher's cluster of each row: the centroid nearest to its hidden representation, as
// HRC assigns the population it allocates.
std::vector<int32_t> teacher_labels(const MultiTaskNetwork& network, const HrcMethod& hrc,
                                    const Dataset& rows, Backend& backend, Communicator& comm) {
    if (rows.n == 0) return {};
    // A block of rows at a time: z of every row would be the run's largest buffer.
    const KMeansResult& clustering = hrc.clustering();
    return hidden_labels(network, rows, clustering.centroids.data(), clustering.k_effective,
                         backend, kHrcBlockRows, comm);
}

DistilledStudent train_hrc_student(const HrcMethod& hrc, MethodContext& context,
                                   const DataSplits& splits, const DistillationParams& params) {
    const MultiTaskNetwork& network = context.shared_network();
    Backend& backend = context.backend;
    TeacherClusters teacher;
    teacher.k = hrc.clustering().k_effective;
    Communicator& comm = *context.communicator;
    teacher.train_labels = teacher_labels(network, hrc, splits.train, backend, comm);
    teacher.validation_labels = teacher_labels(network, hrc, splits.validation, backend, comm);
    if (params.labels == "soft") {
        teacher.hidden = [&network, &backend](const float* x, int64_t rows, float* z) {
            network.hidden(x, rows, backend, z);
        };
        teacher.hidden_width = network.hidden_width();
        teacher.centroids = hrc.clustering().centroids;
    }
    DistillationParams seeded = params;
    seeded.seed = params.seed + context.seed;
    return train_student(splits.train, splits.validation, teacher, seeded, backend, comm);
}

ServingPolicy make_serving_policy(const HrcMethod& hrc, const DataSplits& splits,
                                  const DistilledStudent& student, const HrcParams& settings) {
    const ClusterTable& table = hrc.table();
    ServingPolicy policy;
    policy.encoder = splits.encoder;
    policy.arm_names = splits.test.arm_names;
    policy.k = table.k;
    policy.deploy = settings.deploy;
    policy.population = table.population;
    policy.value = table.value;
    policy.cost = table.cost;
    policy.student = student.network;
    policy.budgets = solve_policy_budgets(table, settings.solver);
    return policy;
}

// Serves the test rows through the student's clusters with HRC's allocation at each level.
DistillationOutcome distill_hrc(const HrcMethod& hrc, const MethodOutcome& hrc_outcome,
                                MethodContext& context, const DataSplits& splits,
                                const DistillationPlan& plan, const EomParams& eom_params,
                                std::shared_ptr<ServingPolicy>& policy) {
    DistilledStudent student = train_hrc_student(hrc, context, splits, plan.params);
    const Dataset& test = splits.test;
    // The student's cluster of each test row, each rank its run of whole inference blocks.
    const std::vector<int32_t> clusters =
        rows_over_ranks<int32_t>(test.n, MlpLayout::kInferenceBlockRows, 1, *context.communicator,
                                 [&](int64_t first, int64_t count, int32_t* out) {
                                     const std::vector<int32_t> own = predict_clusters(
                                         student.network, test.row(first), count, context.backend);
                                     std::copy(own.begin(), own.end(), out);
                                 });

    DistillationOutcome out;
    out.test_agreement = agreement(clusters, hrc.labels());
    out.student_parameters = student.network.parameter_count();
    out.student_widths = student.network.layout().widths();
    out.training = student.report;
    const bool lp_split = plan.hrc.deploy == "lp_split";
    const std::vector<std::vector<double>> levels =
        share_levels(int(hrc_outcome.eom.size()), *context.communicator, [&](int level) {
            const ServedAllocation served =
                served_from(hrc.allocate(hrc_outcome.eom[size_t(level)].knob), lp_split);
            std::vector<int32_t> choice(test.n);
            for (int64_t i = 0; i < test.n; ++i) {
                int64_t user = test.user_id.empty() ? i : test.user_id[i];
                choice[i] = arm_for_user(served, clusters[i], user);
            }
            if (!test.has_truth()) return pack_level(eom(test, choice, eom_params), nullptr);
            const TrueOutcome truth = true_policy_value(test, choice);
            return pack_level(eom(test, choice, eom_params), &truth);
        });
    for (size_t level = 0; level < levels.size(); ++level) {
        out.teacher_eom.push_back(hrc_outcome.eom[level]);
        out.student_eom.push_back(unpack_eom(levels[level]));
        if (!test.has_truth()) continue;
        out.teacher_truth.push_back(hrc_outcome.truth[level]);
        out.student_truth.push_back(unpack_truth(levels[level]));
    }
    if (plan.build_policy)
        policy =
            std::make_shared<ServingPolicy>(make_serving_policy(hrc, splits, student, plan.hrc));
    return out;
}

void log_distillation(uint64_t seed, const DistillationOutcome& outcome) {
    double ratio_sum = 0.0;
    int ratios = 0;
    for (size_t l = 0; l < outcome.student_eom.size(); ++l) {
        double teacher = outcome.teacher_eom[l].value;
        if (std::abs(teacher) < 1e-12) continue;
        ratio_sum += outcome.student_eom[l].value / teacher;
        ++ratios;
    }
    char line[256];
    std::snprintf(line, sizeof(line),
                  "seed %llu: distilled student (%lld parameters, best epoch %d) agrees with "
                  "HRC's clusters on %.1f%% of test rows; its EOM is %.3f of HRC's on average",
                  (unsigned long long)seed, (long long)outcome.student_parameters,
                  outcome.training.best_epoch, 100.0 * outcome.test_agreement,
                  ratios ? ratio_sum / ratios : 1.0);
    log_info(line);
}

}  // namespace

SplitOutcome evaluate_split(const DataSplits& splits, const EvaluationParams& params,
                            const MultiTaskNetworkParams& network_params,
                            const MethodFactory& factory, Backend& backend, uint64_t seed,
                            StageTimer& timer, const DistillationPlan* distillation,
                            Communicator& comm) {
    const Dataset& test = splits.test;
    SplitOutcome split;
    split.seed = seed;
    split.max_cost = costliest_arm_cost(test, params.matching.eom);
    split.propensity_source = propensity_source_name(
        eom(test, std::vector<int32_t>(test.n, 0), params.matching.eom).propensity_source);
    for (int level = 1; level <= params.budget_levels; ++level) {
        double fraction = double(level) / params.budget_levels;
        split.budget_fractions.push_back(fraction);
        split.budgets.push_back(fraction * split.max_cost);
    }
    if (test.has_truth()) {
        for (const std::vector<double>& level :
             share_levels(params.budget_levels, comm, [&](int level) {
                 return std::vector<double>{
                     oracle_at_budget(test, split.budgets[size_t(level)]).value};
             }))
            split.oracle_value.push_back(level[0]);
    }

    // The shared network is trained on first use, once per split.
    std::unique_ptr<MultiTaskNetwork> network;
    MethodContext context{splits.train, splits.validation, backend, seed, nullptr};
    context.communicator = &comm;
    context.shared_network = [&]() -> const MultiTaskNetwork& {
        if (!network) {
            ScopedStage stage(timer, "train network");
            MultiTaskNetworkParams seeded = network_params;
            seeded.seed = network_params.seed + seed;
            network = std::make_unique<MultiTaskNetwork>(seeded, splits.train.d, splits.train.m,
                                                         int(splits.train.aux.size()));
            network->fit(splits.train, splits.validation, backend, comm);
        }
        return *network;
    };

    std::vector<std::string> names = params.methods;
    if (params.oracle && test.has_truth() &&
        std::find(names.begin(), names.end(), "oracle") == names.end())
        names.push_back("oracle");
    for (const std::string& name : names) {
        std::unique_ptr<AllocationMethod> method = factory(name, seed);
        MethodOutcome outcome = evaluate_method(*method, context, test, split, params, comm);
        timer.add("method " + name, outcome.fit_seconds + outcome.evaluate_seconds);
        char line[160];
        std::snprintf(line, sizeof(line), "seed %llu: %s fitted in %.2f s, evaluated in %.2f s",
                      (unsigned long long)seed, name.c_str(), outcome.fit_seconds,
                      outcome.evaluate_seconds);
        log_info(line);
        if (auto* hrc = dynamic_cast<HrcMethod*>(method.get())) {
            split.cluster_table_csv = cluster_table_csv(hrc->table());
            if (distillation) {
                ScopedStage stage(timer, "distillation");
                split.distillation = distill_hrc(*hrc, outcome, context, splits, *distillation,
                                                 params.matching.eom, split.policy);
                log_distillation(seed, *split.distillation);
            }
        }
        split.methods.push_back(std::move(outcome));
    }
    return split;
}

}  // namespace ca
