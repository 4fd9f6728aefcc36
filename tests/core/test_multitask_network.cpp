// The multi-task network: its loss and gradient (finite differences, a batch worked by hand),
// training on functions it must recover, early stopping, the trunk against a naive loop,
// determinism, the model file, and the errors for configs and data that do not fit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/errors.h"
#include "core/multitask_network.h"

namespace ca {
namespace {

// Rows with features uniform in [-1, 1] and arms drawn uniformly; outcomes are filled by the
// caller from the features and the arm.
Dataset random_rows(int64_t n, int d, int m, uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    Dataset data;
    data.source = "synthetic(seed=" + std::to_string(seed) + ")";
    data.n = n;
    data.d = d;
    data.m = m;
    data.x.resize(n * d);
    for (float& v : data.x) v = uniform(engine);
    for (int64_t i = 0; i < n; ++i) data.arm.push_back(int32_t(engine() % uint64_t(m)));
    data.value.assign(n, 0.0f);
    data.cost.assign(n, 0.0f);
    return data;
}

MultiTaskNetworkParams small_params() {
    MultiTaskNetworkParams p;
    p.hidden1 = 6;
    p.hidden2 = 5;
    p.head_hidden = 4;
    p.seed = 3;
    return p;
}

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const std::exception& error) {
        return error.what();
    }
    return "";
}

// ---------------------------------------------------------------------------------------------
// Config

ConfigNode network_node(const std::string& text) {
    return ConfigNode::from_json(nlohmann::json::parse(text), "configs/run.json").child("network");
}

TEST(NetworkTest, ParamsHaveTheDocumentedDefaults) {
    MultiTaskNetworkParams p = parse_network_params(network_node(R"({"network": {}})"));
    EXPECT_EQ(p.hidden1, 256);
    EXPECT_EQ(p.hidden2, 128);
    EXPECT_EQ(p.head_hidden, 64);
    EXPECT_EQ(p.batch_size, 1024);
    EXPECT_EQ(p.gradient_parts, 4);
    EXPECT_EQ(p.max_epochs, 30);
    EXPECT_EQ(p.patience, 3);
    EXPECT_EQ(p.value_loss, "auto");
    EXPECT_EQ(p.value_weight, 1.0);
    EXPECT_EQ(p.cost_weight, 1.0);
    EXPECT_EQ(p.aux_weight, 0.5);
    EXPECT_EQ(p.weight_decay, 0.0);
}

TEST(NetworkTest, ParamsRoundTripThroughJson) {
    MultiTaskNetworkParams p = parse_network_params(network_node(R"({"network": {
        "hidden1": 32, "hidden2": 16, "head_hidden": 0, "learning_rate": 0.003,
        "batch_size": 256, "max_epochs": 7, "patience": 2, "seed": 9, "value_loss": "huber",
        "huber_delta": 2.5, "task_weights": {"value": 2, "cost": 0.5, "aux": 0},
        "weight_decay": 0.01, "gradient_parts": 16}})"));
    EXPECT_EQ(p.head_hidden, 0);
    EXPECT_EQ(p.gradient_parts, 16);
    EXPECT_EQ(p.seed, 9u);
    EXPECT_EQ(p.cost_weight, 0.5);
    nlohmann::json written = to_json(p);
    MultiTaskNetworkParams again =
        parse_network_params(ConfigNode::from_json({{"network", written}}, "x").child("network"));
    EXPECT_EQ(to_json(again), written);
}

