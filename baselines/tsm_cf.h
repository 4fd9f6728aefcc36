// TSM-CF, the two-stage baseline on causal forests: per treated arm j, one forest for the
// incremental value and one for the incremental cost of j over control (2 (M-1) forests), then
// the individual dual solver with "no treatment" scoring 0 (LBCF style); lambda is the knob.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "baselines/causal_forest.h"
#include "core/allocation_method.h"
#include "core/config.h"

namespace ca {

struct TsmCfParams {
    /// Settings shared by every forest; forest k of a fit is seeded with
    /// forest.seed + run seed + k, so the forests draw different subsamples.
    CausalForestParams forest;

    /// Reads "baselines.tsm_cf" of the top-level config: the causal forest keys (trees,
    /// subsample, max_tree_rows, min_leaf, min_leaf_per_arm, max_depth, mtry,
    /// split_candidates, honest, seed); unknown keys are ConfigErrors naming the key path.
    static TsmCfParams from_config(const ConfigNode& root);
    nlohmann::json to_json() const;
};

/// What one fitted forest took: which arm against control, which outcome, and how long.
struct ForestRecord {
    int arm = 0;
    std::string outcome;  ///< "value" or "cost"
    int trees = 0;
    double mean_leaves = 0.0;
    double mean_leaf_rows = 0.0;
    double seconds = 0.0;
};

class TsmCfMethod final : public AllocationMethod {
  public:
    explicit TsmCfMethod(TsmCfParams params = {}) : params_(params) {}
    std::string name() const override { return "TSM-CF"; }
    /// Grows the forests on the training rows. InputError when an arm is too small for the
    /// forest's subsample and halves.
    void fit(MethodContext& context) override;
    void prepare(const Dataset& rows, Backend& backend) override;
    KnobRange knob_range() const override;
    void choose(double knob, std::vector<int32_t>& choice) const override;
    /// Binary data: incremental value over incremental cost of the treated arm.
    std::vector<double> treatment_scores() const override;
    /// Trees, mean leaves and leaf rows, and seconds per forest, plus the fit's total seconds.
    nlohmann::json diagnostics() const override;

    /// n x M predicted value over control of the prepared rows (column 0 is 0).
    const std::vector<float>& incremental_value() const { return value_; }
    /// n x M predicted cost over control, clamped at 0 (column 0 is 0).
    const std::vector<float>& incremental_cost() const { return cost_; }

  private:
    Communicator* comm_ = &local_communicator();  ///< the run's ranks, from fit()
    TsmCfParams params_;
    int m_ = 0;
    /// Forest pairs per treated arm j = 1..M-1, at index j - 1.
    std::vector<std::unique_ptr<CausalForest>> value_forests_;
    std::vector<std::unique_ptr<CausalForest>> cost_forests_;
    std::vector<ForestRecord> records_;
    double fit_seconds_ = 0.0;

    Backend* backend_ = nullptr;
    int64_t n_ = 0;
    std::vector<float> value_;  ///< n x M
    std::vector<float> cost_;   ///< n x M
    double lambda_max_ = 1.0;
};

}  // namespace ca
