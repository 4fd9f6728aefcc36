// Launchers of the k-means kernels: nearest centroid from precomputed dot products, and the
// per-cluster sums and counts. All pointers are device pointers; work is queued on the stream.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ca {

/// For each of rows points x (rows x d) with dots = x . centroids^T (rows x k) and the squared
/// centroid norms: labels[i] = argmin_c norms[c] - 2 dots[i, c] (lowest c on ties) and, when
/// distance2 is not null, distance2[i] = max(that minimum + ||x_i||^2, 0).
void launch_nearest_from_dots(const float* x, const float* dots, const float* centroid_norms,
                              int64_t rows, int d, int k, int32_t* labels, float* distance2,
                              cudaStream_t stream);

/// sums[c * d + j] += x[i, j] and counts[c] += 1 for labels[i] == c, c in [0, k). A label
/// outside [0, k) adds to counts[k] and to no sum, so counts holds k + 1 entries. Sums and
/// counts are added to, not cleared; multiprocessors sizes the grid of the shared-table path.
void launch_accumulate_centroids(const float* x, int64_t n, int d, const int32_t* labels, int k,
                                 double* sums, unsigned long long* counts, int multiprocessors,
                                 cudaStream_t stream);

}  // namespace ca
