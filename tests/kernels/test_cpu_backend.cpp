// The CPU backend against plain reference loops: gemm in all transpose combinations, bias and
// ReLU, column sums, one Adam step worked by hand, nearest-centroid assignment, centroid sums
// and the dual pass, ties included.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include "core/errors.h"
#include "kernels/backend.h"

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

// Element (r, c) of op(A) when A is stored row-major with leading dimension ld.
float op_element(const std::vector<float>& a, bool trans, int64_t ld, int64_t r, int64_t c) {
    return trans ? a[c * ld + r] : a[r * ld + c];
}

struct GemmShape {
    int64_t m, n, k;
};

class BackendGemmTest : public ::testing::TestWithParam<std::tuple<bool, bool, GemmShape>> {};

// Leading dimensions wider than the matrices, so a kernel that ignores them fails. The large
// shapes are split over threads, by rows (m > n) or by columns (n > m).
TEST_P(BackendGemmTest, MatchesNaiveTripleLoop) {
    const bool trans_a = std::get<0>(GetParam()), trans_b = std::get<1>(GetParam());
    const int64_t m = std::get<2>(GetParam()).m, n = std::get<2>(GetParam()).n;
    const int64_t k = std::get<2>(GetParam()).k, pad = 3;
    const int64_t lda = (trans_a ? m : k) + pad, ldb = (trans_b ? k : n) + pad, ldc = n + pad;
    std::vector<float> a = random_floats((trans_a ? k : m) * lda, 1);
    std::vector<float> b = random_floats((trans_b ? n : k) * ldb, 2);
    std::vector<float> c = random_floats(m * ldc, 3);
    std::vector<float> expected = c;
    const float alpha = 1.5f, beta = -0.5f;
    for (int64_t r = 0; r < m; ++r)
        for (int64_t col = 0; col < n; ++col) {
            double dot = 0.0;
            for (int64_t p = 0; p < k; ++p)
                dot +=
                    double(op_element(a, trans_a, lda, r, p)) * op_element(b, trans_b, ldb, p, col);
            expected[r * ldc + col] = float(alpha * dot + beta * c[r * ldc + col]);
        }

    cpu_backend().gemm(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta,
                       c.data(), ldc);
    for (int64_t r = 0; r < m; ++r)
        for (int64_t col = 0; col < ldc; ++col)
            ASSERT_NEAR(c[r * ldc + col], expected[r * ldc + col], 1e-5f * (1 + std::sqrt(k)))
                << "row " << r << " column " << col;
}

void PrintTo(const GemmShape& shape, std::ostream* out) {
    *out << shape.m << "x" << shape.n << "x" << shape.k;
}

INSTANTIATE_TEST_SUITE_P(BackendGemm, BackendGemmTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(),
                                            ::testing::Values(GemmShape{7, 5, 9},
                                                              GemmShape{301, 40, 200},
                                                              GemmShape{40, 301, 200})));

TEST(BackendTest, BiasWithAndWithoutRelu) {
    std::vector<float> y = {1.0f, -2.0f, 0.5f, -0.25f, 3.0f, -4.0f};  // 2 x 3
    std::vector<float> bias = {0.5f, 1.0f, -1.0f};
    std::vector<float> plain = y;
    cpu_backend().add_bias_activation(plain.data(), bias.data(), 2, 3, false);
    EXPECT_EQ(plain, (std::vector<float>{1.5f, -1.0f, -0.5f, 0.25f, 4.0f, -5.0f}));
    cpu_backend().add_bias_activation(y.data(), bias.data(), 2, 3, true);
    EXPECT_EQ(y, (std::vector<float>{1.5f, 0.0f, 0.0f, 0.25f, 4.0f, 0.0f}));
}

TEST(BackendTest, ReluBackwardZeroesWhereOutputWasNotPositive) {
    std::vector<float> y = {0.0f, 2.0f, 0.0f, 1e-30f};
    std::vector<float> grad = {1.0f, 2.0f, -3.0f, 4.0f};
    cpu_backend().relu_backward(y.data(), grad.data(), 4);
    EXPECT_EQ(grad, (std::vector<float>{0.0f, 2.0f, 0.0f, 4.0f}));
}

