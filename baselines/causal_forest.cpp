// Causal forest: per-tree stratified subsamples, honest halves, splits that maximise the
// difference of the children's treatment effects; trees shared by ranks and OpenMP threads.
#include "baselines/causal_forest.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "core/errors.h"
#include "core/rank_gather.h"

namespace ca {

CausalForestParams CausalForestParams::from_config(const ConfigNode& node) {
    node.allow_only({"trees", "subsample", "max_tree_rows", "min_leaf", "min_leaf_per_arm",
                     "max_depth", "mtry", "split_candidates", "honest", "seed"});
    constexpr long kLongMax = std::numeric_limits<long>::max();
    CausalForestParams params;
    params.trees = int(node.integer_in("trees", params.trees, 1, 100000));
    params.subsample = node.number_in("subsample", params.subsample, 1e-6, 1.0);
    params.max_tree_rows =
        node.integer_in("max_tree_rows", long(params.max_tree_rows), 0, kLongMax);
    params.min_leaf = int(node.integer_in("min_leaf", params.min_leaf, 1, 1 << 30));
    params.min_leaf_per_arm =
        int(node.integer_in("min_leaf_per_arm", params.min_leaf_per_arm, 1, 1 << 30));
    params.max_depth = int(node.integer_in("max_depth", params.max_depth, 0, 64));
    params.mtry = int(node.integer_in("mtry", params.mtry, 0, 1 << 20));
    params.split_candidates =
        int(node.integer_in("split_candidates", params.split_candidates, 1, 1 << 20));
    params.honest = node.boolean("honest", params.honest);
    params.seed = uint64_t(node.integer_in("seed", long(params.seed), 0, kLongMax));
    return params;
}

nlohmann::json CausalForestParams::to_json() const {
    return {{"trees", trees},
            {"subsample", subsample},
            {"max_tree_rows", max_tree_rows},
            {"min_leaf", min_leaf},
            {"min_leaf_per_arm", min_leaf_per_arm},
            {"max_depth", max_depth},
            {"mtry", mtry},
            {"split_candidates", split_candidates},
            {"honest", honest},
            {"seed", seed}};
}

void CausalForestParams::check() const {
    auto require = [](bool ok, const char* field, double value, const char* expected) {
        if (!ok)
            CA_THROW(ConfigError,
                     "causal forest: " << field << " = " << value << ", expected " << expected);
    };
    require(trees >= 1, "trees", trees, ">= 1");
    require(subsample > 0.0 && subsample <= 1.0, "subsample", subsample, "a share in (0, 1]");
    require(max_tree_rows >= 0, "max_tree_rows", double(max_tree_rows), ">= 0 (0 = no cap)");
    require(min_leaf >= 1, "min_leaf", min_leaf, ">= 1");
    require(min_leaf_per_arm >= 1, "min_leaf_per_arm", min_leaf_per_arm, ">= 1");
    require(max_depth >= 0 && max_depth <= 64, "max_depth", max_depth, "0 .. 64");
    require(mtry >= 0, "mtry", mtry, ">= 0 (0 = automatic)");
    require(split_candidates >= 1, "split_candidates", split_candidates, ">= 1");
}

int CausalForestParams::features_per_split(int d) const {
    // A larger mtry than D is read as "all features", so one config serves every data set.
    if (mtry > 0) return std::min(mtry, d);
    if (d <= 4) return d;
    return std::min(d, int(std::ceil(std::sqrt(double(d)))));
}

const CausalTreeNode& CausalTree::leaf_of(const float* row) const {
    const CausalTreeNode* node = &nodes[0];
    while (node->feature >= 0)
        node = &nodes[row[node->feature] <= node->threshold ? node->left : node->right];
    return *node;
}

namespace {

// One independent stream per (seed, tree, purpose), so a tree does not depend on which
// thread grows it or on the trees grown before it.
std::mt19937_64 tree_rng(uint64_t seed, int tree, uint64_t purpose) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + uint64_t(tree) * 0xD1B54A32D192ED03ull +
                 purpose * 0x8CB92BA72F3D8DD7ull + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return std::mt19937_64(z ^ (z >> 31));
}

constexpr uint64_t kSampleStream = 1;
constexpr uint64_t kFeatureStream = 2;

// Rows of each arm in index order: arm_rows[0] control, arm_rows[1] treated.
struct ArmRows {
    std::vector<int64_t> rows[2];
};

ArmRows rows_by_arm(const uint8_t* treated, int64_t n) {
    ArmRows arms;
    for (int64_t i = 0; i < n; ++i) arms.rows[treated[i] ? 1 : 0].push_back(i);
    return arms;
}

// Rows one tree draws from one arm: its subsample share, scaled down under the row cap.
int64_t arm_draw_size(int64_t arm_rows, int64_t total_rows, const CausalForestParams& params) {
    double share = params.subsample;
    if (params.max_tree_rows > 0)
        share = std::min(share, double(params.max_tree_rows) / double(total_rows));
    return std::min(arm_rows, int64_t(std::floor(share * double(arm_rows))));
}

void check_arm_sizes(const ArmRows& arms, const CausalForestParams& params) {
    int64_t total = int64_t(arms.rows[0].size() + arms.rows[1].size());
    int64_t needed = params.honest ? 2 : 1;
    for (int arm = 0; arm < 2; ++arm) {
        int64_t drawn = arm_draw_size(int64_t(arms.rows[arm].size()), total, params);
        if (drawn < needed)
            CA_THROW(InputError, "causal forest: the " << (arm ? "treated" : "control")
                                                       << " group has " << arms.rows[arm].size()
                                                       << " rows, of which a tree draws " << drawn
                                                       << "; at least " << needed
                                                       << " are needed (each half of an honest "
                                                          "tree needs one); raise subsample or "
                                                          "add rows");
    }
}

TreeSample sample_tree(const ArmRows& arms, const CausalForestParams& params, int tree) {
    std::mt19937_64 rng = tree_rng(params.seed, tree, kSampleStream);
    int64_t total = int64_t(arms.rows[0].size() + arms.rows[1].size());
    TreeSample sample;
    for (int arm = 0; arm < 2; ++arm) {
        // A partial Fisher-Yates shuffle: the first `drawn` rows are a uniform draw without
        // replacement, already in random order, so halving them is a random split too.
        std::vector<int64_t> pool = arms.rows[arm];
        int64_t size = int64_t(pool.size());
        int64_t drawn = arm_draw_size(size, total, params);
        for (int64_t k = 0; k < drawn; ++k)
            std::swap(pool[size_t(k)], pool[size_t(k + int64_t(rng() % uint64_t(size - k)))]);
        int64_t splitting = params.honest ? drawn / 2 : drawn;
        sample.splitting.insert(sample.splitting.end(), pool.begin(), pool.begin() + splitting);
        int64_t first_estimation = params.honest ? splitting : 0;
        sample.estimation.insert(sample.estimation.end(), pool.begin() + first_estimation,
                                 pool.begin() + drawn);
    }
    std::sort(sample.splitting.begin(), sample.splitting.end());
    std::sort(sample.estimation.begin(), sample.estimation.end());
    return sample;
}

// The training rows in column-major order: a split search reads one feature of many rows.
struct TrainingData {
    int64_t n = 0;
    int d = 0;
    std::vector<float> columns;  ///< D x N
    const uint8_t* treated = nullptr;
    const float* y = nullptr;

