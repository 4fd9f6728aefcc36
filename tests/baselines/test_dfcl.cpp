// DFCL: the per-user PL and IFD losses (values by hand, limits, gradients), their gradients
// through a tiny multi-task network against finite differences, the hard decision value, the
// automatic lambda grid, both methods against random allocation, and the config object.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "baselines/dfcl.h"
#include "baselines/direct_test_support.h"
#include "baselines/tsm_sl.h"
#include "core/errors.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

using testing_support::SharedContext;
using testing_support::SyntheticSplit;

TEST(DfclUserLossTest, PolicyLearningValuesByHand) {
    const double u[3] = {0.0, 0.3, 0.5};
    // A cold softmax is the hard decision: arm 2 wins, so its realised utility is kept whole
    // and arm 1's is dropped.
    EXPECT_NEAR(policy_learning_user_loss(u, 3, 2, 1.5, 1e-3, false, nullptr), -1.5, 1e-12);
    EXPECT_NEAR(policy_learning_user_loss(u, 3, 1, 1.5, 1e-3, false, nullptr), 0.0, 1e-12);
    // Equal utilities: pi = 1/3 each, entropy log 3; loss -(v / 3 + tau log 3).
    const double flat[3] = {0.2, 0.2, 0.2};
    EXPECT_NEAR(policy_learning_user_loss(flat, 3, 0, 0.9, 0.5, false, nullptr), -0.3, 1e-12);
    EXPECT_NEAR(policy_learning_user_loss(flat, 3, 0, 0.9, 0.5, true, nullptr),
                -(0.3 + 0.5 * std::log(3.0)), 1e-12);
}

TEST(DfclUserLossTest, PolicyLearningGradientMatchesFiniteDifferences) {
    const double u[4] = {0.1, -0.4, 0.35, 0.2};
    for (bool max_entropy : {false, true}) {
        double grad[4];
        policy_learning_user_loss(u, 4, 2, -0.7, 0.3, max_entropy, grad);
        for (int j = 0; j < 4; ++j) {
            double up[4], down[4];
            std::copy(u, u + 4, up);
            std::copy(u, u + 4, down);
            up[j] += 1e-6;
            down[j] -= 1e-6;
            const double numeric =
                (policy_learning_user_loss(up, 4, 2, -0.7, 0.3, max_entropy, nullptr) -
                 policy_learning_user_loss(down, 4, 2, -0.7, 0.3, max_entropy, nullptr)) /
                2e-6;
            EXPECT_NEAR(grad[j], numeric, 1e-8) << "arm " << j << ", entropy " << max_entropy;
        }
    }
}

TEST(DfclUserLossTest, FiniteDifferenceValuesByHand) {
    const double u[3] = {0.0, 0.3, 0.5};
    double grad[3];
    // h = 0.5, v = 1 on arm 1: u - h v e1 = (0, -0.2, 0.5) has maximum 0.5 at arm 2;
    // u + h v e1 = (0, 0.8, 0.5) has 0.8 at arm 1. Loss (0.5 - 0.8) / 1, gradient (e2 - e1) / 1.
    EXPECT_NEAR(finite_difference_user_loss(u, 3, 1, 1.0, 0.5, grad), -0.3, 1e-12);
    EXPECT_EQ(grad[0], 0.0);
    EXPECT_EQ(grad[1], -1.0);
    EXPECT_EQ(grad[2], 1.0);
    // h = 0.1 moves arm 1 to 0.2 or 0.4, below arm 2 either way: no decision changes.
    EXPECT_NEAR(finite_difference_user_loss(u, 3, 1, 1.0, 0.1, grad), 0.0, 1e-12);
    EXPECT_EQ(grad[1], 0.0);
    // As h -> 0 the loss is the hard decision's realised utility, negated: arm 2 is chosen.
    EXPECT_NEAR(finite_difference_user_loss(u, 3, 2, 2.0, 1e-7, nullptr), -2.0, 1e-6);
    EXPECT_NEAR(finite_difference_user_loss(u, 3, 0, 2.0, 1e-7, nullptr), 0.0, 1e-6);
}

// A dozen rows with a 0/1 value (a sigmoid head) and amount costs (a scaled linear head).
Dataset tiny_rows() {
    std::mt19937_64 engine(17);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    Dataset data;
    data.source = "tiny";
    data.n = 12;
    data.d = 3;
    data.m = 3;
    for (int64_t i = 0; i < data.n; ++i) {
        for (int k = 0; k < data.d; ++k) data.x.push_back(uniform(engine));
        data.arm.push_back(int32_t(i % 3));
        data.value.push_back(uniform(engine) > 0.0f ? 1.0f : 0.0f);
        data.cost.push_back(data.arm.back() == 0 ? 0.0f : 1.0f + uniform(engine));
    }
    data.value_is_binary = true;
    return data;
}