// Big enough to take the parallel path.
TEST(BackendTest, ColumnSumsMatchLoop) {
    const int64_t rows = 3000, cols = 37;
    std::vector<float> a = random_floats(rows * cols, 4);
    std::vector<float> out(cols);
    cpu_backend().column_sums(a.data(), rows, cols, out.data());
    for (int64_t c = 0; c < cols; ++c) {
        double total = 0.0;
        for (int64_t r = 0; r < rows; ++r) total += a[r * cols + c];
        EXPECT_NEAR(out[c], total, 1e-4) << "column " << c;
    }
}

// Two steps of the algorithm as printed in Kingma & Ba (2015), with bias-corrected moments
// m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t), worked out in double.
TEST(AdamTest, TwoStepsMatchThePaperFormula) {
    AdamStep step;
    step.learning_rate = 0.1f;
    step.beta1 = 0.9f;
    step.beta2 = 0.99f;
    step.epsilon = 1e-3f;
    const std::vector<float> gradients[2] = {{0.5f, -2.0f, 0.0f}, {-0.25f, 1.0f, 3.0f}};
    std::vector<float> param = {1.0f, -1.0f, 0.5f}, m(3, 0.0f), v(3, 0.0f);
    std::vector<double> expected = {1.0, -1.0, 0.5}, em(3, 0.0), ev(3, 0.0);
    const double b1 = step.beta1, b2 = step.beta2, eps = step.epsilon, lr = step.learning_rate;
    for (int t = 1; t <= 2; ++t) {
        step.step = t;
        cpu_backend().adam_update(param.data(), m.data(), v.data(), gradients[t - 1].data(), 3,
                                  step);
        for (int i = 0; i < 3; ++i) {
            const double g = gradients[t - 1][i];
            em[i] = b1 * em[i] + (1 - b1) * g;
            ev[i] = b2 * ev[i] + (1 - b2) * g * g;
            const double m_hat = em[i] / (1 - std::pow(b1, t));
            const double v_hat = ev[i] / (1 - std::pow(b2, t));
            expected[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
        }
        for (int i = 0; i < 3; ++i) EXPECT_NEAR(param[i], expected[i], 1e-6) << "step " << t;
        if (t == 1) {
            // By hand: m_hat = g and v_hat = g^2 after one step, so each entry moves by
            // 0.1 * g / (|g| + 0.001), and not at all where g = 0.
            EXPECT_NEAR(param[0], 1.0 - 0.1 * 0.5 / 0.501, 1e-6);
            EXPECT_NEAR(param[1], -1.0 + 0.1 * 2.0 / 2.001, 1e-6);
            EXPECT_EQ(param[2], 0.5f);
        }
    }
}

// Nearest centroid by brute force over more rows than one block, and a duplicated centroid
// whose ties must go to the lower index.
TEST(BackendTest, AssignNearestMatchesBruteForce) {
    const int64_t n = 5000;
    const int d = 6, k = 9;
    std::vector<float> x = random_floats(n * d, 5, -3.0f, 3.0f);
    std::vector<float> centroids = random_floats(size_t(k) * d, 6, -3.0f, 3.0f);
    std::copy_n(centroids.begin() + 2 * d, d, centroids.begin() + 7 * d);  // 7 duplicates 2
    // Rows placed exactly on centroid 2 (and so on 7).
    for (int64_t i = 0; i < 10; ++i) std::copy_n(centroids.begin() + 2 * d, d, x.begin() + i * d);

    std::vector<int32_t> labels(n);
    std::vector<float> distance2(n);
    cpu_backend().assign_nearest(x.data(), n, d, centroids.data(), k, labels.data(),
                                 distance2.data());
    int mismatches = 0;
    for (int64_t i = 0; i < n; ++i) {
        std::vector<double> dist(k);
        int best = 0;
        for (int c = 0; c < k; ++c) {
            for (int j = 0; j < d; ++j) {
                const double diff = double(x[i * d + j]) - centroids[c * d + j];
                dist[c] += diff * diff;
            }
            if (dist[c] < dist[best]) best = c;
        }
        EXPECT_NE(labels[i], 7) << "row " << i << ": the tie with centroid 2 went to 7";
        EXPECT_NEAR(distance2[i], dist[best], 1e-3 * (1.0 + dist[best])) << "row " << i;
        // The expansion ||x||^2 - 2 x.c + ||c||^2 rounds differently from the direct sum; a
        // different label is only acceptable for a near tie.
        if (labels[i] != best) {
            ++mismatches;
            EXPECT_NEAR(dist[labels[i]], dist[best], 1e-4 * (1.0 + dist[best])) << "row " << i;
        }
    }
    for (int64_t i = 0; i < 10; ++i) {
        EXPECT_EQ(labels[i], 2);
        EXPECT_NEAR(distance2[i], 0.0f, 1e-4f);
    }
    EXPECT_LE(mismatches, 2);
}

// Sums are added to what is already there, so ranks and blocks can accumulate into one table.
TEST(BackendTest, AccumulateCentroidsMatchesBruteForce) {
    const int64_t n = 4001;
    const int d = 3, k = 4;
    std::vector<float> x = random_floats(n * d, 7);
    std::vector<int32_t> labels(n);
    std::mt19937_64 engine(8);
    for (auto& label : labels) label = int32_t(engine() % 3);  // cluster 3 stays empty
    std::vector<double> sums(k * d, 1.0), expected_sums(k * d, 1.0);
    std::vector<int64_t> counts(k, 2), expected_counts(k, 2);
    for (int64_t i = 0; i < n; ++i) {
        expected_counts[labels[i]] += 1;
        for (int j = 0; j < d; ++j) expected_sums[labels[i] * d + j] += x[i * d + j];
    }
    cpu_backend().accumulate_centroids(x.data(), n, d, labels.data(), k, sums.data(),
                                       counts.data());
    EXPECT_EQ(counts, expected_counts);
    for (int e = 0; e < k * d; ++e) EXPECT_NEAR(sums[e], expected_sums[e], 1e-9) << e;
}

// Scores v - lambda c with hand-picked exact ties (all values are binary fractions, so float
// arithmetic is exact) and random rows checked against a plain loop.
TEST(BackendTest, DualPassMatchesLoopAndBreaksTiesToLowestArm) {
    // 3 users x 3 arms. lambda = 0.5:
    //   user 0: 1.0, 1.0, 0.5 -> tie of arms 0 and 1 -> arm 0
    //   user 1: 0.0, 0.75, 0.75 -> tie of arms 1 and 2 -> arm 1
    //   user 2: 0.0, 0.25, 1.5 -> arm 2
    const std::vector<float> value = {1.0f, 1.5f, 1.5f, 0.0f, 1.0f, 1.75f, 0.0f, 0.5f, 2.0f};
    const std::vector<float> cost = {0.0f, 1.0f, 2.0f, 0.0f, 0.5f, 2.0f, 0.0f, 0.5f, 1.0f};
    std::vector<int32_t> choice(3);
    DualPassResult result =
        cpu_backend().dual_pass(value.data(), cost.data(), 3, 3, 0.5, choice.data());
    EXPECT_EQ(choice, (std::vector<int32_t>{0, 1, 2}));
    EXPECT_DOUBLE_EQ(result.value, 1.0 + 1.0 + 2.0);
    EXPECT_DOUBLE_EQ(result.cost, 0.0 + 0.5 + 1.0);

    const int64_t n = 20000;
    const int m = 4;
    std::vector<float> v = random_floats(n * m, 9, 0.0f, 2.0f);
    std::vector<float> c = random_floats(n * m, 10, 0.0f, 1.0f);
    for (int64_t i = 0; i < n; ++i) c[i * m] = 0.0f;
    const double lambda = 1.25;  // exact in float, as the backend computes in float
    std::vector<int32_t> chosen(n);
    result = cpu_backend().dual_pass(v.data(), c.data(), n, m, lambda, chosen.data());
    double total_value = 0.0, total_cost = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        int best = 0;
        double best_score = v[i * m] - lambda * c[i * m];
        for (int j = 1; j < m; ++j) {
            const double score = v[i * m + j] - lambda * c[i * m + j];
            if (score > best_score) best_score = score, best = j;
        }
        // Float rounding may flip a choice between two arms whose scores nearly tie.
        if (chosen[i] != best)
            EXPECT_NEAR(v[i * m + chosen[i]] - lambda * c[i * m + chosen[i]], best_score, 1e-6);
        total_value += v[i * m + chosen[i]];
        total_cost += c[i * m + chosen[i]];
    }
    EXPECT_NEAR(result.value, total_value, 1e-6 * total_value);
    EXPECT_NEAR(result.cost, total_cost, 1e-6 * total_cost);
}

