// The row order of a training epoch: Fisher-Yates over mt19937_64 with plain modulo draws.
// std::shuffle and std::uniform_int_distribution differ between standard libraries, so a seed
// gives the same order (and the same trained model) on every platform only this way.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace ca {

template <typename T>
void shuffle_rows(std::vector<T>& order, std::mt19937_64& engine) {
    for (int64_t i = int64_t(order.size()) - 1; i > 0; --i)
        std::swap(order[size_t(i)], order[size_t(engine() % uint64_t(i + 1))]);
}

}  // namespace ca
