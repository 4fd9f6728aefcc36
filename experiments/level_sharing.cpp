// Budget levels round-robin over the ranks; each level's numbers and warnings are broadcast
// from the rank that matched it.
#include "experiments/level_sharing.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "core/errors.h"
#include "core/log.h"

namespace ca {

namespace {
constexpr size_t kEomNumbers = 6;
}  // namespace

namespace {

// A level's numbers and warnings as bytes: the count of numbers, the numbers, then each
// warning length-prefixed.
std::vector<char> level_bytes(const std::vector<double>& numbers,
                              const std::vector<std::string>& warnings) {
    std::vector<char> bytes(sizeof(uint64_t) + numbers.size() * sizeof(double));
    const uint64_t count = numbers.size();
    std::memcpy(bytes.data(), &count, sizeof(count));
    if (!numbers.empty())
        std::memcpy(bytes.data() + sizeof(count), numbers.data(), numbers.size() * sizeof(double));
    for (const std::string& warning : warnings) {
        const uint64_t length = warning.size();
        const char* prefix = reinterpret_cast<const char*>(&length);
        bytes.insert(bytes.end(), prefix, prefix + sizeof(length));
        bytes.insert(bytes.end(), warning.begin(), warning.end());
    }
    return bytes;
}

void read_level(const std::vector<char>& bytes, std::vector<double>& numbers,
                std::vector<std::string>& warnings) {
    uint64_t count = 0;
    CA_ASSERT(bytes.size() >= sizeof(count));
    std::memcpy(&count, bytes.data(), sizeof(count));
    size_t at = sizeof(count) + count * sizeof(double);
    CA_ASSERT(at <= bytes.size());
    numbers.resize(size_t(count));
    if (count > 0)
        std::memcpy(numbers.data(), bytes.data() + sizeof(count), count * sizeof(double));
    warnings.clear();
    while (at < bytes.size()) {
        uint64_t length = 0;
        std::memcpy(&length, bytes.data() + at, sizeof(length));
        at += sizeof(length);
        warnings.emplace_back(bytes.data() + at, size_t(length));
        at += length;
    }
}

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
        std::vector<char> bytes = level_bytes(results[size_t(level)], warnings[size_t(level)]);
        comm.broadcast_from(level % comm.size(), bytes);
        read_level(bytes, results[size_t(level)], warnings[size_t(level)]);
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
