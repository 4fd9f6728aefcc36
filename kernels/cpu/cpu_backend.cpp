// CPU reference kernels. Dense work goes to cblas_sgemm; element-wise loops use OpenMP.
// k-means distances use the expansion ||x||^2 - 2 x.c + ||c||^2 over row blocks so that the
// x.c products are one sgemm per block and the block's distance matrix stays in cache.
#include "kernels/cpu/cpu_backend.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace ca {

namespace {
// Below this many flops a product runs on one thread: forking costs more than it saves.
constexpr double kParallelGemmFlops = 4e6;

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, a, int(lda), b,
                int(ldb), beta, c, int(ldc));
}
}  // namespace

// OpenBLAS runs single-threaded and a product is split over the OpenMP team instead, by rows
// or by columns of C, whichever is longer. With two pools, OpenMP threads spin between the
// element-wise loops on the cores OpenBLAS's threads need: measured on 2 cores, network
// training with both pools at 2 threads ran slower than on one thread. OMP_NUM_THREADS is
// then the one knob. OpenBLAS's bits depend on the shape of each call, so the tiles depend on
// the product's shape only, never on the thread count: any number of threads (and of ranks,
// which call with the same shapes) gives the same result.
void CpuBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                      float* c, int64_t ldc) {
    if (m == 0 || n == 0) return;
    static const bool blas_single_threaded = (openblas_set_num_threads(1), true);
    (void)blas_single_threaded;
    if (2.0 * double(m) * double(n) * double(k) < kParallelGemmFlops) {
        sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const bool split_rows = m >= n;
    const int64_t total = split_rows ? m : n;
    // About 16 tiles, at least 64 rows or columns each, in multiples of 64.
    const int64_t tile = std::max<int64_t>(64, (total / 16 + 63) / 64 * 64);
    const int64_t tiles = (total + tile - 1) / tile;
#pragma omp parallel for schedule(static) if (tiles > 1 && !omp_in_parallel())
    for (int64_t t = 0; t < tiles; ++t) {
        const int64_t begin = t * tile, end = std::min(total, begin + tile);
        if (split_rows) {
            const float* a_rows = trans_a ? a + begin : a + begin * lda;
            sgemm(trans_a, trans_b, end - begin, n, k, alpha, a_rows, lda, b, ldb, beta,
                  c + begin * ldc, ldc);
        } else {
            const float* b_columns = trans_b ? b + begin * ldb : b + begin;
            sgemm(trans_a, trans_b, m, end - begin, k, alpha, a, lda, b_columns, ldb, beta,
                  c + begin, ldc);
        }
    }
}

void CpuBackend::add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols,
                                     bool relu) {
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; ++r) {
        float* out = y + r * cols;
        if (relu) {
            for (int64_t c = 0; c < cols; ++c) out[c] = std::max(out[c] + bias[c], 0.0f);
        } else {
            for (int64_t c = 0; c < cols; ++c) out[c] += bias[c];
        }
    }
}

void CpuBackend::relu_backward(const float* y, float* grad, int64_t count) {
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t i = 0; i < count; ++i) grad[i] = y[i] > 0.0f ? grad[i] : 0.0f;
}

void CpuBackend::column_sums(const float* a, int64_t rows, int64_t cols, float* out) {
    // Each thread sums a block of columns down the rows, in row order: the same bits for any
    // thread count, which data-parallel training needs to reproduce a run on other ranks.
#pragma omp parallel if (rows * cols > 65536)
    {
        const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
        const int64_t first = cols * thread / threads, last = cols * (thread + 1) / threads;
        std::vector<double> totals(size_t(last - first), 0.0);
        for (int64_t r = 0; r < rows; ++r) {
            const float* row = a + r * cols;
            for (int64_t c = first; c < last; ++c) totals[size_t(c - first)] += row[c];
        }
        for (int64_t c = first; c < last; ++c) out[c] = float(totals[size_t(c - first)]);
    }
}

