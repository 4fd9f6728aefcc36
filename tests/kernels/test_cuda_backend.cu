// The CUDA backend against the CPU reference on random inputs of several shapes, sizes that are
// not multiples of any tile and staging tiles forced small, with stated tolerances. Without a
// visible device every parity test skips; the factory's refusal is checked instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/errors.h"
#include "kernels/backend.h"
#include "kernels/cuda/cuda_backend.cuh"

namespace ca {
namespace {

// Small enough that the larger cases below cross many staging tiles.
constexpr int64_t kSmallStage = 4096;

std::vector<float> random_floats(size_t count, uint64_t seed, float low = -1.0f,
                                 float high = 1.0f) {
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<float> uniform(low, high);
    std::vector<float> out(count);
    for (float& v : out) v = uniform(engine);
    return out;
}

std::vector<float> random_integers(size_t count, uint64_t seed, int low, int high) {
    std::mt19937_64 engine(seed);
    std::uniform_int_distribution<int> uniform(low, high);
    std::vector<float> out(count);
    for (float& v : out) v = float(uniform(engine));
    return out;
}

// Passes when |got[i] - expected[i]| <= tolerance(i) everywhere (two NaNs agree). A failure
// names how many elements disagree, the one furthest past its tolerance and the largest
// absolute difference, each with its index.
template <typename T>
::testing::AssertionResult all_within(const std::vector<T>& got, const std::vector<T>& expected,
                                      const std::function<double(size_t)>& tolerance) {
    if (got.size() != expected.size())
        return ::testing::AssertionFailure()
               << "sizes differ: " << got.size() << " vs " << expected.size();
    size_t failures = 0, worst = 0, largest = 0;
    double worst_excess = -1.0, largest_difference = -1.0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double a = double(got[i]), b = double(expected[i]);
        if (std::isnan(a) && std::isnan(b)) continue;
        const double difference = (std::isnan(a) || std::isnan(b))
                                      ? std::numeric_limits<double>::infinity()
                                      : std::fabs(a - b);
        if (difference > largest_difference) largest_difference = difference, largest = i;
        if (difference <= tolerance(i)) continue;
        ++failures;
        const double excess = difference - tolerance(i);
        if (excess > worst_excess) worst_excess = excess, worst = i;
    }
    if (failures == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << failures << " of " << got.size() << " elements outside tolerance; worst at index "
           << worst << ": got " << double(got[worst]) << ", expected " << double(expected[worst])
           << ", tolerance " << tolerance(worst) << "; largest difference " << largest_difference
           << " at index " << largest;
}

::testing::AssertionResult all_equal(const std::vector<float>& got,
                                     const std::vector<float>& expected) {
    return all_within<float>(got, expected, [](size_t) { return 0.0; });
}

// Passes when got equals expected entry by entry; otherwise names how many entries differ and
// the first of them, instead of printing whole vectors.
template <typename T>
::testing::AssertionResult all_same(const std::vector<T>& got, const std::vector<T>& expected) {
    if (got.size() != expected.size())
        return ::testing::AssertionFailure()
               << "sizes differ: " << got.size() << " vs " << expected.size();
    size_t differences = 0, first = 0;
    for (size_t i = got.size(); i-- > 0;)
        if (!(got[i] == expected[i])) ++differences, first = i;
    if (differences == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << differences << " of " << got.size() << " entries differ; first at index " << first
           << ": got " << got[first] << ", expected " << expected[first];
}

// Collects rows where two backends chose differently although the choices are not a near
// tie, and reports their number and the one furthest past its tolerance.
class NearTieCheck {
  public:
    void add(int64_t row, double gap, double tolerance, int32_t got, int32_t expected) {
        if (gap <= tolerance) return;
        ++violations_;
        if (gap - tolerance > worst_excess_) {
            worst_excess_ = gap - tolerance;
            message_.str("");
            message_ << "worst at row " << row << ": cuda chose " << got << ", cpu chose "
                     << expected << ", gap " << gap << " over the tolerance " << tolerance;
        }
    }
    ::testing::AssertionResult result() const {
        if (violations_ == 0) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure()
               << violations_ << " rows differ by more than a near tie; " << message_.str();
    }

  private:
    int64_t violations_ = 0;
    double worst_excess_ = -1.0;
    std::ostringstream message_;
};

// Every parity test runs on a fresh CUDA backend with small staging tiles, and skips without
// a device.
class CudaParityTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: " << cuda_device_status();
        CudaBackendParams params;
        params.max_stage_elements = kSmallStage;
        cuda_ = make_cuda_backend(params);
    }

