// A causal forest for one binary comparison (treated vs control) and one outcome, after Wager &
// Athey (2018): trees on subsamples, honest leaves (one half of each subsample picks the
// splits, the other half fills the leaves), splits chosen to separate treatment effects.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/communicator.h"
#include "core/config.h"

namespace ca {

struct CausalForestParams {
    /// Trees grown; the prediction averages them.
    int trees = 100;
    /// Share of each arm's rows drawn (without replacement) for one tree, in (0, 1].
    double subsample = 0.5;
    /// Cap on the rows one tree draws (both arms together, split by arm share); 0 = no cap.
    int64_t max_tree_rows = 0;
    /// Fewest rows a leaf holds, counted in each half that the tree uses.
    int min_leaf = 20;
    /// Fewest treated and fewest control rows a leaf holds, in each half.
    int min_leaf_per_arm = 5;
    /// Deepest split level; 0 keeps every tree a single leaf.
    int max_depth = 12;
    /// Features tried per split; 0 = ceil(sqrt(D)), or all D when D <= 4.
    int mtry = 0;
    /// Candidate thresholds per tried feature, at evenly spaced quantiles of the node's rows.
    int split_candidates = 32;
    /// Honest trees: splits from one half of the subsample, leaf estimates from the other.
    bool honest = true;
    /// Seed of the subsamples, halves and feature draws; tree t uses a stream of (seed, t).
    uint64_t seed = 0;

    /// Reads an object with the keys above; unknown keys and out-of-range values are
    /// ConfigErrors naming the key.
    static CausalForestParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
    /// ConfigError naming the field when a value is out of range (for params built in code).
    void check() const;
    /// The mtry actually used for D features.
    int features_per_split(int d) const;
};

/// One node of a tree; a leaf when feature < 0. Rows with x[feature] <= threshold go left.
struct CausalTreeNode {
    int32_t feature = -1;
    float threshold = 0.0f;
    int32_t left = -1;
    int32_t right = -1;
    /// Leaf estimates from the rows that fill the leaves: mean treated y - mean control y.
    double effect = 0.0;
    /// Mean control y of the leaf (with effect, rebuilds the treated arm's mean).
    double control_mean = 0.0;
    /// Treated and control rows behind the estimates.
    int32_t treated_rows = 0;
    int32_t control_rows = 0;
};

struct CausalTree {
    /// Node 0 is the root.
    std::vector<CausalTreeNode> nodes;
    /// The leaf reached by a row of D features.
    const CausalTreeNode& leaf_of(const float* row) const;
};

/// The rows one tree learns from, as indices into the forest's training rows. Each arm is
/// subsampled on its own and then halved, so every tree and half keeps the arm shares.
struct TreeSample {
    /// Rows whose outcomes choose the splits.
    std::vector<int64_t> splitting;
    /// Rows whose outcomes fill the leaves; the same rows as splitting when not honest.
    std::vector<int64_t> estimation;
};

/// Tree t's sample of n rows with treatment flags treated (1 treated, 0 control). It depends
/// on the flags, the params and t only, never on outcomes or features.
TreeSample draw_tree_sample(const uint8_t* treated, int64_t n, const CausalForestParams& params,
                            int tree);

/// Per-row forest predictions, averaged over trees.
struct ForestPrediction {
    std::vector<double> effect;        ///< N estimated treatment effects
    std::vector<double> control_mean;  ///< N estimated control outcomes
};

class CausalForest {
  public:
    explicit CausalForest(CausalForestParams params);

    /// Grows the forest on n rows of d features (row-major x), treatment flags and outcomes.
    /// Deterministic for the seed whatever the thread and rank count: with several ranks each
    /// grows the trees t = rank mod ranks and every rank receives every tree. InputError for
    /// non-finite features or outcomes, flags other than 0/1, or an arm too small to fill both
    /// halves.
    void fit(const float* x, int64_t n, int d, const uint8_t* treated, const float* y,
             Communicator& comm = local_communicator());

    /// Predictions for n rows of the fitted width d; with several ranks each predicts a run of
    /// rows and every rank receives all predictions (each row's are the one-process ones).
    ForestPrediction predict(const float* x, int64_t n,
                             Communicator& comm = local_communicator()) const;

    const CausalForestParams& params() const { return params_; }
    const std::vector<CausalTree>& trees() const { return trees_; }
    int features() const { return d_; }
    /// Mean rows behind a leaf's estimates, over all leaves of all trees.
    double mean_leaf_rows() const;
    /// Mean leaves per tree.
    double mean_leaves() const;

  private:
    void share_trees(Communicator& comm);

    CausalForestParams params_;
    int d_ = 0;
    std::vector<CausalTree> trees_;
};

}  // namespace ca
