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

        int cluster = lp.split->cluster;
        for (int arm : branch_order(*lp.split)) {
            fixed_[size_t(cluster)] = arm;
            search();
            if (limit_hit_) break;
        }
        fixed_[size_t(cluster)] = -1;
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

}  // namespace

ExactMckpResult solve_mckp_exact(const MckpInstance& instance, double budget,
                                 const std::vector<int>& incumbent, int64_t node_limit) {
    CA_ASSERT(incumbent.empty() || incumbent.size() == size_t(instance.k));
    BranchAndBound search(instance, budget, std::max<int64_t>(node_limit, 1));
    search.offer(incumbent);
    search.search();
    ExactMckpResult result = search.result();
    if (!result.proven) {
        std::ostringstream message;
        message << "exact MCKP: node limit " << node_limit << " reached at budget " << budget
                << "; the allocation is the best found, not proven optimal";
        log_warning(message.str());
    }
    return result;
}

}  // namespace ca
