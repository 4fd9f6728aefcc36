// The dense stack: forward against a naive loop over the documented parameter layout, backward
// against central finite differences, blocked inference, He initialisation, JSON storage, and
// the Adam optimizer wrapped around the backend's update.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/adam_optimizer.h"
#include "core/errors.h"
#include "core/mlp.h"

namespace ca {
namespace {

std::vector<float> random_floats(size_t count, uint64_t seed, float low = -1.0f,
                                 float high = 1.0f) {
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<float> uniform(low, high);
    std::vector<float> out(count);
    for (float& v : out) v = uniform(engine);
    return out;
}

// y = x W + b per layer with W[i * out + o] at weight_offset, then ReLU where the layout says.
std::vector<double> naive_forward(const Mlp& mlp, const std::vector<float>& x, int64_t rows) {
    const MlpLayout& layout = mlp.layout();
    const std::vector<float>& p = mlp.parameters();
    std::vector<double> in(x.begin(), x.end());
    for (int l = 0; l < layout.layer_count(); ++l) {
        const int fan_in = layout.widths()[l], fan_out = layout.widths()[l + 1];
        const bool relu = layout.relu_output() || l + 1 < layout.layer_count();
        std::vector<double> out(rows * fan_out);
        for (int64_t r = 0; r < rows; ++r)
            for (int o = 0; o < fan_out; ++o) {
                double sum = p[layout.bias_offset(l) + o];
                for (int i = 0; i < fan_in; ++i)
                    sum += in[r * fan_in + i] * p[layout.weight_offset(l) + i * fan_out + o];
                out[r * fan_out + o] = relu ? std::max(sum, 0.0) : sum;
            }
        in = out;
    }
    return in;
}

// Loss 0.5 * sum (output - target)^2, accumulated in double over float outputs.
double half_squared_error(const Mlp& mlp, const std::vector<float>& x, int64_t rows,
                          const std::vector<float>& target) {
    MlpWorkspace workspace;
    mlp.forward(x.data(), rows, cpu_backend(), workspace);
    const float* out = mlp.output(workspace);
    double loss = 0.0;
    for (size_t i = 0; i < target.size(); ++i) loss += 0.5 * std::pow(out[i] - target[i], 2);
    return loss;
}

TEST(MlpTest, ForwardMatchesNaiveLoopOverTheDocumentedLayout) {
    for (bool relu_output : {false, true}) {
        Mlp mlp({4, 6, 5, 3}, 11, relu_output);
        // Non-zero biases, so a bias at the wrong offset shows.
        for (int l = 0; l < 3; ++l)
            for (int o = 0; o < mlp.layout().widths()[l + 1]; ++o)
                mlp.parameters()[mlp.layout().bias_offset(l) + o] = 0.1f * float(o + l) - 0.2f;
        const int64_t rows = 9;
        std::vector<float> x = random_floats(rows * 4, 12);
        MlpWorkspace workspace;
        mlp.forward(x.data(), rows, cpu_backend(), workspace);
        std::vector<double> expected = naive_forward(mlp, x, rows);
        for (size_t i = 0; i < expected.size(); ++i)
            EXPECT_NEAR(mlp.output(workspace)[i], expected[i], 1e-5) << "entry " << i;
        EXPECT_EQ(mlp.parameter_count(), 4 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3);
    }
}

class MlpGradientTest : public ::testing::TestWithParam<bool> {};

// The network is piecewise linear, so the loss is piecewise quadratic in each parameter and a
// central difference is exact up to float rounding (about 1e-7 * loss / h) unless a step
// crosses a ReLU kink; h = 1e-3 keeps both small against the 1e-2 relative tolerance.
TEST_P(MlpGradientTest, BackwardMatchesCentralFiniteDifferences) {
    const bool relu_output = GetParam();
    Mlp mlp({3, 5, 4, 2}, 21, relu_output);
    for (float& p : mlp.parameters()) p += 0.05f;  // non-zero biases
    const int64_t rows = 6;
    std::vector<float> x = random_floats(rows * 3, 22);
    std::vector<float> target = random_floats(rows * 2, 23);

    MlpWorkspace workspace;
    mlp.forward(x.data(), rows, cpu_backend(), workspace);
    std::vector<float> grad_output(rows * 2);
    for (size_t i = 0; i < grad_output.size(); ++i)
        grad_output[i] = mlp.output(workspace)[i] - target[i];
    std::vector<float> grad_input(rows * 3);
    mlp.backward(x.data(), grad_output.data(), rows, cpu_backend(), workspace, grad_input.data());

    const float h = 1e-3f;
    auto check = [&](float& entry, float analytic, const std::string& what) {
        const float saved = entry;
        entry = saved + h;
        const double up = half_squared_error(mlp, x, rows, target);
        entry = saved - h;
        const double down = half_squared_error(mlp, x, rows, target);
        entry = saved;
        const double numeric = (up - down) / (2.0 * h);
        EXPECT_NEAR(analytic, numeric, 1e-3 + 1e-2 * std::abs(numeric)) << what;
    };
    const std::vector<float> gradient = mlp.gradient();
    for (int64_t p = 0; p < mlp.parameter_count(); ++p)
        check(mlp.parameters()[p], gradient[p], "parameter " + std::to_string(p));
    for (size_t i = 0; i < x.size(); ++i) check(x[i], grad_input[i], "input " + std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(MlpGradient, MlpGradientTest, ::testing::Bool());

// Several heads feed one trunk by adding their input gradients.
TEST(MlpTest, BackwardCanAccumulateTheInputGradient) {
    Mlp mlp({3, 4, 2}, 31);
    const int64_t rows = 5;
    std::vector<float> x = random_floats(rows * 3, 32), upstream = random_floats(rows * 2, 33);
    MlpWorkspace workspace;
    mlp.forward(x.data(), rows, cpu_backend(), workspace);
    std::vector<float> fresh(rows * 3, 0.0f);
    mlp.layout().backward(mlp.parameters().data(), x.data(), upstream.data(), rows, cpu_backend(),
                          workspace, mlp.gradient().data(), fresh.data(), false);
    std::vector<float> accumulated(rows * 3, 1.0f);
    mlp.layout().backward(mlp.parameters().data(), x.data(), upstream.data(), rows, cpu_backend(),
                          workspace, mlp.gradient().data(), accumulated.data(), true);
    for (size_t i = 0; i < fresh.size(); ++i) EXPECT_FLOAT_EQ(accumulated[i], fresh[i] + 1.0f);
}

// More rows than two inference blocks; every row must equal a one-row forward.
TEST(MlpTest, BlockedInferenceMatchesForward) {
    Mlp mlp({5, 8, 3}, 41);
    const int64_t n = 2 * MlpLayout::kInferenceBlockRows + 17;
    std::vector<float> x = random_floats(n * 5, 42);
    std::vector<float> out(n * 3, -7.0f);
    mlp.infer(x.data(), n, cpu_backend(), out.data());
    MlpWorkspace workspace;
    for (int64_t r :
         {int64_t(0), MlpLayout::kInferenceBlockRows - 1, MlpLayout::kInferenceBlockRows, n - 1}) {
        mlp.forward(x.data() + r * 5, 1, cpu_backend(), workspace);
        for (int o = 0; o < 3; ++o)
            EXPECT_NEAR(out[r * 3 + o], mlp.output(workspace)[o], 1e-5) << "row " << r;
    }
}

// He-normal: weight std sqrt(2 / fan_in), zero biases, reproducible for a seed.
TEST(MlpTest, HeInitialisationHasTheRightScaleAndIsSeeded) {
    Mlp mlp({50, 400, 2}, 51);
    const MlpLayout& layout = mlp.layout();
    double sum = 0.0, sum_squares = 0.0;
    const int64_t count = 50 * 400;
    for (int64_t i = 0; i < count; ++i) {
        sum += mlp.parameters()[layout.weight_offset(0) + i];
        sum_squares += std::pow(mlp.parameters()[layout.weight_offset(0) + i], 2);
    }
    const double mean = sum / count, std_dev = std::sqrt(sum_squares / count - mean * mean);
    // Standard error of the std estimate is about std / sqrt(2 count) = 0.5 %.
    EXPECT_NEAR(std_dev, std::sqrt(2.0 / 50), 0.03 * std::sqrt(2.0 / 50));
    EXPECT_NEAR(mean, 0.0, 0.01);
    for (int o = 0; o < 400; ++o) EXPECT_EQ(mlp.parameters()[layout.bias_offset(0) + o], 0.0f);
    EXPECT_EQ(Mlp({50, 400, 2}, 51).parameters(), mlp.parameters());
    EXPECT_NE(Mlp({50, 400, 2}, 52).parameters(), mlp.parameters());
}

TEST(MlpTest, JsonRoundTripGivesIdenticalOutputs) {
    Mlp mlp({3, 7, 2}, 61, true);
    std::string text = mlp.to_json().dump();
    Mlp restored = Mlp::from_json(nlohmann::json::parse(text), "student.json");
    EXPECT_EQ(restored.parameters(), mlp.parameters());
    EXPECT_EQ(restored.layout().widths(), mlp.layout().widths());
    EXPECT_TRUE(restored.layout().relu_output());
    std::vector<float> x = random_floats(30, 62), a(20), b(20);
    mlp.infer(x.data(), 10, cpu_backend(), a.data());
    restored.infer(x.data(), 10, cpu_backend(), b.data());
    EXPECT_EQ(a, b);
}

std::string load_error(const nlohmann::json& document) {
    try {
        Mlp::from_json(document, "student.json");
    } catch (const InputError& error) {
        return error.what();
    }
    return "";
}

TEST(MlpTest, CorruptModelNamesTheKeyAndTheValue) {
    nlohmann::json good = Mlp({2, 3, 1}, 71).to_json();

    nlohmann::json short_params = good;
    short_params["parameters"].erase(0);
    std::string message = load_error(short_params);
    EXPECT_NE(message.find("student.json: parameters"), std::string::npos) << message;
    EXPECT_NE(message.find("expected 13"), std::string::npos) << message;
    EXPECT_NE(message.find("got 12"), std::string::npos) << message;

    nlohmann::json text_param = good;
    text_param["parameters"][4] = "nan";
    message = load_error(text_param);
    EXPECT_NE(message.find("parameters[4]"), std::string::npos) << message;

    nlohmann::json bad_width = good;
    bad_width["widths"][1] = -3;
    message = load_error(bad_width);
    EXPECT_NE(message.find("widths[1]"), std::string::npos) << message;
    EXPECT_NE(message.find("-3"), std::string::npos) << message;

    nlohmann::json no_params = good;
    no_params.erase("parameters");
    EXPECT_NE(load_error(no_params).find("parameters: required"), std::string::npos);
}

// With a zero gradient Adam leaves parameters alone, so only the decoupled decay acts.
TEST(AdamTest, WeightDecayShrinksParametersByRateTimesDecay) {
    AdamParams params;
    params.learning_rate = 0.1f;
    params.weight_decay = 0.5f;
    AdamOptimizer adam(2, params);
    std::vector<float> weights = {2.0f, -4.0f}, zero(2, 0.0f);
    adam.step(weights.data(), zero.data(), cpu_backend());
    adam.step(weights.data(), zero.data(), cpu_backend());
    EXPECT_NEAR(weights[0], 2.0 * 0.95 * 0.95, 1e-6);
    EXPECT_NEAR(weights[1], -4.0 * 0.95 * 0.95, 1e-6);
    EXPECT_EQ(adam.steps(), 2);
}

// Adam on an Mlp with its own loss: a linear target y = 2 x0 - x1 + 0.5 is learnt closely.
TEST(AdamTest, TrainsAnMlpOnALinearTarget) {
    Mlp mlp({2, 16, 1}, 81);
    AdamParams params;
    params.learning_rate = 0.01f;
    AdamOptimizer adam(mlp.parameter_count(), params);
    const int64_t rows = 256;
    std::vector<float> x = random_floats(rows * 2, 82), target(rows), grad_output(rows);
    for (int64_t r = 0; r < rows; ++r) target[r] = 2.0f * x[r * 2] - x[r * 2 + 1] + 0.5f;
    MlpWorkspace workspace;
    double mse = 0.0;
    for (int step = 0; step < 1500; ++step) {
        mlp.forward(x.data(), rows, cpu_backend(), workspace);
        mse = 0.0;
        for (int64_t r = 0; r < rows; ++r) {
            const float residual = mlp.output(workspace)[r] - target[r];
            mse += double(residual) * residual / rows;
            grad_output[r] = 2.0f * residual / float(rows);
        }
        mlp.backward(x.data(), grad_output.data(), rows, cpu_backend(), workspace);
        adam.step(mlp.parameters().data(), mlp.gradient().data(), cpu_backend());
    }
    // The target's variance is about (4 + 1) / 3 = 1.67; a fit explains nearly all of it.
    EXPECT_LT(mse, 1e-3);
}

}  // namespace
}  // namespace ca
