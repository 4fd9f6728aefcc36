// Mini-batch gradients in a fixed number of parts: each rank computes the parts it owns (side
// by side where the backend allows), and the parts are added along the fixed tree of
// core/ordered_sum.h, so every trainer gets the same bits for any number of ranks and threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <vector>

#include "core/communicator.h"
#include "core/ordered_sum.h"
#include "core/rank_gather.h"

namespace ca {

class PartedGradient {
  public:
    /// parts: a power of two, the same on every rank; parameters: the gradient's length.
    PartedGradient(int parts, int64_t parameters, Communicator& comm, bool side_by_side)
        : comm_(comm),
          ownership_(parts, comm, parts),
          parameters_(parameters),
          side_by_side_(side_by_side && own_parts() > 1),
          part_gradients_(size_t(own_parts()), std::vector<float>(size_t(parameters))),
          part_losses_(size_t(own_parts()), 0.0),
          batch_losses_(size_t(own_parts()), 0.0) {}

    /// Parts this rank computes in each batch (0 when there are more ranks than parts).
    int own_parts() const { return ownership_.end_part() - ownership_.first_part(); }

    /// One mini-batch of `rows` rows. Calls part(q, rows_of_part, gradient) for each own part
    /// q in [0, own_parts()), rows_of_part being a range within the batch; it writes that
    /// part's d loss / d parameters into gradient (normalised by the whole batch's rows) and
    /// returns the part's summed loss. A part without rows adds zeros. Returns the batch's
    /// gradient, the same bits on every rank. Every rank must call it for every batch.
    template <typename Part>
    const std::vector<float>& batch(int64_t rows, Part&& part) {
        const SumPlan plan(rows, comm_, ownership_.parts());
        const int own = own_parts();
        for_each_own_part(own, [&](int q) {
            std::vector<float>& gradient = part_gradients_[size_t(q)];
            const RowRange range = plan.part_rows(plan.first_part() + q);
            batch_losses_[size_t(q)] = 0.0;
            if (range.size() == 0) {
                std::fill(gradient.begin(), gradient.end(), 0.0f);
                return;
            }
            batch_losses_[size_t(q)] = part(q, range, gradient.data());
        });
        OrderedSum<float> sum(plan, parameters_);
        for (int q = 0; q < own; ++q) {
            part_losses_[size_t(q)] += batch_losses_[size_t(q)];
            sum.add_part(part_gradients_[size_t(q)]);
        }
        total_ = sum.total(comm_);
        return total_;
    }

    /// One mini-batch under a loss that couples its rows (a ratio or ranking loss over the
    /// batch). forward(q, rows_of_part, outputs) writes `width` outputs for each row of own
    /// part q; every part's outputs, in batch order, then reach every rank, and
    /// loss(outputs, output_gradient) returns the batch's loss and writes d loss / d outputs
    /// (every rank computes the same numbers); backward(q, rows_of_part, output_gradient,
    /// gradient) writes the part's parameter gradient from its rows' output gradient. Returns
    /// the batch's gradient, the same bits on every rank; the loss is added to the total.
    template <typename Forward, typename Loss, typename Backward>
    const std::vector<float>& coupled_batch(int64_t rows, int width, Forward&& forward, Loss&& loss,
                                            Backward&& backward) {
        const SumPlan plan(rows, comm_, ownership_.parts());
        const RowRange own_rows = plan.own_rows();
        std::vector<float> outputs(size_t(own_rows.size()) * size_t(width));
        const int own = own_parts();
        for_each_own_part(own, [&](int q) {
            const RowRange range = plan.part_rows(plan.first_part() + q);
            if (range.size() > 0)
                forward(q, range, outputs.data() + (range.begin - own_rows.begin) * width);
        });
        join_over_ranks(comm_, outputs);
        std::vector<float> output_gradient(outputs.size(), 0.0f);
        const double batch_loss = loss(outputs.data(), output_gradient.data());
        if (own > 0 && ownership_.first_part() == 0) part_losses_[0] += batch_loss;  // once
        return batch(rows, [&](int q, RowRange range, float* gradient) {
            backward(q, range, output_gradient.data() + range.begin * width, gradient);
            return 0.0;
        });
    }

    /// The summed loss of every part of every batch since the last call, the same bits on
    /// every rank; starts a new sum. Every rank must call it.
    double take_loss_total() {
        const double total = ordered_total(ownership_, part_losses_, comm_);
        std::fill(part_losses_.begin(), part_losses_.end(), 0.0);
        return total;
    }

  private:
    // work(q) for each own part, side by side when allowed. An exception must not leave the
    // parallel region (that would end the process): the first one is rethrown after it.
    template <typename Work>
    void for_each_own_part(int own, Work&& work) {
        std::vector<std::exception_ptr> failures(static_cast<size_t>(own));
#pragma omp parallel for schedule(static) if (side_by_side_)
        for (int q = 0; q < own; ++q) {
            try {
                work(q);
            } catch (...) {
                failures[size_t(q)] = std::current_exception();
            }
        }
        for (const std::exception_ptr& failure : failures)
            if (failure) std::rethrow_exception(failure);
    }

    Communicator& comm_;
    SumPlan ownership_;  ///< which parts this rank owns (its rows are unused)
    int64_t parameters_;
    bool side_by_side_;
    std::vector<std::vector<float>> part_gradients_;
    std::vector<double> part_losses_;   ///< per own part, over the batches so far
    std::vector<double> batch_losses_;  ///< per own part, this batch
    std::vector<float> total_;
};

}  // namespace ca
