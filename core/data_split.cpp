// Portable Fisher-Yates shuffle and the cut into train / validation / test.
#include "core/data_split.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/errors.h"

namespace ca {

namespace {
// Uniform in [0, bound) by rejection: the top of the 64-bit range that would favour small
// values is redrawn.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t draw = rng();
    while (draw >= limit) draw = rng();
    return draw % bound;
}

std::vector<int64_t> sorted_slice(const std::vector<int64_t>& order, int64_t begin, int64_t end) {
    std::vector<int64_t> part(order.begin() + begin, order.begin() + end);
    std::sort(part.begin(), part.end());
    return part;
}
}  // namespace

SplitIndices split_rows(int64_t n, const SplitFractions& fractions, uint64_t seed) {
    CA_ASSERT(n >= 0);
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), int64_t(0));
    std::mt19937_64 rng(seed);
    for (int64_t i = n - 1; i > 0; --i) {
        int64_t j = static_cast<int64_t>(uniform_below(rng, uint64_t(i) + 1));
        std::swap(order[i], order[j]);
    }

    // Cumulative rounding, so the three sizes always add up to n.
    auto cut = [n](double share) {
        return std::min<int64_t>(n, std::max<int64_t>(0, std::llround(double(n) * share)));
    };
    int64_t train_end = cut(fractions.train);
    int64_t validation_end = std::max(train_end, cut(fractions.train + fractions.validation));
    SplitIndices split;
    split.train = sorted_slice(order, 0, train_end);
    split.validation = sorted_slice(order, train_end, validation_end);
    split.test = sorted_slice(order, validation_end, n);
    return split;
}

}  // namespace ca
