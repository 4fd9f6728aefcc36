// Batch gradients in fixed parts: each part sees the rows the plan gives it, the batch
// gradient is the ordered sum of the part gradients (checked by hand on four parts), and any
// number of ranks, side by side or in turn, gets the one-rank bits.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/parted_gradient.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

using testing::run_on_ranks;

// Row r of a batch contributes g_r = (x_r, x_r^2) with x_r spread over many binary orders
// of magnitude, so that a different order of addition shows in the bits.
float row_value(int64_t batch, int64_t row) {
    std::mt19937_64 engine(uint64_t(batch * 100003 + row));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    return std::ldexp(uniform(engine), int(row % 11) * 3);
}

struct Trained {
    std::vector<std::vector<float>> gradients;  ///< one per batch
    double loss = 0.0;
};

Trained run_batches(Communicator& comm, int parts, bool side_by_side) {
    PartedGradient parted(parts, 2, comm, side_by_side);
    Trained out;
    const std::vector<int64_t> batch_rows = {37, 64, 3, 1};  // a short last batch, tiny ones
    for (size_t b = 0; b < batch_rows.size(); ++b) {
        const int64_t rows = batch_rows[b];
        out.gradients.push_back(parted.batch(rows, [&](int, RowRange part, float* gradient) {
            float first = 0.0f, second = 0.0f;
            double loss = 0.0;
            for (int64_t r = part.begin; r < part.end; ++r) {
                const float x = row_value(int64_t(b), r);
                first += x / float(rows);
                second += x * x / float(rows);
                loss += double(x);
            }
            gradient[0] = first;
            gradient[1] = second;
            return loss;
        }));
    }
    out.loss = parted.take_loss_total();
    return out;
}

TEST(PartedGradientTest, FourPartsAddAlongTheTreeByHand) {
    const int64_t rows = 37;
    PartedGradient parted(4, 1, local_communicator(), false);
    std::vector<RowRange> seen;
    const std::vector<float>& total = parted.batch(rows, [&](int q, RowRange part, float* g) {
        EXPECT_EQ(q, int(seen.size()));
        seen.push_back(part);
        g[0] = float(part.size()) * (q % 2 ? 1e8f : 1.0f);
        return double(part.size());
    });
    // 37 rows in four parts of 9 or 10 rows, in order, covering the batch.
    ASSERT_EQ(seen.size(), 4u);
    int64_t next = 0;
    for (const RowRange& part : seen) {
        EXPECT_EQ(part.begin, next);
        EXPECT_GE(part.size(), 9);
        EXPECT_LE(part.size(), 10);
        next = part.end;
    }
    EXPECT_EQ(next, rows);
    auto g = [&](int q) { return float(seen[size_t(q)].size()) * (q % 2 ? 1e8f : 1.0f); };
    EXPECT_EQ(total[0], (g(0) + g(1)) + (g(2) + g(3)));
    EXPECT_EQ(parted.take_loss_total(), 37.0);
    EXPECT_EQ(parted.take_loss_total(), 0.0) << "taking the total starts a new sum";
}

TEST(PartedGradientTest, EveryRankCountAndThreadingGivesTheOneRankBits) {
    for (int parts : {1, 4, 8}) {
        const Trained one = run_batches(local_communicator(), parts, false);
        const Trained threaded = run_batches(local_communicator(), parts, true);
        EXPECT_EQ(threaded.gradients, one.gradients) << parts << " parts side by side";
        EXPECT_EQ(threaded.loss, one.loss);
        for (int ranks : {2, 3, 5, 16}) {
            auto trained = run_on_ranks<Trained>(
                ranks, [&](Communicator& comm) { return run_batches(comm, parts, true); });
            for (const Trained& rank : trained) {
                EXPECT_EQ(rank.gradients, one.gradients) << parts << " parts, " << ranks;
                EXPECT_EQ(rank.loss, one.loss) << parts << " parts, " << ranks << " ranks";
            }
        }
    }
}

// A loss that couples the rows, L = (sum_r w x_r)^2 with one parameter w: the outputs of all
// parts reach the loss in batch order, each part backpropagates its rows' share, the loss is
// counted once per batch, and any rank count gets the one-rank bits.
struct Coupled {
    std::vector<float> gradient;
    std::vector<float> outputs_seen;
    double loss = 0.0;
};

Coupled coupled_run(Communicator& comm, int parts) {
    const int64_t rows = 23;
    const float w = 0.5f;
    PartedGradient parted(parts, 1, comm, true);
    Coupled out;
    auto forward = [&](int, RowRange part, float* outputs) {
        for (int64_t r = part.begin; r < part.end; ++r)
            outputs[r - part.begin] = w * row_value(0, r);
    };
    auto loss = [&](const float* outputs, float* output_gradient) {
        out.outputs_seen.assign(outputs, outputs + rows);
        double sum = 0.0;
        for (int64_t r = 0; r < rows; ++r) sum += outputs[r];
        for (int64_t r = 0; r < rows; ++r) output_gradient[r] = float(2.0 * sum);
        return sum * sum;
    };
    auto backward = [&](int, RowRange part, const float* output_gradient, float* gradient) {
        double g = 0.0;
        for (int64_t r = part.begin; r < part.end; ++r)
            g += double(output_gradient[r - part.begin]) * row_value(0, r);
        gradient[0] = float(g);
    };
    out.gradient = parted.coupled_batch(rows, 1, forward, loss, backward);
    out.loss = parted.take_loss_total();
    return out;
}

TEST(PartedGradientTest, CoupledLossSeesTheWholeBatchAndCountsOnce) {
    const Coupled one = coupled_run(local_communicator(), 4);
    double sum = 0.0, weighted = 0.0;
    for (int64_t r = 0; r < 23; ++r) {
        EXPECT_EQ(one.outputs_seen[size_t(r)], 0.5f * row_value(0, r)) << "row " << r;
        sum += 0.5f * row_value(0, r);
    }
    for (int64_t r = 0; r < 23; ++r) weighted += double(float(2.0 * sum)) * row_value(0, r);
    EXPECT_DOUBLE_EQ(one.loss, sum * sum);
    EXPECT_NEAR(one.gradient[0], weighted, 1e-5 * std::fabs(weighted));
    for (int ranks : {2, 3, 8}) {
        for (const Coupled& rank : run_on_ranks<Coupled>(
                 ranks, [](Communicator& comm) { return coupled_run(comm, 4); })) {
            EXPECT_EQ(rank.gradient, one.gradient) << ranks << " ranks";
            EXPECT_EQ(rank.outputs_seen, one.outputs_seen) << ranks << " ranks";
            EXPECT_EQ(rank.loss, one.loss) << ranks << " ranks";
        }
    }
}

}  // namespace
}  // namespace ca
