// Head losses and the factual-arm batch loss.
#include "core/losses.h"

#include <algorithm>
#include <cmath>

namespace ca {

const char* loss_name(LossKind kind) {
    switch (kind) {
        case LossKind::kMse:
            return "mse";
        case LossKind::kHuber:
            return "huber";
        case LossKind::kBce:
            return "bce";
    }
    return "?";
}

bool loss_from_name(const std::string& name, LossKind* kind) {
    for (LossKind candidate : {LossKind::kMse, LossKind::kHuber, LossKind::kBce}) {
        if (name == loss_name(candidate)) {
            *kind = candidate;
            return true;
        }
    }
    return false;
}

double sigmoid(double logit) {
    if (logit >= 0.0) return 1.0 / (1.0 + std::exp(-logit));
    const double e = std::exp(logit);
    return e / (1.0 + e);
}

LossAndSlope row_loss(LossKind kind, double prediction, double target, double huber_delta) {
    const double residual = prediction - target;
    switch (kind) {
        case LossKind::kMse:
            return {residual * residual, 2.0 * residual};
        case LossKind::kHuber: {
            const double size = std::abs(residual);
            if (size <= huber_delta) return {0.5 * residual * residual, residual};
            return {huber_delta * (size - 0.5 * huber_delta),
                    residual > 0.0 ? huber_delta : -huber_delta};
        }
        case LossKind::kBce: {
            // max(p, 0) - p y + log(1 + e^-|p|) is the same loss, safe for any p.
            const double loss = std::max(prediction, 0.0) - prediction * target +
                                std::log1p(std::exp(-std::abs(prediction)));
            return {loss, sigmoid(prediction) - target};
        }
    }
    return {};
}

double factual_arm_loss(const float* output, int64_t rows, int m, const int32_t* arm,
                        const float* target, const float* weight, LossKind kind, double huber_delta,
                        double gradient_scale, float* gradient) {
    double total = 0.0;
    for (int64_t i = 0; i < rows; ++i) {
        const int32_t logged = arm[i];
        LossAndSlope value = row_loss(kind, output[i * m + logged], target[i], huber_delta);
        total += weight[i] * value.loss;
        if (gradient) {
            float* row = gradient + i * m;
            std::fill_n(row, m, 0.0f);
            row[logged] = float(gradient_scale * weight[i] * value.slope);
        }
    }
    return total;
}

}  // namespace ca
