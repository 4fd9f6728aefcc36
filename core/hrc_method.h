// HRC: the cluster-level allocation. The shared multi-task network's hidden representation z
// is clustered with k-means; per cluster and arm, value and cost are estimated from the RCT
// training rows; the exact integer programme over clusters allocates one arm per cluster.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/allocation_method.h"
#include "core/cluster_estimates.h"
#include "core/cluster_solver.h"
#include "core/config.h"
#include "core/kmeans.h"

namespace ca {

struct HrcParams {
    KMeansParams kmeans;        ///< the "kmeans" object (k defaults to 64)
    EstimateParams estimates;   ///< the "estimates" object
    ClusterSolverParams solver; ///< the "solver" object
    /// "integer": deploy the exact integer allocation; "lp_split": deploy the LP optimum, whose
    /// one split cluster is divided between two arms by hashing user ids (spends B exactly).
    std::string deploy = "integer";
    /// Reads "kmeans", "estimates", "solver" and "hrc" ({"deploy"}) of the top-level config.
    static HrcParams from_config(const ConfigNode& root);
    nlohmann::json to_json() const;
};

class HrcMethod final : public AllocationMethod {
public:
    explicit HrcMethod(HrcParams params) : params_(std::move(params)) {}
    std::string name() const override { return "HRC"; }
    void fit(MethodContext& context) override;
    void prepare(const Dataset& rows, Backend& backend) override;
    KnobRange knob_range() const override;
    void choose(double knob, std::vector<int32_t>& choice) const override;
    std::vector<double> treatment_scores() const override;
    nlohmann::json diagnostics() const override;

    /// The allocation at an absolute budget over the prepared population.
    ClusterAllocation allocate(double budget) const;
    /// Cluster of each prepared row.
    const std::vector<int32_t>& labels() const { return labels_; }
    /// The estimates with the prepared rows as population.
    const ClusterTable& table() const { return table_; }
    const KMeansResult& clustering() const { return clustering_; }

private:
    HrcParams params_;
    const MultiTaskNetwork* network_ = nullptr;
    KMeansResult clustering_;
    ClusterTable table_;
    std::vector<int32_t> labels_;
    std::vector<int64_t> user_ids_;
    double max_cost_ = 0.0;
};

}  // namespace ca