    Backend& cuda() { return *cuda_; }
    Backend& cpu() { return cpu_backend(); }

  private:
    std::unique_ptr<Backend> cuda_;
};

// ---------------------------------------------------------------------------------------------
// gemm

struct GemmShape {
    int64_t m, n, k;
};

void PrintTo(const GemmShape& shape, std::ostream* out) {
    *out << shape.m << "x" << shape.n << "x" << shape.k;
}

class CudaGemmTest
    : public CudaParityTest,
      public ::testing::WithParamInterface<std::tuple<bool, bool, GemmShape, float>> {};

// Leading dimensions wider than the matrices: the padding of C must come back untouched. With
// beta = 0 the GPU copy of C is filled with NaN, which BLAS must not read. Tolerance: 1e-4 of
// |alpha| ||row of op(A)|| ||column of op(B)|| + |beta c|, the scale float rounding of a dot
// product grows with.
TEST_P(CudaGemmTest, MatchesCpuWithinRowNormProducts) {
    const bool trans_a = std::get<0>(GetParam()), trans_b = std::get<1>(GetParam());
    const GemmShape shape = std::get<2>(GetParam());
    const float alpha = 1.5f, beta = std::get<3>(GetParam());
    const int64_t m = shape.m, n = shape.n, k = shape.k, pad = 3;
    const int64_t lda = (trans_a ? m : k) + pad, ldb = (trans_b ? k : n) + pad, ldc = n + pad;
    const std::vector<float> a = random_floats((trans_a ? k : m) * lda, 11);
    const std::vector<float> b = random_floats((trans_b ? n : k) * ldb, 12);
    std::vector<float> c_cpu = random_floats(m * ldc, 13), c_gpu = c_cpu;
    const std::vector<float> c_before = c_cpu;
    if (beta == 0.0f)
        for (int64_t r = 0; r < m; ++r)
            std::fill_n(c_gpu.begin() + r * ldc, n, std::numeric_limits<float>::quiet_NaN());

    std::vector<double> row_norm(m, 0.0), column_norm(n, 0.0);
    for (int64_t p = 0; p < k; ++p) {
        for (int64_t r = 0; r < m; ++r) {
            const double e = trans_a ? a[p * lda + r] : a[r * lda + p];
            row_norm[r] += e * e;
        }
        for (int64_t col = 0; col < n; ++col) {
            const double e = trans_b ? b[col * ldb + p] : b[p * ldb + col];
            column_norm[col] += e * e;
        }
    }

    cpu().gemm(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c_cpu.data(),
               ldc);
    cuda().gemm(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c_gpu.data(),
                ldc);
    auto tolerance = [&](size_t i) {
        const int64_t r = int64_t(i) / ldc, col = int64_t(i) % ldc;
        if (col >= n) return 0.0;
        return 1e-4 * (std::fabs(alpha) * std::sqrt(row_norm[r] * column_norm[col]) +
                       std::fabs(beta * c_before[i]));
    };
    EXPECT_TRUE(all_within<float>(c_gpu, c_cpu, tolerance));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaGemmTest,
    ::testing::Combine(::testing::Bool(), ::testing::Bool(),
                       ::testing::Values(GemmShape{1, 1, 1}, GemmShape{7, 5, 3},
                                         GemmShape{33, 65, 17}, GemmShape{130, 257, 70},
                                         GemmShape{4, 5, 0}),
                       ::testing::Values(-0.5f, 0.0f)));

// ---------------------------------------------------------------------------------------------
// Element-wise network kernels: one IEEE operation per element, so the results are bit-equal.

struct MatrixShape {
    int64_t rows, cols;
};

void PrintTo(const MatrixShape& shape, std::ostream* out) {
    *out << shape.rows << "x" << shape.cols;
}

class CudaBiasTest : public CudaParityTest,
                     public ::testing::WithParamInterface<std::tuple<MatrixShape, bool>> {};

// A NaN rides along (ReLU must pass it through, as std::max on the CPU does) and one element
// sums to exactly zero.
TEST_P(CudaBiasTest, AddBiasActivationIsBitEqual) {
    const MatrixShape shape = std::get<0>(GetParam());
    const bool relu = std::get<1>(GetParam());
    std::vector<float> y_cpu = random_floats(shape.rows * shape.cols, 21);
    const std::vector<float> bias = random_floats(shape.cols, 22);
    y_cpu[0] = std::numeric_limits<float>::quiet_NaN();
    if (y_cpu.size() > 1) y_cpu[1] = -bias[1 % shape.cols];
    std::vector<float> y_gpu = y_cpu;
    cpu().add_bias_activation(y_cpu.data(), bias.data(), shape.rows, shape.cols, relu);
    cuda().add_bias_activation(y_gpu.data(), bias.data(), shape.rows, shape.cols, relu);
    EXPECT_TRUE(all_equal(y_gpu, y_cpu));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaBiasTest,
                         ::testing::Combine(::testing::Values(MatrixShape{1, 1},
                                                              MatrixShape{37, 19},
                                                              MatrixShape{1000, 129}),
                                            ::testing::Bool()));

TEST_F(CudaParityTest, ReluBackwardIsBitEqual) {
    const int64_t count = 100003;
    std::vector<float> y = random_floats(count, 31);
    for (int64_t i = 0; i < count; i += 7) y[i] = (i % 2) ? 0.0f : -0.0f;
    std::vector<float> grad_cpu = random_floats(count, 32), grad_gpu = grad_cpu;
    cpu().relu_backward(y.data(), grad_cpu.data(), count);
    cuda().relu_backward(y.data(), grad_gpu.data(), count);
    EXPECT_TRUE(all_equal(grad_gpu, grad_cpu));
}

// ---------------------------------------------------------------------------------------------
// Column sums: both backends add in double and round once, so they agree to 1e-6 of the
// column's absolute sum (a float rounding of the total is about 6e-8 of it).

class CudaColumnSumsTest : public CudaParityTest,
                           public ::testing::WithParamInterface<MatrixShape> {};

::testing::AssertionResult column_sums_agree(Backend& cpu, Backend& cuda, int64_t rows,
                                             int64_t cols, uint64_t seed) {
    const std::vector<float> a = random_floats(rows * cols, seed);
    std::vector<float> out_cpu(cols), out_gpu(cols, -1.0f);
    std::vector<double> absolute(cols, 0.0);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) absolute[c] += std::fabs(a[r * cols + c]);
    cpu.column_sums(a.data(), rows, cols, out_cpu.data());
    cuda.column_sums(a.data(), rows, cols, out_gpu.data());
    return all_within<float>(out_gpu, out_cpu, [&](size_t c) { return 1e-6 * absolute[c]; });
}

