// HRC fit (representation -> k-means -> estimates) and allocation over the prepared rows.
// Hidden representations are computed a block of rows at a time; k-means fits on a seeded
// sample of the training rows when there are more than kmeans.max_fit_rows.
#include "core/hrc_method.h"

#include <algorithm>
#include <random>

#include "core/errors.h"
#include "core/log.h"
#include "core/multitask_network.h"
#include "core/policy_serving.h"
#include "core/rank_gather.h"
#include "core/reference_policies.h"

namespace ca {

namespace {

// Keeps the sample's stream apart from the k-means++ stream seeded with the same value.
constexpr uint64_t kSampleStream = 0x9e3779b97f4a7c15ULL;

// Uniform in [0, bound) from the engine's raw output by rejection, so every standard library
// draws the same (std::uniform_int_distribution differs between them).
uint64_t draw_below(std::mt19937_64& rng, uint64_t bound) {
    const uint64_t reject_under = (0 - bound) % bound;  // 2^64 mod bound
    uint64_t r = rng();
    while (r < reject_under) r = rng();
    return r % bound;
}

void check_block_rows(int64_t block_rows) {
    CA_ASSERT_MSG(block_rows > 0, "block_rows must be positive, got " << block_rows);
}
}  // namespace

std::vector<int64_t> kmeans_fit_rows(int64_t n, int64_t max_rows, uint64_t seed) {
    CA_ASSERT_MSG(n >= 0 && max_rows >= 0, "n " << n << ", max_rows " << max_rows);
    std::vector<int64_t> rows;
    if (max_rows == 0 || n <= max_rows) {
        rows.resize(size_t(n));
        for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = i;
        return rows;
    }
    // Selection sampling (Knuth's algorithm S): row i is kept with probability (still
    // wanted) / (still left), which keeps exactly max_rows rows, ascending, in O(max_rows) memory.
    std::mt19937_64 rng(seed ^ kSampleStream);
    rows.reserve(size_t(max_rows));
    for (int64_t i = 0; i < n && int64_t(rows.size()) < max_rows; ++i) {
        const uint64_t wanted = uint64_t(max_rows) - rows.size();
        if (draw_below(rng, uint64_t(n - i)) < wanted) rows.push_back(i);
    }
    return rows;
}

std::vector<float> hidden_of_rows(const MultiTaskNetwork& network, const Dataset& data,
                                  const std::vector<int64_t>& rows, Backend& backend,
                                  int64_t block_rows) {
    check_block_rows(block_rows);
    const int width = network.hidden_width();
    const int64_t count = int64_t(rows.size());
    std::vector<float> z(size_t(count) * width);
    std::vector<float> x_block(size_t(std::min(count, block_rows)) * data.d);
    for (int64_t start = 0; start < count; start += block_rows) {
        const int64_t size = std::min(block_rows, count - start);
        for (int64_t r = 0; r < size; ++r) {
            const int64_t row = rows[size_t(start + r)];
            CA_ASSERT_MSG(row >= 0 && row < data.n, "row " << row << " of " << data.n);
            std::copy_n(data.row(row), data.d, x_block.data() + r * data.d);
        }
        network.hidden(x_block.data(), size, backend, z.data() + start * width);
    }
    return z;
}

std::vector<int32_t> hidden_labels(const MultiTaskNetwork& network, const Dataset& data,
                                   const float* centroids, int k, Backend& backend,
                                   int64_t block_rows, Communicator& comm) {
    check_block_rows(block_rows);
    const int width = network.hidden_width();
    // Whole blocks per rank: each block's labels are those of a one-process run.
    const RowRange own = comm.aligned_shard(data.n, block_rows);
    std::vector<int32_t> labels(size_t(own.size()));
    std::vector<float> z(size_t(std::min(own.size(), block_rows)) * width);
    std::string error;  // the first block's problem, reported by every rank
    for (int64_t start = own.begin; start < own.end && error.empty(); start += block_rows) {
        const int64_t size = std::min(block_rows, own.end - start);
        network.hidden(data.row(start), size, backend, z.data());
        try {
            std::vector<int32_t> block =
                kmeans_assign(z.data(), size, width, centroids, k, backend);
            std::copy(block.begin(), block.end(), labels.begin() + (start - own.begin));
        } catch (const InputError& failure) {
            // kmeans_assign counts rows within the block; name the block's place in the data.
            error = "hidden representation of rows " + std::to_string(start) + ".." +
                    std::to_string(start + size - 1) + " of " + data.source + ": " + failure.what();
        }
    }
    throw_first_error(comm, error);
    join_over_ranks(comm, labels);
    return labels;
}

HrcParams HrcParams::from_config(const ConfigNode& root) {
    HrcParams params;
    params.kmeans = KMeansParams::from_config(root.child("kmeans"));
    params.estimates = EstimateParams::from_config(root.child("estimates"));
    params.solver = ClusterSolverParams::from_config(root.child("solver"));
    ConfigNode hrc = root.child("hrc");
    hrc.allow_only({"deploy"});
    params.deploy = hrc.choice("deploy", params.deploy, {"integer", "lp_split"});
    return params;
}

nlohmann::json HrcParams::to_json() const {
    return {{"kmeans", kmeans.to_json()},
            {"estimates", estimates.to_json()},
            {"solver", solver.to_json()},
            {"hrc", {{"deploy", deploy}}}};
}

void HrcMethod::fit(MethodContext& context) {
    network_ = &context.shared_network();
    comm_ = context.communicator;
    const Dataset& train = context.train;
    KMeansParams kmeans = params_.kmeans;
    kmeans.seed = params_.kmeans.seed + context.seed;
    {
        // Only the fitted rows' hidden representation is ever held whole.
        std::vector<int64_t> rows = kmeans_fit_rows(train.n, kmeans.max_fit_rows, kmeans.seed);
        fit_rows_ = int64_t(rows.size());
        std::vector<float> z =
            hidden_of_rows(*network_, train, rows, context.backend, params_.block_rows);
        clustering_ = kmeans_fit(z.data(), fit_rows_, network_->hidden_width(), kmeans,
                                 context.backend, *context.communicator);
    }
    if (fit_rows_ < train.n) {
        log_info("HRC: k-means fitted on " + std::to_string(fit_rows_) + " of " +
                 std::to_string(train.n) + " training rows (kmeans.max_fit_rows)");
        clustering_.labels =
            hidden_labels(*network_, train, clustering_.centroids.data(), clustering_.k_effective,
                          context.backend, params_.block_rows, *comm_);
    }

    // Estimates come from the RCT training rows; prepare() swaps in the population to allocate.
    std::vector<double> train_population(clustering_.k_effective, 0.0);
    for (int32_t label : clustering_.labels) train_population[label] += 1.0;
    table_ = estimate_clusters(train, clustering_.labels.data(), clustering_.k_effective,
                               train_population, params_.estimates, *context.communicator);
}

void HrcMethod::prepare(const Dataset& rows, Backend& backend) {
    CA_ASSERT_MSG(network_ != nullptr, "prepare() before fit()");
    labels_ = hidden_labels(*network_, rows, clustering_.centroids.data(), clustering_.k_effective,
                            backend, params_.block_rows, *comm_);
    std::fill(table_.population.begin(), table_.population.end(), 0.0);
    for (int32_t label : labels_) table_.population[label] += 1.0;
    user_ids_ = rows.user_id;
    if (user_ids_.empty()) {
        user_ids_.resize(rows.n);
        for (int64_t i = 0; i < rows.n; ++i) user_ids_[i] = i;
    }
    max_cost_ = costliest_policy_cost(table_);
}

KnobRange HrcMethod::knob_range() const { return {0.0, max_cost_, KnobDirection::kCostIncreases}; }

ClusterAllocation HrcMethod::allocate(double budget) const {
    return solve_cluster_allocation(table_, std::max(budget, 0.0), params_.solver);
}

void HrcMethod::choose(double knob, std::vector<int32_t>& choice) const {
    // The same lookup serving uses, so an offline evaluation and `assign` agree user by user.
    ServedAllocation served = served_from(allocate(knob), params_.deploy == "lp_split");
    choice.resize(labels_.size());
    for (size_t i = 0; i < labels_.size(); ++i)
        choice[i] = arm_for_user(served, labels_[i], user_ids_[i]);
}

std::vector<double> HrcMethod::treatment_scores() const {
    if (table_.m != 2) return {};
    // Every user of a cluster shares its estimated return on cost: ties are whole clusters.
    std::vector<double> cluster_score(table_.k);
    for (int k = 0; k < table_.k; ++k) {
        double extra_value = table_.value[table_.index(k, 1)] - table_.value[table_.index(k, 0)];
        double extra_cost = table_.cost[table_.index(k, 1)] - table_.cost[table_.index(k, 0)];
        cluster_score[k] = extra_cost > 1e-12 ? extra_value / extra_cost : extra_value * 1e12;
    }
    std::vector<double> scores(labels_.size());
    for (size_t i = 0; i < labels_.size(); ++i) scores[i] = cluster_score[labels_[i]];
    return scores;
}

nlohmann::json HrcMethod::diagnostics() const {
    int64_t filled = 0, thin = 0;
    for (int k = 0; k < table_.k; ++k) {
        for (int j = 0; j < table_.m; ++j) {
            filled += table_.filled[table_.index(k, j)] ? 1 : 0;
            thin += table_.count[table_.index(k, j)] < kThinCellRows ? 1 : 0;
        }
    }
    BudgetGrid grid = make_budget_grid(params_.solver.budgets, table_);
    std::vector<ClusterAllocation> solved = solve_budget_grid(table_, grid.budgets, params_.solver);
    nlohmann::json gaps = nlohmann::json::array();
    for (const auto& allocation : solved) {
        gaps.push_back({{"budget", allocation.budget},
                        {"value", allocation.value},
                        {"lp_bound", allocation.lp_bound},
                        {"duality_gap", allocation.duality_gap},
                        {"lambda", allocation.lambda},
                        {"exact", allocation.exact}});
    }
    return {{"k_requested", params_.kmeans.k},
            {"k_effective", clustering_.k_effective},
            {"kmeans_fit_rows", fit_rows_},
            {"kmeans_iterations", clustering_.iterations},
            {"kmeans_inertia", clustering_.inertia},
            {"kmeans_reseeded", clustering_.reseeded},
            {"cells_filled_from_arm_mean", filled},
            {"cells_under_" + std::to_string(kThinCellRows) + "_rows", thin},
            {"budget_grid", gaps}};
}

}  // namespace ca
