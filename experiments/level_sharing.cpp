// Budget levels round-robin over the ranks, results broadcast from each level's owner.
#include "experiments/level_sharing.h"

#include <cstring>

#include "core/errors.h"

namespace ca {

namespace {
constexpr size_t kEomNumbers = 6;
}  // namespace

std::vector<std::vector<double>> share_levels(
    int levels, Communicator& comm, const std::function<std::vector<double>(int level)>& compute) {
    std::vector<std::vector<double>> results(static_cast<size_t>(levels));
    for (int level = comm.rank(); level < levels; level += comm.size())
        results[size_t(level)] = compute(level);
    if (comm.size() == 1) return results;
    for (int level = 0; level < levels; ++level) {
        std::vector<double>& numbers = results[size_t(level)];
        std::vector<char> bytes(numbers.size() * sizeof(double));
        if (!bytes.empty()) std::memcpy(bytes.data(), numbers.data(), bytes.size());
        comm.broadcast_from(level % comm.size(), bytes);
        numbers.resize(bytes.size() / sizeof(double));
        if (!bytes.empty()) std::memcpy(numbers.data(), bytes.data(), bytes.size());
    }
    return results;
}

std::vector<double> pack_level(const EomResult& eom, const TrueOutcome* truth) {
    std::vector<double> numbers = {eom.value,
                                   eom.cost,
                                   eom.knob,
                                   eom.reached ? 1.0 : 0.0,
                                   double(int(eom.status)),
                                   double(int(eom.propensity_source))};
    if (truth) {
        numbers.push_back(truth->value);
        numbers.push_back(truth->cost);
    }
    return numbers;
}

EomResult unpack_eom(const std::vector<double>& numbers) {
    CA_ASSERT(numbers.size() >= kEomNumbers);
    EomResult eom;
    eom.value = numbers[0];
    eom.cost = numbers[1];
    eom.knob = numbers[2];
    eom.reached = numbers[3] != 0.0;
    eom.status = BudgetMatch(int(numbers[4]));
    eom.propensity_source = PropensitySource(int(numbers[5]));
    return eom;
}

TrueOutcome unpack_truth(const std::vector<double>& numbers) {
    CA_ASSERT(numbers.size() >= kEomNumbers + 2);
    return {numbers[kEomNumbers], numbers[kEomNumbers + 1]};
}

}  // namespace ca