TEST_P(CudaColumnSumsTest, MatchCpuWithinOneMillionthOfAbsoluteSum) {
    EXPECT_TRUE(column_sums_agree(cpu(), cuda(), GetParam().rows, GetParam().cols, 41));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaColumnSumsTest,
                         ::testing::Values(MatrixShape{1, 1}, MatrixShape{0, 4},
                                           MatrixShape{1000, 3}, MatrixShape{4099, 65},
                                           MatrixShape{129, 1000}, MatrixShape{300000, 2}));

// The staging buffers grow and are reused: a large call between small ones must not leave
// stale data behind or read past a smaller operand.
TEST_F(CudaParityTest, StagingBuffersSurviveGrowingAndShrinkingCalls) {
    const MatrixShape sequence[] = {{10, 3}, {200000, 17}, {7, 2}, {5000, 40}, {1, 1}};
    uint64_t seed = 50;
    for (const MatrixShape& shape : sequence)
        EXPECT_TRUE(column_sums_agree(cpu(), cuda(), shape.rows, shape.cols, ++seed))
            << shape.rows << "x" << shape.cols;
}

// ---------------------------------------------------------------------------------------------
// Adam

class CudaAdamTest : public CudaParityTest,
                     public ::testing::WithParamInterface<std::tuple<int64_t, long>> {};

