// Budget levels are independent: with several ranks level l is matched on rank l mod R and
// every rank receives the results; a level's numbers do not depend on the rank that computed
// them, so the outcome is the one-process one.
#pragma once

#include <functional>
#include <vector>

#include "core/communicator.h"
#include "core/eom.h"

namespace ca {

/// compute(level) for the levels [0, levels) this rank owns; returns every level's numbers on
/// every rank. compute may return a different count of numbers per level. Every rank must
/// call it with the same levels.
std::vector<std::vector<double>> share_levels(
    int levels, Communicator& comm, const std::function<std::vector<double>(int level)>& compute);

/// An EomResult (and optionally a TrueOutcome) as numbers and back, for share_levels.
std::vector<double> pack_level(const EomResult& eom, const TrueOutcome* truth);
EomResult unpack_eom(const std::vector<double>& numbers);
/// The TrueOutcome packed after the EomResult; numbers must hold one.
TrueOutcome unpack_truth(const std::vector<double>& numbers);

}  // namespace ca
