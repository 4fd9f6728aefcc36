// The CUDA backend: cuBLAS for products, own kernels for the rest. The interface takes host
// pointers, so each call copies operands over PCIe into grow-only device buffers and results
// back, which outweighs element-wise kernels; device-resident whole stages are the next step.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <mutex>
#include <sstream>
#include <vector>

#include "core/communicator.h"
#include "core/errors.h"
#include "core/log.h"
#include "kernels/cpu/aucc_cpu.h"
#include "kernels/cpu/budget_grid_cpu.h"
#include "kernels/cuda/aucc_kernels.cuh"
#include "kernels/cuda/budget_grid_kernels.cuh"
#include "kernels/cuda/cuda_backend.cuh"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/cuda/dual_pass_kernels.cuh"
#include "kernels/cuda/kmeans_kernels.cuh"
#include "kernels/cuda/mlp_kernels.cuh"

namespace ca {

namespace {

// Serialises calls on one backend (they share its staging buffers), makes its device current
// and names the call in profiles.
class CallScope {
  public:
    CallScope(std::mutex& mutex, int device, const char* name) : lock_(mutex) {
        CUDA_CHECK(cudaSetDevice(device));
        nvtxRangePushA(name);
    }
    ~CallScope() { nvtxRangePop(); }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

  private:
    std::lock_guard<std::mutex> lock_;
};

bool fits_int(int64_t value) { return value >= 0 && value <= INT_MAX; }

// Squared centroid norms exactly as the CPU backend forms them (double sum, then float), so
// both backends compare the same numbers against the dot products.
std::vector<float> centroid_norms(const float* centroids, int k, int d) {
    std::vector<float> norms(k);
    for (int c = 0; c < k; ++c) {
        double total = 0.0;
        for (int j = 0; j < d; ++j) total += double(centroids[c * d + j]) * centroids[c * d + j];
        norms[c] = float(total);
    }
    return norms;
}

class CudaBackend final : public Backend {
  public:
    CudaBackend(const CudaBackendParams& params, int device);
    ~CudaBackend() override { release(); }
    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    std::string name() const override { return "cuda"; }
    void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
              int64_t ldc) override;
    void add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols,
                             bool relu) override;
    void relu_backward(const float* y, float* grad, int64_t count) override;
    void column_sums(const float* a, int64_t rows, int64_t cols, float* out) override;
    void adam_update(float* param, float* m, float* v, const float* grad, int64_t count,
                     const AdamStep& step) override;
    void assign_nearest(const float* x, int64_t n, int d, const float* centroids, int k,
                        int32_t* labels, float* distance2) override;
    void accumulate_centroids(const float* x, int64_t n, int d, const int32_t* labels, int k,
                              double* sums, int64_t* counts) override;
    DualPassResult dual_pass(const float* value, const float* cost, int64_t n, int m, double lambda,
                             int32_t* choice) override;
    void budget_grid(const double* value, const double* cost, const double* population, int k,
                     int m, const double* budgets, int count, const BudgetGridSearch& search,
                     BudgetGridPoint* out) override;
    RankingAucc ranking_aucc(const double* score, const int32_t* arm, const float* value,
                             const float* cost, int64_t n, int treated_arm, int points,
                             double* curve_value) override;

  private:
    // Staging buffers; within one call each slot holds one operand.
    static constexpr int kSlots = 6;

    void release();
    int64_t tile_rows(int64_t row_width) const {
        return std::max<int64_t>(1, params_.max_stage_elements / std::max<int64_t>(1, row_width));
    }
    template <typename T>
    T* stage(int slot, int64_t count) {
        return buffers_[slot].reserve<T>(size_t(count));
    }
    template <typename T>
    void to_device(T* device, const T* host, int64_t count) {
        if (count > 0)
            CUDA_CHECK(cudaMemcpyAsync(device, host, size_t(count) * sizeof(T),
                                       cudaMemcpyHostToDevice, stream_));
    }
    template <typename T>
    void to_host(T* host, const T* device, int64_t count) {
        if (count > 0)
            CUDA_CHECK(cudaMemcpyAsync(host, device, size_t(count) * sizeof(T),
                                       cudaMemcpyDeviceToHost, stream_));
    }
    template <typename T>
    T* upload(int slot, const T* host, int64_t count) {
        T* device = stage<T>(slot, count);
        to_device(device, host, count);
        return device;
    }
    float* upload_matrix(int slot, const float* host, int64_t rows, int64_t cols, int64_t ld);
    void download_matrix(float* host, int64_t ld, const float* device, int64_t rows, int64_t cols);
    void synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }
    void device_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                     int64_t ldc);

    CudaBackendParams params_;
    int device_ = 0;
    int multiprocessors_ = 1;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    std::mutex mutex_;
    DeviceBuffer buffers_[kSlots];
};

