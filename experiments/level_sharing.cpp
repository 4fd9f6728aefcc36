// Budget levels round-robin over the ranks; each level's numbers and warnings are broadcast
// from the rank that matched it.
#include "experiments/level_sharing.h"

#include <string>

#include "core/errors.h"
#include "core/log.h"
#include "core/rank_gather.h"

namespace ca {

namespace {
constexpr size_t kEomNumbers = 6;
}  // namespace

std::vector<std::vector<double>> share_levels(
    int levels, Communicator& comm, const std::function<std::vector<double>(int level)>& compute) {
    std::vector<std::vector<double>> results(static_cast<size_t>(levels));
    std::vector<std::vector<std::string>> warnings(static_cast<size_t>(levels));
    for (int level = comm.rank(); level < levels; level += comm.size()) {
        WarningCapture capture;
        results[size_t(level)] = compute(level);
        warnings[size_t(level)] = capture.take();
    }
    for (int level = 0; level < levels && comm.size() > 1; ++level) {
        broadcast_vector(comm, level % comm.size(), results[size_t(level)]);
        broadcast_strings(comm, level % comm.size(), warnings[size_t(level)]);
    }
    // Printed in level order by rank 0, whichever rank matched the level.
    for (const std::vector<std::string>& level_warnings : warnings)
        for (const std::string& warning : level_warnings) log_warning(warning);
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
