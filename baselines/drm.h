// DRM, direct learning of the marginal return on cost between adjacent treatment levels (after
// Zhou et al. 2023, "Direct heterogeneous causal learning for resource allocation problems in
// marketing"): one network outputs, per user, the incremental value per unit of incremental
// cost of stepping up from each arm to the next costlier one; a user steps up while that
// return exceeds lambda, the knob.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "baselines/direct_training.h"
#include "core/allocation_method.h"
#include "core/config.h"

namespace ca {

// The config's "baselines.drm" object.
struct DrmParams {
    DirectNetworkParams network;  ///< network shape and training (keys of DirectNetworkParams)
    /// Returns are ratio_bound * unit * tanh(output / ratio_bound), unit the pooled return of
    /// the costliest arm against the cheapest: the loss has concave rows (the lower arm's), so
    /// an unbounded output could run off to infinity on a few of them.
    double ratio_bound = 10.0;

    /// Reads the object; unknown keys and out-of-range values are ConfigErrors naming the key.
    static DrmParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

/// The ratio-consistent loss of one row on one adjacent pair (lower arm a, upper arm b):
/// 0.5 z_cost theta^2 - z_value theta, where z is the row's outcome divided by its arm's share
/// q within the pair's rows, negated for the lower arm. For users alike in x,
/// E[z_value] = value lift and E[z_cost] = cost lift, so the expected loss is minimised at
/// theta = value lift / cost lift, the marginal return, whenever the cost lift is positive
/// (the first-order condition E[z_cost] theta = E[z_value]). The paper learns this ratio
/// directly too; the loss here is our choice with that minimiser. slope (may be null)
/// receives d loss / d theta.
inline double drm_ratio_loss(double theta, double z_value, double z_cost, double* slope) {
    if (slope) *slope = z_cost * theta - z_value;
    return 0.5 * z_cost * theta * theta - z_value * theta;
}

/// Arms in the order of their mean training cost (lowest index first on ties), and for each
/// adjacent pair k (order[k-1] -> order[k], k = 1..M-1) the share of each arm in its rows.
struct DrmLadder {
    std::vector<int> order;           ///< M arms, cheapest first
    std::vector<int> position;        ///< position[arm] = index in order
    std::vector<double> lower_share;  ///< per pair k (index k - 1): q of order[k-1]
    std::vector<double> upper_share;  ///< per pair: q of order[k]
    /// Throws InputError naming an arm without training rows.
    static DrmLadder from_training(const Dataset& train);
};

class DrmMethod final : public AllocationMethod {
  public:
    explicit DrmMethod(DrmParams params) : params_(std::move(params)) {}
    std::string name() const override { return "DRM"; }
    void fit(MethodContext& context) override;
    void prepare(const Dataset& rows, Backend& backend) override;
    /// lambda in [0, 1.01 * the largest predicted return]; cost falls as lambda grows.
    KnobRange knob_range() const override;
    void choose(double knob, std::vector<int32_t>& choice) const override;
    /// Binary data: the predicted marginal return of treating.
    std::vector<double> treatment_scores() const override;
    nlohmann::json diagnostics() const override;

    /// Predicted returns of the prepared rows, n x (M - 1), pair k at column k - 1.
    const std::vector<double>& returns() const { return returns_; }
    const DrmLadder& ladder() const { return ladder_; }

  private:
    double to_return(float output) const;

    Communicator* comm_ = &local_communicator();  ///< the run's ranks, from fit()
    DrmParams params_;
    Mlp network_;
    DrmLadder ladder_;
    double unit_ = 1.0;  ///< the scale of the returns (see DrmParams::ratio_bound)
    DirectTrainingReport report_;
    int m_ = 0;
    int64_t n_ = 0;
    std::vector<double> returns_;
    double lambda_max_ = 1.0;
};

}  // namespace ca