// What one call computes with T threads, for the thread-count checks below.
struct ThreadedOutputs {
    std::vector<float> product, sums;
    std::vector<double> centroid_sums;
    std::vector<int64_t> counts;
    DualPassResult pass;
};

ThreadedOutputs run_with_threads(int threads) {
    const int64_t m = 3000, n = 200, k = 96;  // above the size where products are tiled
    std::vector<float> a = random_floats(size_t(m * k), 31), b = random_floats(size_t(k * n), 32);
    std::vector<int32_t> labels(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) labels[size_t(i)] = int32_t((i * 7) % 13);
    std::vector<float> value = random_floats(size_t(m * 5), 33),
                       cost = random_floats(size_t(m * 5), 34, 0.0f, 1.0f);
    omp_set_num_threads(threads);
    ThreadedOutputs out;
    out.product.assign(size_t(m * n), 0.0f);
    cpu_backend().gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f,
                       out.product.data(), n);
    out.sums.assign(size_t(n), 0.0f);
    cpu_backend().column_sums(out.product.data(), m, n, out.sums.data());
    out.centroid_sums.assign(size_t(13 * k), 0.0);
    out.counts.assign(13, 0);
    cpu_backend().accumulate_centroids(a.data(), m, int(k), labels.data(), 13,
                                       out.centroid_sums.data(), out.counts.data());
    out.pass = cpu_backend().dual_pass(value.data(), cost.data(), m, 5, 0.7, nullptr);
    return out;
}

