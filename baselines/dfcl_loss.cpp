// DFCL's decision losses: the per-user PL and IFD surrogates, and their average over a batch
// and a lambda grid with the gradient backpropagated through the network's value and cost heads.
// Choice where the paper leaves a detail open: IFD perturbs only the logged arm's utility (the
// only arm whose realised utility the RCT row shows), by +-h v, and takes central differences.
#include "baselines/dfcl_loss.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "core/losses.h"

namespace ca {

double policy_learning_user_loss(const double* utility, int m, int arm, double realised,
                                 double temperature, bool max_entropy, double* grad) {
    double top = -INFINITY;
    for (int j = 0; j < m; ++j) top = std::max(top, utility[j] / temperature);
    // Reused across calls: this runs once per row and lambda.
    thread_local std::vector<double> pi;
    pi.resize(m);
    double total = 0.0;
    for (int j = 0; j < m; ++j) total += pi[j] = std::exp(utility[j] / temperature - top);
    double entropy = 0.0;
    for (int j = 0; j < m; ++j) {
        pi[j] /= total;
        if (pi[j] > 0.0) entropy -= pi[j] * std::log(pi[j]);
    }
    const double objective = pi[arm] * realised + (max_entropy ? temperature * entropy : 0.0);
    if (grad) {
        // d (pi_a v) / d u_j = v pi_a ([j = a] - pi_j) / tau; d (tau H) / d u_j =
        // -pi_j (log pi_j + H).
        for (int j = 0; j < m; ++j) {
            double slope = realised * pi[arm] * ((j == arm ? 1.0 : 0.0) - pi[j]) / temperature;
            if (max_entropy && pi[j] > 0.0) slope -= pi[j] * (std::log(pi[j]) + entropy);
            grad[j] = -slope;
        }
    }
    return -objective;
}

namespace {

// argmax_j utility_j + shift * [j = arm] (lowest j on ties) and the maximum.
int shifted_argmax(const double* utility, int m, int arm, double shift, double* maximum) {
    int best = 0;
    double best_value = -INFINITY;
    for (int j = 0; j < m; ++j) {
        const double u = utility[j] + (j == arm ? shift : 0.0);
        if (u > best_value) {
            best_value = u;
            best = j;
        }
    }
    *maximum = best_value;
    return best;
}

}  // namespace

double finite_difference_user_loss(const double* utility, int m, int arm, double realised,
                                   double step, double* grad) {
    double below = 0.0, above = 0.0;
    const int z_below = shifted_argmax(utility, m, arm, -step * realised, &below);
    const int z_above = shifted_argmax(utility, m, arm, step * realised, &above);
    if (grad) {
        std::fill(grad, grad + m, 0.0);
        grad[z_below] += 1.0 / (2.0 * step);
        grad[z_above] -= 1.0 / (2.0 * step);
    }
    return (below - above) / (2.0 * step);
}

DecisionLoss::DecisionLoss(DecisionLossParams params, std::vector<double> lambdas)
    : params_(params), lambdas_(std::move(lambdas)) {
    CA_ASSERT(!lambdas_.empty() && params_.value_scale > 0.0);
    CA_ASSERT(params_.temperature > 0.0 && params_.ifd_step > 0.0);
}

double DecisionLoss::user_loss(const double* utility, int m, int arm, double realised,
                               double* grad) const {
    if (params_.variant == DfclVariant::kPolicyLearning)
        return policy_learning_user_loss(utility, m, arm, realised, params_.temperature,
                                         params_.max_entropy, grad);
    return finite_difference_user_loss(utility, m, arm, realised, params_.ifd_step, grad);
}

// Value and cost predictions in data units, the heads' raw outputs kept in their workspaces.
void DecisionLoss::forward(const MultiTaskNetwork& network, const DecisionBatch& batch,
                           Backend& backend) {
    const float* params = network.parameters().data();
    const MlpLayout& trunk = network.trunk();
    const MlpLayout& head = network.head();
    trunk.forward(params, batch.x, batch.rows, backend, trunk_workspace_);
    const float* z = trunk_workspace_.layer_output(trunk.layer_count() - 1);
    const int64_t count = batch.rows * network.arm_count();
    for (int t = 0; t < 2; ++t) {
        head.forward(params + network.head_offset(t), z, batch.rows, backend, head_workspace_[t]);
        const float* raw = head_workspace_[t].layer_output(head.layer_count() - 1);
        const TaskSpec& task = network.tasks()[t];
        prediction_[t].resize(count);
        for (int64_t e = 0; e < count; ++e)
            prediction_[t][e] =
                task.loss == LossKind::kBce ? float(sigmoid(raw[e])) : raw[e] * task.target_scale;
    }
}

double DecisionLoss::evaluate(const MultiTaskNetwork& network, const DecisionBatch& batch,
                              Backend& backend, std::vector<float>* gradient, int64_t normaliser) {
    CA_ASSERT(batch.rows > 0 && normaliser >= 0);
    forward(network, batch, backend);
    const int m = network.arm_count();
    const double s = params_.value_scale;
    const double rows = double(normaliser > 0 ? normaliser : batch.rows);
    const double norm = 1.0 / (double(lambdas_.size()) * rows);
    for (auto& g : grad_prediction_) g.assign(size_t(batch.rows) * m, 0.0f);

    // Per row and lambda: utilities, the surrogate and d loss / d prediction.
    double total = 0.0;
    std::vector<double> utility(m), grad(m);
    for (int64_t i = 0; i < batch.rows; ++i) {
        const float* r_hat = prediction_[0].data() + i * m;
        const float* c_hat = prediction_[1].data() + i * m;
        for (double lambda : lambdas_) {
            for (int j = 0; j < m; ++j) utility[j] = (r_hat[j] - lambda * c_hat[j]) / s;
            const double realised =
                batch.weight[i] * (double(batch.value[i]) - lambda * batch.cost[i]) / s;
            total += user_loss(utility.data(), m, batch.arm[i], realised,
                               gradient ? grad.data() : nullptr);
            if (!gradient) continue;
            for (int j = 0; j < m; ++j) {
                grad_prediction_[0][i * m + j] += float(norm * grad[j] / s);
                grad_prediction_[1][i * m + j] -= float(norm * lambda * grad[j] / s);
            }
        }
    }
    if (!gradient) return total * norm;

    // Back through the prediction transform, the two heads and the trunk.
    const float* params = network.parameters().data();
    const MlpLayout& trunk = network.trunk();
    const MlpLayout& head = network.head();
    gradient->assign(network.parameters().size(), 0.0f);
    z_gradient_.resize(size_t(batch.rows) * network.hidden_width());
    const float* z = trunk_workspace_.layer_output(trunk.layer_count() - 1);
    for (int t = 0; t < 2; ++t) {
        const TaskSpec& task = network.tasks()[t];
        std::vector<float>& g = grad_prediction_[t];
        for (size_t e = 0; e < g.size(); ++e) {
            const float p = prediction_[t][e];
            g[e] *= task.loss == LossKind::kBce ? p * (1.0f - p) : task.target_scale;
        }
        head.backward(params + network.head_offset(t), z, g.data(), batch.rows, backend,
                      head_workspace_[t], gradient->data() + network.head_offset(t),
                      z_gradient_.data(), t > 0);
    }
    trunk.backward(params, batch.x, z_gradient_.data(), batch.rows, backend, trunk_workspace_,
                   gradient->data(), nullptr);
    return total * norm;
}

double decision_value(const float* value, const float* cost, int m, const DecisionBatch& batch,
                      const std::vector<double>& lambdas, double value_scale) {
    double total = 0.0;
    for (double lambda : lambdas) {
        for (int64_t i = 0; i < batch.rows; ++i) {
            int best = 0;
            double best_utility = -INFINITY;
            for (int j = 0; j < m; ++j) {
                const double c = std::max(0.0f, cost[i * m + j]);
                const double u = value[i * m + j] - lambda * c;
                if (u > best_utility) {
                    best_utility = u;
                    best = j;
                }
            }
            if (best == batch.arm[i])
                total += batch.weight[i] * (double(batch.value[i]) - lambda * batch.cost[i]);
        }
    }
    return total / (value_scale * double(lambdas.size()) * double(batch.rows));
}

std::vector<double> automatic_lambda_grid(const float* value, const float* cost, int64_t n, int m,
                                          int count) {
    std::vector<double> best;
    for (int64_t i = 0; i < n; ++i) {
        double ratio = 0.0;
        for (int j = 1; j < m; ++j) {
            const double extra_cost = double(cost[i * m + j]) - cost[i * m];
            if (extra_cost > 1e-12)
                ratio = std::max(ratio, (double(value[i * m + j]) - value[i * m]) / extra_cost);
        }
        if (ratio > 0.0) best.push_back(ratio);
    }
    if (best.empty()) return {1.0};
    std::sort(best.begin(), best.end());
    std::vector<double> grid;
    for (int k = 1; k <= count; ++k)
        grid.push_back(best[size_t(double(k) / (count + 1) * double(best.size() - 1) + 0.5)]);
    return grid;
}

}  // namespace ca
