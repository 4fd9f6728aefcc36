// DRP: the softmax ratio loss (its minimiser among orderings, its gradient, the floor), the
// score -> ratio calibration, the policy against random allocation on synthetic data, and the
// config object.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "baselines/direct_test_support.h"
#include "baselines/drm.h"
#include "baselines/drp.h"
#include "core/errors.h"
#include "experiments/method_registry.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

using testing_support::SharedContext;
using testing_support::SyntheticSplit;

// Five users, each logged once treated and once in control (twin rows with one score), so both
// softmaxes give user k the same weight and the loss is sum w dc / sum w dr over users.
struct TwinUsers {
    std::vector<double> treated_value, treated_cost, control_value, control_cost;
};

double loss_of_ordering(const TwinUsers& users, const std::vector<int>& ranking) {
    const int n = int(users.treated_value.size());
    std::vector<double> score(2 * n), value(2 * n), cost(2 * n);
    std::vector<uint8_t> treated(2 * n);
    for (int k = 0; k < n; ++k) {
        const int u = ranking[k];
        // Rank k gets score n - 1 - k: distinct weights, the largest for the first user.
        score[2 * u] = score[2 * u + 1] = double(n - 1 - k);
        treated[2 * u] = 1;
        value[2 * u] = users.treated_value[u];
        cost[2 * u] = users.treated_cost[u];
        value[2 * u + 1] = users.control_value[u];
        cost[2 * u + 1] = users.control_cost[u];
    }
    return drp_ratio_loss(2 * n, score.data(), treated.data(), value.data(), cost.data(), 1e-6,
                          nullptr);
}

// Compares the true ROI ordering with every other ordering of the users.
void expect_roi_ordering_is_the_unique_minimum(const TwinUsers& users) {
    const int n = int(users.treated_value.size());
    std::vector<int> truth(n);
    std::iota(truth.begin(), truth.end(), 0);
    auto roi = [&](int u) {
        return (users.treated_value[u] - users.control_value[u]) /
               (users.treated_cost[u] - users.control_cost[u]);
    };
    std::sort(truth.begin(), truth.end(), [&](int a, int b) { return roi(a) > roi(b); });
    const double best = loss_of_ordering(users, truth);

    std::vector<int> ranking(n);
    std::iota(ranking.begin(), ranking.end(), 0);
    int orderings = 0;
    do {
        ++orderings;
        if (ranking == truth) continue;
        EXPECT_GT(loss_of_ordering(users, ranking), best + 1e-9)
            << "ordering " << ranking[0] << ranking[1] << ranking[2] << ranking[3] << ranking[4];
    } while (std::next_permutation(ranking.begin(), ranking.end()));
    EXPECT_EQ(orderings, 120);
}

TEST(DrpLossTest, TrueRoiOrderingBeatsEveryOtherOrderingAtEqualCostLift) {
    // Every user's cost lift is 0.5, so the loss is 0.5 / sum w dr: by the rearrangement
    // inequality the largest weights belong on the largest value lifts, i.e. the largest ROI.
    TwinUsers users{{0.9, 0.5, 0.7, 0.4, 0.55},
                    {0.6, 0.5, 0.7, 0.9, 0.5},
                    {0.3, 0.2, 0.2, 0.3, 0.1},
                    {0.1, 0.0, 0.2, 0.4, 0.0}};
    expect_roi_ordering_is_the_unique_minimum(users);
}

TEST(DrpLossTest, TrueRoiOrderingBeatsEveryOtherOrderingAtEqualValueLift) {
    // Every value lift is 0.4: the loss is sum w dc / 0.4, smallest with the largest weights
    // on the smallest cost lifts, again the largest ROI first.
    TwinUsers users{{0.9, 0.5, 0.8, 0.6, 0.7},
                    {0.3, 0.8, 0.7, 0.9, 1.0},
                    {0.5, 0.1, 0.4, 0.2, 0.3},
                    {0.0, 0.2, 0.5, 0.1, 0.0}};
    expect_roi_ordering_is_the_unique_minimum(users);
}

