// The interface every allocation method implements (HRC, the six baselines, the references),
// so that the harness fits them on the same split and evaluates them at the same budgets.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/communicator.h"
#include "core/dataset.h"
#include "core/eom.h"
#include "kernels/backend.h"

namespace ca {

class MultiTaskNetwork;

// What a method may use while fitting. The trained multi-task network is shared: HRC, TSM-SL
// and the decision-focused methods start from the same one within a seed.
struct MethodContext {
    const Dataset& train;
    const Dataset& validation;
    Backend& backend;
    uint64_t seed = 0;
    /// Trains the shared network on first use and returns it afterwards.
    std::function<const MultiTaskNetwork&()> shared_network;
    /// The run's ranks; a method that shards its fitting sums over them (HRC's k-means and
    /// estimates). Never null.
    Communicator* communicator = &local_communicator();
};

class AllocationMethod {
public:
    virtual ~AllocationMethod() = default;
    virtual std::string name() const = 0;
    virtual void fit(MethodContext& context) = 0;
    /// Scores the rows to allocate; choose() then returns one arm per row of them.
    virtual void prepare(const Dataset& rows, Backend& backend) = 0;
    /// The knob that moves this method's spend monotonically (lambda for individual-level
    /// methods, the cluster programme's budget for HRC); the harness bisects it so that every
    /// method is compared at the same realised cost.
    virtual KnobRange knob_range() const = 0;
    virtual void choose(double knob, std::vector<int32_t>& choice) const = 0;
    /// Binary treatment: a score per prepared row ranking who to treat first (AUCC); empty when
    /// the method has none.
    virtual std::vector<double> treatment_scores() const { return {}; }
    /// Method-specific diagnostics for the run's metrics.json (e.g. duality gaps).
    virtual nlohmann::json diagnostics() const { return nlohmann::json::object(); }
};

}  // namespace ca