void CpuBackend::adam_update(float* param, float* m, float* v, const float* grad, int64_t count,
                             const AdamStep& step) {
    const float correction1 = 1.0f - std::pow(step.beta1, float(step.step));
    const float correction2 = 1.0f - std::pow(step.beta2, float(step.step));
    const float rate = step.learning_rate * std::sqrt(correction2) / correction1;
    const float eps = step.epsilon * std::sqrt(correction2);
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t i = 0; i < count; ++i) {
        m[i] = step.beta1 * m[i] + (1.0f - step.beta1) * grad[i];
        v[i] = step.beta2 * v[i] + (1.0f - step.beta2) * grad[i] * grad[i];
        param[i] -= rate * m[i] / (std::sqrt(v[i]) + eps);
    }
}

void CpuBackend::assign_nearest(const float* x, int64_t n, int d, const float* centroids, int k,
                                int32_t* labels, float* distance2) {
    constexpr int64_t kBlockRows = 4096;
    std::vector<float> centroid_norms(k);
    for (int c = 0; c < k; ++c) {
        double total = 0.0;
        for (int j = 0; j < d; ++j) total += double(centroids[c * d + j]) * centroids[c * d + j];
        centroid_norms[c] = float(total);
    }
    std::vector<float> dots(size_t(kBlockRows) * k);
    for (int64_t start = 0; start < n; start += kBlockRows) {
        int64_t rows = std::min(kBlockRows, n - start);
        const float* block = x + start * d;
        gemm(false, true, rows, k, d, 1.0f, block, d, centroids, d, 0.0f, dots.data(), k);

#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            const float* row = block + r * d;
            float row_norm = 0.0f;
            for (int j = 0; j < d; ++j) row_norm += row[j] * row[j];
            const float* row_dots = dots.data() + r * k;
            float best = std::numeric_limits<float>::infinity();
            int32_t best_index = 0;
            for (int c = 0; c < k; ++c) {
                float distance = centroid_norms[c] - 2.0f * row_dots[c];
                if (distance < best) {
                    best = distance;
                    best_index = c;
                }
            }
            labels[start + r] = best_index;
            // Cancellation can leave a tiny negative number for a point on its centroid.
            if (distance2) distance2[start + r] = std::max(best + row_norm, 0.0f);
        }
    }
}

void CpuBackend::accumulate_centroids(const float* x, int64_t n, int d, const int32_t* labels,
                                      int k, double* sums, int64_t* counts) {
    // Each thread owns a block of clusters and adds their rows in row order: the same bits for
    // any thread count, and no per-thread copies of the K x D sums.
#pragma omp parallel if (n * d > 65536)
    {
        const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
        const int first = int(int64_t(k) * thread / threads);
        const int last = int(int64_t(k) * (thread + 1) / threads);
        for (int64_t i = 0; i < n; ++i) {
            const int32_t c = labels[i];
            if (c < first || c >= last) continue;
            counts[c] += 1;
            double* target = sums + size_t(c) * d;
            const float* row = x + i * d;
            for (int j = 0; j < d; ++j) target[j] += row[j];
        }
    }
}