    float feature(int f, int64_t row) const { return columns[size_t(f) * size_t(n) + row]; }
};

// Count and outcome sum per arm (index 0 control, 1 treated).
struct ArmSums {
    double count[2] = {0.0, 0.0};
    double sum[2] = {0.0, 0.0};

    void add(bool treated, double y) {
        count[treated] += 1.0;
        sum[treated] += y;
    }
    double rows() const { return count[0] + count[1]; }
    double effect() const { return sum[1] / count[1] - sum[0] / count[0]; }
    ArmSums minus(const ArmSums& part) const {
        ArmSums rest;
        for (int arm = 0; arm < 2; ++arm) {
            rest.count[arm] = count[arm] - part.count[arm];
            rest.sum[arm] = sum[arm] - part.sum[arm];
        }
        return rest;
    }
};

struct SplitChoice {
    bool found = false;
    int feature = -1;
    float threshold = 0.0f;
    double gain = 0.0;
};

// One row of a node, sorted by the feature under test.
struct SortedRow {
    float x;
    bool treated;
    float y;
};

// Grows one tree over the rows of its sample. Index ranges [begin, end) of splitting_ and
// estimation_ are a node's rows; children partition their parent's ranges in place.
class TreeGrower {
  public:
    TreeGrower(const TrainingData& data, const CausalForestParams& params, int tree,
               TreeSample sample)
        : data_(data),
          params_(params),
          rng_(tree_rng(params.seed, tree, kFeatureStream)),
          splitting_(std::move(sample.splitting)) {
        // Without honesty the leaves are filled from the splitting rows themselves.
        if (params.honest) estimation_ = std::move(sample.estimation);
        for (int f = 0; f < data.d; ++f) feature_order_.push_back(f);
    }

