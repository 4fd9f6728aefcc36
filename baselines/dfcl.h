// DFCL-PL and DFCL-IFD, the decision-focused baselines: a copy of the shared multi-task network
// is fine-tuned with a decision loss over a grid of lambdas (baselines/dfcl_loss.h), then users
// are allocated like TSM-SL, each taking argmax_j r_hat_j - lambda c_hat_j with lambda the knob.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "baselines/dfcl_loss.h"
#include "baselines/predicted_lagrangian.h"
#include "core/allocation_method.h"
#include "core/config.h"
#include "core/multitask_network.h"

namespace ca {

/// Parts each fine-tuning mini-batch is cut into: the ranks share them (on the CPU they run
/// side by side); the fine-tuned network does not depend on the ranks or threads.
constexpr int kDfclGradientParts = 4;

// The config's "baselines.dfcl" object, shared by both variants.
struct DfclParams {
    int max_epochs = 10;             ///< fine-tuning passes over the training rows
    int patience = 3;                ///< epochs without a better validation decision value
    double learning_rate = 3e-4;     ///< Adam step size of the fine-tuning
    int batch_size = 1024;           ///< rows per mini-batch
    std::vector<double> lambdas;     ///< the lambda grid; empty: automatic (lambda_count)
    int lambda_count = 5;            ///< size of the automatic grid (automatic_lambda_grid)
    double temperature = 0.1;        ///< PL: softmax temperature tau, in value standard deviations
    bool max_entropy = false;        ///< PL: add tau * policy entropy to the objective
    double ifd_step = 0.1;           ///< IFD: perturbation h, a multiple of the realised utility
    double prediction_weight = 1.0;  ///< weight of the network's own multi-task loss, kept so
                                     ///< the predictions stay calibrated while fine-tuning
    uint64_t seed = 0;               ///< batch order; the split's seed is added

    /// Reads the object; unknown keys and out-of-range values are ConfigErrors naming the key.
    static DfclParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

struct DfclTrainingReport {
    int epochs = 0;                       ///< epochs run
    int best_epoch = 0;                   ///< epoch whose weights were kept; 0 = the shared ones
    double initial_decision_value = 0.0;  ///< validation decision value of the shared network
    double best_decision_value = 0.0;     ///< and of the kept weights
    nlohmann::json to_json() const;
};

class DfclMethod final : public AllocationMethod {
  public:
    DfclMethod(DfclVariant variant, DfclParams params)
        : variant_(variant), params_(std::move(params)) {}
    std::string name() const override {
        return variant_ == DfclVariant::kPolicyLearning ? "DFCL-PL" : "DFCL-IFD";
    }
    /// Copies the shared network (never modifying it) and fine-tunes the copy.
    void fit(MethodContext& context) override;
    void prepare(const Dataset& rows, Backend& backend) override;
    /// lambda in [0, 1.01 * the largest predicted incremental return]; cost falls with it.
    KnobRange knob_range() const override;
    void choose(double knob, std::vector<int32_t>& choice) const override;
    /// Binary data: predicted incremental value per unit of incremental cost.
    std::vector<double> treatment_scores() const override;
    nlohmann::json diagnostics() const override;

    /// The fine-tuned network (after fit).
    const MultiTaskNetwork& network() const { return *network_; }
    const std::vector<double>& lambdas() const { return lambdas_; }
    /// The loss settings fit used (value scale included).
    const DecisionLossParams& loss_params() const { return loss_params_; }

  private:
    Communicator* comm_ = &local_communicator();  ///< the run's ranks, from fit()
    DfclVariant variant_;
    DfclParams params_;
    std::unique_ptr<MultiTaskNetwork> network_;
    std::vector<double> lambdas_;
    DecisionLossParams loss_params_;
    DfclTrainingReport report_;
    PredictedLagrangian allocator_;  ///< the fine-tuned network's predictions, allocated
};

}  // namespace ca
