// The decision losses DFCL fine-tunes the multi-task network with (after Zhou et al. 2024,
// "Decision focused causal learning for direct counterfactual marketing optimization"): per
// user and lambda of a grid, the predicted utilities u_j = (r_hat_j - lambda c_hat_j) / s and
// the realised IPW utility of the logged arm v = w (r - lambda c) / s, w = N / N_t, s the
// value's scale. Two surrogates of the hard decision argmax_j u_j: a softmax policy (PL) and
// the improved finite-difference interpolation (IFD).
#pragma once

#include <cstdint>
#include <vector>

#include "core/mlp.h"
#include "core/multitask_network.h"
#include "kernels/backend.h"

namespace ca {

enum class DfclVariant {
    kPolicyLearning,   ///< DFCL-PL: softmax policy over the arms
    kFiniteDifference  ///< DFCL-IFD: finite differences of the hard decision
};

struct DecisionLossParams {
    DfclVariant variant = DfclVariant::kPolicyLearning;  ///< which surrogate
    double temperature = 0.1;  ///< PL: tau of softmax(u / tau), in units of s
    bool max_entropy = false;  ///< PL: maximise value + tau * entropy of the policy
    double ifd_step = 0.1;     ///< IFD: h, the perturbation as a multiple of v
    double value_scale = 1.0;  ///< s: utilities are divided by it, so tau and h carry no unit
};

/// PL loss of one user at one lambda: -(pi_arm v + [max_entropy] tau H(pi)), pi = softmax of
/// utility / tau over the m arms (pi_arm v is the IPW estimate of the policy's utility).
/// grad (m entries, may be null) receives d loss / d utility.
double policy_learning_user_loss(const double* utility, int m, int arm, double realised,
                                 double temperature, bool max_entropy, double* grad);

/// IFD loss of one user at one lambda: with v_j = realised for the logged arm and 0 elsewhere,
/// (max_j (u_j - h v_j) - max_j (u_j + h v_j)) / (2 h). It is continuous and piecewise linear
/// in u, tends to -v_z (z = argmax u, the hard decision's realised utility, negated) as h -> 0,
/// and its gradient is the central finite difference (e(z-) - e(z+)) / (2 h), z+- the hard
/// decisions at u +- h v, e one-hot: the blackbox-differentiation estimate of Vlastelica et
/// al. 2020 taken on both sides. grad (m entries, may be null) receives d loss / d utility.
double finite_difference_user_loss(const double* utility, int m, int arm, double realised,
                                   double step, double* grad);

/// Rows of one batch, contiguous.
struct DecisionBatch {
    const float* x = nullptr;       ///< rows x D features
    int64_t rows = 0;               ///< batch rows
    const int32_t* arm = nullptr;   ///< logged arm per row
    const float* value = nullptr;   ///< observed value per row
    const float* cost = nullptr;    ///< observed cost per row
    const float* weight = nullptr;  ///< IPW weight N / N_t per row
};

// The surrogate over a batch, averaged over rows and the lambda grid, with its gradient
// through the network's value and cost heads and trunk. Keeps its scratch between calls.
class DecisionLoss {
  public:
    DecisionLoss(DecisionLossParams params, std::vector<double> lambdas);

    /// Loss of network on batch; when gradient is not null it is resized to the network's
    /// parameter count and receives d loss / d parameters (zero for auxiliary heads). The sum
    /// over rows is divided by normaliser rows (0: the batch's own), so the parts of a larger
    /// mini-batch add up to its loss.
    double evaluate(const MultiTaskNetwork& network, const DecisionBatch& batch, Backend& backend,
                    std::vector<float>* gradient, int64_t normaliser = 0);

    const DecisionLossParams& params() const { return params_; }
    const std::vector<double>& lambdas() const { return lambdas_; }

  private:
    void forward(const MultiTaskNetwork& network, const DecisionBatch& batch, Backend& backend);
    double user_loss(const double* utility, int m, int arm, double realised, double* grad) const;

    DecisionLossParams params_;
    std::vector<double> lambdas_;
    MlpWorkspace trunk_workspace_, head_workspace_[2];
    std::vector<float> prediction_[2];  ///< value and cost predictions, rows x M
    std::vector<float> grad_prediction_[2];
    std::vector<float> z_gradient_;
};

/// The hard decision's IPW utility, averaged over the lambdas: per lambda
/// (1/rows) sum_i [argmax_j u_ij = arm_i] v_i, lowest j on ties, predicted costs below 0 read
/// as 0 (as the allocation does). value and cost are rows x m predictions.
double decision_value(const float* value, const float* cost, int m, const DecisionBatch& batch,
                      const std::vector<double>& lambdas, double value_scale);

/// count lambdas at the quantiles k / (count + 1) of the users' best predicted incremental
/// return max_j (r_j - r_0) / (c_j - c_0) over arms with c_j > c_0, among users where it is
/// positive; the single lambda 1 when no user has one. value and cost are n x m.
std::vector<double> automatic_lambda_grid(const float* value, const float* cost, int64_t n, int m,
                                          int count);

}  // namespace ca
