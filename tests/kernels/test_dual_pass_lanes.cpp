// The CPU dual pass for every arm count around the 8-lane vector path (M = 1..10) and row
// counts whose last users take the scalar path: choices and totals equal a plain loop's, ties go
// to the lowest arm and a NaN score is never chosen over a number before it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/backend.h"

namespace ca {
namespace {

// Eighths in [0, 2) and lambda = 0.5: every score is exact in float, fused or not, so the
// reference below and the backend see the same numbers, and ties are frequent.
std::vector<float> eighths(size_t count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> out(count);
    for (float& v : out) v = float(rng() % 16) / 8.0f;
    return out;
}

struct Reference {
    std::vector<int32_t> choice;
    double value = 0.0;
    double cost = 0.0;
};

Reference plain_loop(const std::vector<float>& v, const std::vector<float>& c, int64_t n, int m,
                     float lambda) {
    Reference out;
    for (int64_t i = 0; i < n; ++i) {
        int best = 0;
        float best_score = v[i * m] - lambda * c[i * m];
        for (int j = 1; j < m; ++j) {
            float score = v[i * m + j] - lambda * c[i * m + j];
            if (score > best_score) best = j, best_score = score;
        }
        out.choice.push_back(best);
        out.value += v[i * m + best];
        out.cost += c[i * m + best];
    }
    return out;
}

TEST(StreamDualPass, EveryArmCountMatchesThePlainLoop) {
    for (int m = 1; m <= 10; ++m) {
        for (int64_t n : {1, 2, 3, 7, 1001}) {
            SCOPED_TRACE("M = " + std::to_string(m) + ", N = " + std::to_string(n));
            std::vector<float> v = eighths(size_t(n * m), uint64_t(m * 100 + n));
            std::vector<float> c = eighths(size_t(n * m), uint64_t(m * 100 + n + 7));
            Reference expected = plain_loop(v, c, n, m, 0.5f);
            std::vector<int32_t> choice(size_t(n), -1);
            DualPassResult result =
                cpu_backend().dual_pass(v.data(), c.data(), n, m, 0.5, choice.data());
            EXPECT_EQ(choice, expected.choice);
            EXPECT_EQ(result.value, expected.value);
            EXPECT_EQ(result.cost, expected.cost);
            DualPassResult totals_only =
                cpu_backend().dual_pass(v.data(), c.data(), n, m, 0.5, nullptr);
            EXPECT_EQ(totals_only.value, expected.value);
            EXPECT_EQ(totals_only.cost, expected.cost);
        }
    }
}

TEST(StreamDualPass, NanScoreIsNeverChosenOverAnEarlierNumber) {
    // 4 users x 5 arms, cost 0, so the scores are the values; the first three users take the
    // vector path, the last one the scalar path:
    //   user 0: NaN first -> no later score beats it -> arm 0
    //   user 1: NaN at arm 2, the best number at arm 3 -> arm 3
    //   user 2: NaN at the last arm -> arm 1, the best before it
    //   user 3: no NaN, ties of arms 1 and 4 -> arm 1
    const float nan = std::nanf("");
    std::vector<float> v = {nan, 5, 5, 5, 5, 1, 2, nan, 3, 0, 1, 4, 2, 3, nan, 0, 3, 1, 2, 3};
    std::vector<float> c(20, 0.0f);
    std::vector<int32_t> choice(4, -1);
    cpu_backend().dual_pass(v.data(), c.data(), 4, 5, 0.5, choice.data());
    EXPECT_EQ(choice, (std::vector<int32_t>{0, 3, 1, 1}));
}

}  // namespace
}  // namespace ca