CudaBackend::CudaBackend(const CudaBackendParams& params, int device)
    : params_(params), device_(device) {
    CUDA_CHECK(cudaSetDevice(device_));
    cudaDeviceProp properties{};
    CUDA_CHECK(cudaGetDeviceProperties(&properties, device_));
    multiprocessors_ = properties.multiProcessorCount;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    try {
        CUBLAS_CHECK(cublasCreate(&cublas_));
        CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
        // Plain FP32: TF32 tensor cores would break agreement with the CPU reference.
        CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    } catch (...) {
        release();
        throw;
    }
    std::ostringstream message;
    message << "cuda backend: device " << device_ << " (" << properties.name << ", sm_"
            << properties.major << properties.minor << ", " << multiprocessors_
            << " multiprocessors, " << properties.totalGlobalMem / double(1 << 30) << " GiB)";
    log_info(message.str());
}

void CudaBackend::release() {
    // Teardown errors are ignored: nothing useful can be done with them in a destructor.
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
    cublas_ = nullptr;
    stream_ = nullptr;
}

// Copies only the rows x cols block in use, packed, so the device leading dimension is cols.
float* CudaBackend::upload_matrix(int slot, const float* host, int64_t rows, int64_t cols,
                                  int64_t ld) {
    CA_ASSERT_MSG(ld >= cols, "leading dimension " << ld << " below the " << cols << " columns");
    float* device = stage<float>(slot, rows * cols);
    const size_t row_bytes = size_t(cols) * sizeof(float);
    CUDA_CHECK(cudaMemcpy2DAsync(device, row_bytes, host, size_t(ld) * sizeof(float), row_bytes,
                                 size_t(rows), cudaMemcpyHostToDevice, stream_));
    return device;
}

void CudaBackend::download_matrix(float* host, int64_t ld, const float* device, int64_t rows,
                                  int64_t cols) {
    const size_t row_bytes = size_t(cols) * sizeof(float);
    CUDA_CHECK(cudaMemcpy2DAsync(host, size_t(ld) * sizeof(float), device, row_bytes, row_bytes,
                                 size_t(rows), cudaMemcpyDeviceToHost, stream_));
}

// cuBLAS is column-major, and a row-major matrix read column-major is its transpose; so the
// row-major C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T with the operands swapped.
void CudaBackend::device_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                              float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                              float beta, float* c, int64_t ldc) {
    CA_ASSERT_MSG(fits_int(m) && fits_int(n) && fits_int(k) && fits_int(lda) && fits_int(ldb) &&
                      fits_int(ldc),
                  "gemm " << m << " x " << n << " x " << k << " exceeds the 32-bit cuBLAS API");
    CUBLAS_CHECK(cublasSgemm(cublas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                             trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &alpha, b,
                             int(ldb), a, int(lda), &beta, c, int(ldc)));
}

void CudaBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                       float* c, int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        // An empty product: C = beta C, and beta = 0 clears C whatever it held (BLAS rule).
        for (int64_t r = 0; r < m; ++r)
            for (int64_t col = 0; col < n; ++col)
                c[r * ldc + col] = beta == 0.0f ? 0.0f : beta * c[r * ldc + col];
        return;
    }
    CallScope scope(mutex_, device_, "cuda gemm");
    const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
    const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
    const float* device_a = upload_matrix(0, a, a_rows, a_cols, lda);
    const float* device_b = upload_matrix(1, b, b_rows, b_cols, ldb);
    // With beta = 0 BLAS does not read C, so it need not travel.
    float* device_c = beta == 0.0f ? stage<float>(2, m * n) : upload_matrix(2, c, m, n, ldc);
    device_gemm(trans_a, trans_b, m, n, k, alpha, device_a, a_cols, device_b, b_cols, beta,
                device_c, n);
    download_matrix(c, ldc, device_c, m, n);
    synchronize();
}