MultiTaskNetwork tiny_network(const Dataset& data) {
    MultiTaskNetworkParams params;
    params.hidden1 = 5;
    params.hidden2 = 4;
    params.head_hidden = 3;
    params.seed = 4;
    MultiTaskNetwork network(params, data.d, data.m, 0);
    network.configure_tasks(data);
    return network;
}

// A tiny network over data's features and arms, its tasks configured on data.
MultiTaskNetwork tiny_network(const Dataset& data, int aux) {
    MultiTaskNetworkParams params;
    params.hidden1 = 5;
    params.hidden2 = 4;
    params.head_hidden = 3;
    MultiTaskNetwork network(params, data.d, data.m, aux);
    network.configure_tasks(data);
    return network;
}

DecisionBatch batch_of_rows(const Dataset& data, const std::vector<float>& weight) {
    return {data.x.data(),     data.n,           data.arm.data(),
            data.value.data(), data.cost.data(), weight.data()};
}

std::vector<float> row_weights(const Dataset& data) {
    std::vector<int64_t> counts = data.arm_counts();
    std::vector<float> weight;
    for (int32_t arm : data.arm) weight.push_back(float(double(data.n) / counts[arm]));
    return weight;
}

// Central differences of the loss in every parameter against the analytic gradient. A
// parameter is compared only where its left and right differences agree (the IFD loss and the
// ReLUs are piecewise linear, and a kink inside the step makes the difference meaningless);
// most parameters must be comparable, and the gradient must not vanish.
void expect_gradient_matches(DfclVariant variant, bool max_entropy) {
    Dataset data = tiny_rows();
    ASSERT_EQ(tiny_network(data).tasks()[0].loss, LossKind::kBce);
    MultiTaskNetwork network = tiny_network(data);
    std::vector<float> weight = row_weights(data);
    DecisionBatch batch{data.x.data(),     data.n,           data.arm.data(),
                        data.value.data(), data.cost.data(), weight.data()};
    DecisionLossParams params;
    params.variant = variant;
    params.temperature = 0.3;
    params.max_entropy = max_entropy;
    params.ifd_step = 0.5;
    params.value_scale = 0.5;
    DecisionLoss loss(params, {0.0, 0.4, 1.5});
    std::vector<float> gradient;
    loss.evaluate(network, batch, cpu_backend(), &gradient);
    ASSERT_EQ(gradient.size(), network.parameters().size());

    const float step = 1e-3f;
    int compared = 0, nonzero = 0;
    const int64_t count = network.head_offset(2);  // trunk, value head and cost head
    for (int64_t p = 0; p < count; ++p) {
        const float original = network.parameters()[p];
        network.parameters()[p] = original + step;
        const double up = loss.evaluate(network, batch, cpu_backend(), nullptr);
        network.parameters()[p] = original - step;
        const double down = loss.evaluate(network, batch, cpu_backend(), nullptr);
        network.parameters()[p] = original;
        const double centre = loss.evaluate(network, batch, cpu_backend(), nullptr);
        const double right = (up - centre) / step, left = (centre - down) / step;
        if (std::fabs(gradient[p]) > 1e-6) ++nonzero;
        if (std::fabs(right - left) > 2e-3 + 2e-2 * std::fabs(right)) continue;
        ++compared;
        EXPECT_NEAR(gradient[p], (up - down) / (2 * step), 1e-3 + 2e-2 * std::fabs(right))
            << "parameter " << p;
    }
    EXPECT_GE(compared, int(0.8 * count));
    EXPECT_GE(nonzero, int(0.3 * count));
}

TEST(DfclGradientTest, PolicyLearningMatchesFiniteDifferencesOnATinyNetwork) {
    expect_gradient_matches(DfclVariant::kPolicyLearning, false);
}

TEST(DfclGradientTest, MaxEntropyPolicyLearningMatchesFiniteDifferences) {
    expect_gradient_matches(DfclVariant::kPolicyLearning, true);
}

TEST(DfclGradientTest, FiniteDifferenceLossMatchesFiniteDifferencesOnATinyNetwork) {
    expect_gradient_matches(DfclVariant::kFiniteDifference, false);
}

TEST(DfclGradientTest, AuxiliaryHeadsGetNoGradient) {
    Dataset data = tiny_rows();
    data.aux_names = {"visits"};
    data.aux = {std::vector<float>(data.n, 1.0f)};
    MultiTaskNetwork network = tiny_network(data, 1);
    std::vector<float> weight = row_weights(data);
    DecisionBatch batch{data.x.data(),     data.n,           data.arm.data(),
                        data.value.data(), data.cost.data(), weight.data()};
    DecisionLoss loss({}, {0.5});
    std::vector<float> gradient(network.parameters().size(), 7.0f);
    loss.evaluate(network, batch, cpu_backend(), &gradient);
    for (size_t p = network.head_offset(2); p < gradient.size(); ++p) EXPECT_EQ(gradient[p], 0.0f);
}

