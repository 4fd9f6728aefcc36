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

class MultiTaskNetwork;

/// Rows whose hidden representation HRC holds at once: memory follows this block times the
/// hidden width, not N. A multiple of the network's 4096-row inference block.
constexpr int64_t kHrcBlockRows = 65536;

/// The training rows k-means fits on: all of [0, n) when max_rows is 0 or n <= max_rows, else
/// max_rows distinct rows drawn with the seed, ascending. Depends on (n, max_rows, seed) only,
/// so every rank and every block size picks the same rows.
std::vector<int64_t> kmeans_fit_rows(int64_t n, int64_t max_rows, uint64_t seed);

/// The hidden representation of the listed rows of data, in that order (rows.size() x
/// hidden_width, row-major), computed block_rows rows at a time.
std::vector<float> hidden_of_rows(const MultiTaskNetwork& network, const Dataset& data,
                                  const std::vector<int64_t>& rows, Backend& backend,
                                  int64_t block_rows = kHrcBlockRows);

/// The nearest of the K centroids to each row's hidden representation (lowest index on ties),
/// computed block_rows rows at a time so that only one block of z exists: the labels
/// kmeans_assign gives on the whole z. With several ranks each labels its run of whole blocks
/// and every rank receives all labels.
std::vector<int32_t> hidden_labels(const MultiTaskNetwork& network, const Dataset& data,
                                   const float* centroids, int k, Backend& backend,
                                   int64_t block_rows = kHrcBlockRows,
                                   Communicator& comm = local_communicator());

struct HrcParams {
    KMeansParams kmeans;         ///< the "kmeans" object (k defaults to 64)
    EstimateParams estimates;    ///< the "estimates" object
    ClusterSolverParams solver;  ///< the "solver" object
    /// "integer": deploy the exact integer allocation; "lp_split": deploy the LP optimum, whose
    /// one split cluster is divided between two arms by hashing user ids (spends B exactly).
    std::string deploy = "integer";
    /// Rows per block when computing hidden representations (fit's labels and prepare()).
    int64_t block_rows = kHrcBlockRows;
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
    /// Centroids and fit statistics; labels hold every training row's cluster, also when
    /// k-means was fitted on a sample (kmeans.max_fit_rows), whose inertia and iterations the
    /// statistics then describe.
    const KMeansResult& clustering() const { return clustering_; }

  private:
    HrcParams params_;
    const MultiTaskNetwork* network_ = nullptr;
    Communicator* comm_ = &local_communicator();  ///< the run's ranks, from fit()
    KMeansResult clustering_;
    int64_t fit_rows_ = 0;
    ClusterTable table_;
    std::vector<int32_t> labels_;
    std::vector<int64_t> user_ids_;
    double max_cost_ = 0.0;
};

}  // namespace ca