// Each backend rounds the moment updates a few times, possibly fused differently; the bound is
// 1e-6 of the magnitudes of the terms added (cancellation can make the result much smaller),
// and for the parameter the same relative error carried through m / (sqrt(v) + eps).
TEST_P(CudaAdamTest, MatchesCpuWithinRoundingOfTheTerms) {
    const int64_t count = std::get<0>(GetParam());
    AdamStep step;
    step.learning_rate = 0.01f;
    step.step = std::get<1>(GetParam());
    const std::vector<float> grad = random_floats(count, 61);
    const std::vector<float> m0 = random_floats(count, 62, -0.5f, 0.5f);
    const std::vector<float> v0 = random_floats(count, 63, 0.0f, 0.25f);
    std::vector<float> p_cpu = random_floats(count, 64), p_gpu = p_cpu;
    std::vector<float> m_cpu = m0, m_gpu = m0, v_cpu = v0, v_gpu = v0;
    cpu().adam_update(p_cpu.data(), m_cpu.data(), v_cpu.data(), grad.data(), count, step);
    cuda().adam_update(p_gpu.data(), m_gpu.data(), v_gpu.data(), grad.data(), count, step);

    const double b1 = step.beta1, b2 = step.beta2;
    auto m_scale = [&](size_t i) { return std::fabs(b1 * m0[i]) + std::fabs((1 - b1) * grad[i]); };
    auto v_scale = [&](size_t i) { return b2 * v0[i] + (1 - b2) * grad[i] * grad[i]; };
    const double rate = step.learning_rate * std::sqrt(1 - std::pow(b2, double(step.step))) /
                        (1 - std::pow(b1, double(step.step)));
    EXPECT_TRUE(all_within<float>(m_gpu, m_cpu, [&](size_t i) { return 1e-6 * m_scale(i); }));
    EXPECT_TRUE(all_within<float>(v_gpu, v_cpu, [&](size_t i) { return 1e-6 * v_scale(i); }));
    EXPECT_TRUE(all_within<float>(p_gpu, p_cpu, [&](size_t i) {
        const double denominator = std::sqrt(double(v_cpu[i])) + double(step.epsilon);
        return 1e-6 * std::fabs(p_cpu[i]) + 2e-6 * rate * m_scale(i) / denominator;
    }));
}

INSTANTIATE_TEST_SUITE_P(Counts, CudaAdamTest,
                         ::testing::Combine(::testing::Values(int64_t{1}, int64_t{1000},
                                                              int64_t{100003}),
                                            ::testing::Values(1L, 7L)));

// ---------------------------------------------------------------------------------------------
// assign_nearest

struct AssignShape {
    int64_t n;
    int d, k;
};

void PrintTo(const AssignShape& shape, std::ostream* out) {
    *out << "n" << shape.n << "_d" << shape.d << "_k" << shape.k;
}

class CudaAssignTest : public CudaParityTest, public ::testing::WithParamInterface<AssignShape> {};

double squared_distance(const float* x, const float* c, int d) {
    double total = 0.0;
    for (int j = 0; j < d; ++j) total += (double(x[j]) - c[j]) * (double(x[j]) - c[j]);
    return total;
}

double squared_norm(const float* x, int d) {
    double total = 0.0;
    for (int j = 0; j < d; ++j) total += double(x[j]) * x[j];
    return total;
}

