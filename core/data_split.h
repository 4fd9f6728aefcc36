// Seeded train / validation / test split of row indices.
#pragma once

#include <cstdint>
#include <vector>

#include "core/schema.h"

namespace ca {

// Row indices of each part, each list ascending (file order), disjoint, together 0..N-1.
struct SplitIndices {
    std::vector<int64_t> train;
    std::vector<int64_t> validation;
    std::vector<int64_t> test;
};

// Shuffles 0..n-1 with std::mt19937_64(seed) and cuts it by the fractions: train gets
// round(n * train) rows, validation round(n * (train + validation)) minus that, test the rest.
// The shuffle draws its indices without std::uniform_int_distribution, whose output differs
// between standard libraries, so a seed gives the same split on every platform.
SplitIndices split_rows(int64_t n, const SplitFractions& fractions, uint64_t seed);

}  // namespace ca