TEST(DrpLossTest, GradientMatchesFiniteDifferences) {
    std::mt19937_64 engine(5);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const int n = 9;
    std::vector<double> score(n), value(n), cost(n), grad(n);
    std::vector<uint8_t> treated(n);
    for (int i = 0; i < n; ++i) {
        score[i] = 2.0 * uniform(engine) - 1.0;
        treated[i] = i % 3 != 0;
        value[i] = uniform(engine) + (treated[i] ? 0.5 : 0.0);
        cost[i] = treated[i] ? uniform(engine) : 0.1 * uniform(engine);
    }
    // One floor far below the value lift (the ratio) and one above it (the tangent).
    for (double floor : {1e-3, 5.0}) {
        drp_ratio_loss(n, score.data(), treated.data(), value.data(), cost.data(), floor,
                       grad.data());
        for (int i = 0; i < n; ++i) {
            const double h = 1e-6;
            std::vector<double> up = score, down = score;
            up[i] += h;
            down[i] -= h;
            const double numeric = (drp_ratio_loss(n, up.data(), treated.data(), value.data(),
                                                   cost.data(), floor, nullptr) -
                                    drp_ratio_loss(n, down.data(), treated.data(), value.data(),
                                                   cost.data(), floor, nullptr)) /
                                   (2 * h);
            EXPECT_NEAR(grad[i], numeric, 1e-6 * (1.0 + std::fabs(numeric)))
                << "row " << i << ", floor " << floor;
        }
    }
}

TEST(DrpLossTest, BelowTheFloorTheRatioContinuesByItsTangent) {
    // One treated and one control row: both weights are 1, dC = 1 - 0 = 1.
    const double score[2] = {0.3, -0.7};
    const uint8_t treated[2] = {1, 0};
    const double cost[2] = {1.0, 0.0};
    // dR = 0.25 above the floor 0.1: the plain ratio 1 / 0.25.
    const double value_above[2] = {0.75, 0.5};
    EXPECT_NEAR(drp_ratio_loss(2, score, treated, value_above, cost, 0.1, nullptr), 4.0, 1e-12);
    // dR = 0 below the floor: dC (2 * 0.1 - 0) / 0.1^2 = 20, finite, and 10 = 1 / 0.1 at the
    // floor itself, where both pieces meet.
    const double value_zero[2] = {0.5, 0.5};
    EXPECT_NEAR(drp_ratio_loss(2, score, treated, value_zero, cost, 0.1, nullptr), 20.0, 1e-9);
    const double value_floor[2] = {0.6, 0.5};
    EXPECT_NEAR(drp_ratio_loss(2, score, treated, value_floor, cost, 0.1, nullptr), 10.0, 1e-9);
    // dR < 0 would flip the sign of a plain ratio; the tangent keeps rising instead.
    const double value_negative[2] = {0.3, 0.5};
    EXPECT_NEAR(drp_ratio_loss(2, score, treated, value_negative, cost, 0.1, nullptr), 40.0, 1e-9);
}

TEST(DrpLossTest, MissingGroupGivesZeroLossAndGradient) {
    const double score[2] = {0.3, -0.7}, value[2] = {1, 0}, cost[2] = {1, 1};
    const uint8_t treated[2] = {1, 1};
    double grad[2] = {9, 9};
    EXPECT_EQ(drp_ratio_loss(2, score, treated, value, cost, 0.1, grad), 0.0);
    EXPECT_EQ(grad[0], 0.0);
    EXPECT_EQ(grad[1], 0.0);
}