// Points scattered around random centroids. Both backends use ||x||^2 - 2 x.c + ||c||^2 in
// float, whose rounding scales with the norms, not the distance: labels may differ only where
// the exact distances of the two labels are within 1e-5 of ||x||^2 + max ||c||^2, and
// distance2 agrees to that bound.
TEST_P(CudaAssignTest, LabelsAgreeExceptNearTies) {
    const int64_t n = GetParam().n;
    const int d = GetParam().d, k = GetParam().k;
    const std::vector<float> centroids = random_floats(size_t(k) * d, 71, -2.0f, 2.0f);
    std::vector<float> x = random_floats(n * d, 72, -0.4f, 0.4f);
    std::mt19937_64 engine(73);
    for (int64_t i = 0; i < n; ++i) {
        const int home = int(engine() % uint64_t(k));
        for (int j = 0; j < d; ++j) x[i * d + j] += centroids[home * d + j];
    }
    double largest_centroid_norm = 0.0;
    for (int c = 0; c < k; ++c)
        largest_centroid_norm = std::max(largest_centroid_norm, squared_norm(&centroids[c * d], d));

    std::vector<int32_t> labels_cpu(n), labels_gpu(n, -1), labels_only(n, -1);
    std::vector<float> distance_cpu(n), distance_gpu(n);
    cpu().assign_nearest(x.data(), n, d, centroids.data(), k, labels_cpu.data(),
                         distance_cpu.data());
    cuda().assign_nearest(x.data(), n, d, centroids.data(), k, labels_gpu.data(),
                          distance_gpu.data());
    cuda().assign_nearest(x.data(), n, d, centroids.data(), k, labels_only.data(), nullptr);
    EXPECT_TRUE(all_same(labels_only, labels_gpu)) << "labels depend on asking for distance2";

    auto scale = [&](size_t i) { return squared_norm(&x[i * d], d) + largest_centroid_norm; };
    int64_t mismatches = 0;
    NearTieCheck near_ties;
    for (int64_t i = 0; i < n; ++i) {
        if (labels_gpu[i] == labels_cpu[i]) continue;
        ++mismatches;
        ASSERT_TRUE(labels_gpu[i] >= 0 && labels_gpu[i] < k)
            << "row " << i << ": label " << labels_gpu[i] << " outside [0, " << k << ")";
        const double gap = std::fabs(squared_distance(&x[i * d], &centroids[labels_gpu[i] * d], d) -
                                     squared_distance(&x[i * d], &centroids[labels_cpu[i] * d], d));
        near_ties.add(i, gap, 1e-5 * scale(i), labels_gpu[i], labels_cpu[i]);
    }
    EXPECT_TRUE(near_ties.result());
    EXPECT_TRUE(
        all_within<float>(distance_gpu, distance_cpu, [&](size_t i) { return 1e-5 * scale(i); }));
    // Near ties are rare among clustered points; many differing labels mean a real fault.
    EXPECT_LE(mismatches, std::max<int64_t>(2, n / 1000)) << "labels differ on " << mismatches;
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaAssignTest,
                         ::testing::Values(AssignShape{1, 1, 1}, AssignShape{257, 3, 5},
                                           AssignShape{1000, 16, 1}, AssignShape{5000, 17, 33},
                                           AssignShape{300, 70, 40}, AssignShape{20011, 8, 100}));

// Small integer coordinates make every distance exact in float on both backends, so ties are
// real: a duplicated centroid and points halfway between two centroids must take the lowest
// index, matching the CPU and a brute-force scan exactly.
TEST_F(CudaParityTest, AssignNearestBreaksExactTiesToLowestIndex) {
    const int64_t n = 3001;
    const int d = 4, k = 7;
    std::vector<float> centroids = random_integers(size_t(k) * d, 81, -3, 3);
    std::copy_n(centroids.begin() + 1 * d, d, centroids.begin() + 5 * d);  // 5 duplicates 1
    const std::vector<float> x = random_integers(n * d, 82, -4, 4);

    std::vector<int32_t> labels_cpu(n), labels_gpu(n);
    std::vector<float> distance_cpu(n), distance_gpu(n);
    cpu().assign_nearest(x.data(), n, d, centroids.data(), k, labels_cpu.data(),
                         distance_cpu.data());
    cuda().assign_nearest(x.data(), n, d, centroids.data(), k, labels_gpu.data(),
                          distance_gpu.data());
    EXPECT_TRUE(all_same(labels_gpu, labels_cpu));
    EXPECT_TRUE(all_equal(distance_gpu, distance_cpu));
    std::vector<int32_t> brute_labels(n);
    std::vector<float> brute_distance(n);
    int64_t ties = 0;
    for (int64_t i = 0; i < n; ++i) {
        int best = 0;
        double best_distance = squared_distance(&x[i * d], &centroids[0], d);
        for (int c = 1; c < k; ++c) {
            const double distance = squared_distance(&x[i * d], &centroids[c * d], d);
            if (distance == best_distance) ++ties;
            if (distance < best_distance) best_distance = distance, best = c;
        }
        brute_labels[i] = best;
        brute_distance[i] = float(best_distance);
    }
    EXPECT_TRUE(all_same(labels_gpu, brute_labels));
    EXPECT_TRUE(all_equal(distance_gpu, brute_distance));
    EXPECT_GT(ties, 0) << "the data holds no tie, so the test checks nothing about ties";
}

