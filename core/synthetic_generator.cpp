// The synthetic coupon RCT: the seeded response model, per-row draws from independent streams
// (user, arm, outcome, noise) and the chunked writer into a Dataset.
#include "core/synthetic_generator.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <sstream>

#include "core/errors.h"

namespace ca {

namespace {

const uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
const double kTwoPi = 6.283185307179586;

// One stream per purpose, so that a knob that only adds noise never shifts the draws behind
// the truth, the arms or the features.
enum Stream : uint64_t { kWorldStream = 0, kUserStream, kArmStream, kOutcomeStream, kNoiseStream };

// Model constants: centres 1.5 within-segment sds apart per feature keep segments separable
// from the features; within-segment effects are modest next to the segment effects.
const double kCentreSpread = 1.5;
const double kBaseWeightNorm = 0.6;
const double kResponseWeightNorm = 0.5;
const double kBasketWeightNorm = 0.3;
const double kBasketSigma = 0.8;

uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double sum = 0.0;
    for (size_t k = 0; k < a.size(); ++k) sum += a[k] * b[k];
    return sum;
}

std::vector<double> random_direction(SyntheticRng& rng, int d, double length) {
    std::vector<double> out(d);
    for (double& v : out) v = rng.normal();
    double norm = std::sqrt(dot(out, out));
    for (double& v : out) v *= length / norm;
    return out;
}

std::string arm_label(double amount) {
    if (amount == 0.0) return "no_coupon";
    std::ostringstream out;
    out << "coupon_" << amount;
    return out.str();
}

void fill_header(const SyntheticParams& params, Dataset& out) {
    out.source = "synthetic(seed=" + std::to_string(params.seed) + ")";
    out.d = params.features;
    out.m = params.arms;
    out.feature_names.clear();
    for (int k = 0; k < params.features; ++k) out.feature_names.push_back("f" + std::to_string(k));
    out.arm_names.clear();
    for (int j = 0; j < params.arms; ++j)
        out.arm_names.push_back(arm_label(j * params.coupon_step));
    bool gmv = params.value == SyntheticValue::kGmv;
    out.aux_names = gmv ? std::vector<std::string>{"converted"} : std::vector<std::string>{};
    out.aux.assign(out.aux_names.size(), {});
    out.value_is_binary = !gmv && params.label_noise == 0 && params.outlier_rate == 0;
    out.cost_is_binary = params.arms == 2 && params.coupon_step == 1.0;
}

// Grows every per-row column of out by count rows.
void grow_columns(Dataset& out, int64_t count) {
    int64_t n = out.n + count;
    out.x.resize(n * out.d);
    out.arm.resize(n);
    out.value.resize(n);
    out.cost.resize(n);
    for (auto& column : out.aux) column.resize(n);
    out.propensity.resize(n);
    out.true_value.resize(n * out.m);
    out.true_cost.resize(n * out.m);
    out.user_id.resize(n);
    out.n = n;
}

}  // namespace

SyntheticRng::SyntheticRng(uint64_t seed, uint64_t row, uint64_t stream)
    : state_(mix64(mix64(mix64(seed + kGolden) + row) + stream * kGolden)) {}

uint64_t SyntheticRng::next() {
    state_ += kGolden;
    return mix64(state_);
}

double SyntheticRng::uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }

double SyntheticRng::normal() {
    double radius = std::sqrt(-2.0 * std::log(uniform()));
    return radius * std::cos(kTwoPi * uniform());
}

double SyntheticRng::exponential() { return -std::log(uniform()); }

