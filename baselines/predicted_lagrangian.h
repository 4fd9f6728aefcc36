// The allocation step shared by the two-stage baselines: per-user predicted value and cost of
// every arm from a multi-task network, each user taking argmax_j value - lambda * cost.
#pragma once

#include <vector>

#include "core/communicator.h"
#include "core/dataset.h"
#include "core/eom.h"
#include "kernels/backend.h"

namespace ca {

class MultiTaskNetwork;

class PredictedLagrangian {
  public:
    /// Predicts the rows' value and cost under every arm; negative predicted costs are clamped
    /// at 0, since they would read as income to the solver. With several ranks each predicts
    /// its inference blocks and every rank receives all predictions.
    void prepare(const MultiTaskNetwork& network, const Dataset& rows, Backend& backend,
                 Communicator& comm = local_communicator());
    /// lambda in [0, 1.01 x the largest predicted incremental return]; spend falls with lambda.
    KnobRange knob_range() const;
    void choose(double lambda, std::vector<int32_t>& choice) const;
    /// Binary treatment: predicted incremental value per unit of incremental cost.
    std::vector<double> treatment_scores() const;

  private:
    Backend* backend_ = nullptr;
    int64_t n_ = 0;
    int m_ = 0;
    std::vector<float> value_;  ///< n x M predicted value
    std::vector<float> cost_;   ///< n x M predicted cost
    double lambda_max_ = 1.0;
};

}  // namespace ca
