// The CPU reference backend: OpenBLAS sgemm for dense products, OpenMP loops for the rest.
#pragma once

#include "kernels/backend.h"

namespace ca {

class CpuBackend final : public Backend {
public:
    std::string name() const override { return "cpu"; }
    bool concurrent_calls() const override { return true; }
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
    DualPassResult dual_pass(const float* value, const float* cost, int64_t n, int m,
                             double lambda, int32_t* choice) override;
    // In kernels/cpu/budget_grid_cpu.cpp and kernels/cpu/aucc_cpu.cpp.
    void budget_grid(const double* value, const double* cost, const double* population, int k,
                     int m, const double* budgets, int count, const BudgetGridSearch& search,
                     BudgetGridPoint* out) override;
    RankingAucc ranking_aucc(const double* score, const int32_t* arm, const float* value,
                             const float* cost, int64_t n, int treated_arm, int points,
                             double* curve_value) override;
};

}  // namespace ca
