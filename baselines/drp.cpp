// DRP: the softmax-weighted ratio loss, one scorer per treated arm against the control, the
// score -> ratio calibration that puts several arms on one scale, and the share-treated knob.
// Choices where the paper leaves a detail open:
// - scores are score_bound * tanh(output) before the softmax; ranking uses the raw output;
// - a dR below the floor continues the ratio by its tangent; dC is assumed positive;
// - several arms: one scorer per arm against control, the arm with the best calibrated ratio.
#include "baselines/drp.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.h"

namespace ca {

DrpParams DrpParams::from_config(const ConfigNode& node) {
    node.allow_only({"hidden", "learning_rate", "batch_size", "max_epochs", "patience", "seed",
                     "score_bound", "min_value_lift", "arm_rule", "calibration_bins"});
    DrpParams params;
    params.network = parse_direct_network(node, params.network);
    params.score_bound = node.number_in("score_bound", params.score_bound, 1e-3, 50.0);
    params.min_value_lift = node.number_in("min_value_lift", params.min_value_lift, 1e-9, 1.0);
    const std::string rule =
        node.choice("arm_rule", "calibrated_ratio", {"calibrated_ratio", "max_score"});
    params.arm_rule = rule == "max_score" ? DrpArmRule::kMaxScore : DrpArmRule::kCalibratedRatio;
    params.calibration_bins =
        int(node.integer_in("calibration_bins", params.calibration_bins, 1, 1000));
    return params;
}

nlohmann::json DrpParams::to_json() const {
    nlohmann::json out = direct_network_json(network);
    out["score_bound"] = score_bound;
    out["min_value_lift"] = min_value_lift;
    out["arm_rule"] = arm_rule == DrpArmRule::kMaxScore ? "max_score" : "calibrated_ratio";
    out["calibration_bins"] = calibration_bins;
    return out;
}

namespace {

// Softmax weights of one group (rows with treated == group) and the weighted means of value
// and cost; exp is taken after subtracting the group's largest score, so it cannot overflow.
struct GroupMeans {
    std::vector<double> weight;  ///< per row of the batch; 0 outside the group
    double value = 0.0, cost = 0.0;
    bool empty = true;
};

GroupMeans softmax_group(int64_t count, const double* score, const uint8_t* treated,
                         const double* value, const double* cost, bool group) {
    GroupMeans out;
    out.weight.assign(count, 0.0);
    double top = -INFINITY;
    for (int64_t i = 0; i < count; ++i)
        if ((treated[i] != 0) == group) top = std::max(top, score[i]);
    if (top == -INFINITY) return out;
    double total = 0.0;
    for (int64_t i = 0; i < count; ++i)
        if ((treated[i] != 0) == group) total += out.weight[i] = std::exp(score[i] - top);
    for (int64_t i = 0; i < count; ++i) {
        out.weight[i] /= total;
        out.value += out.weight[i] * value[i];
        out.cost += out.weight[i] * cost[i];
    }
    out.empty = false;
    return out;
}

}  // namespace

double drp_ratio_loss(int64_t count, const double* score, const uint8_t* treated,
                      const double* value, const double* cost, double value_floor,
                      double* grad_score) {
    CA_ASSERT(value_floor > 0.0);
    if (grad_score) std::fill(grad_score, grad_score + count, 0.0);
    GroupMeans t = softmax_group(count, score, treated, value, cost, true);
    GroupMeans c = softmax_group(count, score, treated, value, cost, false);
    if (t.empty || c.empty) return 0.0;
    const double value_lift = t.value - c.value;
    const double cost_lift = t.cost - c.cost;

    // loss = dC / g(dR); slope_cost = d loss / d dC, slope_value = d loss / d dR.
    double loss, slope_cost, slope_value;
    if (value_lift >= value_floor) {
        loss = cost_lift / value_lift;
        slope_cost = 1.0 / value_lift;
        slope_value = -cost_lift / (value_lift * value_lift);
    } else {
        const double floor2 = value_floor * value_floor;
        loss = cost_lift * (2.0 * value_floor - value_lift) / floor2;
        slope_cost = (2.0 * value_floor - value_lift) / floor2;
        slope_value = -cost_lift / floor2;
    }
    if (!grad_score) return loss;

    // d (sum_G w r) / d s_i = w_i (r_i - mean_G r) for the softmax weights of i's group G.
    for (int64_t i = 0; i < count; ++i) {
        const bool is_treated = treated[i] != 0;
        const GroupMeans& g = is_treated ? t : c;
        const double w = g.weight[i];
        const double d =
            slope_cost * w * (cost[i] - g.cost) + slope_value * w * (value[i] - g.value);
        grad_score[i] = is_treated ? d : -d;
    }
    return loss;
}

double RatioCalibration::at(double score) const {
    const size_t bin =
        std::upper_bound(upper_edges.begin(), upper_edges.end(), score) - upper_edges.begin();
    return ratio[bin];
}

namespace {

// Sums of one run of adjacent bins, for the pooled incremental ratio.
struct RatioBlock {
    int first_bin = 0, last_bin = 0;
    double n[2] = {0, 0}, value[2] = {0, 0}, cost[2] = {0, 0};  ///< [control, treated]

