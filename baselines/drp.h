// DRP, the direct ranking policy (Du, Lee & Ghaffarizadeh 2019, "Improve user retention with
// causal learning"): a network scores users so that treating the top-scored ones buys value
// at the lowest cost; the knob is the share of users treated, top score first.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "baselines/direct_training.h"
#include "core/allocation_method.h"
#include "core/config.h"

namespace ca {

/// How a user is given one arm when there are several treated arms, each with its own scorer.
enum class DrpArmRule {
    /// Each scorer's output is mapped to an incremental value per unit of incremental cost,
    /// estimated on held-out rows in score quantile bins (made non-decreasing in the score);
    /// the user takes the arm with the largest such ratio, is ranked by it (then by that
    /// arm's score), and is never treated when no arm's ratio is positive.
    kCalibratedRatio,
    /// The user takes the arm whose scorer gives the largest raw output and is ranked by it.
    kMaxScore
};

// The config's "baselines.drp" object.
struct DrpParams {
    /// Scorer shape and training (keys of DirectNetworkParams). The ratio of two softmax-weighted
    /// means is a noisy, biased estimate on a small batch, hence the large default batch.
    DirectNetworkParams network{{64, 32}, 3e-3, 4096, 100, 10, 0};
    /// Scores are score_bound * tanh(output), so no user's softmax weight can exceed another's
    /// by more than exp(2 * score_bound) and the ratio cannot rest on a handful of rows.
    double score_bound = 1.0;
    /// Floor on the incremental value, as a share of the mean |value| of the arm pair's
    /// training rows: below it the ratio is continued by its tangent (see drp_ratio_loss).
    double min_value_lift = 0.01;
    DrpArmRule arm_rule = DrpArmRule::kCalibratedRatio;  ///< "calibrated_ratio" | "max_score"
    int calibration_bins = 10;  ///< score quantile bins of the calibrated ratio

    /// Reads the object; unknown keys and out-of-range values are ConfigErrors naming the key.
    static DrpParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

/// The DRP loss over one batch of a treated arm's and the control's rows. Within the treated
/// rows (treated[i] != 0) and within the control rows the scores are softmax-normalised into
/// weights p and q; dR = sum_T p r - sum_C q r and dC likewise; loss = dC / dR. For
/// dR < value_floor the ratio is continued by its tangent at the floor,
/// dC (2 floor - dR) / floor^2, so the loss stays finite and keeps pushing dR up. Both groups
/// must be present (else the loss is 0). grad_score, when not null, receives d loss / d score.
double drp_ratio_loss(int64_t count, const double* score, const uint8_t* treated,
                      const double* value, const double* cost, double value_floor,
                      double* grad_score);

/// A score -> incremental return map for one treated arm: quantile bin edges of the score and
/// the pooled ratio of each bin, non-decreasing in the score (pool-adjacent-violators).
struct RatioCalibration {
    std::vector<double> upper_edges;  ///< bins - 1 inner edges, ascending
    std::vector<double> ratio;        ///< per bin
    double at(double score) const;
};

/// Fits the map on rows of one treated arm (treated != 0) and the control with their scores.
/// Bins lacking either group are merged into a neighbour; cost_floor guards each ratio's
/// denominator.
RatioCalibration calibrate_ratio(const std::vector<double>& score,
                                 const std::vector<uint8_t>& treated,
                                 const std::vector<double>& value, const std::vector<double>& cost,
                                 int bins, double cost_floor);

class DrpMethod final : public AllocationMethod {
  public:
    explicit DrpMethod(DrpParams params) : params_(std::move(params)) {}
    std::string name() const override { return "DRP"; }
    void fit(MethodContext& context) override;
    void prepare(const Dataset& rows, Backend& backend) override;
    /// The share of prepared users treated, [0, share with a positive ratio] or [0, 1].
    KnobRange knob_range() const override;
    void choose(double knob, std::vector<int32_t>& choice) const override;
    /// Binary data: the scorer's raw output.
    std::vector<double> treatment_scores() const override;
    nlohmann::json diagnostics() const override;

  private:
    Communicator* comm_ = &local_communicator();  ///< the run's ranks, from fit()
    DrpParams params_;
    std::vector<Mlp> scorers_;              ///< one per treated arm 1..M-1
    std::vector<RatioCalibration> ratios_;  ///< per treated arm (calibrated rule)
    std::vector<DirectTrainingReport> reports_;
    int m_ = 0;
    std::vector<int32_t> arm_;       ///< per prepared row: the arm given when treated
    std::vector<int64_t> ranking_;   ///< prepared rows, first treated first
    int64_t treatable_ = 0;          ///< rows that may be treated at all
    std::vector<double> raw_score_;  ///< per prepared row: the chosen arm's raw output
};

}  // namespace ca