TEST(NetworkTest, BadParamsNameTheKeyAndTheValue) {
    std::string message =
        error_of([] { parse_network_params(network_node(R"({"network": {"hiden1": 8}})")); });
    EXPECT_NE(message.find("configs/run.json: network.hiden1"), std::string::npos) << message;

    message = error_of(
        [] { parse_network_params(network_node(R"({"network": {"value_loss": "l1"}})")); });
    EXPECT_NE(message.find("network.value_loss"), std::string::npos) << message;
    EXPECT_NE(message.find("\"l1\""), std::string::npos) << message;

    message = error_of([] {
        parse_network_params(network_node(R"({"network": {"task_weights": {"gain": 1}}})"));
    });
    EXPECT_NE(message.find("network.task_weights.gain"), std::string::npos) << message;

    message = error_of(
        [] { parse_network_params(network_node(R"({"network": {"learning_rate": 0}})")); });
    EXPECT_NE(message.find("network.learning_rate"), std::string::npos) << message;

    message =
        error_of([] { parse_network_params(network_node(R"({"network": {"batch_size": 0}})")); });
    EXPECT_NE(message.find("network.batch_size: value 0"), std::string::npos) << message;

    // Parts of a mini-batch are leaves of a binary tree: a power of two.
    message = error_of(
        [] { parse_network_params(network_node(R"({"network": {"gradient_parts": 3}})")); });
    EXPECT_NE(message.find("network.gradient_parts"), std::string::npos) << message;
    EXPECT_NE(message.find("power of two"), std::string::npos) << message;
    EXPECT_NE(message.find("got 3"), std::string::npos) << message;
    EXPECT_EQ(parse_network_params(network_node(R"({"network": {"gradient_parts": 8}})"))
                  .gradient_parts,
              8);
}

// ---------------------------------------------------------------------------------------------
// Loss and gradient

// Four rows, arms {0, 0, 0, 1}, so the weights N/N_t are 4/3, 4/3, 4/3 and 4. Every weight of
// the network is zero except the last bias of each head, so each head outputs that bias:
// value (mse) 0.5 for arm 0 and 1.5 for arm 1; cost (bce, logits) 0 and 2.
TEST(NetworkTest, WeightedLossOfAHandMadeBatch) {
    Dataset data = random_rows(4, 2, 2, 1);
    data.arm = {0, 0, 0, 1};
    data.value = {0.0f, 2.0f, 0.0f, 2.0f};  // mean 1, population std 1: targets stay as given
    data.cost = {0.0f, 0.0f, 0.0f, 1.0f};
    data.cost_is_binary = true;
    MultiTaskNetworkParams p = small_params();
    p.cost_weight = 2.0;
    MultiTaskNetwork network(p, 2, 2, 0);
    network.configure_tasks(data);
    ASSERT_EQ(network.tasks()[0].loss, LossKind::kMse);
    ASSERT_EQ(network.tasks()[1].loss, LossKind::kBce);
    EXPECT_FLOAT_EQ(network.tasks()[0].target_scale, 1.0f);

    std::fill(network.parameters().begin(), network.parameters().end(), 0.0f);
    const int64_t last_bias = network.head().bias_offset(network.head().layer_count() - 1);
    const float value_bias[2] = {0.5f, 1.5f}, cost_logit[2] = {0.0f, 2.0f};
    for (int j = 0; j < 2; ++j) {
        network.parameters()[network.head_offset(0) + last_bias + j] = value_bias[j];
        network.parameters()[network.head_offset(1) + last_bias + j] = cost_logit[j];
    }

    // Value: squared errors 0.25, 2.25, 0.25 (arm 0) and 0.25 (arm 1), weighted and averaged:
    // (4/3 * 2.75 + 4 * 0.25) / 4 = 7/6.
    // Cost: arm 0 rows have logit 0 and label 0, loss log 2 each; the arm 1 row has logit 2
    // and label 1, loss log(1 + e^-2): (4/3 * 3 log 2 + 4 log(1 + e^-2)) / 4, times weight 2.
    const double value_loss = 7.0 / 6.0;
    const double cost_loss = 2.0 * (std::log(2.0) + std::log1p(std::exp(-2.0)));
    EXPECT_NEAR(network.loss_and_gradient(data, cpu_backend(), nullptr), value_loss + cost_loss,
                1e-6);

    std::vector<float> value(4 * 2), cost(4 * 2);
    network.predict(data.x.data(), 4, cpu_backend(), value.data(), cost.data());
    EXPECT_FLOAT_EQ(value[0], 0.5f);
    EXPECT_FLOAT_EQ(value[1], 1.5f);
    EXPECT_FLOAT_EQ(cost[0], 0.5f);
    EXPECT_FLOAT_EQ(cost[1], float(1.0 / (1.0 + std::exp(-2.0))));
}

