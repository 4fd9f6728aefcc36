// The name -> method table.
#include "experiments/method_registry.h"

#include "baselines/tsm_cf.h"
#include "baselines/tsm_sl.h"
#include "core/errors.h"
#include "core/hrc_method.h"
#include "core/reference_policies.h"

namespace ca {

std::vector<std::string> known_method_names() {
    return {"HRC", "TSM-SL", "TSM-CF", "random", "oracle"};
}

std::unique_ptr<AllocationMethod> make_method(const std::string& name, uint64_t seed,
                                              const ConfigNode& root) {
    if (name == "HRC") return std::make_unique<HrcMethod>(HrcParams::from_config(root));
    if (name == "TSM-SL") return std::make_unique<TsmSlMethod>();
    if (name == "TSM-CF") return std::make_unique<TsmCfMethod>(TsmCfParams::from_config(root));
    if (name == "random") return std::make_unique<RandomPolicy>(seed);
    if (name == "oracle") return std::make_unique<OraclePolicy>();
    std::string known;
    for (const auto& candidate : known_method_names())
        known += (known.empty() ? "" : ", ") + candidate;
    root.child("evaluation").fail("methods", "unknown method \"" + name + "\"; known: " + known);
}

}  // namespace ca