TEST(DrpCalibrationTest, BinRatiosArePooledWhenTheyFallWithTheScore) {
    // Scores 1..8 in two bins. Low bin: treated value 1 at cost 1 against control 0, ratio 1.
    // High bin: treated value 0.5 at cost 1, ratio 0.5, lower than the bin below, so the two
    // are pooled: treated mean value (1 + 1 + 0.5 + 0.5) / 4 = 0.75 at cost 1, ratio 0.75.
    std::vector<double> score{1, 2, 3, 4, 5, 6, 7, 8};
    std::vector<uint8_t> treated{1, 0, 1, 0, 1, 0, 1, 0};
    std::vector<double> value{1, 0, 1, 0, 0.5, 0, 0.5, 0};
    std::vector<double> cost{1, 0, 1, 0, 1, 0, 1, 0};
    RatioCalibration falling = calibrate_ratio(score, treated, value, cost, 2, 1e-9);
    ASSERT_EQ(falling.ratio.size(), 2u);
    EXPECT_NEAR(falling.ratio[0], 0.75, 1e-12);
    EXPECT_NEAR(falling.ratio[1], 0.75, 1e-12);

    // Swapping the bins' outcomes makes the ratio rise with the score: kept per bin.
    std::vector<double> rising_value{0.5, 0, 0.5, 0, 1, 0, 1, 0};
    RatioCalibration rising = calibrate_ratio(score, treated, rising_value, cost, 2, 1e-9);
    EXPECT_NEAR(rising.at(2.0), 0.5, 1e-12);
    EXPECT_NEAR(rising.at(7.0), 1.0, 1e-12);
    EXPECT_NEAR(rising.at(100.0), 1.0, 1e-12);
}

TEST(DrpCalibrationTest, BinWithoutControlRowsJoinsItsNeighbour) {
    // Two bins; the low one holds only treated rows, so it is pooled with the high one:
    // treated value (1 + 1 + 3) / 3 at cost 1, control 0 at cost 0: ratio 5/3 everywhere.
    std::vector<double> score{1, 2, 3, 4};
    std::vector<uint8_t> treated{1, 1, 1, 0};
    std::vector<double> value{1, 1, 3, 0};
    std::vector<double> cost{1, 1, 1, 0};
    RatioCalibration calibration = calibrate_ratio(score, treated, value, cost, 2, 1e-9);
    EXPECT_NEAR(calibration.at(1.0), 5.0 / 3.0, 1e-12);
    EXPECT_NEAR(calibration.at(4.0), 5.0 / 3.0, 1e-12);
}

TEST(DrpMethodTest, BinaryPolicyBeatsRandomAtEveryBudget) {
    SyntheticSplit split = testing_support::synthetic_split(2, 4000, 1000, 4000, 21);
    SharedContext shared(split);
    DrpMethod method(DrpParams{});
    method.fit(shared.context());
    testing_support::expect_beats_random(method, split.test);
    EXPECT_EQ(method.treatment_scores().size(), size_t(split.test.n));
}

// The direct baselines on several ranks: each batch's parts are shared, the coupled loss is
// taken over the joined outputs, and every rank ends with the one-process scorer (the same
// held-out losses to the bit and the same choices), also with more ranks than parts.
TEST(DrpMethodTest, EveryRankCountTrainsTheOneProcessScorers) {
    SyntheticSplit split = testing_support::synthetic_split(3, 3000, 600, 500, 27);
    auto scores_on = [&](Communicator& comm, const std::string& name) {
        MethodContext context{split.train, split.validation, cpu_backend(), 0, nullptr};
        context.communicator = &comm;
        std::unique_ptr<AllocationMethod> method;
        if (name == "DRP") {
            DrpParams params;
            params.network.max_epochs = 4;
            params.network.batch_size = 256;  // several batches per epoch
            method = std::make_unique<DrpMethod>(params);
        } else {
            DrmParams params;
            params.network.max_epochs = 4;
            params.network.batch_size = 256;
            method = std::make_unique<DrmMethod>(params);
        }
        method->fit(context);
        method->prepare(split.test, cpu_backend());
        std::vector<int32_t> low, high;
        const KnobRange range = method->knob_range();
        method->choose(range.low, low);
        method->choose(0.5 * (range.low + range.high), high);
        const nlohmann::json diagnostics = method->diagnostics();
        // Some epoch must have improved on the initial weights, or training went untested.
        if (name == "DRP") {
            for (const auto& scorer : diagnostics["scorers"])
                EXPECT_GE(scorer["best_epoch"].get<int>(), 1) << name;
        } else {
            EXPECT_GE(diagnostics["training"]["best_epoch"].get<int>(), 1) << name;
        }
        std::string outcome = diagnostics.dump();  // held-out losses, to the bit
        for (int32_t arm : low) outcome += char('0' + arm);
        for (int32_t arm : high) outcome += char('0' + arm);
        return outcome;
    };
    for (const std::string name : {"DRP", "DRM"}) {
        const std::string one = scores_on(local_communicator(), name);
        for (int ranks : {2, 5}) {
            auto outcomes = testing::run_on_ranks<std::string>(
                ranks, [&](Communicator& comm) { return scores_on(comm, name); });
            for (const auto& outcome : outcomes) EXPECT_EQ(outcome, one) << name << ", " << ranks;
        }
    }
}

