// Branch and bound for the MCKP: a node pins some clusters' arms; its LP over the free
// clusters is an upper bound, an integral LP solves the node, and otherwise the split
// cluster is branched on, over its undominated arms, the LP's two arms first.
#include "core/exact_mckp.h"

#include <algorithm>
#include <limits>
#include <sstream>

#include "core/errors.h"
#include "core/log.h"

namespace ca {

namespace {

class BranchAndBound {
  public:
    BranchAndBound(const MckpInstance& instance, double budget, int64_t node_limit)
        : instance_(instance),
          budget_(budget),
          node_limit_(node_limit),
          fixed_(size_t(instance.k), -1) {}

    void offer(const std::vector<int>& arms) {
        if (arms.empty() || policy_weight(instance_, arms) > budget_ + instance_.budget_tolerance())
            return;
        double value = policy_profit(instance_, arms);
        if (best_arms_.empty() || value > best_value_) {
            best_arms_ = arms;
            best_value_ = value;
        }
    }

    void search() {
        if (limit_hit_) return;
        if (++nodes_ > node_limit_) {
            limit_hit_ = true;
            return;
        }
        LpSolution lp = solve_mckp_lp(instance_, budget_, fixed_);
        if (!lp.feasible || !improves(lp.bound)) return;
        if (!lp.split) {
            offer(lp.arms);  // an integral LP optimum solves this node
            return;
        }
        offer(fill_leftover_budget(instance_, lp.arms, budget_, fixed_));
        if (!improves(lp.bound)) return;

        // Clusters left with one promising arm are pinned to it, and the node is solved again
        // with the tighter LP; otherwise branch on the split cluster's promising arms.
        std::vector<int> saved = fixed_;
        std::vector<char> promising = promising_arms(lp.lambda);
        if (pin_single_arms(promising)) {
            search();
        } else {
            int cluster = lp.split->cluster;
            for (int arm : branch_order(*lp.split)) {
                if (!promising[size_t(cluster) * instance_.m + arm]) continue;
                fixed_[size_t(cluster)] = arm;
                search();
                if (limit_hit_) break;
            }
        }
        fixed_ = saved;
    }

    ExactMckpResult result() const {
        ExactMckpResult out;
        out.arms = best_arms_;
        out.value = best_arms_.empty() ? 0.0 : best_value_;
        out.cost = best_arms_.empty() ? 0.0 : policy_weight(instance_, best_arms_);
        out.proven = !limit_hit_;
        out.nodes = nodes_;
        return out;
    }

  private:
    bool improves(double bound) const {
        return best_arms_.empty() || bound > best_value_ + instance_.profit_tolerance();
    }

    // Arms of the free clusters that could still beat the incumbent: the node's Lagrangian
    // bound minus the arm's reduced-cost loss (see arms_worth_searching) must exceed it.
    std::vector<char> promising_arms(double lambda) const {
        std::vector<double> best_reduced(size_t(instance_.k), 0.0);
        double bound = lambda * budget_;
        for (int c = 0; c < instance_.k; ++c) {
            double best = -std::numeric_limits<double>::infinity();
            if (fixed_[size_t(c)] >= 0) {
                int arm = fixed_[size_t(c)];
                best = instance_.profit_at(c, arm) - lambda * instance_.weight_at(c, arm);
            } else {
                for (int arm : instance_.frontier[size_t(c)])
                    best = std::max(
                        best, instance_.profit_at(c, arm) - lambda * instance_.weight_at(c, arm));
            }
            best_reduced[size_t(c)] = best;
            bound += best;
        }
        std::vector<char> promising(instance_.weight.size(), 0);
        for (int c : instance_.open_clusters) {
            if (fixed_[size_t(c)] >= 0) continue;
            for (int arm : instance_.frontier[size_t(c)]) {
                double reduced = instance_.profit_at(c, arm) - lambda * instance_.weight_at(c, arm);
                promising[size_t(c) * instance_.m + arm] =
                    improves(bound - (best_reduced[size_t(c)] - reduced));
            }
        }
        return promising;
    }