SyntheticParams parse_synthetic_params(const ConfigNode& node) {
    node.allow_only({"rows", "features", "arms", "seed", "arm_shares", "segments", "label_noise",
                     "outlier_rate", "outlier_scale", "feature_noise", "covariate_shift",
                     "shift_scale", "value", "coupon_step"});
    SyntheticParams p;
    p.rows = node.integer_in("rows", p.rows, 1, 10000000000L);
    p.features = int(node.integer_in("features", p.features, 1, 4096));
    p.arms = int(node.integer_in("arms", p.arms, 2, 64));
    p.seed = uint64_t(node.integer_in("seed", long(p.seed), 0, LONG_MAX));
    p.arm_shares = node.numbers("arm_shares", p.arm_shares);
    p.segments = int(node.integer_in("segments", p.segments, 1, 4096));
    p.label_noise = node.number_in("label_noise", p.label_noise, 0.0, 1e6);
    p.outlier_rate = node.number_in("outlier_rate", p.outlier_rate, 0.0, 1.0);
    p.outlier_scale = node.number_in("outlier_scale", p.outlier_scale, 0.0, 1e6);
    p.feature_noise = node.number_in("feature_noise", p.feature_noise, 0.0, 1e6);
    p.covariate_shift = node.number_in("covariate_shift", p.covariate_shift, 0.0, 1.0);
    p.shift_scale = node.number_in("shift_scale", p.shift_scale, 0.0, 1e6);
    p.value = node.choice("value", "gmv", {"gmv", "orders"}) == "gmv" ? SyntheticValue::kGmv
                                                                      : SyntheticValue::kOrders;
    p.coupon_step = node.number_in("coupon_step", p.coupon_step, 1e-9, 1e9);

    if (p.arm_shares.empty()) return p;
    if (int(p.arm_shares.size()) != p.arms)
        node.fail("arm_shares", "has " + std::to_string(p.arm_shares.size()) +
                                    " entries; expected one per arm (" + std::to_string(p.arms) +
                                    ")");
    double sum = 0.0;
    for (size_t j = 0; j < p.arm_shares.size(); ++j) {
        if (!(p.arm_shares[j] > 0.0))
            node.fail("arm_shares[" + std::to_string(j) + "]",
                      "share " + std::to_string(p.arm_shares[j]) +
                          " must be > 0: every arm needs logged rows");
        sum += p.arm_shares[j];
    }
    if (std::fabs(sum - 1.0) > 1e-6)
        node.fail("arm_shares", "shares sum to " + std::to_string(sum) + "; expected 1");
    return p;
}

nlohmann::json synthetic_params_to_json(const SyntheticParams& p) {
    return {{"rows", p.rows},
            {"features", p.features},
            {"arms", p.arms},
            {"seed", p.seed},
            {"arm_shares", p.arm_shares},
            {"segments", p.segments},
            {"label_noise", p.label_noise},
            {"outlier_rate", p.outlier_rate},
            {"outlier_scale", p.outlier_scale},
            {"feature_noise", p.feature_noise},
            {"covariate_shift", p.covariate_shift},
            {"shift_scale", p.shift_scale},
            {"value", p.value == SyntheticValue::kGmv ? "gmv" : "orders"},
            {"coupon_step", p.coupon_step}};
}

void check_synthetic_params(const SyntheticParams& params) {
    // One set of ranges: the config reader's.
    parse_synthetic_params(
        ConfigNode::from_json(synthetic_params_to_json(params), "synthetic params"));
}

