// Losses of the outcome heads: squared error, Huber and binary cross-entropy on logits, and the
// factual-arm loss over a batch, where only the logged arm's output of each row is trained.
#pragma once

#include <cstdint>
#include <string>

namespace ca {

enum class LossKind { kMse, kHuber, kBce };

/// "mse", "huber" or "bce".
const char* loss_name(LossKind kind);
/// Inverse of loss_name; false when name is none of them.
bool loss_from_name(const std::string& name, LossKind* kind);

struct LossAndSlope {
    double loss = 0.0;
    double slope = 0.0;  ///< d loss / d prediction
};

/// One row's loss. MSE: (p - y)^2. Huber: r^2 / 2 for |r| <= delta, else delta (|r| - delta/2),
/// r = p - y. BCE: p is a logit, loss -y log s(p) - (1 - y) log(1 - s(p)), computed without
/// overflow for any p.
LossAndSlope row_loss(LossKind kind, double prediction, double target, double huber_delta);

/// Logistic function, without overflow for large |logit|.
double sigmoid(double logit);

/// Sum over rows of weight[i] * loss(output[i, arm[i]], target[i]), accumulated in double;
/// output is rows x m, row-major. When gradient (rows x m) is not null it receives
/// gradient_scale * weight[i] * slope in the logged arm's column and 0 in every other column.
double factual_arm_loss(const float* output, int64_t rows, int m, const int32_t* arm,
                        const float* target, const float* weight, LossKind kind, double huber_delta,
                        double gradient_scale, float* gradient);

}  // namespace ca
