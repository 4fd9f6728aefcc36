// DRM: the arm ladder by mean cost, the ratio-consistent loss on adjacent pairs, and the
// step-up allocation at lambda.
// Choices where the paper leaves a detail open:
// - loss: 0.5 z_c theta^2 - z_v theta per row and pair (see drm_ratio_loss), IPW by pair share;
// - returns are bounded, ratio_bound times the pooled top-vs-bottom return, by a tanh;
// - a user steps up from the cheapest arm while the next return exceeds lambda, then stops.
#include "baselines/drm.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.h"

namespace ca {

DrmParams DrmParams::from_config(const ConfigNode& node) {
    node.allow_only(
        {"hidden", "learning_rate", "batch_size", "max_epochs", "patience", "seed", "ratio_bound"});
    DrmParams params;
    params.network = parse_direct_network(node, params.network);
    params.ratio_bound = node.number_in("ratio_bound", params.ratio_bound, 1e-3, 1e6);
    return params;
}

nlohmann::json DrmParams::to_json() const {
    nlohmann::json out = direct_network_json(network);
    out["ratio_bound"] = ratio_bound;
    return out;
}

namespace {

struct ArmMeans {
    std::vector<int64_t> count;
    std::vector<double> value, cost;
};

ArmMeans arm_means(const Dataset& data) {
    ArmMeans out{data.arm_counts(), std::vector<double>(data.m, 0.0),
                 std::vector<double>(data.m, 0.0)};
    for (int64_t i = 0; i < data.n; ++i) {
        out.value[data.arm[i]] += data.value[i];
        out.cost[data.arm[i]] += data.cost[i];
    }
    for (int j = 0; j < data.m; ++j) {
        if (out.count[j] == 0) continue;
        out.value[j] /= double(out.count[j]);
        out.cost[j] /= double(out.count[j]);
    }
    return out;
}

// The pooled return of the costliest arm against the cheapest; where that is not a positive
// number, mean |value| per unit of mean cost, so the network's outputs stay of order one.
double return_unit(const Dataset& train, const DrmLadder& ladder) {
    ArmMeans means = arm_means(train);
    const int bottom = ladder.order.front(), top = ladder.order.back();
    const double value_lift = means.value[top] - means.value[bottom];
    const double cost_lift = means.cost[top] - means.cost[bottom];
    if (cost_lift > 0.0 && std::fabs(value_lift) > 0.0) return std::fabs(value_lift / cost_lift);
    double abs_value = 0.0, cost = 0.0;
    for (int64_t i = 0; i < train.n; ++i) {
        abs_value += std::fabs(train.value[i]);
        cost += train.cost[i];
    }
    return abs_value > 0.0 && cost > 0.0 ? abs_value / cost : 1.0;
}

}  // namespace

DrmLadder DrmLadder::from_training(const Dataset& train) {
    if (train.m < 2)
        CA_THROW(InputError, train.source << ": DRM needs at least two arms, got M=" << train.m);
    ArmMeans means = arm_means(train);
    for (int j = 0; j < train.m; ++j)
        if (means.count[j] == 0)
            CA_THROW(InputError, train.source << ": DRM: arm " << j << " has no training rows; "
                                              << "every step of the arm ladder needs rows of "
                                              << "both its arms");
    DrmLadder ladder;
    ladder.order.resize(train.m);
    std::iota(ladder.order.begin(), ladder.order.end(), 0);
    std::stable_sort(ladder.order.begin(), ladder.order.end(),
                     [&](int a, int b) { return means.cost[a] < means.cost[b]; });
    ladder.position.resize(train.m);
    for (int k = 0; k < train.m; ++k) ladder.position[ladder.order[k]] = k;
    for (int k = 1; k < train.m; ++k) {
        const double lower = double(means.count[ladder.order[k - 1]]);
        const double upper = double(means.count[ladder.order[k]]);
        ladder.lower_share.push_back(lower / (lower + upper));
        ladder.upper_share.push_back(upper / (lower + upper));
    }
    return ladder;
}

double DrmMethod::to_return(float output) const {
    return params_.ratio_bound * unit_ * std::tanh(double(output) / params_.ratio_bound);
}

void DrmMethod::fit(MethodContext& context) {
    comm_ = context.communicator;
    const Dataset& train = context.train;
    ladder_ = DrmLadder::from_training(train);
    unit_ = return_unit(train, ladder_);
    m_ = train.m;
    const uint64_t seed = direct_seed(params_.network.seed + context.seed, 0);
    network_ = Mlp(direct_widths(train.d, params_.network.hidden, m_ - 1), seed);

    // Each row is the upper arm of the step into its arm and the lower arm of the step out.
    const int pairs = m_ - 1;
    const DrmLadder& ladder = ladder_;
    const double bound = params_.ratio_bound, unit = unit_;
    OutputLoss loss = [&ladder, pairs, bound, unit](const Dataset& data, const int64_t* rows,
                                                    int64_t count, const float* output,
                                                    float* grad_output) {
        double total = 0.0;
        for (int64_t b = 0; b < count; ++b) {
            const int64_t i = rows[b];
            const int position = ladder.position[data.arm[i]];
            for (int k = std::max(position, 1); k <= std::min(position + 1, pairs); ++k) {
                const bool upper = k == position;
                const double scale =
                    upper ? 1.0 / ladder.upper_share[k - 1] : -1.0 / ladder.lower_share[k - 1];
                const double t = std::tanh(double(output[b * pairs + k - 1]) / bound);
                double slope = 0.0;
                total += drm_ratio_loss(bound * unit * t, scale * data.value[i],
                                        scale * data.cost[i], &slope);
                if (grad_output)
                    grad_output[b * pairs + k - 1] = float(slope * unit * (1.0 - t * t) / count);
            }
        }
        return total / double(count);
    };

    std::vector<int64_t> train_rows(train.n), held_out_rows(context.validation.n);
    std::iota(train_rows.begin(), train_rows.end(), 0);
    std::iota(held_out_rows.begin(), held_out_rows.end(), 0);
    report_ = train_direct_network(network_, {&train, train_rows},
                                   {&context.validation, held_out_rows}, loss, params_.network,
                                   seed, context.backend, "DRM", *context.communicator);
}

void DrmMethod::prepare(const Dataset& rows, Backend& backend) {
    CA_ASSERT_MSG(m_ >= 2, "prepare() before fit()");
    n_ = rows.n;
    std::vector<int64_t> all(n_);
    std::iota(all.begin(), all.end(), 0);
    std::vector<float> output = infer_rows(network_, rows, all, backend, *comm_);
    returns_.resize(output.size());
    double largest = 1e-9;
    for (size_t e = 0; e < output.size(); ++e) {
        returns_[e] = to_return(output[e]);
        largest = std::max(largest, returns_[e]);
    }
    lambda_max_ = 1.01 * largest;
}

KnobRange DrmMethod::knob_range() const {
    return {0.0, lambda_max_, KnobDirection::kCostDecreases};
}

void DrmMethod::choose(double knob, std::vector<int32_t>& choice) const {
    const int pairs = m_ - 1;
    choice.assign(n_, ladder_.order[0]);
    for (int64_t i = 0; i < n_; ++i)
        for (int k = 1; k <= pairs && returns_[i * pairs + k - 1] > knob; ++k)
            choice[i] = ladder_.order[k];
}

std::vector<double> DrmMethod::treatment_scores() const {
    if (m_ != 2 || ladder_.order[0] != 0) return {};
    return returns_;
}

nlohmann::json DrmMethod::diagnostics() const {
    return {{"params", params_.to_json()},
            {"training", report_.to_json()},
            {"arm_order", ladder_.order},
            {"return_unit", unit_}};
}

}  // namespace ca