SyntheticModel::SyntheticModel(const SyntheticParams& params) : params_(params) {
    check_synthetic_params(params_);
    const int d = params_.features, segments = params_.segments;
    arm_shares_ = params_.arm_shares;
    if (arm_shares_.empty()) arm_shares_.assign(params_.arms, 1.0 / params_.arms);

    // The world: drawn in a fixed order from the seed alone.
    SyntheticRng world(params_.seed, 0, kWorldStream);
    centres_.resize(size_t(segments) * d);
    for (double& c : centres_) c = kCentreSpread * world.normal();
    for (int s = 0; s < segments; ++s) {
        base_logit_.push_back(-4.0 + 5.0 * world.uniform());
        double strength = 0.3 + 2.7 * world.uniform();
        response_.push_back(s % 4 == 3 ? 0.0 : strength);
        basket_log_mean_.push_back(2.5 + 3.0 * world.uniform());
    }
    base_weights_ = random_direction(world, d, kBaseWeightNorm);
    response_weights_ = random_direction(world, d, kResponseWeightNorm);
    basket_weights_ = random_direction(world, d, kBasketWeightNorm);
    shift_direction_ = random_direction(world, d, 1.0);

    // Moments of the equal-weight mixture of N(centre_s, 1), plus feature noise.
    feature_mean_.assign(d, 0.0);
    feature_sd_.assign(d, 0.0);
    for (int k = 0; k < d; ++k) {
        double sum = 0.0, squares = 0.0;
        for (int s = 0; s < segments; ++s) {
            sum += centres_[size_t(s) * d + k];
            squares += centres_[size_t(s) * d + k] * centres_[size_t(s) * d + k];
        }
        feature_mean_[k] = sum / segments;
        double variance = 1.0 + squares / segments - feature_mean_[k] * feature_mean_[k];
        feature_sd_[k] = std::sqrt(variance + params_.feature_noise * params_.feature_noise);
    }
}

SyntheticUser SyntheticModel::user(int64_t row) const {
    const int d = params_.features;
    SyntheticRng rng(params_.seed, uint64_t(row), kUserStream);
    SyntheticUser out;
    out.segment = std::min(params_.segments - 1, int(rng.uniform() * params_.segments));
    out.offset.resize(d);
    for (double& v : out.offset) v = rng.normal();
    out.shifted = rng.uniform() < params_.covariate_shift;
    if (out.shifted)
        for (int k = 0; k < d; ++k) out.offset[k] += params_.shift_scale * shift_direction_[k];
    out.features.resize(d);
    for (int k = 0; k < d; ++k)
        out.features[k] = centres_[size_t(out.segment) * d + k] + out.offset[k];
    out.base_logit = base_logit_[out.segment] + dot(base_weights_, out.offset);
    out.responsiveness = response_[out.segment] * std::exp(dot(response_weights_, out.offset));
    out.basket_log_mean = basket_log_mean_[out.segment] + dot(basket_weights_, out.offset);
    return out;
}

int SyntheticModel::draw_arm(int64_t row) const {
    SyntheticRng rng(params_.seed, uint64_t(row), kArmStream);
    double u = rng.uniform(), cumulative = 0.0;
    for (int j = 0; j + 1 < params_.arms; ++j) {
        cumulative += arm_shares_[j];
        if (u < cumulative) return j;
    }
    return params_.arms - 1;
}

double SyntheticModel::coupon_amount(int arm) const { return arm * params_.coupon_step; }

double SyntheticModel::conversion_probability(const SyntheticUser& user, int arm) const {
    // Diminishing returns: g(j) = log(1 + j) / log(M) rises from 0 to 1, ever more slowly.
    double g = std::log1p(double(arm)) / std::log(double(params_.arms));
    double logit = user.base_logit + user.responsiveness * g;
    return 1.0 / (1.0 + std::exp(-logit));
}

double SyntheticModel::expected_basket(const SyntheticUser& user) const {
    return std::exp(user.basket_log_mean + 0.5 * kBasketSigma * kBasketSigma);
}

double SyntheticModel::true_value(const SyntheticUser& user, int arm) const {
    double p = conversion_probability(user, arm);
    return params_.value == SyntheticValue::kGmv ? p * expected_basket(user) : p;
}

double SyntheticModel::true_cost(const SyntheticUser& user, int arm) const {
    return conversion_probability(user, arm) * coupon_amount(arm);
}

double SyntheticModel::value_scale() const {
    if (params_.value == SyntheticValue::kOrders) return 1.0;
    double mean_log = 0.0;
    for (double m : basket_log_mean_) mean_log += m / basket_log_mean_.size();
    return std::exp(mean_log);
}

