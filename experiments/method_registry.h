// Every allocation method the harness knows, by the name used in configs and tables.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/allocation_method.h"
#include "core/config.h"

namespace ca {

/// Names accepted in evaluation.methods, in table order.
std::vector<std::string> known_method_names();

/// Builds a method configured from the run's top-level config. ConfigError for an unknown
/// name, listing the known ones.
std::unique_ptr<AllocationMethod> make_method(const std::string& name, uint64_t seed,
                                              const ConfigNode& root);

}  // namespace ca
