// The name -> method table.
#include "experiments/method_registry.h"

#include "baselines/dfcl.h"
#include "baselines/drm.h"
#include "baselines/drp.h"
#include "baselines/tsm_cf.h"
#include "baselines/tsm_sl.h"
#include "core/errors.h"
#include "core/hrc_method.h"
#include "core/reference_policies.h"

namespace ca {

std::vector<std::string> known_method_names() {
    return {"HRC", "TSM-SL", "TSM-CF", "DRP", "DRM", "DFCL-PL", "DFCL-IFD", "random", "oracle"};
}

std::unique_ptr<AllocationMethod> make_method(const std::string& name, uint64_t seed,
                                              const ConfigNode& root) {
    if (name == "HRC") return std::make_unique<HrcMethod>(HrcParams::from_config(root));
    if (name == "TSM-SL") return std::make_unique<TsmSlMethod>();
    if (name == "TSM-CF") return std::make_unique<TsmCfMethod>(TsmCfParams::from_config(root));
    if (name == "DRP")
        return std::make_unique<DrpMethod>(
            DrpParams::from_config(root.child("baselines").child("drp")));
    if (name == "DRM")
        return std::make_unique<DrmMethod>(
            DrmParams::from_config(root.child("baselines").child("drm")));
    if (name == "DFCL-PL" || name == "DFCL-IFD")
        return std::make_unique<DfclMethod>(
            name == "DFCL-PL" ? DfclVariant::kPolicyLearning : DfclVariant::kFiniteDifference,
            DfclParams::from_config(root.child("baselines").child("dfcl")));
    if (name == "random") return std::make_unique<RandomPolicy>(seed);
    if (name == "oracle") return std::make_unique<OraclePolicy>();
    std::string known;
    for (const auto& candidate : known_method_names())
        known += (known.empty() ? "" : ", ") + candidate;
    root.child("evaluation").fail("methods", "unknown method \"" + name + "\"; known: " + known);
}

}  // namespace ca