// Runs on any number of ranks reproduce each other only if no kernel's bits depend on how
// many threads share the work.
TEST(BackendTest, ResultsHaveTheSameBitsForAnyThreadCount) {
    const int before = omp_get_max_threads();
    ThreadedOutputs one = run_with_threads(1);
    for (int threads : {2, 3, 8}) {
        ThreadedOutputs many = run_with_threads(threads);
        EXPECT_EQ(many.product, one.product) << threads << " threads";
        EXPECT_EQ(many.sums, one.sums) << threads << " threads";
        EXPECT_EQ(many.centroid_sums, one.centroid_sums) << threads << " threads";
        EXPECT_EQ(many.counts, one.counts) << threads << " threads";
        EXPECT_EQ(many.pass.value, one.pass.value) << threads << " threads";
        EXPECT_EQ(many.pass.cost, one.pass.cost) << threads << " threads";
    }
    omp_set_num_threads(before);
}

// The CPU backend says it takes calls from several threads at once: four threads multiplying
// their own matrices together get what one call alone gets.
TEST(BackendTest, CpuCallsFromSeveralThreadsAtOnceMatchCallsInTurn) {
    ASSERT_TRUE(cpu_backend().concurrent_calls());
    const int64_t m = 1000, n = 300, k = 64;
    std::vector<std::vector<float>> a, expected, got(4);
    std::vector<float> b = random_floats(size_t(k * n), 40);
    for (int t = 0; t < 4; ++t) {
        a.push_back(random_floats(size_t(m * k), 41 + uint64_t(t)));
        expected.emplace_back(size_t(m * n));
        cpu_backend().gemm(false, false, m, n, k, 1.0f, a[t].data(), k, b.data(), n, 0.0f,
                           expected[t].data(), n);
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            got[size_t(t)].assign(size_t(m * n), 0.0f);
            cpu_backend().gemm(false, false, m, n, k, 1.0f, a[size_t(t)].data(), k, b.data(), n,
                               0.0f, got[size_t(t)].data(), n);
        });
    }
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(got[size_t(t)], expected[size_t(t)]) << "thread " << t;
}

TEST(BackendTest, FactoryKnowsCpuAndRefusesUnknownNames) {
    EXPECT_EQ(make_backend("cpu")->name(), "cpu");
    EXPECT_EQ(cpu_backend().name(), "cpu");
    try {
        make_backend("tpu");
        FAIL() << "no error for an unknown backend";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("\"tpu\""), std::string::npos) << error.what();
    }
    if (!cuda_backend_built()) EXPECT_THROW(make_backend("cuda"), ConfigError);
}

}  // namespace
}  // namespace ca