// ---------------------------------------------------------------------------------------------
// accumulate_centroids

class CudaAccumulateTest : public CudaParityTest,
                           public ::testing::WithParamInterface<AssignShape> {};

// Sums and counts start non-zero, since the method adds to them. Counts are exact; sums are
// double totals of floats, whose order-dependent rounding stays below 1e-9 of the absolute
// total of a cell. The widest shape is too large for the per-block shared table.
TEST_P(CudaAccumulateTest, MatchesCpuSumsAndCounts) {
    const int64_t n = GetParam().n;
    const int d = GetParam().d, k = GetParam().k;
    const std::vector<float> x = random_floats(n * d, 91);
    std::vector<int32_t> labels(n);
    std::mt19937_64 engine(92);
    for (auto& label : labels) label = int32_t(engine() % uint64_t(k));
    std::vector<double> sums_cpu(size_t(k) * d, 0.5), sums_gpu = sums_cpu, absolute = sums_cpu;
    std::vector<int64_t> counts_cpu(k, 3), counts_gpu = counts_cpu;
    for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < d; ++j) absolute[labels[i] * d + j] += std::fabs(x[i * d + j]);

    cpu().accumulate_centroids(x.data(), n, d, labels.data(), k, sums_cpu.data(),
                               counts_cpu.data());
    cuda().accumulate_centroids(x.data(), n, d, labels.data(), k, sums_gpu.data(),
                                counts_gpu.data());
    EXPECT_TRUE(all_same(counts_gpu, counts_cpu));
    EXPECT_TRUE(
        all_within<double>(sums_gpu, sums_cpu, [&](size_t e) { return 1e-9 * absolute[e]; }));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaAccumulateTest,
                         ::testing::Values(AssignShape{1, 1, 1}, AssignShape{1000, 5, 7},
                                           AssignShape{5001, 16, 3}, AssignShape{20000, 40, 200},
                                           AssignShape{777, 3, 1000}));

// The CPU reference would write out of bounds; the CUDA backend refuses and leaves the
// caller's tables as they were.
TEST_F(CudaParityTest, AccumulateCentroidsRejectsLabelsOutsideTheClusters) {
    const int64_t n = 100;
    const int d = 2, k = 3;
    const std::vector<float> x = random_floats(n * d, 93);
    for (const int32_t bad : {-1, k}) {
        std::vector<int32_t> labels(n, 1);
        labels[57] = bad;
        std::vector<double> sums(size_t(k) * d, 0.0);
        std::vector<int64_t> counts(k, 0);
        try {
            cuda().accumulate_centroids(x.data(), n, d, labels.data(), k, sums.data(),
                                        counts.data());
            ADD_FAILURE() << "no error for label " << bad;
        } catch (const std::logic_error& error) {
            EXPECT_NE(std::string(error.what()).find("1 of 100 labels lie outside [0, 3)"),
                      std::string::npos)
                << error.what();
        }
        EXPECT_EQ(counts, std::vector<int64_t>(k, 0));
        EXPECT_EQ(sums, std::vector<double>(size_t(k) * d, 0.0));
    }
}

// ---------------------------------------------------------------------------------------------
// dual_pass

struct DualShape {
    int64_t n;
    int m;
};

void PrintTo(const DualShape& shape, std::ostream* out) {
    *out << "n" << shape.n << "_m" << shape.m;
}