    bool has_both() const { return n[0] > 0 && n[1] > 0; }
    void absorb(const RatioBlock& other) {
        first_bin = std::min(first_bin, other.first_bin);
        last_bin = std::max(last_bin, other.last_bin);
        for (int g = 0; g < 2; ++g) {
            n[g] += other.n[g];
            value[g] += other.value[g];
            cost[g] += other.cost[g];
        }
    }
    double ratio(double cost_floor) const {
        const double value_lift = value[1] / n[1] - value[0] / n[0];
        const double cost_lift = cost[1] / n[1] - cost[0] / n[0];
        return value_lift / std::max(cost_lift, cost_floor);
    }
};

// Bins lacking a group join their right neighbour (the last one its left neighbour).
std::vector<RatioBlock> merge_one_sided(std::vector<RatioBlock> blocks) {
    std::vector<RatioBlock> out;
    RatioBlock pending;
    bool has_pending = false;
    for (const RatioBlock& block : blocks) {
        if (has_pending) {
            pending.absorb(block);
        } else {
            pending = block;
            has_pending = true;
        }
        if (pending.has_both()) {
            out.push_back(pending);
            has_pending = false;
        }
    }
    if (has_pending && !out.empty()) out.back().absorb(pending);
    return out;
}

}  // namespace

RatioCalibration calibrate_ratio(const std::vector<double>& score,
                                 const std::vector<uint8_t>& treated,
                                 const std::vector<double>& value, const std::vector<double>& cost,
                                 int bins, double cost_floor) {
    const int64_t n = int64_t(score.size());
    CA_ASSERT(n > 0 && bins > 0);
    bins = int(std::min<int64_t>(bins, n));
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return score[a] < score[b]; });

    // Quantile bins of the score, each row's outcome summed into its bin.
    RatioCalibration out;
    std::vector<RatioBlock> blocks(bins);
    for (int b = 0; b < bins; ++b) {
        blocks[b].first_bin = blocks[b].last_bin = b;
        if (b > 0) out.upper_edges.push_back(score[order[b * n / bins]]);
    }
    for (int64_t k = 0; k < n; ++k) {
        RatioBlock& block = blocks[k * bins / n];
        const int64_t i = order[k];
        const int g = treated[i] != 0 ? 1 : 0;
        block.n[g] += 1;
        block.value[g] += value[i];
        block.cost[g] += cost[i];
    }
    blocks = merge_one_sided(std::move(blocks));
    CA_ASSERT_MSG(!blocks.empty(), "calibration rows need both a treated and a control row");

    // Pool adjacent violators so the ratio never falls as the score rises.
    std::vector<RatioBlock> stack;
    for (const RatioBlock& block : blocks) {
        stack.push_back(block);
        while (stack.size() >= 2 &&
               stack[stack.size() - 2].ratio(cost_floor) > stack.back().ratio(cost_floor)) {
            stack[stack.size() - 2].absorb(stack.back());
            stack.pop_back();
        }
    }
    out.ratio.assign(bins, 0.0);
    for (const RatioBlock& block : stack)
        for (int b = block.first_bin; b <= block.last_bin; ++b)
            out.ratio[b] = block.ratio(cost_floor);
    return out;
}

