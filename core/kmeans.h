// k-means on dense float rows: k-means++ seeding on a sample, then Lloyd (or mini-batch)
// iterations through the backend. With no more distinct points than K, every distinct point
// becomes its own cluster (K_eff = distinct count), so no cluster is ever returned empty.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/communicator.h"
#include "core/config.h"
#include "kernels/backend.h"

namespace ca {

struct KMeansParams {
    /// K, the number of clusters asked for.
    int k = 64;
    /// Lloyd iterations at most (mini-batch: batches at most).
    int max_iterations = 50;
    /// Stop when the inertia falls by less than this share of itself in one iteration.
    double tolerance = 1e-4;
    /// Seed of the seeding sample, the k-means++ draws and the mini-batches.
    uint64_t seed = 0;
    /// Rows drawn (without replacement) for k-means++ seeding; all rows when N is smaller.
    int64_t seeding_sample = 100000;
    /// Rows per mini-batch update (Sculley 2010); 0 runs full Lloyd iterations.
    int64_t mini_batch = 0;
    /// Training rows HRC fits on: above this many it draws a seeded sample of this size (as
    /// faiss trains on a sample) and then labels every row by its nearest centroid; 0 = all rows.
    /// kmeans_fit itself clusters whatever rows it is given.
    int64_t max_fit_rows = int64_t(1) << 19;

    /// Reads the "kmeans" object; unknown keys and out-of-range values are ConfigErrors.
    static KMeansParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

struct KMeansResult {
    /// K_eff x D centroids, row-major.
    std::vector<float> centroids;
    /// N labels in [0, K_eff); every cluster holds at least one row.
    std::vector<int32_t> labels;
    /// Sum of squared distances of the rows to their centroids (in double, no cancellation).
    double inertia = 0.0;
    /// Iterations (or mini-batches) run.
    int iterations = 0;
    /// Clusters returned: K, or fewer when the data have fewer distinct points than K.
    int k_effective = 0;
    /// Empty clusters re-seeded with the row farthest from its centroid, over all iterations.
    int reseeded = 0;
    /// True when the labels stopped changing or the inertia change fell under the tolerance.
    bool converged = false;
};

/// Clusters the N x D rows x. Deterministic for a seed and thread count. Throws InputError for
/// non-finite input or N = 0, ConfigError for K < 1. With several ranks, every rank passes the
/// same rows: seeding (and mini-batches) run on each and rank 0's centroids are kept, Lloyd
/// assignments are sharded by rows with the centroid sums, counts and inertia summed over the
/// ranks, and every rank receives all N labels.
KMeansResult kmeans_fit(const float* x, int64_t n, int d, const KMeansParams& params,
                        Backend& backend, Communicator& comm = local_communicator());

/// The same iterations started from K x D initial centroids (K = params.k) instead of
/// k-means++, e.g. to warm-start from an earlier run; the seed then only drives mini-batches.
KMeansResult kmeans_fit_from(const float* x, int64_t n, int d, const float* initial_centroids,
                             const KMeansParams& params, Backend& backend,
                             Communicator& comm = local_communicator());

/// Labels of the N x D rows x under the K x D centroids (nearest, lowest index on ties).
std::vector<int32_t> kmeans_assign(const float* x, int64_t n, int d, const float* centroids, int k,
                                   Backend& backend);

}  // namespace ca