class CudaDualPassTest : public CudaParityTest,
                         public ::testing::WithParamInterface<std::tuple<DualShape, double>> {};

double score(const std::vector<float>& value, const std::vector<float>& cost, int64_t i, int m,
             int j, double lambda) {
    return double(value[i * m + j]) - lambda * double(cost[i * m + j]);
}

// Choices may differ only where the two arms' exact scores are within 1e-5 of the row's
// largest |v| + lambda |c| (float rounding, fused or not, of v - lambda c). The GPU totals
// must equal the sums over its own choices, and differ from the CPU's only by the arms that
// were chosen differently.
TEST_P(CudaDualPassTest, ChoicesAgreeExceptNearTies) {
    const DualShape shape = std::get<0>(GetParam());
    const double lambda = std::get<1>(GetParam());
    const int64_t n = shape.n;
    const int m = shape.m;
    const std::vector<float> value = random_floats(n * m, 101, 0.0f, 1.0f);
    const std::vector<float> cost = random_floats(n * m, 102, 0.0f, 1.0f);
    std::vector<int32_t> choice_cpu(n), choice_gpu(n, -1);
    const DualPassResult cpu_total =
        cpu().dual_pass(value.data(), cost.data(), n, m, lambda, choice_cpu.data());
    const DualPassResult gpu_total =
        cuda().dual_pass(value.data(), cost.data(), n, m, lambda, choice_gpu.data());
    const DualPassResult gpu_no_choice =
        cuda().dual_pass(value.data(), cost.data(), n, m, lambda, nullptr);

    double own_value = 0.0, own_cost = 0.0, value_shift = 0.0, cost_shift = 0.0;
    double absolute_value = 0.0, absolute_cost = 0.0;
    NearTieCheck near_ties;
    for (int64_t i = 0; i < n; ++i) {
        const int g = choice_gpu[i], c = choice_cpu[i];
        ASSERT_TRUE(g >= 0 && g < m) << "row " << i << ": arm " << g << " outside [0, " << m << ")";
        own_value += value[i * m + g];
        own_cost += cost[i * m + g];
        absolute_value += value[i * m + g];
        absolute_cost += cost[i * m + g];
        if (g == c) continue;
        double row_scale = 0.0;
        for (int j = 0; j < m; ++j)
            row_scale = std::max(row_scale,
                                 std::fabs(value[i * m + j]) + std::fabs(lambda * cost[i * m + j]));
        const double gap =
            std::fabs(score(value, cost, i, m, g, lambda) - score(value, cost, i, m, c, lambda));
        near_ties.add(i, gap, 1e-5 * row_scale, g, c);
        value_shift += std::fabs(double(value[i * m + g]) - value[i * m + c]);
        cost_shift += std::fabs(double(cost[i * m + g]) - cost[i * m + c]);
    }
    EXPECT_TRUE(near_ties.result());
    EXPECT_NEAR(gpu_total.value, own_value, 1e-9 * absolute_value);
    EXPECT_NEAR(gpu_total.cost, own_cost, 1e-9 * absolute_cost);
    EXPECT_NEAR(gpu_total.value, cpu_total.value, value_shift + 1e-9 * absolute_value);
    EXPECT_NEAR(gpu_total.cost, cpu_total.cost, cost_shift + 1e-9 * absolute_cost);
    // Same input, same launch shape: the same bits whether or not choices are written.
    EXPECT_EQ(gpu_no_choice.value, gpu_total.value);
    EXPECT_EQ(gpu_no_choice.cost, gpu_total.cost);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaDualPassTest,
                         ::testing::Combine(::testing::Values(DualShape{1, 1}, DualShape{1000, 2},
                                                              DualShape{5001, 5},
                                                              DualShape{70001, 7}),
                                            ::testing::Values(0.0, 0.37, 5.0)));

