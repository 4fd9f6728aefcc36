// TSM-SL, the two-stage baseline every table is normalised to: the shared multi-task network
// predicts value and cost of every arm for each user (S-learner style), then the
// individual-level dual solver allocates with lambda as the budget knob.
#pragma once

#include <vector>

#include "core/allocation_method.h"

namespace ca {

class TsmSlMethod final : public AllocationMethod {
public:
    std::string name() const override { return "TSM-SL"; }
    void fit(MethodContext& context) override;
    void prepare(const Dataset& rows, Backend& backend) override;
    KnobRange knob_range() const override;
    void choose(double knob, std::vector<int32_t>& choice) const override;
    std::vector<double> treatment_scores() const override;

private:
    const MultiTaskNetwork* network_ = nullptr;
    Backend* backend_ = nullptr;
    int64_t n_ = 0;
    int m_ = 0;
    std::vector<float> value_;  ///< n x M predicted value
    std::vector<float> cost_;   ///< n x M predicted cost
    double lambda_max_ = 1.0;
};

}  // namespace ca