    CausalTree grow() {
        int64_t estimation_rows = int64_t((params_.honest ? estimation_ : splitting_).size());
        grow_node(0, 0, int64_t(splitting_.size()), 0, estimation_rows);
        return std::move(tree_);
    }

  private:
    int32_t grow_node(int depth, int64_t s_begin, int64_t s_end, int64_t e_begin, int64_t e_end);
    SplitChoice best_split(int64_t s_begin, int64_t s_end, int64_t e_begin, int64_t e_end);
    void search_feature(int f, int64_t s_begin, int64_t s_end, int64_t e_begin, int64_t e_end,
                        SplitChoice& best);
    /// Fills sorted_ with the node's splitting rows by feature f; returns their sums.
    ArmSums sort_splitting_rows(int f, int64_t s_begin, int64_t s_end);
    /// Fills estimation_x_ with feature f of the node's estimation rows, per arm, sorted.
    void sort_estimation_values(int f, int64_t e_begin, int64_t e_end);
    bool estimation_children_allowed(float threshold) const;
    bool allowed(const ArmSums& left, const ArmSums& right) const;
    void fill_leaf(int32_t id, int64_t e_begin, int64_t e_end);
    int64_t partition(std::vector<int64_t>& rows, int64_t begin, int64_t end, int f, float t);