TEST(DfclDecisionValueTest, HardDecisionUtilityByHand) {
    // Three users, two arms, lambdas 0 and 1 (worked in the comments of each user):
    // user 0 picks arm 1 at both lambdas, its logged arm: 1.5 (1 - 0) and 1.5 (1 - 0.5).
    // user 1 picks arm 1 at lambda 0 (not logged), arm 0 at lambda 1: 3 * 0.4.
    // user 2 picks arm 1 at both (its cost -0.1 reads as 0): 1.5 * 0 and 1.5 * (0 - 0.2).
    // Total (1.5 + 0.75 + 1.2 - 0.3) / (2 lambdas * 3 rows) = 0.525.
    const float value[6] = {0.1f, 0.5f, 0.2f, 0.3f, 0.1f, 0.2f};
    const float cost[6] = {0.0f, 0.3f, 0.0f, 0.2f, -0.1f, 0.05f};
    const int32_t arm[3] = {1, 0, 1};
    const float observed_value[3] = {1.0f, 0.4f, 0.0f};
    const float observed_cost[3] = {0.5f, 0.0f, 0.2f};
    const float weight[3] = {1.5f, 3.0f, 1.5f};
    DecisionBatch batch{nullptr, 3, arm, observed_value, observed_cost, weight};
    EXPECT_NEAR(decision_value(value, cost, 2, batch, {0.0, 1.0}, 1.0), 0.525, 1e-6);
    EXPECT_NEAR(decision_value(value, cost, 2, batch, {0.0, 1.0}, 2.0), 0.2625, 1e-6);
}

TEST(DfclLambdaGridTest, QuantilesOfThePositiveBestReturns) {
    // Users 0-4 have best returns 1..5; user 5 a negative one, user 6 no extra cost: both out.
    const float value[14] = {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 1, 0, 0, 9};
    const float cost[14] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1};
    EXPECT_EQ(automatic_lambda_grid(value, cost, 7, 2, 3), (std::vector<double>{2, 3, 4}));
    const float none[2] = {1, 0};
    const float some_cost[2] = {0, 1};
    EXPECT_EQ(automatic_lambda_grid(none, some_cost, 1, 2, 3), (std::vector<double>{1}));
}

void fit_and_compare_with_random(DfclVariant variant) {
    SyntheticSplit split = testing_support::synthetic_split(3, 4000, 1000, 4000, 41);
    SharedContext shared(split);
    const std::vector<float> shared_parameters = shared.network().parameters();
    DfclMethod method(variant, DfclParams{});
    method.fit(shared.context());
    EXPECT_EQ(shared.network().parameters(), shared_parameters) << "the shared network changed";
    EXPECT_FALSE(method.lambdas().empty());

    testing_support::expect_beats_random(method, split.test);
}

// A batch cut in two parts, each divided by the whole batch's rows (and, for the multi-task
// loss, weighted by the whole batch's arm counts): the parts add up to the whole batch's loss
// and gradient.
TEST(DfclGradientTest, PartsOfABatchAddUpToTheBatch) {
    Dataset data = tiny_rows();
    MultiTaskNetwork network = tiny_network(data, 0);
    const std::vector<float> weight = row_weights(data);
    const int64_t half = data.n / 2;
    std::vector<int64_t> first, second;
    for (int64_t i = 0; i < data.n; ++i) (i < half ? first : second).push_back(i);
    DecisionLoss loss({}, {0.5, 1.5});
    std::vector<float> whole, part_a, part_b;
    const double whole_loss =
        loss.evaluate(network, batch_of_rows(data, weight), cpu_backend(), &whole);
    auto part = [&](const std::vector<int64_t>& rows, std::vector<float>& gradient) {
        const Dataset rows_data = data.subset(rows);
        std::vector<float> rows_weight;
        for (int64_t row : rows) rows_weight.push_back(weight[size_t(row)]);
        const double value = loss.evaluate(network, batch_of_rows(rows_data, rows_weight),
                                           cpu_backend(), &gradient, data.n);
        std::vector<float> prediction;
        const double prediction_value =
            network.loss_and_gradient(rows_data, rows_weight, data.n, cpu_backend(), &prediction);
        for (size_t p = 0; p < gradient.size(); ++p) gradient[p] += prediction[p];
        return value + prediction_value;
    };
    std::vector<float> whole_prediction;
    const double whole_prediction_value =
        network.loss_and_gradient(data, cpu_backend(), &whole_prediction);
    const double parts_value = part(first, part_a) + part(second, part_b);
    EXPECT_NEAR(parts_value, whole_loss + whole_prediction_value, 1e-9);
    for (size_t p = 0; p < whole.size(); ++p)
        EXPECT_NEAR(part_a[p] + part_b[p], whole[p] + whole_prediction[p], 1e-5) << p;
}

