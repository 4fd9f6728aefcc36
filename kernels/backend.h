// The numeric kernels behind one interface: the CPU reference (BLAS + OpenMP) and CUDA.
// All pointers are host pointers in row-major layout; the CUDA backend stages them through
// device buffers, so core/ never sees a CUDA type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace ca {

// Hyper-parameters of one Adam update (Kingma & Ba 2015), bias correction included.
struct AdamStep {
    float learning_rate = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float epsilon = 1e-8f;
    long step = 1;  ///< 1-based update count, for the bias correction
};

// Totals of one Lagrangian pass over users: each picks argmax_j value - lambda * cost.
struct DualPassResult {
    double value = 0.0;
    double cost = 0.0;
};

// Settings of the Lagrangian search over a budget grid.
struct BudgetGridSearch {
    /// Most bisection steps per budget; the search also stops once lambda's bracket holds no
    /// double between its ends, which takes about 55 steps unless lambda is tiny.
    int max_iterations = 200;
};

// One budget B of a Lagrangian pass over K clusters: at a multiplier lambda every cluster
// takes argmax_j value_kj - lambda * cost_kj (per capita; ties to the cheaper arm, then the
// lower j), and lambda is the smallest multiplier found whose choices fit B.
struct BudgetGridPoint {
    /// The multiplier: 0 when the choices at 0 fit B; otherwise the feasible end of a bracket
    /// around the LP's dual solution, within a few ulps of it; twice the steepest first slope
    /// of any populated cluster when B is infeasible (every cluster on its cheapest arm).
    double lambda = 0.0;
    /// The Lagrangian dual at lambda, sum_k n_k max_j (value_kj - lambda cost_kj) + lambda B:
    /// an upper bound on the LP relaxation for any lambda >= 0, equal to it at the exact
    /// multiplier. For an infeasible B, the cheapest policy's value (as the cluster solver).
    double bound = 0.0;
    /// sum_k n_k value and sum_k n_k cost of the choices at lambda (cost <= B up to rounding
    /// when feasible).
    double value = 0.0;
    double cost = 0.0;
    /// False when B lies below the cost of every cluster's cheapest arm.
    bool feasible = true;
};

// AUCC of one ranking on the rows of control (arm 0) and one treated arm; core/aucc.h holds
// the definition (equal scores enter together, Q + 1 equal cost steps).
struct RankingAucc {
    double aucc = 0.0;
    double total_cost = 0.0;   ///< whole-set incremental cost
    double total_value = 0.0;  ///< whole-set incremental value
    int64_t treated_rows = 0;
    int64_t control_rows = 0;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    /// True when calls from several threads, each on its own buffers, run at the same time;
    /// false where the backend serialises its calls (CUDA), so callers go in turn there.
    virtual bool concurrent_calls() const { return false; }

    /// C (m x n) = alpha * op(A) * op(B) + beta * C; op(A) is m x k, op(B) is k x n.
    virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                      float* c, int64_t ldc) = 0;

    /// y[r, c] += bias[c], then max(0, .) when relu is set; y is rows x cols.
    virtual void add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols,
                                     bool relu) = 0;

    /// grad[i] = 0 where the ReLU output y[i] was not positive.
    virtual void relu_backward(const float* y, float* grad, int64_t count) = 0;

    /// out[c] = sum over rows of a[r, c] (bias gradients).
    virtual void column_sums(const float* a, int64_t rows, int64_t cols, float* out) = 0;

    /// One Adam update of count parameters with first/second moments m and v.
    virtual void adam_update(float* param, float* m, float* v, const float* grad, int64_t count,
                             const AdamStep& step) = 0;

    /// labels[i] = argmin_k ||x_i - c_k||^2 (lowest k on ties); distance2[i] the minimum.
    virtual void assign_nearest(const float* x, int64_t n, int d, const float* centroids, int k,
                                int32_t* labels, float* distance2) = 0;

    /// sums[k * d + j] += x[i, j] and counts[k] += 1 for every i with labels[i] == k.
    virtual void accumulate_centroids(const float* x, int64_t n, int d, const int32_t* labels,
                                      int k, double* sums, int64_t* counts) = 0;

    /// choice[i] = argmax_j value[i, j] - lambda * cost[i, j] (lowest j on ties); value and cost
    /// are n x m. Returns the summed value and cost of the choices. choice may be null.
    virtual DualPassResult dual_pass(const float* value, const float* cost, int64_t n, int m,
                                     double lambda, int32_t* choice) = 0;

    /// The Lagrangian pass of every budget: value, cost are K x M per-capita estimates,
    /// population K cluster sizes n_k, budgets count values of B; out receives count points.
    /// InputError for non-finite entries, negative costs, populations or budgets, K or M < 1.
    virtual void budget_grid(const double* value, const double* cost, const double* population,
                             int k, int m, const double* budgets, int count,
                             const BudgetGridSearch& search, BudgetGridPoint* out) = 0;

    /// AUCC (core/aucc.h) of score over n rows with logged arm, observed value and cost; rows
    /// of arms other than 0 and treated_arm are left out. curve_value, when not null, receives
    /// the points + 1 sampled curve values (raw units). Throws InputError as core/aucc does.
    virtual RankingAucc ranking_aucc(const double* score, const int32_t* arm, const float* value,
                                     const float* cost, int64_t n, int treated_arm, int points,
                                     double* curve_value) = 0;
};

/// "cpu" always works; "cuda" needs a build with CUDA and a visible device. Anything else, or
/// cuda where it is unavailable, throws ConfigError naming the value.
std::unique_ptr<Backend> make_backend(const std::string& device);

/// True when this build contains the CUDA backend.
bool cuda_backend_built();

/// The process-wide CPU reference backend.
Backend& cpu_backend();

}  // namespace ca