namespace {

// Rows of arm 0 or arm `arm` of data.
std::vector<int64_t> pair_rows(const Dataset& data, int arm) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < data.n; ++i)
        if (data.arm[i] == 0 || data.arm[i] == arm) rows.push_back(i);
    return rows;
}

double mean_abs_value(const Dataset& data, const std::vector<int64_t>& rows) {
    double total = 0.0;
    for (int64_t i : rows) total += std::fabs(data.value[i]);
    return rows.empty() ? 0.0 : total / double(rows.size());
}

// The DRP loss of a batch of raw outputs: scores bound * tanh(output), chain rule back.
OutputLoss drp_output_loss(int arm, double score_bound, double value_floor) {
    return [=](const Dataset& data, const int64_t* rows, int64_t count, const float* output,
               float* grad_output) {
        std::vector<double> score(count), value(count), cost(count), grad(count);
        std::vector<uint8_t> treated(count);
        for (int64_t b = 0; b < count; ++b) {
            score[b] = score_bound * std::tanh(double(output[b]));
            treated[b] = data.arm[rows[b]] == arm ? 1 : 0;
            value[b] = data.value[rows[b]];
            cost[b] = data.cost[rows[b]];
        }
        const double loss =
            drp_ratio_loss(count, score.data(), treated.data(), value.data(), cost.data(),
                           value_floor, grad_output ? grad.data() : nullptr);
        if (grad_output) {
            for (int64_t b = 0; b < count; ++b) {
                const double t = std::tanh(double(output[b]));
                grad_output[b] = float(grad[b] * score_bound * (1.0 - t * t));
            }
        }
        return loss;
    };
}

bool has_both_arms(const Dataset& data, int arm) {
    if (data.n == 0) return false;
    std::vector<int64_t> counts = data.arm_counts();
    return counts[0] > 0 && counts[arm] > 0;
}

void check_arms(const Dataset& data, const std::string& role, int arm) {
    std::vector<int64_t> counts = data.arm_counts();
    for (int j : {0, arm})
        if (counts[j] == 0)
            CA_THROW(InputError, data.source << ": DRP: the " << role << " rows have no row of arm "
                                             << j << "; each treated arm is scored against the "
                                             << "control and needs rows of both");
}

// The score -> ratio map of one arm's scorer on the rows of that arm and the control.
RatioCalibration calibrate_scorer(const Mlp& scorer, const RowSelection& rows, int arm, int bins,
                                  Backend& backend) {
    std::vector<float> output = infer_rows(scorer, *rows.data, rows.rows, backend);
    std::vector<double> score(output.begin(), output.end()), value, cost;
    std::vector<uint8_t> treated;
    double treated_cost = 0.0, treated_rows = 0.0;
    for (int64_t i : rows.rows) {
        treated.push_back(rows.data->arm[i] == arm ? 1 : 0);
        value.push_back(rows.data->value[i]);
        cost.push_back(rows.data->cost[i]);
        if (treated.back()) treated_cost += cost.back(), treated_rows += 1.0;
    }
    // A millionth of the arm's mean cost: only a bin whose cost lift is about nil hits it.
    const double cost_floor = 1e-6 * treated_cost / treated_rows + 1e-12;
    return calibrate_ratio(score, treated, value, cost, bins, cost_floor);
}

}  // namespace

