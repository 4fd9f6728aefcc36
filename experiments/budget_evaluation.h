// Evaluates allocation methods on one split at a grid of budgets: each method's knob is
// bisected so its IPW cost on the test rows meets the budget (EOM), and, where the data knows
// the truth, the policy's true value and its regret to the oracle are recorded.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/allocation_method.h"
#include "core/aucc.h"
#include "core/config.h"
#include "core/data_source.h"
#include "core/distillation.h"
#include "core/eom.h"
#include "core/hrc_method.h"
#include "core/log.h"
#include "core/multitask_network.h"
#include "core/policy_file.h"

namespace ca {

struct EvaluationParams {
    int seeds = 3;            ///< split / training seeds 0 .. seeds-1 (plus first_seed)
    uint64_t first_seed = 0;  ///< seed of the first repetition
    int budget_levels = 20;   ///< budgets at l/L of the costliest policy, l = 1..L
    std::vector<std::string> methods = {"HRC", "TSM-SL", "random"};
    bool oracle = true;          ///< add the oracle where the data carries the truth
    int aucc_points = 200;       ///< Q of the AUCC (binary treatment only)
    BudgetMatchParams matching;  ///< knob bisection and propensity handling
    /// Reads the "evaluation" object.
    static EvaluationParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

// One method on one split.
struct MethodOutcome {
    std::string method;
    std::vector<EomResult> eom;          ///< one per budget level
    std::vector<TrueOutcome> truth;      ///< per level, synthetic data only
    double aucc = -1.0;                  ///< binary data only; -1 when not computed
    std::vector<CurvePoint> cost_curve;  ///< binary data only, for plots
    double fit_seconds = 0.0;
    double evaluate_seconds = 0.0;
    nlohmann::json diagnostics;
};

// HRC's distilled student on one split: how often it picks the teacher's cluster, and at every
// budget level the policy value of serving the student's clusters with the teacher's
// allocation (HRC's table and allocation at its matched knob; only each user's cluster moves).
struct DistillationOutcome {
    double test_agreement = 0.0;      ///< share of test rows on the teacher's cluster
    int64_t student_parameters = 0;   ///< weights and biases of the student
    std::vector<int> student_widths;  ///< {D, hidden..., K}
    StudentReport training;
    std::vector<EomResult> teacher_eom;  ///< per level: HRC's own point
    std::vector<EomResult> student_eom;  ///< per level: same allocation, student's clusters
    std::vector<TrueOutcome> teacher_truth, student_truth;  ///< per level, synthetic only
};

// What evaluate_split needs to distil HRC.
struct DistillationPlan {
    DistillationParams params;  ///< the config's "distillation" object
    HrcParams hrc;              ///< HRC's deploy mode and solver grid (the policy's budgets)
    bool build_policy = false;  ///< keep this split's serving policy (the first seed's)
};

struct SplitOutcome {
    uint64_t seed = 0;
    double max_cost = 0.0;  ///< IPW cost per capita of the costliest single arm
    std::vector<double> budget_fractions;
    std::vector<double> budgets;       ///< per capita
    std::vector<double> oracle_value;  ///< true optimum per level (synthetic only)
    std::vector<MethodOutcome> methods;
    std::string propensity_source;
    std::string cluster_table_csv;  ///< HRC's estimates (shows filled cells)
    /// HRC's student, when a distillation plan was given and HRC ran.
    std::optional<DistillationOutcome> distillation;
    /// The serving policy when the plan asked for it; run_experiment adds config, revision and
    /// the id column before it is written.
    std::shared_ptr<ServingPolicy> policy;
};

/// Builds a method by name ("HRC", "TSM-SL", "random", "oracle"; more are registered by the
/// baselines). Throws ConfigError naming the config key for an unknown name.
using MethodFactory =
    std::function<std::unique_ptr<AllocationMethod>(const std::string& name, uint64_t seed)>;

/// Fits and evaluates every method on one split of the data; with a distillation plan, HRC
/// (when among the methods) is also distilled into a student and evaluated through it. With
/// several ranks (each passing the same split) every trainer (the shared network, the student,
/// TSM-CF's trees, DRP, DRM, DFCL), HRC's k-means and estimates, and each method's scoring of
/// the test rows are shared by them, and the budget levels are matched on the ranks in turn.
/// Every rank returns the same outcome, the one-process one.
SplitOutcome evaluate_split(const DataSplits& splits, const EvaluationParams& params,
                            const MultiTaskNetworkParams& network_params,
                            const MethodFactory& factory, Backend& backend, uint64_t seed,
                            StageTimer& timer, const DistillationPlan* distillation = nullptr,
                            Communicator& comm = local_communicator());

}  // namespace ca
