// What every run records next to its results: revision, machine, command, peak memory.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ca {

/// "abc1234" (with "-dirty" when the tree has local changes), or "unknown" outside git.
std::string git_revision();
/// CPU model, logical cores, memory and hostname, for the results' provenance.
nlohmann::json machine_description();
/// Peak resident set size of this process so far, in MiB.
double peak_rss_mib();

}  // namespace ca