// Integer values and costs with lambda = 0.5 make every score exact, so ties are real and must
// go to the lowest arm on both backends; the totals are sums of integers, exact in double.
TEST_F(CudaParityTest, DualPassBreaksExactTiesToLowestArm) {
    const int64_t n = 9001;
    const int m = 4;
    const double lambda = 0.5;
    const std::vector<float> value = random_integers(n * m, 111, 0, 3);
    const std::vector<float> cost = random_integers(n * m, 112, 0, 3);
    std::vector<int32_t> choice_cpu(n), choice_gpu(n);
    const DualPassResult cpu_total =
        cpu().dual_pass(value.data(), cost.data(), n, m, lambda, choice_cpu.data());
    const DualPassResult gpu_total =
        cuda().dual_pass(value.data(), cost.data(), n, m, lambda, choice_gpu.data());
    EXPECT_TRUE(all_same(choice_gpu, choice_cpu));
    EXPECT_EQ(gpu_total.value, cpu_total.value);
    EXPECT_EQ(gpu_total.cost, cpu_total.cost);
    std::vector<int32_t> brute_choice(n);
    int64_t ties = 0;
    for (int64_t i = 0; i < n; ++i) {
        int best = 0;
        for (int j = 1; j < m; ++j) {
            const double s = score(value, cost, i, m, j, lambda);
            if (s == score(value, cost, i, m, best, lambda)) ++ties;
            if (s > score(value, cost, i, m, best, lambda)) best = j;
        }
        brute_choice[i] = best;
    }
    EXPECT_TRUE(all_same(choice_gpu, brute_choice));
    EXPECT_GT(ties, 0) << "the data holds no tie, so the test checks nothing about ties";
}

// The row tiling is invisible: default staging (one tile) and small staging (many) choose the
// same arms, and their totals differ only by the order of the double additions (far below
// 1e-10 of the total).
TEST_F(CudaParityTest, DualPassDoesNotDependOnTheStagingTile) {
    const int64_t n = 70001;
    const int m = 5;
    const std::vector<float> value = random_floats(n * m, 121, 0.0f, 1.0f);
    const std::vector<float> cost = random_floats(n * m, 122, 0.0f, 1.0f);
    std::unique_ptr<Backend> one_tile = make_cuda_backend();
    std::vector<int32_t> choice_small(n), choice_whole(n);
    const DualPassResult small =
        cuda().dual_pass(value.data(), cost.data(), n, m, 0.8, choice_small.data());
    const DualPassResult whole =
        one_tile->dual_pass(value.data(), cost.data(), n, m, 0.8, choice_whole.data());
    EXPECT_TRUE(all_same(choice_small, choice_whole));
    EXPECT_NEAR(small.value, whole.value, 1e-10 * whole.value);
    EXPECT_NEAR(small.cost, whole.cost, 1e-10 * whole.cost);
}

// ---------------------------------------------------------------------------------------------
// The factory

TEST_F(CudaParityTest, FactoryNamesTheBackendAndRefusesAMissingOrdinal) {
    EXPECT_TRUE(cuda_backend_built());
    EXPECT_EQ(make_backend("cuda")->name(), "cuda");
    CudaBackendParams params;
    params.device = 1000;
    try {
        make_cuda_backend(params);
        ADD_FAILURE() << "no error for device 1000";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("device 1000 was requested"), std::string::npos)
            << error.what();
    }
}

// Runs only where no device is visible (this is the case the parity tests skip): asking for
// cuda must be a ConfigError that says why, with the runtime's own words.
TEST(CudaBackendFactory, NoDeviceIsAConfigErrorNamingTheCause) {
    if (cuda_device_available())
        GTEST_SKIP() << "a CUDA device is visible: " << cuda_device_status();
    EXPECT_TRUE(cuda_backend_built());
    const std::string expected =
        "device: cuda was requested but no CUDA device is visible (cudaGetDeviceCount: ";
    EXPECT_EQ(cuda_device_status().rfind("cudaGetDeviceCount: ", 0), 0u) << cuda_device_status();
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            if (attempt == 0) make_cuda_backend();
            if (attempt == 1) make_backend("cuda");
            ADD_FAILURE() << "no error without a device (attempt " << attempt << ")";
        } catch (const ConfigError& error) {
            EXPECT_EQ(std::string(error.what()).rfind(expected, 0), 0u) << error.what();
            EXPECT_EQ(std::string(error.what()).back(), ')') << error.what();
        }
    }
}

}  // namespace
}  // namespace ca