TEST(DrpMethodTest, ThreeArmPolicyBeatsRandomAtEveryBudget) {
    SyntheticSplit split = testing_support::synthetic_split(3, 4000, 1000, 4000, 22);
    SharedContext shared(split);
    DrpMethod method(DrpParams{});
    method.fit(shared.context());
    testing_support::expect_beats_random(method, split.test);
    EXPECT_TRUE(method.treatment_scores().empty());
}

TEST(DrpMethodTest, HeldOutRowsWithoutTheTreatedArmLeaveStoppingToTheTrainingRows) {
    // Validation rows of the control alone carry no DRP loss (it needs both groups), so early
    // stopping would see 0 throughout; the training rows take their place.
    SyntheticSplit split = testing_support::synthetic_split(2, 2000, 500, 10, 24);
    std::vector<int64_t> control_rows;
    for (int64_t i = 0; i < split.validation.n; ++i)
        if (split.validation.arm[i] == 0) control_rows.push_back(i);
    split.validation = split.validation.subset(control_rows);
    SharedContext shared(split);
    DrpParams params;
    params.network.max_epochs = 3;
    DrpMethod method(params);
    method.fit(shared.context());
    const nlohmann::json scorer = method.diagnostics()["scorers"][0];
    EXPECT_NE(scorer["initial_loss"].get<double>(), 0.0);
    EXPECT_GT(scorer["best_epoch"].get<int>(), 0);
}

TEST(DrpMethodTest, ArmWithoutTrainingRowsIsNamed) {
    SyntheticSplit split = testing_support::synthetic_split(3, 600, 100, 10, 25);
    std::vector<int64_t> kept;
    for (int64_t i = 0; i < split.train.n; ++i)
        if (split.train.arm[i] != 2) kept.push_back(i);
    split.train = split.train.subset(kept);
    MethodContext context{split.train, split.validation, cpu_backend(), 0, nullptr};
    DrpMethod method(DrpParams{});
    try {
        method.fit(context);
        FAIL() << "fitted without rows of arm 2";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("no row of arm 2"), std::string::npos)
            << error.what();
    }
}

TEST(DrpMethodTest, TreatedShareFollowsTheKnobTopScoreFirst) {
    SyntheticSplit split = testing_support::synthetic_split(3, 2000, 500, 1000, 23);
    SharedContext shared(split);
    DrpParams params;
    params.network.max_epochs = 3;
    params.arm_rule = DrpArmRule::kMaxScore;
    DrpMethod method(params);
    method.fit(shared.context());
    method.prepare(split.test, cpu_backend());
    EXPECT_EQ(method.knob_range().high, 1.0);
    EXPECT_EQ(method.knob_range().direction, KnobDirection::kCostIncreases);

    // Who is treated at a share is treated at every larger share, with the same arm.
    std::vector<int32_t> previous(split.test.n, 0);
    for (double share : {0.0, 0.1, 0.35, 0.7, 1.0}) {
        std::vector<int32_t> choice;
        method.choose(share, choice);
        int64_t treated = 0;
        for (int64_t i = 0; i < split.test.n; ++i) {
            if (choice[i] != 0) ++treated;
            if (previous[i] != 0) EXPECT_EQ(choice[i], previous[i]) << "row " << i;
        }
        EXPECT_EQ(treated, std::llround(share * split.test.n)) << "share " << share;
        previous = choice;
    }
}

