// TSM-SL, the two-stage baseline every table is normalised to: the shared multi-task network
// predicts value and cost of every arm for each user (S-learner style), then the
// individual-level dual solver allocates with lambda as the budget knob.
#pragma once

#include <vector>

#include "baselines/predicted_lagrangian.h"
#include "core/allocation_method.h"

namespace ca {

class TsmSlMethod final : public AllocationMethod {
  public:
    std::string name() const override { return "TSM-SL"; }
    void fit(MethodContext& context) override {
        network_ = &context.shared_network();
        comm_ = context.communicator;
    }
    void prepare(const Dataset& rows, Backend& backend) override;
    KnobRange knob_range() const override { return allocator_.knob_range(); }
    void choose(double knob, std::vector<int32_t>& choice) const override {
        allocator_.choose(knob, choice);
    }
    std::vector<double> treatment_scores() const override { return allocator_.treatment_scores(); }

  private:
    Communicator* comm_ = &local_communicator();  ///< the run's ranks, from fit()
    const MultiTaskNetwork* network_ = nullptr;
    PredictedLagrangian allocator_;
};

}  // namespace ca