void CudaBackend::add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols,
                                      bool relu) {
    if (rows == 0 || cols == 0) return;
    CallScope scope(mutex_, device_, "cuda add_bias_activation");
    float* device_y = upload(0, y, rows * cols);
    const float* device_bias = upload(1, bias, cols);
    launch_add_bias_activation(device_y, device_bias, rows, cols, relu, stream_);
    to_host(y, device_y, rows * cols);
    synchronize();
}

void CudaBackend::relu_backward(const float* y, float* grad, int64_t count) {
    if (count == 0) return;
    CallScope scope(mutex_, device_, "cuda relu_backward");
    const float* device_y = upload(0, y, count);
    float* device_grad = upload(1, grad, count);
    launch_relu_backward(device_y, device_grad, count, stream_);
    to_host(grad, device_grad, count);
    synchronize();
}

void CudaBackend::column_sums(const float* a, int64_t rows, int64_t cols, float* out) {
    if (cols == 0) return;
    CallScope scope(mutex_, device_, "cuda column_sums");
    const float* device_a = upload(0, a, rows * cols);
    double* scratch = stage<double>(1, column_sums_scratch_size(rows, cols));
    float* device_out = stage<float>(2, cols);
    launch_column_sums(device_a, rows, cols, scratch, device_out, stream_);
    to_host(out, device_out, cols);
    synchronize();
}

void CudaBackend::adam_update(float* param, float* m, float* v, const float* grad, int64_t count,
                              const AdamStep& step) {
    if (count == 0) return;
    CallScope scope(mutex_, device_, "cuda adam_update");
    // Bias correction folded into the rate and epsilon, in float, exactly as the CPU does.
    const float correction1 = 1.0f - std::pow(step.beta1, float(step.step));
    const float correction2 = 1.0f - std::pow(step.beta2, float(step.step));
    AdamCoefficients coefficients;
    coefficients.beta1 = step.beta1;
    coefficients.beta2 = step.beta2;
    coefficients.rate = step.learning_rate * std::sqrt(correction2) / correction1;
    coefficients.epsilon = step.epsilon * std::sqrt(correction2);

    float* device_param = upload(0, param, count);
    float* device_m = upload(1, m, count);
    float* device_v = upload(2, v, count);
    const float* device_grad = upload(3, grad, count);
    launch_adam_update(device_param, device_m, device_v, device_grad, count, coefficients, stream_);
    to_host(param, device_param, count);
    to_host(m, device_m, count);
    to_host(v, device_v, count);
    synchronize();
}

void CudaBackend::assign_nearest(const float* x, int64_t n, int d, const float* centroids, int k,
                                 int32_t* labels, float* distance2) {
    if (n == 0) return;
    CallScope scope(mutex_, device_, "cuda assign_nearest");
    const std::vector<float> norms = centroid_norms(centroids, k, d);
    const float* device_centroids = upload(0, centroids, int64_t(k) * d);
    const float* device_norms = upload(1, norms.data(), k);
    const int64_t tile = std::min(n, tile_rows(std::max(k, d)));
    float* device_x = stage<float>(2, tile * d);
    float* dots = stage<float>(3, tile * k);
    int32_t* device_labels = stage<int32_t>(4, tile);
    float* device_distance = distance2 ? stage<float>(5, tile) : nullptr;

    for (int64_t start = 0; start < n; start += tile) {
        const int64_t rows = std::min(tile, n - start);
        to_device(device_x, x + start * d, rows * d);
        if (k > 0 && d > 0) {
            device_gemm(false, true, rows, k, d, 1.0f, device_x, d, device_centroids, d, 0.0f, dots,
                        k);
        } else if (k > 0) {
            CUDA_CHECK(cudaMemsetAsync(dots, 0, size_t(rows * k) * sizeof(float), stream_));
        }
        launch_nearest_from_dots(device_x, dots, device_norms, rows, d, k, device_labels,
                                 device_distance, stream_);
        to_host(labels + start, device_labels, rows);
        if (distance2) to_host(distance2 + start, device_distance, rows);
    }
    synchronize();
}