// Target scaling: amounts are divided by their training std inside the network and multiplied
// back on output, so the same outputs in data units give a loss divided by std^2.
TEST(NetworkTest, AmountTargetsAreScaledByTheTrainingStd) {
    Dataset data = random_rows(4, 2, 1, 2);
    data.value = {0.0f, 20.0f, 0.0f, 20.0f};  // std 10
    data.cost = {1.0f, 1.0f, 1.0f, 1.0f};     // constant: scale 1
    MultiTaskNetwork network(small_params(), 2, 1, 0);
    network.configure_tasks(data);
    EXPECT_FLOAT_EQ(network.tasks()[0].target_scale, 10.0f);
    EXPECT_FLOAT_EQ(network.tasks()[1].target_scale, 1.0f);

    std::fill(network.parameters().begin(), network.parameters().end(), 0.0f);
    const int64_t last_bias = network.head().bias_offset(network.head().layer_count() - 1);
    network.parameters()[network.head_offset(0) + last_bias] = 1.0f;  // 10 in data units
    network.parameters()[network.head_offset(1) + last_bias] = 1.0f;
    // Value residuals in data units -10, 10, -10, 10 -> 1 after scaling; cost residuals 0.
    EXPECT_NEAR(network.loss_and_gradient(data, cpu_backend(), nullptr), 1.0, 1e-6);
    std::vector<float> value(4), cost(4);
    network.predict(data.x.data(), 4, cpu_backend(), value.data(), cost.data());
    EXPECT_FLOAT_EQ(value[0], 10.0f);
    EXPECT_FLOAT_EQ(cost[0], 1.0f);
}

struct GradientCase {
    const char* name;
    const char* value_loss;
    bool binary_outcomes;  ///< value and cost are 0/1 (bce heads)
};

void PrintTo(const GradientCase& c, std::ostream* out) { *out << c.name; }

class NetworkGradientTest : public ::testing::TestWithParam<GradientCase> {};

// Twelve rows with unequal arms (7, 3, 2) so the weights differ, one 0/1 and one amount
// auxiliary outcome, task weights away from 1. Central differences with h = 1e-3 on float
// weights: rounding contributes about 1e-7 * loss / h = 1e-4, and the tolerance sits above it.
TEST_P(NetworkGradientTest, FullLossGradientMatchesCentralDifferences) {
    const GradientCase& c = GetParam();
    Dataset data = random_rows(12, 3, 3, 4);
    data.arm = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2};
    std::mt19937_64 engine(5);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    data.aux.assign(2, std::vector<float>(12));
    for (int64_t i = 0; i < 12; ++i) {
        const float signal = data.x[i * 3] + 0.5f * data.arm[i];
        data.value[i] = c.binary_outcomes ? float(signal + noise(engine) > 0.3f)
                                          : 2.0f * signal + noise(engine);
        data.cost[i] = c.binary_outcomes ? float(data.arm[i] > 0 && noise(engine) > 0.0f)
                                         : std::abs(3.0f * signal + noise(engine));
        data.aux[0][i] = float(noise(engine) > 0.0f);
        data.aux[1][i] = 5.0f + noise(engine);
    }
    data.value_is_binary = data.cost_is_binary = c.binary_outcomes;
    data.aux_names = {"visit", "basket"};

    MultiTaskNetworkParams p = small_params();
    p.value_loss = c.value_loss;
    p.huber_delta = 0.3;  // in std units: several residuals fall on each side
    p.cost_weight = 0.7;
    p.aux_weight = 0.4;
    MultiTaskNetwork network(p, 3, 3, 2);
    network.configure_tasks(data);
    EXPECT_EQ(network.tasks()[2].loss, LossKind::kBce);
    EXPECT_EQ(network.tasks()[2].name, "visit");
    // Biases away from zero, so that no unit starts exactly on a ReLU kink.
    for (float& w : network.parameters()) w += 0.03f;

    std::vector<float> gradient;
    network.loss_and_gradient(data, cpu_backend(), &gradient);
    ASSERT_EQ(gradient.size(), network.parameters().size());
    const float h = 1e-3f;
    double largest_error = 0.0;
    for (size_t k = 0; k < gradient.size(); ++k) {
        float& weight = network.parameters()[k];
        const float saved = weight;
        weight = saved + h;
        const double up = network.loss_and_gradient(data, cpu_backend(), nullptr);
        weight = saved - h;
        const double down = network.loss_and_gradient(data, cpu_backend(), nullptr);
        weight = saved;
        const double numeric = (up - down) / (2.0 * h);
        const double error = std::abs(gradient[k] - numeric);
        largest_error = std::max(largest_error, error);
        EXPECT_NEAR(gradient[k], numeric, 1e-3 + 1e-2 * std::abs(numeric))
            << c.name << ": parameter " << k;
    }
    RecordProperty("largest_error", std::to_string(largest_error));
}