void DrpMethod::fit(MethodContext& context) {
    comm_ = context.communicator;
    const Dataset& train = context.train;
    if (train.m < 2)
        CA_THROW(InputError, train.source << ": DRP needs a control and at least one treated "
                                          << "arm, got M=" << train.m);
    m_ = train.m;
    scorers_.clear();
    ratios_.clear();
    reports_.clear();
    for (int arm = 1; arm < m_; ++arm) {
        check_arms(train, "training", arm);
        const uint64_t seed = direct_seed(params_.network.seed + context.seed, uint64_t(arm));
        scorers_.emplace_back(direct_widths(train.d, params_.network.hidden, 1), seed);
        RowSelection train_rows{&train, pair_rows(train, arm)};
        // Held-out rows serve early stopping and the calibration when they hold both groups;
        // otherwise the training rows do.
        RowSelection held_out{&context.validation, {}};
        if (has_both_arms(context.validation, arm))
            held_out.rows = pair_rows(context.validation, arm);
        const double value_floor =
            std::max(params_.min_value_lift * mean_abs_value(train, train_rows.rows), 1e-12);
        reports_.push_back(train_direct_network(
            scorers_.back(), train_rows, held_out,
            drp_output_loss(arm, params_.score_bound, value_floor), params_.network, seed,
            context.backend, "DRP arm " + std::to_string(arm), *context.communicator));
        if (params_.arm_rule != DrpArmRule::kCalibratedRatio) continue;
        const RowSelection& rows = held_out.rows.empty() ? train_rows : held_out;
        ratios_.push_back(calibrate_scorer(scorers_.back(), rows, arm, params_.calibration_bins,
                                           context.backend));
    }
}

void DrpMethod::prepare(const Dataset& rows, Backend& backend) {
    CA_ASSERT_MSG(!scorers_.empty(), "prepare() before fit()");
    const int64_t n = rows.n;
    std::vector<int64_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    std::vector<double> key(n, -INFINITY);
    arm_.assign(n, 0);
    raw_score_.assign(n, -INFINITY);

    // Each row's arm: the largest calibrated ratio (or raw output), lowest arm on ties.
    for (int arm = 1; arm < m_; ++arm) {
        std::vector<float> output = infer_rows(scorers_[arm - 1], rows, all, backend, *comm_);
        for (int64_t i = 0; i < n; ++i) {
            const double raw = output[i];
            const double k =
                params_.arm_rule == DrpArmRule::kCalibratedRatio ? ratios_[arm - 1].at(raw) : raw;
            if (k > key[i] || (k == key[i] && raw > raw_score_[i])) {
                key[i] = k;
                arm_[i] = arm;
                raw_score_[i] = raw;
            }
        }
    }

    ranking_ = all;
    std::stable_sort(ranking_.begin(), ranking_.end(), [&](int64_t a, int64_t b) {
        return key[a] > key[b] || (key[a] == key[b] && raw_score_[a] > raw_score_[b]);
    });
    treatable_ = n;
    if (params_.arm_rule == DrpArmRule::kCalibratedRatio)
        treatable_ = std::count_if(key.begin(), key.end(), [](double k) { return k > 0.0; });
}

KnobRange DrpMethod::knob_range() const {
    const double n = double(ranking_.size());
    return {0.0, n > 0 ? double(treatable_) / n : 0.0, KnobDirection::kCostIncreases};
}

void DrpMethod::choose(double knob, std::vector<int32_t>& choice) const {
    const int64_t n = int64_t(ranking_.size());
    choice.assign(n, 0);
    const double wanted = std::llround(std::clamp(knob, 0.0, 1.0) * double(n));
    const int64_t count = std::min<int64_t>(treatable_, int64_t(wanted));
    for (int64_t k = 0; k < count; ++k) choice[ranking_[k]] = arm_[ranking_[k]];
}

std::vector<double> DrpMethod::treatment_scores() const {
    if (m_ != 2) return {};
    return raw_score_;
}

nlohmann::json DrpMethod::diagnostics() const {
    nlohmann::json arms = nlohmann::json::array();
    for (size_t a = 0; a < reports_.size(); ++a) {
        nlohmann::json entry = reports_[a].to_json();
        entry["arm"] = a + 1;
        if (a < ratios_.size()) entry["calibrated_ratio"] = ratios_[a].ratio;
        arms.push_back(entry);
    }
    return {{"params", params_.to_json()}, {"scorers", arms}, {"treatable_rows", treatable_}};
}

}  // namespace ca