void CudaBackend::accumulate_centroids(const float* x, int64_t n, int d, const int32_t* labels,
                                       int k, double* sums, int64_t* counts) {
    if (n == 0) return;
    CallScope scope(mutex_, device_, "cuda accumulate_centroids");
    const int64_t cells = int64_t(k) * d;
    const int64_t tile = std::min(n, tile_rows(d));
    float* device_x = stage<float>(0, tile * d);
    int32_t* device_labels = stage<int32_t>(1, tile);
    double* device_sums = stage<double>(2, cells);
    // counts[0..k) then the number of labels outside [0, k).
    auto* device_counts = stage<unsigned long long>(3, int64_t(k) + 1);
    CUDA_CHECK(cudaMemsetAsync(device_sums, 0, size_t(cells) * sizeof(double), stream_));
    CUDA_CHECK(
        cudaMemsetAsync(device_counts, 0, (size_t(k) + 1) * sizeof(unsigned long long), stream_));

    for (int64_t start = 0; start < n; start += tile) {
        const int64_t rows = std::min(tile, n - start);
        to_device(device_x, x + start * d, rows * d);
        to_device(device_labels, labels + start, rows);
        launch_accumulate_centroids(device_x, rows, d, device_labels, k, device_sums, device_counts,
                                    multiprocessors_, stream_);
    }
    std::vector<double> host_sums(cells);
    std::vector<unsigned long long> host_counts(size_t(k) + 1);
    to_host(host_sums.data(), device_sums, cells);
    to_host(host_counts.data(), device_counts, int64_t(k) + 1);
    synchronize();

    CA_ASSERT_MSG(host_counts[k] == 0,
                  host_counts[k] << " of " << n << " labels lie outside [0, " << k << ")");
    for (int64_t e = 0; e < cells; ++e) sums[e] += host_sums[e];
    for (int c = 0; c < k; ++c) counts[c] += int64_t(host_counts[c]);
}

DualPassResult CudaBackend::dual_pass(const float* value, const float* cost, int64_t n, int m,
                                      double lambda, int32_t* choice) {
    if (n == 0) return {};
    CA_ASSERT_MSG(m > 0, "dual_pass over " << n << " rows with no arms");
    CallScope scope(mutex_, device_, "cuda dual_pass");
    const int64_t tile = std::min(n, tile_rows(m));
    const int blocks = dual_pass_blocks(tile);
    float* device_value = stage<float>(0, tile * m);
    float* device_cost = stage<float>(1, tile * m);
    int32_t* device_choice = choice ? stage<int32_t>(2, tile) : nullptr;
    double* block_sums = stage<double>(3, 2 * int64_t(blocks));
    std::vector<double> host_sums(2 * size_t(blocks));

    // Block sums are added on the host in a fixed order: the same input gives the same bits.
    DualPassResult total;
    for (int64_t start = 0; start < n; start += tile) {
        const int64_t rows = std::min(tile, n - start);
        to_device(device_value, value + start * m, rows * m);
        to_device(device_cost, cost + start * m, rows * m);
        launch_dual_pass(device_value, device_cost, rows, m, float(lambda), device_choice,
                         block_sums, block_sums + blocks, stream_);
        if (choice) to_host(choice + start, device_choice, rows);
        to_host(host_sums.data(), block_sums, 2 * int64_t(blocks));
        synchronize();
        const int used = dual_pass_blocks(rows);
        for (int b = 0; b < used; ++b) {
            total.value += host_sums[b];
            total.cost += host_sums[blocks + b];
        }
    }
    return total;
}