namespace {
// One user's arm by the reference rule: lowest j on ties, and a NaN score is never better.
inline int best_arm(const float* v, const float* c, int m, float lambda) {
    int best = 0;
    float best_score = v[0] - lambda * c[0];
    for (int j = 1; j < m; ++j) {
        float score = v[j] - lambda * c[j];
        if (score > best_score) {
            best_score = score;
            best = j;
        }
    }
    return best;
}

// Users [first, last) one arm at a time: the path for M > 8 and for the last users.
DualPassResult dual_rows_scalar(const float* value, const float* cost, int64_t first, int64_t last,
                                int m, float lambda, int32_t* choice) {
    double total_value = 0.0, total_cost = 0.0;
    for (int64_t i = first; i < last; ++i) {
        const float* v = value + i * m;
        const float* c = cost + i * m;
        const int best = best_arm(v, c, m, lambda);
        if (choice) choice[i] = best;
        total_value += v[best];
        total_cost += c[best];
    }
    return {total_value, total_cost};
}

#ifdef __AVX2__
// Users [first, last) with M <= 8, one user per 8-lane vector: lanes >= M masked to -inf, the
// best arm the first lane holding the maximum score, which is the scalar rule. The compare
// chain of the scalar loop mispredicts on most users; this has no branch per arm and keeps the
// pass at memory speed. A user with a NaN score takes the scalar rule. Reads 8 floats from
// each user's row: the caller keeps the last users, whose loads would leave the arrays, out.
DualPassResult dual_rows_vector(const float* value, const float* cost, int64_t first, int64_t last,
                                int m, float lambda_f, int32_t* choice) {
    const __m256 lambda = _mm256_set1_ps(lambda_f);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(m), lanes));
    const __m256 lowest = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    const unsigned valid_bits = (1u << m) - 1u;
    // Two accumulators each: the additions of consecutive users do not wait on each other.
    double total_value[2] = {0.0, 0.0}, total_cost[2] = {0.0, 0.0};
    for (int64_t i = first; i < last; ++i) {
        const float* v = value + i * m;
        const float* c = cost + i * m;
        __m256 score = _mm256_fnmadd_ps(lambda, _mm256_loadu_ps(c), _mm256_loadu_ps(v));
        const unsigned nan_bits =
            unsigned(_mm256_movemask_ps(_mm256_cmp_ps(score, score, _CMP_UNORD_Q)));
        int best;
        if (nan_bits & valid_bits) {
            best = best_arm(v, c, m, lambda_f);
        } else {
            score = _mm256_blendv_ps(lowest, score, valid);
            __m256 top = _mm256_max_ps(score, _mm256_permute2f128_ps(score, score, 1));
            top = _mm256_max_ps(top, _mm256_shuffle_ps(top, top, _MM_SHUFFLE(1, 0, 3, 2)));
            top = _mm256_max_ps(top, _mm256_shuffle_ps(top, top, _MM_SHUFFLE(2, 3, 0, 1)));
            const unsigned hits =
                unsigned(_mm256_movemask_ps(_mm256_cmp_ps(score, top, _CMP_EQ_OQ)));
            best = __builtin_ctz(hits & valid_bits);
        }
        if (choice) choice[i] = best;
        total_value[i & 1] += v[best];
        total_cost[i & 1] += c[best];
    }
    return {total_value[0] + total_value[1], total_cost[0] + total_cost[1]};
}
#endif

// Users [0, end) go through the vector path: those whose 8-float loads stay inside the n x m
// arrays (i * m + 8 <= n * m), when M <= 8 and the build has AVX2.
int64_t vector_rows_end(int64_t n, int m) {
#ifdef __AVX2__
    if (m <= 8 && n * m >= 8) return (n * m - 8) / m + 1;
#endif
    return 0;
}
}  // namespace

DualPassResult CpuBackend::dual_pass(const float* value, const float* cost, int64_t n, int m,
                                     double lambda, int32_t* choice) {
    // Fixed blocks of users, added in block order: the totals do not depend on the thread
    // count, so a bisection on lambda takes the same steps on any machine.
    constexpr int64_t kBlockRows = 1 << 15;
    const float lambda_f = float(lambda);
    const int64_t vector_end = vector_rows_end(n, m);
    const int64_t blocks = (n + kBlockRows - 1) / kBlockRows;
    std::vector<DualPassResult> partial(static_cast<size_t>(blocks));
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t first = b * kBlockRows, last = std::min(n, first + kBlockRows);
        const int64_t split = std::clamp(vector_end, first, last);
        DualPassResult part = dual_rows_scalar(value, cost, split, last, m, lambda_f, choice);
#ifdef __AVX2__
        DualPassResult head = dual_rows_vector(value, cost, first, split, m, lambda_f, choice);
        part.value += head.value;
        part.cost += head.cost;
#endif
        partial[size_t(b)] = part;
    }
    DualPassResult total;
    for (const DualPassResult& part : partial) {
        total.value += part.value;
        total.cost += part.cost;
    }
    return total;
}

}  // namespace ca
