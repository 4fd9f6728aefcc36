// Synthetic coupon-marketing RCT with known true responses. Every random draw is a function of
// (seed, row, purpose) through a counter-based generator, so a row is the same whatever the
// chunking or thread count, and noise knobs never move the truth.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/dataset.h"

namespace ca {

/// What the observed and true value measure.
enum class SyntheticValue {
    kGmv,    ///< money spent: conversion times a heavy-tailed basket
    kOrders  ///< conversion, 0 or 1
};

/// Parameters of the generator: the "synthetic" object of a config's "data" section.
struct SyntheticParams {
    int64_t rows = 100000;           ///< N users
    int features = 12;               ///< D observed features
    int arms = 5;                    ///< M: arm 0 no coupon, arm j a coupon worth j * coupon_step
    uint64_t seed = 1;               ///< every draw is a function of (seed, row)
    std::vector<double> arm_shares;  ///< RCT assignment probabilities, M values; empty = equal
    int segments = 8;                ///< latent user types driving the heterogeneity
    double label_noise = 0.0;        ///< sd of zero-mean noise on the observed value (value scale)
    double outlier_rate = 0.0;       ///< share of rows whose observed value gets an outlier added
    double outlier_scale = 20.0;     ///< mean outlier size (value scale; exponential)
    double feature_noise = 0.0;      ///< sd of noise on observed features (within-segment sd = 1)
    double covariate_shift = 0.0;    ///< share of rows whose users come from a shifted population
    double shift_scale = 1.5;        ///< length of that shift (within-segment sd units)
    SyntheticValue value = SyntheticValue::kGmv;  ///< "gmv" or "orders"
    double coupon_step = 5.0;                     ///< face value of the smallest coupon (money)
};

/// Reads the "synthetic" object; unknown keys, wrong types and out-of-range values are
/// ConfigErrors naming the key.
SyntheticParams parse_synthetic_params(const ConfigNode& node);
/// The same object back, every field written, for the run's record.
nlohmann::json synthetic_params_to_json(const SyntheticParams& params);
/// ConfigError naming the field when a value is out of range (for params built in code).
void check_synthetic_params(const SyntheticParams& params);

/// N users with features, a logged arm drawn from arm_shares, observed value and cost, the
/// arm's propensity and the N x M true value and cost.
Dataset generate_synthetic(const SyntheticParams& params);

/// Appends rows [first, first + count) to out, so that 10^7-10^8 rows can be streamed in
/// chunks; out's header is filled when it has no rows yet. Rows [0, n) equal rows [0, k)
/// followed by [k, n). InputError when the range leaves [0, params.rows).
void generate_synthetic_rows(const SyntheticParams& params, int64_t first, int64_t count,
                             Dataset& out);

/// A counter-based random stream (splitmix64 steps from a hashed start), cheap to create per
/// row. Normals use Box-Muller here rather than std::normal_distribution, whose output differs
/// between standard libraries.
class SyntheticRng {
  public:
    SyntheticRng(uint64_t seed, uint64_t row, uint64_t stream);
    uint64_t next();
    /// Uniform in (0, 1), never 0 or 1.
    double uniform();
    double normal();
    /// Exponential with mean 1.
    double exponential();

  private:
    uint64_t state_;
};

/// One user's latent state and the response parameters it implies.
struct SyntheticUser {
    int segment = 0;               ///< latent type
    bool shifted = false;          ///< drawn from the shifted population
    std::vector<double> offset;    ///< D: clean features minus the segment centre
    std::vector<double> features;  ///< D: clean features, unstandardised
    double base_logit = 0.0;       ///< a(x): conversion logit without a coupon
    double responsiveness = 0.0;   ///< b(x) >= 0: logit gained by the deepest coupon
    double basket_log_mean = 0.0;  ///< mean of the log basket given conversion
};

/// One observed outcome of a user under an arm.
struct SyntheticOutcome {
    bool converted = false;
    double value = 0.0;  ///< observed value, noise knobs included
    double cost = 0.0;   ///< coupon paid: its amount on conversion, else 0
};

/// The response model fixed by the seed: segment centres, per-segment response parameters and
/// the weights of the within-segment effects. A user converts under arm j with probability
/// sigmoid(a(x) + b(x) g(j)), g(j) = log(1 + j) / log(M) concave increasing; b(x) = 0 for
/// every fourth segment (users who ignore coupons). A converted user's basket is lognormal with
/// an x-dependent mean; the coupon is paid only on conversion.
class SyntheticModel {
  public:
    explicit SyntheticModel(const SyntheticParams& params);

    const SyntheticParams& params() const { return params_; }
    SyntheticUser user(int64_t row) const;
    int draw_arm(int64_t row) const;
    double coupon_amount(int arm) const;
    double conversion_probability(const SyntheticUser& user, int arm) const;
    /// E[basket | conversion].
    double expected_basket(const SyntheticUser& user) const;
    double true_value(const SyntheticUser& user, int arm) const;
    double true_cost(const SyntheticUser& user, int arm) const;
    /// An outcome of the user under arm; the noise knobs draw from noise_rng.
    SyntheticOutcome draw_outcome(const SyntheticUser& user, int arm, SyntheticRng& outcome_rng,
                                  SyntheticRng& noise_rng) const;
    /// Observed features, standardised by the population moments of the unshifted mixture;
    /// feature noise draws from noise_rng.
    std::vector<float> observed_features(const SyntheticUser& user, SyntheticRng& noise_rng) const;
    /// Segment s's centre in the standardised observed feature space (no noise, no shift).
    std::vector<double> standardised_centre(int segment) const;
    /// The unit of label noise and outliers: 1 for orders; for GMV the geometric mean of the
    /// segments' median baskets.
    double value_scale() const;

  private:
    SyntheticParams params_;
    std::vector<double> arm_shares_;        ///< M
    std::vector<double> centres_;           ///< segments x D
    std::vector<double> base_logit_;        ///< per segment
    std::vector<double> response_;          ///< per segment, >= 0
    std::vector<double> basket_log_mean_;   ///< per segment
    std::vector<double> base_weights_;      ///< D: within-segment effect on the base logit
    std::vector<double> response_weights_;  ///< D: on log responsiveness
    std::vector<double> basket_weights_;    ///< D: on the basket's log mean
    std::vector<double> shift_direction_;   ///< D, unit length
    std::vector<double> feature_mean_;      ///< D, of the unshifted mixture
    std::vector<double> feature_sd_;        ///< D, including feature noise
};

}  // namespace ca