// DFCL on several ranks: each fine-tuning batch's parts are shared, and every rank ends with
// the one-process network (the same decision values, to the bit, and the same choices).
TEST(DfclMethodTest, EveryRankCountFineTunesTheOneProcessNetwork) {
    SyntheticSplit split = testing_support::synthetic_split(3, 1500, 400, 500, 43);
    SharedContext shared(split);
    shared.network();  // trained once, before the ranks copy it
    DfclParams params;
    params.max_epochs = 3;
    params.batch_size = 256;
    auto outcome_on = [&](Communicator& comm) {
        MethodContext context = shared.context();
        context.communicator = &comm;
        DfclMethod method(DfclVariant::kPolicyLearning, params);
        method.fit(context);
        method.prepare(split.test, cpu_backend());
        std::vector<int32_t> choice;
        method.choose(0.5, choice);
        const nlohmann::json diagnostics = method.diagnostics();
        // Some epoch must have improved on the shared network, or fine-tuning went untested.
        EXPECT_GE(diagnostics["training"]["best_epoch"].get<int>(), 1);
        std::string outcome = diagnostics.dump();
        for (int32_t arm : choice) outcome += char('0' + arm);
        return outcome;
    };
    const std::string one = outcome_on(local_communicator());
    for (int ranks : {2, 3}) {
        for (const std::string& outcome : testing::run_on_ranks<std::string>(ranks, outcome_on))
            EXPECT_EQ(outcome, one) << ranks << " ranks";
    }
}

TEST(DfclMethodTest, PolicyLearningBeatsRandomAtEveryBudget) {
    fit_and_compare_with_random(DfclVariant::kPolicyLearning);
}

TEST(DfclMethodTest, FiniteDifferenceBeatsRandomAtEveryBudget) {
    fit_and_compare_with_random(DfclVariant::kFiniteDifference);
}

TEST(DfclMethodTest, WithoutFineTuningItAllocatesLikeTsmSl) {
    // No epochs: the copy keeps the shared network's weights, so at every lambda each user
    // gets the arm TSM-SL gives from the same predictions.
    SyntheticSplit split = testing_support::synthetic_split(3, 1000, 300, 500, 42);
    SharedContext shared(split);
    DfclParams params;
    params.max_epochs = 0;
    DfclMethod dfcl(DfclVariant::kFiniteDifference, params);
    dfcl.fit(shared.context());
    TsmSlMethod tsm;
    tsm.fit(shared.context());
    dfcl.prepare(split.test, cpu_backend());
    tsm.prepare(split.test, cpu_backend());
    EXPECT_EQ(dfcl.knob_range().high, tsm.knob_range().high);
    for (double share : {0.0, 0.05, 0.2, 0.6}) {
        std::vector<int32_t> ours, theirs;
        dfcl.choose(share * tsm.knob_range().high, ours);
        tsm.choose(share * tsm.knob_range().high, theirs);
        EXPECT_EQ(ours, theirs) << "lambda share " << share;
    }
}

TEST(DfclParamsTest, ReadsEveryKeyAndRejectsUnknownOnes) {
    auto node = [](const std::string& text) {
        return ConfigNode::from_json(nlohmann::json::parse(text), "configs/run.json")
            .child("baselines")
            .child("dfcl");
    };
    DfclParams set = DfclParams::from_config(node(R"({"baselines": {"dfcl": {
        "max_epochs": 2, "patience": 1, "learning_rate": 0.01, "batch_size": 64,
        "lambdas": [0.5, 2], "lambda_count": 3, "temperature": 0.2, "max_entropy": true,
        "ifd_step": 0.3, "prediction_weight": 0, "seed": 5}}})"));
    EXPECT_EQ(set.lambdas, (std::vector<double>{0.5, 2}));
    EXPECT_TRUE(set.max_entropy);
    EXPECT_EQ(set.ifd_step, 0.3);
    EXPECT_EQ(set.prediction_weight, 0.0);
    DfclParams again = DfclParams::from_config(ConfigNode::from_json(set.to_json(), "x"));
    EXPECT_EQ(again.to_json(), set.to_json());
    try {
        DfclParams::from_config(node(R"({"baselines": {"dfcl": {"tau": 0.2}}})"));
        FAIL() << "unknown key accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("baselines.dfcl.tau"), std::string::npos)
            << error.what();
    }
    try {
        DfclParams::from_config(node(R"({"baselines": {"dfcl": {"lambdas": [1, -2]}}})"));
        FAIL() << "negative lambda accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("lambdas[1]"), std::string::npos) << error.what();
    }
}

}  // namespace
}  // namespace ca
