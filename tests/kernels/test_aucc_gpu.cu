// The device ranking AUCC against the CPU reference (core/aucc) on random rows with many tied
// scores, rows of a third arm, signed zeros, and the hand-computed tied ranking. Stated
// tolerance: AUCC within 1e-9 and each sampled curve value within 1e-9 of the curve's largest
// magnitude; with integer values and costs the running sums are exact in any order, and the
// tolerance tightens to 1e-12.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "kernels/backend.h"
#include "kernels/cuda/cuda_backend.cuh"

namespace ca {
namespace {

struct Rows {
    std::vector<double> score;
    std::vector<int32_t> arm;
    std::vector<float> value, cost;
};

// Arms 0, 1 and 2 (2 is left out); treated rows earn and spend more on average, so the
// whole-set totals are positive. levels > 0 draws scores from that many values (ties).
Rows random_rows(uint64_t seed, int64_t n, int levels, bool integers) {
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Rows r;
    for (int64_t i = 0; i < n; ++i) {
        const int32_t arm = int32_t(engine() % 3);
        const double lift = arm == 1 ? 2.0 : 1.0;
        double value = 3.0 * lift * uniform(engine), cost = 2.0 * lift * uniform(engine);
        if (integers) value = std::floor(value), cost = std::floor(cost);
        const double u = uniform(engine);
        r.score.push_back(levels > 0 ? std::floor(u * levels) / levels - 0.5 : u);
        r.arm.push_back(arm);
        r.value.push_back(float(value));
        r.cost.push_back(float(cost));
    }
    return r;
}

RankingAucc run(Backend& backend, const Rows& r, int points, std::vector<double>* curve) {
    if (curve) curve->assign(size_t(points) + 1, 0.0);
    return backend.ranking_aucc(r.score.data(), r.arm.data(), r.value.data(), r.cost.data(),
                                int64_t(r.score.size()), 1, points,
                                curve ? curve->data() : nullptr);
}

class AuccGpuTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: " << cuda_device_status();
        cuda_ = make_cuda_backend();
    }
    Backend& cuda() { return *cuda_; }

    void expect_parity(const Rows& r, int points, double tolerance) {
        std::vector<double> gpu_curve, cpu_curve;
        const RankingAucc gpu = run(cuda(), r, points, &gpu_curve);
        const RankingAucc cpu = run(cpu_backend(), r, points, &cpu_curve);
        double largest = 1.0;
        for (double v : cpu_curve) largest = std::max(largest, std::fabs(v));
        EXPECT_NEAR(gpu.aucc, cpu.aucc, tolerance);
        EXPECT_NEAR(gpu.total_cost, cpu.total_cost, tolerance * largest);
        EXPECT_NEAR(gpu.total_value, cpu.total_value, tolerance * largest);
        EXPECT_EQ(gpu.treated_rows, cpu.treated_rows);
        EXPECT_EQ(gpu.control_rows, cpu.control_rows);
        for (size_t j = 0; j < cpu_curve.size(); ++j)
            EXPECT_NEAR(gpu_curve[j], cpu_curve[j], tolerance * largest) << "sample " << j;
    }

  private:
    std::unique_ptr<Backend> cuda_;
};

TEST_F(AuccGpuTest, MatchesCpuWithTiesAndLeftOutRows) {
    uint64_t seed = 1;
    for (int64_t n : {int64_t(40), int64_t(1000), int64_t(100003)}) {
        for (int levels : {0, 3, 17, 500}) {
            for (bool integers : {true, false}) {
                SCOPED_TRACE("n " + std::to_string(n) + ", levels " + std::to_string(levels) +
                             (integers ? ", integers" : ", reals"));
                const Rows r = random_rows(seed++, n, levels, integers);
                expect_parity(r, levels == 3 ? 7 : 200, integers ? 1e-12 : 1e-9);
            }
        }
    }
}

TEST_F(AuccGpuTest, HandComputedTiedRanking) {
    // The ranking of test_aucc_cpu_backend.cpp: the tie at 0.5 must enter as one block.
    const Rows r{{0.9, 0.5, 0.5, 0.1, 0.7}, {1, 0, 1, 0, 2}, {4, 2, 0, 0, 100}, {2, 1, 2, 1, 100}};
    std::vector<double> curve;
    const RankingAucc result = run(cuda(), r, 4, &curve);
    const std::vector<double> expected = {0.0, 0.5, 1.0, 1.5, 2.0};
    for (int j = 0; j < 5; ++j) EXPECT_NEAR(curve[j], expected[j], 1e-15) << j;
    EXPECT_NEAR(result.aucc, 1.0, 1e-15);
    EXPECT_EQ(result.treated_rows, 2);
    EXPECT_EQ(result.control_rows, 2);
}

TEST_F(AuccGpuTest, SignedZerosTie) {
    Rows r = random_rows(5, 2000, 0, true);
    for (size_t i = 0; i < r.score.size(); i += 3) r.score[i] = i % 2 ? -0.0 : 0.0;
    expect_parity(r, 100, 1e-12);
}

TEST_F(AuccGpuTest, BadInputIsTheCpuError) {
    Rows r = random_rows(8, 50, 0, false);
    const size_t control_row = size_t(std::find(r.arm.begin(), r.arm.end(), 0) - r.arm.begin());
    r.score[control_row] = std::nan("");
    std::vector<Rows> cases = {r, random_rows(9, 50, 0, false)};
    for (float& v : cases[1].value) v = 0.0f;  // totals of 0: AUCC undefined
    for (const Rows& bad : cases) {
        std::string cpu_message, gpu_message;
        try {
            run(cpu_backend(), bad, 10, nullptr);
        } catch (const InputError& error) {
            cpu_message = error.what();
        }
        try {
            run(cuda(), bad, 10, nullptr);
        } catch (const InputError& error) {
            gpu_message = error.what();
        }
        EXPECT_FALSE(cpu_message.empty());
        EXPECT_FALSE(gpu_message.empty());
        EXPECT_EQ(gpu_message.substr(0, 30), cpu_message.substr(0, 30));
    }
}

}  // namespace
}  // namespace ca