    const TrainingData& data_;
    const CausalForestParams& params_;
    std::mt19937_64 rng_;
    std::vector<int64_t> splitting_;
    std::vector<int64_t> estimation_;
    std::vector<int> feature_order_;
    std::vector<SortedRow> sorted_;
    std::vector<float> estimation_x_[2];
    CausalTree tree_;
};

int32_t TreeGrower::grow_node(int depth, int64_t s_begin, int64_t s_end, int64_t e_begin,
                              int64_t e_end) {
    int32_t id = int32_t(tree_.nodes.size());
    tree_.nodes.emplace_back();
    SplitChoice split;
    if (depth < params_.max_depth) split = best_split(s_begin, s_end, e_begin, e_end);
    if (!split.found) {
        fill_leaf(id, e_begin, e_end);
        return id;
    }

    int64_t s_mid = partition(splitting_, s_begin, s_end, split.feature, split.threshold);
    // Without honesty the estimation range is the splitting range (see fill_leaf).
    int64_t e_mid = params_.honest
                        ? partition(estimation_, e_begin, e_end, split.feature, split.threshold)
                        : s_mid;
    int32_t left = grow_node(depth + 1, s_begin, s_mid, e_begin, e_mid);
    int32_t right = grow_node(depth + 1, s_mid, s_end, e_mid, e_end);
    CausalTreeNode& node = tree_.nodes[size_t(id)];
    node.feature = split.feature;
    node.threshold = split.threshold;
    node.left = left;
    node.right = right;
    return id;
}

int64_t TreeGrower::partition(std::vector<int64_t>& rows, int64_t begin, int64_t end, int f,
                              float t) {
    auto middle = std::stable_partition(rows.begin() + begin, rows.begin() + end,
                                        [&](int64_t row) { return data_.feature(f, row) <= t; });
    return int64_t(middle - rows.begin());
}

SplitChoice TreeGrower::best_split(int64_t s_begin, int64_t s_end, int64_t e_begin, int64_t e_end) {
    SplitChoice best;
    // Both children need min_leaf rows in each half the tree uses.
    int64_t smallest = std::min(s_end - s_begin, e_end - e_begin);
    if (smallest < 2 * int64_t(params_.min_leaf)) return best;

    // A fresh random subset of mtry features per node (partial Fisher-Yates).
    int tried = params_.features_per_split(data_.d);
    for (int k = 0; k < tried; ++k) {
        int pick = k + int(rng_() % uint64_t(data_.d - k));
        std::swap(feature_order_[size_t(k)], feature_order_[size_t(pick)]);
        search_feature(feature_order_[size_t(k)], s_begin, s_end, e_begin, e_end, best);
    }
    return best;
}

bool TreeGrower::allowed(const ArmSums& left, const ArmSums& right) const {
    double per_arm = params_.min_leaf_per_arm;
    return left.rows() >= params_.min_leaf && right.rows() >= params_.min_leaf &&
           std::min(left.count[0], left.count[1]) >= per_arm &&
           std::min(right.count[0], right.count[1]) >= per_arm;
}

ArmSums TreeGrower::sort_splitting_rows(int f, int64_t s_begin, int64_t s_end) {
    sorted_.clear();
    ArmSums total;
    for (int64_t k = s_begin; k < s_end; ++k) {
        int64_t row = splitting_[size_t(k)];
        bool treated = data_.treated[row] != 0;
        sorted_.push_back({data_.feature(f, row), treated, data_.y[row]});
        total.add(treated, data_.y[row]);
    }
    std::sort(sorted_.begin(), sorted_.end(),
              [](const SortedRow& a, const SortedRow& b) { return a.x < b.x; });
    return total;
}

void TreeGrower::sort_estimation_values(int f, int64_t e_begin, int64_t e_end) {
    for (auto& values : estimation_x_) values.clear();
    for (int64_t k = e_begin; k < e_end; ++k) {
        int64_t row = estimation_[size_t(k)];
        estimation_x_[data_.treated[row] ? 1 : 0].push_back(data_.feature(f, row));
    }
    for (auto& values : estimation_x_) std::sort(values.begin(), values.end());
}

// The estimation half's features and arms only (never its outcomes) decide whether its
// children would be large enough, so honest leaves are never thin or empty.
bool TreeGrower::estimation_children_allowed(float threshold) const {
    ArmSums left, right;
    for (int arm = 0; arm < 2; ++arm) {
        const auto& values = estimation_x_[arm];
        auto at_or_below = std::upper_bound(values.begin(), values.end(), threshold);
        left.count[arm] = double(at_or_below - values.begin());
        right.count[arm] = double(values.end() - at_or_below);
    }
    return allowed(left, right);
}

// The gain in sum_children n tau^2 over the parent's n tau^2, Athey & Imbens' (2016) adaptive
// causal-tree criterion, which for two children is n_L n_R / n (tau_L - tau_R)^2.
double split_gain(const ArmSums& left, const ArmSums& right) {
    double rows_left = left.rows(), rows_right = right.rows();
    double difference = left.effect() - right.effect();
    return rows_left * rows_right / (rows_left + rows_right) * difference * difference;
}

void TreeGrower::search_feature(int f, int64_t s_begin, int64_t s_end, int64_t e_begin,
                                int64_t e_end, SplitChoice& best) {
    ArmSums total = sort_splitting_rows(f, s_begin, s_end);
    if (params_.honest) sort_estimation_values(f, e_begin, e_end);

    int64_t n = int64_t(sorted_.size());
    int64_t candidates = params_.split_candidates;
    ArmSums left;
    int64_t taken = 0;
    for (int64_t q = 1; q <= candidates; ++q) {
        // Candidate q sits at the q-th of evenly spaced quantiles, moved past ties so that
        // equal values never fall on both sides.
        int64_t position = std::max<int64_t>(1, q * n / (candidates + 1));
        while (position < n && sorted_[size_t(position)].x == sorted_[size_t(position - 1)].x)
            ++position;
        if (position >= n || position <= taken) continue;
        for (; taken < position; ++taken)
            left.add(sorted_[size_t(taken)].treated, sorted_[size_t(taken)].y);

        float below = sorted_[size_t(position - 1)].x;
        float above = sorted_[size_t(position)].x;
        float threshold = below + (above - below) * 0.5f;
        if (!(threshold < above)) threshold = below;
        ArmSums right = total.minus(left);
        if (!allowed(left, right)) continue;
        if (params_.honest && !estimation_children_allowed(threshold)) continue;
        double gain = split_gain(left, right);
        if (gain > best.gain) best = {true, f, threshold, gain};
    }
}

void TreeGrower::fill_leaf(int32_t id, int64_t e_begin, int64_t e_end) {
    const std::vector<int64_t>& rows = params_.honest ? estimation_ : splitting_;
    ArmSums sums;
    for (int64_t k = e_begin; k < e_end; ++k) {
        int64_t row = rows[size_t(k)];
        sums.add(data_.treated[row] != 0, data_.y[row]);
    }
    CA_ASSERT_MSG(sums.count[0] > 0 && sums.count[1] > 0,
                  "leaf without " << (sums.count[0] > 0 ? "treated" : "control") << " rows");
    CausalTreeNode& node = tree_.nodes[size_t(id)];
    node.effect = sums.effect();
    node.control_mean = sums.sum[0] / sums.count[0];
    node.control_rows = int32_t(sums.count[0]);
    node.treated_rows = int32_t(sums.count[1]);
}

void check_training_input(const float* x, int64_t n, int d, const uint8_t* treated,
                          const float* y) {
    if (n <= 0 || d <= 0)
        CA_THROW(InputError, "causal forest: needs rows and features, got " << n << " rows of " << d
                                                                            << " features");
    for (int64_t i = 0; i < n; ++i) {
        if (treated[i] > 1)
            CA_THROW(InputError, "causal forest: row " << i << " has treatment flag "
                                                       << int(treated[i]) << ", expected 0 or 1");
        if (!std::isfinite(y[i]))
            CA_THROW(InputError, "causal forest: row " << i << " has outcome " << y[i]
                                                       << ", expected a finite number");
        for (int f = 0; f < d; ++f) {
            if (!std::isfinite(x[i * d + f]))
                CA_THROW(InputError, "causal forest: row " << i << ", feature " << f << " is "
                                                           << x[i * d + f]
                                                           << ", expected a finite number");
        }
    }
}

}  // namespace

