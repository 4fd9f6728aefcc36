// Adam optimizer state and step; the arithmetic itself is the backend's adam_update.
#include "core/adam_optimizer.h"

#include <algorithm>

namespace ca {

AdamOptimizer::AdamOptimizer(int64_t count, const AdamParams& params)
    : params_(params), first_moment_(count, 0.0f), second_moment_(count, 0.0f) {}

void AdamOptimizer::step(float* params, const float* gradient, Backend& backend) {
    const int64_t count = int64_t(first_moment_.size());
    ++steps_;
    if (params_.weight_decay > 0.0f) {
        const float keep = 1.0f - params_.learning_rate * params_.weight_decay;
#pragma omp parallel for schedule(static) if (count > 65536)
        for (int64_t i = 0; i < count; ++i) params[i] *= keep;
    }
    AdamStep step;
    step.learning_rate = params_.learning_rate;
    step.beta1 = params_.beta1;
    step.beta2 = params_.beta2;
    step.epsilon = params_.epsilon;
    step.step = steps_;
    backend.adam_update(params, first_moment_.data(), second_moment_.data(), gradient, count, step);
}

void AdamOptimizer::reset() {
    std::fill(first_moment_.begin(), first_moment_.end(), 0.0f);
    std::fill(second_moment_.begin(), second_moment_.end(), 0.0f);
    steps_ = 0;
}

}  // namespace ca