INSTANTIATE_TEST_SUITE_P(NetworkGradient, NetworkGradientTest,
                         ::testing::Values(GradientCase{"mse", "mse", false},
                                           GradientCase{"huber", "huber", false},
                                           GradientCase{"bce", "auto", true}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Training

// Value under arm j: x0 + j (0.5 + x1); cost under arm j: j (1 + 0.5 x2); noise sd 0.1 on
// both. The network sees only the logged arm per row and must recover every arm's function.
void fill_known_functions(Dataset& data, uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    for (int64_t i = 0; i < data.n; ++i) {
        const float* x = data.row(i);
        const int j = data.arm[i];
        data.value[i] = x[0] + j * (0.5f + x[1]) + noise(engine);
        data.cost[i] = j * (1.0f + 0.5f * x[2]) + noise(engine);
    }
}

MultiTaskNetworkParams regression_params() {
    MultiTaskNetworkParams p;
    p.hidden1 = 32;
    p.hidden2 = 16;
    p.head_hidden = 16;
    p.batch_size = 64;
    p.learning_rate = 0.005;
    p.max_epochs = 40;
    p.patience = 5;
    p.seed = 7;
    return p;
}

TEST(NetworkTest, LearnsKnownPerArmFunctions) {
    const int d = 3, m = 3;
    Dataset train = random_rows(3000, d, m, 10), validation = random_rows(600, d, m, 11);
    fill_known_functions(train, 12);
    fill_known_functions(validation, 13);
    MultiTaskNetwork network(regression_params(), d, m, 0);
    TrainingReport report = network.fit(train, validation, cpu_backend());
    EXPECT_GT(report.samples_per_second, 0.0);

    Dataset test = random_rows(1000, d, m, 14);
    std::vector<float> value(test.n * m), cost(test.n * m);
    network.predict(test.x.data(), test.n, cpu_backend(), value.data(), cost.data());
    double value_error = 0.0, cost_error = 0.0;
    for (int64_t i = 0; i < test.n; ++i) {
        const float* x = test.row(i);
        for (int j = 0; j < m; ++j) {
            value_error += std::pow(value[i * m + j] - (x[0] + j * (0.5 + x[1])), 2);
            cost_error += std::pow(cost[i * m + j] - j * (1.0 + 0.5 * x[2]), 2);
        }
    }
    // Both truths vary with sd near 1 across arms and users; a fitted network is far closer
    // than the 0.1 noise would allow for a memorising one.
    EXPECT_LT(std::sqrt(value_error / (test.n * m)), 0.1);
    EXPECT_LT(std::sqrt(cost_error / (test.n * m)), 0.1);
}

// Pure-noise targets on few rows with a wide network: the validation loss soon rises, and the
// weights kept must be those of the best epoch.
TEST(NetworkTest, EarlyStoppingRestoresTheBestWeights) {
    Dataset train = random_rows(60, 4, 2, 20), validation = random_rows(200, 4, 2, 21);
    std::mt19937_64 engine(22);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    for (Dataset* data : {&train, &validation})
        for (int64_t i = 0; i < data->n; ++i) {
            data->value[i] = noise(engine);
            data->cost[i] = noise(engine);
        }
    MultiTaskNetworkParams p = regression_params();
    p.hidden1 = 128;
    p.hidden2 = 64;
    p.batch_size = 16;
    p.learning_rate = 0.002;
    p.max_epochs = 60;
    p.patience = 3;
    MultiTaskNetwork network(p, 4, 2, 0);
    TrainingReport report = network.fit(train, validation, cpu_backend());

    ASSERT_TRUE(report.stopped_early) << "the scenario did not overfit";
    // A middle epoch, so that keeping the first or the last weights would both be wrong.
    ASSERT_GE(report.best_epoch, 2);
    ASSERT_EQ(int(report.epochs.size()), report.best_epoch + p.patience);
    double lowest = report.epochs[0].validation_loss;
    for (const EpochRecord& e : report.epochs) lowest = std::min(lowest, e.validation_loss);
    EXPECT_EQ(report.best_validation_loss, lowest);
    EXPECT_EQ(report.epochs[report.best_epoch - 1].validation_loss, lowest);
    EXPECT_GT(report.epochs.back().validation_loss, lowest);
    // The weights left in the network give the best epoch's loss, not the last one's.
    const double now = network.loss_and_gradient(validation, cpu_backend(), nullptr);
    EXPECT_NEAR(now, lowest, 1e-6 * lowest);
}

TEST(NetworkTest, TrainingIsDeterministicForASeed) {
    Dataset train = random_rows(500, 3, 3, 30), validation = random_rows(100, 3, 3, 31);
    fill_known_functions(train, 32);
    fill_known_functions(validation, 33);
    MultiTaskNetworkParams p = regression_params();
    p.max_epochs = 3;
    MultiTaskNetwork first(p, 3, 3, 0), second(p, 3, 3, 0);
    first.fit(train, validation, cpu_backend());
    second.fit(train, validation, cpu_backend());
    EXPECT_EQ(first.parameters(), second.parameters());

    p.seed += 1;
    MultiTaskNetwork other(p, 3, 3, 0);
    other.fit(train, validation, cpu_backend());
    EXPECT_NE(first.parameters(), other.parameters());
}

// ---------------------------------------------------------------------------------------------
// Representation and storage

// z = relu(relu(x W1 + b1) W2 + b2) by plain loops over the documented layout (trunk at
// offset 0), over more rows than one inference block.
TEST(NetworkTest, HiddenEqualsTheTrunkComputedByANaiveLoop) {
    MultiTaskNetworkParams p = small_params();
    p.hidden1 = 8;
    p.hidden2 = 6;
    MultiTaskNetwork network(p, 4, 2, 0);
    const MlpLayout& trunk = network.trunk();
    std::vector<float>& w = network.parameters();
    for (int l = 0; l < 2; ++l)
        for (int o = 0; o < trunk.widths()[l + 1]; ++o)
            w[trunk.bias_offset(l) + o] = 0.05f * float(o) - 0.1f;
    const int64_t n = MlpLayout::kInferenceBlockRows + 5;
    Dataset rows = random_rows(n, 4, 2, 40);
    std::vector<float> z(n * 6);
    network.hidden(rows.x.data(), n, cpu_backend(), z.data());
    ASSERT_EQ(network.hidden_width(), 6);

    for (int64_t i = 0; i < n; i += 97) {
        double h1[8], h2[6];
        for (int o = 0; o < 8; ++o) {
            double sum = w[trunk.bias_offset(0) + o];
            for (int k = 0; k < 4; ++k)
                sum += rows.row(i)[k] * w[trunk.weight_offset(0) + k * 8 + o];
            h1[o] = std::max(sum, 0.0);
        }
        for (int o = 0; o < 6; ++o) {
            double sum = w[trunk.bias_offset(1) + o];
            for (int k = 0; k < 8; ++k) sum += h1[k] * w[trunk.weight_offset(1) + k * 6 + o];
            h2[o] = std::max(sum, 0.0);
        }
        for (int o = 0; o < 6; ++o) EXPECT_NEAR(z[i * 6 + o], h2[o], 1e-5) << "row " << i;
    }
}

MultiTaskNetwork trained_binary_value_network() {
    Dataset train = random_rows(300, 3, 2, 50), validation = random_rows(100, 3, 2, 51);
    for (Dataset* data : {&train, &validation}) {
        fill_known_functions(*data, 52);
        for (int64_t i = 0; i < data->n; ++i) data->value[i] = float(data->value[i] > 0.2f);
        data->value_is_binary = true;
        data->aux = {data->cost};
        data->aux_names = {"spend"};
    }
    MultiTaskNetworkParams p = regression_params();
    p.max_epochs = 2;
    MultiTaskNetwork network(p, 3, 2, 1);
    network.fit(train, validation, cpu_backend());
    return network;
}

TEST(NetworkTest, JsonRoundTripGivesIdenticalPredictions) {
    MultiTaskNetwork network = trained_binary_value_network();
    ASSERT_EQ(network.tasks()[0].loss, LossKind::kBce);
    ASSERT_NE(network.tasks()[1].target_scale, 1.0f);
    MultiTaskNetwork restored =
        MultiTaskNetwork::from_json(nlohmann::json::parse(network.to_json().dump()), "net.json");
    EXPECT_EQ(restored.tasks()[2].name, "spend");

    Dataset rows = random_rows(50, 3, 2, 53);
    std::vector<float> value_a(100), cost_a(100), value_b(100), cost_b(100);
    network.predict(rows.x.data(), 50, cpu_backend(), value_a.data(), cost_a.data());
    restored.predict(rows.x.data(), 50, cpu_backend(), value_b.data(), cost_b.data());
    EXPECT_EQ(value_a, value_b);
    EXPECT_EQ(cost_a, cost_b);
    for (float v : value_a) EXPECT_TRUE(v > 0.0f && v < 1.0f) << "not a probability: " << v;
    std::vector<float> aux_a(100), aux_b(100);
    network.predict_task(2, rows.x.data(), 50, cpu_backend(), aux_a.data());
    restored.predict_task(2, rows.x.data(), 50, cpu_backend(), aux_b.data());
    EXPECT_EQ(aux_a, aux_b);
}

TEST(NetworkTest, CorruptModelFileNamesTheKey) {
    const nlohmann::json good = MultiTaskNetwork(small_params(), 2, 2, 0).to_json();
    auto load = [](const nlohmann::json& document) {
        return error_of([&] { MultiTaskNetwork::from_json(document, "net.json"); });
    };
    nlohmann::json cut = good;
    cut["parameters"].erase(cut["parameters"].size() - 1);
    std::string message = load(cut);
    EXPECT_NE(message.find("net.json: parameters: expected"), std::string::npos) << message;

    nlohmann::json bad_loss = good;
    bad_loss["tasks"][1]["loss"] = "hinge";
    message = load(bad_loss);
    EXPECT_NE(message.find("net.json: tasks[1].loss"), std::string::npos) << message;
    EXPECT_NE(message.find("hinge"), std::string::npos) << message;

    nlohmann::json bad_width = good;
    bad_width["params"]["hidden1"] = -1;
    message = load(bad_width);
    EXPECT_NE(message.find("net.json: params.hidden1"), std::string::npos) << message;

    nlohmann::json other_file = good;
    other_file["format"] = "something else";
    EXPECT_NE(load(other_file).find("format"), std::string::npos);
    EXPECT_NE(load(nlohmann::json::array()).find("net.json"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Data that does not fit

TEST(NetworkTest, DataOfAnotherShapeIsAnInputError) {
    MultiTaskNetwork network(small_params(), 3, 2, 0);
    Dataset wide = random_rows(10, 4, 2, 60);
    std::string message = error_of([&] { network.fit(wide, wide, cpu_backend()); });
    EXPECT_NE(message.find("D=4"), std::string::npos) << message;
    EXPECT_NE(message.find("D=3"), std::string::npos) << message;
}

TEST(NetworkTest, NonFiniteOutcomeNamesFileAndLine) {
    MultiTaskNetwork network(small_params(), 2, 2, 0);
    Dataset data = random_rows(5, 2, 2, 61);
    data.source = "users.csv";
    data.source_line = {2, 3, 4, 5, 6};
    data.cost[3] = std::nanf("");
    std::string message = error_of([&] { network.fit(data, data, cpu_backend()); });
    EXPECT_NE(message.find("users.csv:5:"), std::string::npos) << message;
    EXPECT_NE(message.find("cost is nan"), std::string::npos) << message;
}

TEST(NetworkTest, BceValueLossOnAmountsIsAConfigError) {
    MultiTaskNetworkParams p = small_params();
    p.value_loss = "bce";
    MultiTaskNetwork network(p, 2, 2, 0);
    Dataset data = random_rows(5, 2, 2, 62);
    data.value = {0.0f, 1.0f, 2.5f, 0.0f, 1.0f};
    try {
        network.fit(data, data, cpu_backend());
        FAIL() << "no error for bce on a non-binary value";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("network.value_loss"), std::string::npos)
            << error.what();
    }
}

}  // namespace
}  // namespace ca