    // Pins every free cluster with several arms but one promising arm; true if any was pinned.
    bool pin_single_arms(const std::vector<char>& promising) {
        bool pinned = false;
        for (int c : instance_.open_clusters) {
            if (fixed_[size_t(c)] >= 0) continue;
            int count = 0, last = -1;
            for (int arm : instance_.frontier[size_t(c)]) {
                if (!promising[size_t(c) * instance_.m + arm]) continue;
                ++count;
                last = arm;
            }
            if (count == 1) {
                fixed_[size_t(c)] = last;
                pinned = true;
            }
        }
        return pinned;
    }

    // The LP's high arm, its low arm, then the rest of the frontier by decreasing profit.
    std::vector<int> branch_order(const SplitCluster& split) const {
        std::vector<int> order = {split.arm_high, split.arm_low};
        std::vector<int> rest;
        for (int arm : instance_.frontier[size_t(split.cluster)])
            if (arm != split.arm_high && arm != split.arm_low) rest.push_back(arm);
        std::sort(rest.begin(), rest.end(), [&](int a, int b) {
            return instance_.profit_at(split.cluster, a) > instance_.profit_at(split.cluster, b);
        });
        order.insert(order.end(), rest.begin(), rest.end());
        return order;
    }

    const MckpInstance& instance_;
    double budget_;
    int64_t node_limit_;
    std::vector<int> fixed_;
    std::vector<int> best_arms_;
    double best_value_ = -std::numeric_limits<double>::infinity();
    int64_t nodes_ = 0;
    bool limit_hit_ = false;
};

// Lagrangian bound L(lambda) = lambda B + sum_k max_j (p_kj - lambda w_kj), valid for any
// lambda >= 0. A policy with cluster k on arm j is worth at most L - rc_kj, where rc_kj is what
// arm j loses against the cluster's best arm at that lambda. Arms whose bound cannot beat the
// incumbent are dropped before the search; usually only a few clusters keep two or more, so
// the tree spans those few (the "core" of the MCKP).
std::vector<char> arms_worth_searching(const MckpInstance& instance, double budget, double lambda,
                                       double incumbent_value) {
    std::vector<double> best_reduced(size_t(instance.k));
    double bound = lambda * budget;
    for (int c = 0; c < instance.k; ++c) {
        double best = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < instance.m; ++j)
            best = std::max(best, instance.profit_at(c, j) - lambda * instance.weight_at(c, j));
        best_reduced[size_t(c)] = best;
        bound += best;
    }
    std::vector<char> allowed(instance.weight.size(), 1);
    double threshold = incumbent_value - instance.profit_tolerance();
    for (int c = 0; c < instance.k; ++c) {
        for (int j = 0; j < instance.m; ++j) {
            double reduced = instance.profit_at(c, j) - lambda * instance.weight_at(c, j);
            if (bound - (best_reduced[size_t(c)] - reduced) < threshold)
                allowed[size_t(c) * instance.m + j] = 0;
        }
    }
    return allowed;
}

}  // namespace

ExactMckpResult solve_mckp_exact(const MckpInstance& instance, double budget,
                                 const std::vector<int>& incumbent, int64_t node_limit) {
    CA_ASSERT(incumbent.empty() || incumbent.size() == size_t(instance.k));
    LpSolution root = solve_mckp_lp(instance, budget);
    if (!root.feasible) return ExactMckpResult{{}, 0.0, 0.0, true, 1};
    std::vector<int> start = incumbent;
    std::vector<int> rounded = fill_leftover_budget(instance, root.arms, budget);
    if (start.empty() || policy_profit(instance, rounded) > policy_profit(instance, start))
        start = rounded;
    MckpInstance core = restrict_arms(
        instance,
        arms_worth_searching(instance, budget, root.lambda, policy_profit(instance, start)));

    int open_clusters = 0;
    for (const auto& arms : core.frontier) open_clusters += arms.size() > 1;
    BranchAndBound search(core, budget, std::max<int64_t>(node_limit, 1));
    search.offer(start);
    search.search();
    ExactMckpResult result = search.result();
    std::ostringstream line;
    line << "exact MCKP: budget " << budget << ", " << open_clusters << " of " << instance.k
         << " clusters keep two or more arms, " << result.nodes << " nodes";
    log_debug(line.str());
    if (!result.proven) {
        std::ostringstream message;
        message << "exact MCKP: node limit " << node_limit << " reached at budget " << budget
                << "; the allocation is the best found, not proven optimal";
        log_warning(message.str());
    }
    return result;
}

}  // namespace ca
