// The synthetic RCT: config handling, determinism and chunking, the truth against Monte Carlo
// redraws, what each noise knob may and may not change, and that the data is worth allocating
// on (the oracle clearly beats uniform and random treatment; segments show in the features).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/eom.h"
#include "core/errors.h"
#include "core/synthetic_generator.h"

namespace ca {
namespace {

SyntheticParams small_params(int64_t rows = 3000) {
    SyntheticParams params;
    params.rows = rows;
    params.seed = 17;
    return params;
}

std::string config_error(const std::string& text) {
    try {
        parse_synthetic_params(ConfigNode::from_json(nlohmann::json::parse(text), "configs/s.json")
                                   .child("synthetic"));
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "";
}

void expect_same_rows(const Dataset& a, const Dataset& b) {
    EXPECT_EQ(a.n, b.n);
    EXPECT_EQ(a.x, b.x);
    EXPECT_EQ(a.arm, b.arm);
    EXPECT_EQ(a.value, b.value);
    EXPECT_EQ(a.cost, b.cost);
    EXPECT_EQ(a.aux, b.aux);
    EXPECT_EQ(a.propensity, b.propensity);
    EXPECT_EQ(a.true_value, b.true_value);
    EXPECT_EQ(a.true_cost, b.true_cost);
    EXPECT_EQ(a.user_id, b.user_id);
}

// Share of rows where two float columns of the same width differ anywhere in the row.
double share_of_rows_differing(const std::vector<float>& a, const std::vector<float>& b,
                               int width) {
    size_t rows = a.size() / width, differing = 0;
    for (size_t i = 0; i < rows; ++i)
        for (int k = 0; k < width; ++k)
            if (a[i * width + k] != b[i * width + k]) {
                ++differing;
                break;
            }
    return double(differing) / double(rows);
}

TEST(SyntheticConfig, ShippedConfigHoldsTheDefaults) {
    ConfigNode root = ConfigNode::from_file(std::string(CA_SOURCE_DIR) + "/configs/synthetic.json");
    EXPECT_EQ(root.child("data").string("source", ""), "synthetic");
    SyntheticParams parsed = parse_synthetic_params(root.child("data").child("synthetic"));
    EXPECT_EQ(synthetic_params_to_json(parsed), synthetic_params_to_json(SyntheticParams{}));
}

TEST(SyntheticConfig, RoundTripsThroughJson) {
    SyntheticParams params = small_params();
    params.arm_shares = {0.4, 0.15, 0.15, 0.15, 0.15};
    params.label_noise = 0.25;
    params.value = SyntheticValue::kOrders;
    nlohmann::json written = synthetic_params_to_json(params);
    SyntheticParams read = parse_synthetic_params(ConfigNode::from_json(written, "record"));
    EXPECT_EQ(synthetic_params_to_json(read), written);
    EXPECT_EQ(read.arm_shares, params.arm_shares);
    EXPECT_EQ(read.value, SyntheticValue::kOrders);
}

TEST(SyntheticConfig, BadValuesNameTheirKey) {
    std::string unknown = config_error(R"({"synthetic": {"rows": 10, "colour": 1}})");
    EXPECT_NE(unknown.find("configs/s.json: synthetic.colour"), std::string::npos) << unknown;
    std::string shares = config_error(R"({"synthetic": {"arms": 3, "arm_shares": [0.5, 0.5]}})");
    EXPECT_NE(shares.find("synthetic.arm_shares"), std::string::npos) << shares;
    EXPECT_NE(shares.find("one per arm (3)"), std::string::npos) << shares;
    std::string sum = config_error(R"({"synthetic": {"arms": 2, "arm_shares": [0.5, 0.6]}})");
    EXPECT_NE(sum.find("sum to 1.1"), std::string::npos) << sum;
    std::string zero = config_error(R"({"synthetic": {"arms": 2, "arm_shares": [1.0, 0.0]}})");
    EXPECT_NE(zero.find("synthetic.arm_shares[1]"), std::string::npos) << zero;
    std::string arms = config_error(R"({"synthetic": {"arms": 1}})");
    EXPECT_NE(arms.find("synthetic.arms"), std::string::npos) << arms;
    std::string value = config_error(R"({"synthetic": {"value": "revenue"}})");
    EXPECT_NE(value.find("\"revenue\""), std::string::npos) << value;
    SyntheticParams negative = small_params();
    negative.label_noise = -1;
    EXPECT_THROW(generate_synthetic(negative), ConfigError);
}

TEST(SyntheticDeterminism, SameSeedSameRowsAnyChunkingAnyThreads) {
    SyntheticParams params = small_params(2000);
    params.label_noise = 0.1;
    params.feature_noise = 0.2;
    params.outlier_rate = 0.05;
    params.covariate_shift = 0.2;
    Dataset whole = generate_synthetic(params);
    EXPECT_EQ(whole.n, 2000);
    expect_same_rows(whole, generate_synthetic(params));

    Dataset chunked;
    generate_synthetic_rows(params, 0, 700, chunked);
    generate_synthetic_rows(params, 700, 1, chunked);
    generate_synthetic_rows(params, 701, 1299, chunked);
    expect_same_rows(whole, chunked);

    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    Dataset single = generate_synthetic(params);
    omp_set_num_threads(threads);
    expect_same_rows(whole, single);

    params.seed += 1;
    Dataset other = generate_synthetic(params);
    EXPECT_GT(share_of_rows_differing(whole.true_value, other.true_value, whole.m), 0.99);
    EXPECT_THROW(generate_synthetic_rows(params, 1500, 501, chunked), InputError);
}

TEST(SyntheticModelShape, HeaderColumnsAndCostFreeControl) {
    Dataset data = generate_synthetic(small_params());
    EXPECT_EQ(data.d, 12);
    EXPECT_EQ(data.m, 5);
    EXPECT_EQ(data.source, "synthetic(seed=17)");
    EXPECT_EQ(data.arm_names.front(), "no_coupon");
    EXPECT_EQ(data.arm_names.back(), "coupon_20");
    ASSERT_EQ(data.aux_names, std::vector<std::string>{"converted"});
    for (int64_t i = 0; i < data.n; ++i) {
        const float* tv = data.true_value.data() + i * data.m;
        const float* tc = data.true_cost.data() + i * data.m;
        EXPECT_EQ(tc[0], 0.0f);
        if (data.arm[i] == 0) EXPECT_EQ(data.cost[i], 0.0f);
        // Cost is paid only on conversion, so it is the amount or nothing.
        EXPECT_TRUE(data.cost[i] == 0.0f || data.cost[i] == 5.0f * data.arm[i]);
        EXPECT_EQ(data.cost[i] > 0, data.aux[0][i] == 1.0f && data.arm[i] > 0);
        EXPECT_DOUBLE_EQ(data.propensity[i], 0.2);
        // A bigger coupon never lowers conversion, and always costs more when it converts.
        for (int j = 1; j < data.m; ++j) {
            EXPECT_GE(tv[j], tv[j - 1] * (1 - 1e-6f));
            EXPECT_GT(tc[j], tc[j - 1]);
        }
    }
}

TEST(SyntheticModelShape, SomeUsersIgnoreCouponsAndSomeRespondStrongly) {
    Dataset data = generate_synthetic(small_params());
    int64_t unmoved = 0, strong = 0;
    for (int64_t i = 0; i < data.n; ++i) {
        const float* tv = data.true_value.data() + i * data.m;
        unmoved += tv[data.m - 1] == tv[0];
        strong += tv[data.m - 1] > 2 * tv[0];
    }
    EXPECT_GT(unmoved, data.n / 10);
    EXPECT_GT(strong, data.n / 10);
}

struct MeanAndError {
    double mean, standard_error;
};

MeanAndError mean_and_error(const std::vector<double>& draws) {
    double sum = 0, squares = 0;
    for (double v : draws) sum += v;
    double mean = sum / draws.size();
    for (double v : draws) squares += (v - mean) * (v - mean);
    return {mean, std::sqrt(squares / (draws.size() - 1) / draws.size())};
}

TEST(SyntheticTruth, MatchesMonteCarloRedrawsForFixedUsers) {
    for (SyntheticValue kind : {SyntheticValue::kGmv, SyntheticValue::kOrders}) {
        SyntheticParams params = small_params();
        params.value = kind;
        params.label_noise = 0.3;  // zero-mean: must not move the means
        SyntheticModel model(params);
        const int redraws = 20000;
        for (int64_t row : {0, 1, 2, 3}) {
            SyntheticUser user = model.user(row);
            for (int arm : {0, 1, 4}) {
                std::vector<double> values, costs;
                for (int r = 0; r < redraws; ++r) {
                    SyntheticRng outcome_rng(999, uint64_t(r), 1000 + row);
                    SyntheticRng noise_rng(999, uint64_t(r), 2000 + row);
                    SyntheticOutcome draw = model.draw_outcome(user, arm, outcome_rng, noise_rng);
                    values.push_back(draw.value);
                    costs.push_back(draw.cost);
                }
                MeanAndError value = mean_and_error(values), cost = mean_and_error(costs);
                EXPECT_NEAR(value.mean, model.true_value(user, arm), 4 * value.standard_error)
                    << "row " << row << " arm " << arm;
                if (arm == 0) {
                    EXPECT_EQ(cost.mean, 0.0);
                } else {
                    EXPECT_NEAR(cost.mean, model.true_cost(user, arm), 4 * cost.standard_error)
                        << "row " << row << " arm " << arm;
                }
            }
        }
    }
}

TEST(SyntheticTruth, ObservedOutcomesAverageToTheTruthOfTheLoggedArm) {
    Dataset data = generate_synthetic(small_params(20000));
    std::vector<double> value_gap, cost_gap;
    for (int64_t i = 0; i < data.n; ++i) {
        value_gap.push_back(data.value[i] - data.true_value[i * data.m + data.arm[i]]);
        cost_gap.push_back(data.cost[i] - data.true_cost[i * data.m + data.arm[i]]);
    }
    MeanAndError value = mean_and_error(value_gap), cost = mean_and_error(cost_gap);
    EXPECT_NEAR(value.mean, 0.0, 4 * value.standard_error);
    EXPECT_NEAR(cost.mean, 0.0, 4 * cost.standard_error);
}

TEST(SyntheticNoise, EachKnobChangesOnlyWhatItShould) {
    SyntheticParams params = small_params();
    Dataset clean = generate_synthetic(params);
    auto with = [&](auto change) {
        SyntheticParams changed = params;
        change(changed);
        return generate_synthetic(changed);
    };

    Dataset labels = with([](SyntheticParams& p) { p.label_noise = 0.5; });
    EXPECT_EQ(labels.true_value, clean.true_value);
    EXPECT_EQ(labels.x, clean.x);
    EXPECT_EQ(labels.cost, clean.cost);
    EXPECT_GT(share_of_rows_differing(labels.value, clean.value, 1), 0.99);

    Dataset outliers = with([](SyntheticParams& p) { p.outlier_rate = 0.1; });
    EXPECT_EQ(outliers.true_value, clean.true_value);
    EXPECT_EQ(outliers.cost, clean.cost);
    double outlier_share = share_of_rows_differing(outliers.value, clean.value, 1);
    EXPECT_GT(outlier_share, 0.07);
    EXPECT_LT(outlier_share, 0.13);
    for (int64_t i = 0; i < clean.n; ++i) EXPECT_GE(outliers.value[i], clean.value[i]);

    Dataset features = with([](SyntheticParams& p) { p.feature_noise = 0.5; });
    EXPECT_EQ(features.true_value, clean.true_value);
    EXPECT_EQ(features.true_cost, clean.true_cost);
    EXPECT_EQ(features.value, clean.value);
    EXPECT_EQ(features.arm, clean.arm);
    EXPECT_GT(share_of_rows_differing(features.x, clean.x, clean.d), 0.99);

    Dataset shares = with([](SyntheticParams& p) { p.arm_shares = {0.6, 0.1, 0.1, 0.1, 0.1}; });
    EXPECT_EQ(shares.true_value, clean.true_value);
    EXPECT_EQ(shares.x, clean.x);
    EXPECT_NEAR(shares.arm_shares()[0], 0.6, 0.03);
    for (int64_t i = 0; i < shares.n; ++i)
        EXPECT_DOUBLE_EQ(shares.propensity[i], shares.arm[i] == 0 ? 0.6 : 0.1);

    // A shifted user keeps the same response function of its features: unshifted rows keep
    // both their features and their truth.
    Dataset shifted = with([](SyntheticParams& p) { p.covariate_shift = 0.3; });
    double moved = share_of_rows_differing(shifted.x, clean.x, clean.d);
    EXPECT_GT(moved, 0.25);
    EXPECT_LT(moved, 0.35);
    for (int64_t i = 0; i < clean.n; ++i) {
        bool same_x = std::equal(clean.x.begin() + i * clean.d, clean.x.begin() + (i + 1) * clean.d,
                                 shifted.x.begin() + i * clean.d);
        if (same_x) EXPECT_EQ(shifted.true_value[i * clean.m], clean.true_value[i * clean.m]);
    }
}

TEST(SyntheticNoise, OrdersCountConversionsAndKeepTheCosts) {
    SyntheticParams params = small_params();
    Dataset gmv = generate_synthetic(params);
    params.value = SyntheticValue::kOrders;
    Dataset orders = generate_synthetic(params);
    EXPECT_TRUE(orders.value_is_binary);
    EXPECT_FALSE(gmv.value_is_binary);
    EXPECT_EQ(orders.true_cost, gmv.true_cost);
    EXPECT_EQ(orders.cost, gmv.cost);
    for (int64_t i = 0; i < orders.n; ++i) {
        EXPECT_EQ(orders.value[i], gmv.aux[0][i]);
        // Truth: the conversion probability, i.e. cost over the coupon amount.
        for (int j = 1; j < orders.m; ++j)
            EXPECT_NEAR(orders.true_value[i * orders.m + j],
                        orders.true_cost[i * orders.m + j] / (5.0 * j), 1e-6);
    }
}

TEST(SyntheticUsefulness, OracleClearlyBeatsUniformAndRandomTreatment) {
    Dataset data = generate_synthetic(small_params(20000));
    TrueOutcome nothing = true_policy_value(data, std::vector<int32_t>(data.n, 0));
    TrueOutcome top = true_policy_value(data, std::vector<int32_t>(data.n, data.m - 1));
    double max_gain = top.value - nothing.value;
    for (int arm = 1; arm + 1 < data.m; ++arm) {
        // Everyone gets the same coupon. The oracle, spending as much, gains clearly more, and
        // it matches that value with a fifth of the money left over: it skips users who
        // ignore coupons or would buy anyway.
        TrueOutcome uniform = true_policy_value(data, std::vector<int32_t>(data.n, arm));
        OracleResult same = oracle_at_budget(data, uniform.cost);
        EXPECT_LE(same.cost, uniform.cost * (1 + 1e-9));
        EXPECT_GT(same.value - uniform.value, 0.05 * max_gain) << "arm " << arm;
        EXPECT_GE(oracle_at_budget(data, 0.8 * uniform.cost).value, uniform.value) << "arm " << arm;
    }
    // Values never fall with a bigger coupon, so the top coupon for all is the most valuable
    // policy; the oracle gets the same value without paying for the useless coupons.
    OracleResult unlimited = oracle_at_budget(data, top.cost);
    EXPECT_NEAR(unlimited.value, top.value, 1e-6 * top.value);
    EXPECT_LT(unlimited.cost, top.cost);
    // A random coupon for a random share of users.
    std::mt19937 rng(8);
    for (double share : {0.2, 0.5, 0.8}) {
        std::vector<int32_t> choices(data.n, 0);
        for (int32_t& c : choices)
            if (std::uniform_real_distribution<double>(0, 1)(rng) < share)
                c = 1 + int(rng() % (data.m - 1));
        TrueOutcome random = true_policy_value(data, choices);
        OracleResult oracle = oracle_at_budget(data, random.cost);
        EXPECT_GT(oracle.value - nothing.value, 1.3 * (random.value - nothing.value))
            << "share " << share;
    }
}

TEST(SyntheticUsefulness, SegmentsAreRecoverableFromFeatures) {
    SyntheticParams params = small_params();
    SyntheticModel model(params);
    Dataset data = generate_synthetic(params);
    std::vector<std::vector<double>> centres;
    for (int s = 0; s < params.segments; ++s) centres.push_back(model.standardised_centre(s));
    int64_t recovered = 0;
    for (int64_t i = 0; i < data.n; ++i) {
        int nearest = 0;
        double best = INFINITY;
        for (int s = 0; s < params.segments; ++s) {
            double distance = 0;
            for (int k = 0; k < data.d; ++k) {
                double gap = data.x[i * data.d + k] - centres[s][k];
                distance += gap * gap;
            }
            if (distance < best) {
                best = distance;
                nearest = s;
            }
        }
        recovered += nearest == model.user(i).segment;
    }
    EXPECT_GT(double(recovered) / data.n, 0.95);
}

TEST(SyntheticUsefulness, FeaturesAreStandardised) {
    Dataset data = generate_synthetic(small_params(20000));
    for (int k = 0; k < data.d; ++k) {
        double sum = 0, squares = 0;
        for (int64_t i = 0; i < data.n; ++i) sum += data.x[i * data.d + k];
        double mean = sum / data.n;
        for (int64_t i = 0; i < data.n; ++i)
            squares += (data.x[i * data.d + k] - mean) * (data.x[i * data.d + k] - mean);
        EXPECT_NEAR(mean, 0.0, 0.1) << "feature " << k;
        EXPECT_NEAR(std::sqrt(squares / data.n), 1.0, 0.1) << "feature " << k;
    }
}

}  // namespace
}  // namespace ca