TEST(DrpParamsTest, ReadsEveryKeyAndRejectsUnknownOnes) {
    auto node = [](const std::string& text) {
        return ConfigNode::from_json(nlohmann::json::parse(text), "configs/run.json")
            .child("baselines")
            .child("drp");
    };
    DrpParams defaults = DrpParams::from_config(node(R"({"baselines": {"drp": {}}})"));
    EXPECT_EQ(defaults.arm_rule, DrpArmRule::kCalibratedRatio);
    EXPECT_EQ(defaults.network.hidden, (std::vector<int>{64, 32}));

    DrpParams set = DrpParams::from_config(node(R"({"baselines": {"drp": {
        "hidden": [8], "learning_rate": 0.01, "batch_size": 64, "max_epochs": 4, "patience": 2,
        "seed": 3, "score_bound": 2, "min_value_lift": 0.05, "arm_rule": "max_score",
        "calibration_bins": 4}}})"));
    EXPECT_EQ(set.network.hidden, (std::vector<int>{8}));
    EXPECT_EQ(set.network.batch_size, 64);
    EXPECT_EQ(set.arm_rule, DrpArmRule::kMaxScore);
    EXPECT_EQ(set.calibration_bins, 4);
    EXPECT_EQ(set.score_bound, 2.0);
    DrpParams again = DrpParams::from_config(ConfigNode::from_json(set.to_json(), "x"));
    EXPECT_EQ(again.to_json(), set.to_json());

    try {
        DrpParams::from_config(node(R"({"baselines": {"drp": {"score_bond": 2}}})"));
        FAIL() << "unknown key accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("baselines.drp.score_bond"), std::string::npos)
            << error.what();
    }
    try {
        DrpParams::from_config(node(R"({"baselines": {"drp": {"arm_rule": "best"}}})"));
        FAIL() << "unknown arm rule accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("arm_rule"), std::string::npos) << error.what();
        EXPECT_NE(std::string(error.what()).find("best"), std::string::npos) << error.what();
    }
    EXPECT_THROW(DrpParams::from_config(node(R"({"baselines": {"drp": {"hidden": [0]}}})")),
                 ConfigError);
}

TEST(DrpRegistryTest, TheDirectBaselinesFollowTsmCfAndReadTheirConfigObjects) {
    std::vector<std::string> names = known_method_names();
    auto cf = std::find(names.begin(), names.end(), "TSM-CF");
    ASSERT_NE(cf, names.end());
    ASSERT_LE(cf + 5, names.end());
    EXPECT_EQ(std::vector<std::string>(cf + 1, cf + 5),
              (std::vector<std::string>{"DRP", "DRM", "DFCL-PL", "DFCL-IFD"}));

    ConfigNode root = ConfigNode::from_json(nlohmann::json::parse(R"({"baselines": {
        "drp": {"arm_rule": "max_score"}, "drm": {"ratio_bound": 4},
        "dfcl": {"temperature": 0.5}}})"),
                                            "configs/r.json");
    for (const std::string& name : {"DRP", "DRM", "DFCL-PL", "DFCL-IFD"})
        EXPECT_EQ(make_method(name, 0, root)->name(), name);
    EXPECT_EQ(make_method("DRP", 0, root)->diagnostics()["params"]["arm_rule"], "max_score");

    for (const char* key : {"drp", "drm", "dfcl"}) {
        nlohmann::json document = {{"baselines", {{key, {{"epochs", 3}}}}}};
        ConfigNode misspelt = ConfigNode::from_json(document, "configs/r.json");
        const std::string method = std::string(key) == "drp"   ? "DRP"
                                   : std::string(key) == "drm" ? "DRM"
                                                               : "DFCL-IFD";
        try {
            make_method(method, 0, misspelt);
            ADD_FAILURE() << "baselines." << key << ".epochs accepted";
        } catch (const ConfigError& error) {
            EXPECT_NE(std::string(error.what())
                          .find("configs/r.json: baselines." + std::string(key) + ".epochs"),
                      std::string::npos)
                << error.what();
        }
    }
}

}  // namespace
}  // namespace ca