SyntheticOutcome SyntheticModel::draw_outcome(const SyntheticUser& user, int arm,
                                              SyntheticRng& outcome_rng,
                                              SyntheticRng& noise_rng) const {
    // Every variate is drawn whether or not it is used, so the streams stay aligned.
    double conversion_draw = outcome_rng.uniform();
    double basket_draw = outcome_rng.normal();
    double label_draw = noise_rng.normal();
    double outlier_draw = noise_rng.uniform();
    double outlier_size = noise_rng.exponential();

    SyntheticOutcome out;
    out.converted = conversion_draw < conversion_probability(user, arm);
    if (out.converted) {
        double basket = std::exp(user.basket_log_mean + kBasketSigma * basket_draw);
        out.value = params_.value == SyntheticValue::kGmv ? basket : 1.0;
        out.cost = coupon_amount(arm);
    }
    out.value += params_.label_noise * value_scale() * label_draw;
    if (outlier_draw < params_.outlier_rate)
        out.value += params_.outlier_scale * value_scale() * outlier_size;
    return out;
}

std::vector<float> SyntheticModel::observed_features(const SyntheticUser& user,
                                                     SyntheticRng& noise_rng) const {
    std::vector<float> out(params_.features);
    // Feature noise is the last use of the noise stream, so it may skip its draws when off.
    bool noisy_features = params_.feature_noise > 0;
    for (int k = 0; k < params_.features; ++k) {
        double noise = noisy_features ? params_.feature_noise * noise_rng.normal() : 0.0;
        double noisy = user.features[k] + noise;
        out[k] = float((noisy - feature_mean_[k]) / feature_sd_[k]);
    }
    return out;
}

std::vector<double> SyntheticModel::standardised_centre(int segment) const {
    CA_ASSERT(segment >= 0 && segment < params_.segments);
    std::vector<double> out(params_.features);
    for (int k = 0; k < params_.features; ++k)
        out[k] =
            (centres_[size_t(segment) * params_.features + k] - feature_mean_[k]) / feature_sd_[k];
    return out;
}

Dataset generate_synthetic(const SyntheticParams& params) {
    Dataset out;
    generate_synthetic_rows(params, 0, params.rows, out);
    return out;
}

void generate_synthetic_rows(const SyntheticParams& params, int64_t first, int64_t count,
                             Dataset& out) {
    if (first < 0 || count < 0 || first + count > params.rows)
        CA_THROW(InputError, "synthetic rows [" << first << ", " << first + count
                                                << ") leave the generated range [0, " << params.rows
                                                << ")");
    SyntheticModel model(params);
    if (out.n == 0) fill_header(params, out);
    CA_ASSERT_MSG(out.d == params.features && out.m == params.arms,
                  "appending synthetic rows to a dataset of another shape");
    const int64_t base = out.n;
    const int d = params.features, m = params.arms;
    grow_columns(out, count);
    bool gmv = params.value == SyntheticValue::kGmv;

#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < count; ++k) {
        const int64_t row = first + k, i = base + k;
        SyntheticUser user = model.user(row);
        int arm = model.draw_arm(row);
        SyntheticRng outcome_rng(params.seed, uint64_t(row), kOutcomeStream);
        SyntheticRng noise_rng(params.seed, uint64_t(row), kNoiseStream);
        SyntheticOutcome outcome = model.draw_outcome(user, arm, outcome_rng, noise_rng);
        std::vector<float> x = model.observed_features(user, noise_rng);

        std::copy(x.begin(), x.end(), out.x.begin() + i * d);
        out.arm[i] = arm;
        out.value[i] = float(outcome.value);
        out.cost[i] = float(outcome.cost);
        if (gmv) out.aux[0][i] = outcome.converted ? 1.0f : 0.0f;
        out.propensity[i] =
            model.params().arm_shares.empty() ? 1.0 / m : model.params().arm_shares[arm];
        for (int j = 0; j < m; ++j) {
            out.true_value[i * m + j] = float(model.true_value(user, j));
            out.true_cost[i * m + j] = float(model.true_cost(user, j));
        }
        out.user_id[i] = row;
    }
}

}  // namespace ca
