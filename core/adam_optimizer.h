// Adam over one flat parameter buffer: the two moments live beside it and each update is one
// backend.adam_update call, so a network of any shape costs one pass per step.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"

namespace ca {

struct AdamParams {
    float learning_rate = 1e-3f;  ///< step size
    float beta1 = 0.9f;           ///< decay of the first moment
    float beta2 = 0.999f;         ///< decay of the second moment
    float epsilon = 1e-8f;        ///< added to the root of the second moment
    /// Decoupled weight decay (AdamW, Loshchilov & Hutter 2019): params *= 1 - rate * decay
    /// before each step; 0 is plain Adam.
    float weight_decay = 0.0f;
};

class AdamOptimizer {
  public:
    AdamOptimizer() = default;
    /// Moments for count parameters, zero-initialised.
    AdamOptimizer(int64_t count, const AdamParams& params);

    /// One update of params (count entries) from gradient.
    void step(float* params, const float* gradient, Backend& backend);
    /// Updates done so far.
    long steps() const { return steps_; }
    const AdamParams& params() const { return params_; }
    /// Zero moments and step count, as if freshly constructed.
    void reset();

  private:
    AdamParams params_;
    std::vector<float> first_moment_, second_moment_;
    long steps_ = 0;
};

}  // namespace ca