TreeSample draw_tree_sample(const uint8_t* treated, int64_t n, const CausalForestParams& params,
                            int tree) {
    params.check();
    ArmRows arms = rows_by_arm(treated, n);
    check_arm_sizes(arms, params);
    return sample_tree(arms, params, tree);
}

CausalForest::CausalForest(CausalForestParams params) : params_(params) { params_.check(); }

void CausalForest::fit(const float* x, int64_t n, int d, const uint8_t* treated, const float* y,
                       Communicator& comm) {
    check_training_input(x, n, d, treated, y);
    ArmRows arms = rows_by_arm(treated, n);
    check_arm_sizes(arms, params_);

    TrainingData data;
    data.n = n;
    data.d = d;
    data.treated = treated;
    data.y = y;
    data.columns.resize(size_t(n) * size_t(d));
    for (int64_t i = 0; i < n; ++i)
        for (int f = 0; f < d; ++f) data.columns[size_t(f) * size_t(n) + i] = x[i * d + f];

    d_ = d;
    trees_.assign(size_t(params_.trees), CausalTree{});
    // Each tree depends only on (seed, tree index), so neither the schedule nor the rank that
    // grows it can change the forest.
    const int ranks = comm.size(), rank = comm.rank();
    const int own_trees = (params_.trees - rank + ranks - 1) / ranks;
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < own_trees; ++k) {
        const int t = rank + k * ranks;
        TreeGrower grower(data, params_, t, sample_tree(arms, params_, t));
        trees_[size_t(t)] = grower.grow();
    }
    if (ranks > 1) share_trees(comm);
}

// Tree t from rank t mod ranks to every rank, its nodes as raw bytes (the same binary on every
// rank).
void CausalForest::share_trees(Communicator& comm) {
    for (int t = 0; t < params_.trees; ++t)
        broadcast_vector(comm, t % comm.size(), trees_[size_t(t)].nodes);
}

ForestPrediction CausalForest::predict(const float* x, int64_t n, Communicator& comm) const {
    CA_ASSERT_MSG(!trees_.empty(), "predict() before fit()");
    // Per row: (effect, control mean), each the mean over the trees in tree order.
    const std::vector<double> both =
        rows_over_ranks<double>(n, 1, 2, comm, [&](int64_t first, int64_t count, double* out) {
            const double scale = 1.0 / double(trees_.size());
#pragma omp parallel for schedule(static)
            for (int64_t i = first; i < first + count; ++i) {
                double effect = 0.0, control = 0.0;
                for (const CausalTree& tree : trees_) {
                    const CausalTreeNode& leaf = tree.leaf_of(x + i * d_);
                    effect += leaf.effect;
                    control += leaf.control_mean;
                }
                out[2 * (i - first)] = effect * scale;
                out[2 * (i - first) + 1] = control * scale;
            }
        });
    ForestPrediction prediction;
    prediction.effect.resize(size_t(n));
    prediction.control_mean.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
        prediction.effect[size_t(i)] = both[size_t(2 * i)];
        prediction.control_mean[size_t(i)] = both[size_t(2 * i + 1)];
    }
    return prediction;
}

double CausalForest::mean_leaf_rows() const {
    double rows = 0.0, leaves = 0.0;
    for (const CausalTree& tree : trees_) {
        for (const CausalTreeNode& node : tree.nodes) {
            if (node.feature >= 0) continue;
            rows += node.treated_rows + node.control_rows;
            leaves += 1.0;
        }
    }
    return leaves > 0.0 ? rows / leaves : 0.0;
}

double CausalForest::mean_leaves() const {
    if (trees_.empty()) return 0.0;
    double leaves = 0.0;
    for (const CausalTree& tree : trees_)
        for (const CausalTreeNode& node : tree.nodes) leaves += node.feature < 0 ? 1.0 : 0.0;
    return leaves / double(trees_.size());
}

}  // namespace ca