// Inputs are checked on the host (the messages of the CPU backend); the table, populations and
// budgets travel once and every block reads the table from L2.
void CudaBackend::budget_grid(const double* value, const double* cost, const double* population,
                              int k, int m, const double* budgets, int count,
                              const BudgetGridSearch& search, BudgetGridPoint* out) {
    check_budget_grid_input(value, cost, population, k, m, budgets, count);
    if (count == 0) return;
    CallScope scope(mutex_, device_, "cuda budget_grid");
    const int64_t cells = int64_t(k) * m;
    DeviceClusterTable table;
    table.value = upload(0, value, cells);
    table.cost = upload(1, cost, cells);
    table.population = upload(2, population, k);
    table.k = k;
    table.m = m;
    const double* device_budgets = upload(3, budgets, count);
    double* results = stage<double>(4, 5 * int64_t(count));
    const DeviceGridPoints points{results, results + count, results + 2 * count,
                                  results + 3 * count, results + 4 * count};
    launch_budget_grid(table, device_budgets, count,
                       budget_grid_tolerance(cost, population, k, m), search.max_iterations,
                       points, stream_);
    std::vector<double> host(5 * size_t(count));
    to_host(host.data(), results, 5 * int64_t(count));
    synchronize();
    for (int b = 0; b < count; ++b) {
        out[b].lambda = host[b];
        out[b].bound = host[count + b];
        out[b].value = host[2 * size_t(count) + b];
        out[b].cost = host[3 * size_t(count) + b];
        out[b].feasible = host[4 * size_t(count) + b] != 0.0;
    }
}

// The ranking and the curve are built on the device; the Q + 1 samples come back and are
// averaged here in index order, as core/aucc does.
RankingAucc CudaBackend::ranking_aucc(const double* score, const int32_t* arm, const float* value,
                                      const float* cost, int64_t n, int treated_arm, int points,
                                      double* curve_value) {
    const AuccRowCounts counts = check_ranking_input(score, arm, n, treated_arm, points);
    if (n > INT_MAX)
        CA_THROW(InputError, "aucc input: " << n << " rows; the cuda backend ranks at most "
                                            << INT_MAX << " per call");
    CallScope scope(mutex_, device_, "cuda ranking_aucc");
    const DeviceAuccCurve curve = device_aucc_curve(score, arm, value, cost, n, treated_arm,
                                                    counts.treated, counts.control, points,
                                                    stream_);
    check_aucc_totals(curve.total_cost, curve.total_value);
    RankingAucc result;
    result.total_cost = curve.total_cost;
    result.total_value = curve.total_value;
    result.treated_rows = counts.treated;
    result.control_rows = counts.control;
    double sum = 0.0;
    for (double sample : curve.sampled_value) sum += sample / curve.total_value;
    result.aucc = sum / double(curve.sampled_value.size());
    if (curve_value) std::copy(curve.sampled_value.begin(), curve.sampled_value.end(), curve_value);
    return result;
}

struct DeviceCount {
    int count = 0;
    std::string problem;  ///< empty when count > 0
};

DeviceCount count_devices() {
    DeviceCount result;
    const cudaError_t status = cudaGetDeviceCount(&result.count);
    if (status != cudaSuccess) {
        cudaGetLastError();  // clear it, so later runtime calls do not report it again
        result.count = 0;
        result.problem = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
    } else if (result.count == 0) {
        result.problem = "cudaGetDeviceCount: 0 devices";
    }
    return result;
}

}  // namespace

bool cuda_device_available() { return count_devices().count > 0; }

std::string cuda_device_status() {
    const DeviceCount devices = count_devices();
    if (devices.count == 0) return devices.problem;
    int device = 0;
    cudaDeviceProp properties{};
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
    return "device " + std::to_string(device) + ": " + properties.name;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendParams& params) {
    const DeviceCount devices = count_devices();
    if (devices.count == 0)
        throw ConfigError("device: cuda was requested but no CUDA device is visible (" +
                          devices.problem + ")");
    int device = params.device;
    if (device < 0) CUDA_CHECK(cudaGetDevice(&device));
    if (device >= devices.count)
        CA_THROW(ConfigError, "device: cuda device " << device << " was requested but only "
                                                     << devices.count << " are visible");
    return std::make_unique<CudaBackend>(params, device);
}

// One process per GPU under mpirun or srun: the node-local rank picks the device (the same
// choice a NCCL communicator has already made current). A single process keeps the current one.
std::unique_ptr<Backend> make_cuda_backend() {
    CudaBackendParams params;
    const int local = launcher_local_rank();
    int count = 0;
    if (local >= 0 && cudaGetDeviceCount(&count) == cudaSuccess && count > 0)
        params.device = local % count;
    cudaGetLastError();  // a failed count is reported by make_cuda_backend(params) below
    return make_cuda_backend(params);
}

}  // namespace ca
