// MCKP instance construction (dominance filter, upper hulls) and the greedy LP over the hull
// segments, plus the integer fix-up that spends the budget the rounded LP leaves unused.
#include "core/mckp_lp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/errors.h"

namespace ca {

double MckpInstance::budget_tolerance() const { return 1e-12 * std::max(1.0, weight_scale); }
double MckpInstance::profit_tolerance() const { return 1e-12 * std::max(1.0, profit_scale); }

namespace {

// Arms of one cluster by increasing weight; among equal weights the most profitable first,
// then the cheapest per capita (this decides clusters of population 0), then lowest index.
std::vector<int> arms_by_weight(const MckpInstance& instance, const std::vector<char>& allowed,
                                int cluster) {
    std::vector<int> order;
    for (int arm = 0; arm < instance.m; ++arm)
        if (allowed.empty() || allowed[size_t(cluster) * instance.m + arm]) order.push_back(arm);
    CA_ASSERT_MSG(!order.empty(), "cluster " << cluster << " has no arm left");
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        double wa = instance.weight_at(cluster, a), wb = instance.weight_at(cluster, b);
        if (wa != wb) return wa < wb;
        double pa = instance.profit_at(cluster, a), pb = instance.profit_at(cluster, b);
        if (pa != pb) return pa > pb;
        double ca = instance.tie_cost[size_t(cluster) * instance.m + a];
        double cb = instance.tie_cost[size_t(cluster) * instance.m + b];
        if (ca != cb) return ca < cb;
        return a < b;
    });
    return order;
}

// Pareto frontier: walking by weight, keep an arm only if it adds profit.
std::vector<int> undominated_arms(const MckpInstance& instance, int cluster,
                                  const std::vector<int>& by_weight) {
    std::vector<int> frontier;
    for (int arm : by_weight) {
        if (frontier.empty() ||
            instance.profit_at(cluster, arm) > instance.profit_at(cluster, frontier.back()))
            frontier.push_back(arm);
    }
    return frontier;
}

// Upper concave hull of the frontier. Collinear middle points stay: the LP then moves in
// smaller steps, so rounding its split down loses less.
std::vector<int> upper_hull(const MckpInstance& instance, int cluster,
                            const std::vector<int>& frontier) {
    auto w = [&](int arm) { return instance.weight_at(cluster, arm); };
    auto p = [&](int arm) { return instance.profit_at(cluster, arm); };
    std::vector<int> hull;
    for (int arm : frontier) {
        while (hull.size() >= 2) {
            int a = hull[hull.size() - 2], b = hull.back();
            // b lies under the chord a-arm when slope(a, b) < slope(b, arm).
            if ((p(b) - p(a)) * (w(arm) - w(b)) < (p(arm) - p(b)) * (w(b) - w(a))) {
                hull.pop_back();
            } else {
                break;
            }
        }
        hull.push_back(arm);
    }
    return hull;
}

void add_cluster(MckpInstance& instance, const std::vector<char>& allowed, int cluster) {
    std::vector<int> by_weight = arms_by_weight(instance, allowed, cluster);
    instance.cheapest[size_t(cluster)] = by_weight.front();
    instance.frontier[size_t(cluster)] = undominated_arms(instance, cluster, by_weight);
    std::vector<int> hull = upper_hull(instance, cluster, instance.frontier[size_t(cluster)]);
    for (size_t s = 1; s < hull.size(); ++s) {
        HullSegment segment;
        segment.cluster = cluster;
        segment.arm_low = hull[s - 1];
        segment.arm_high = hull[s];
        segment.weight_step =
            instance.weight_at(cluster, hull[s]) - instance.weight_at(cluster, hull[s - 1]);
        segment.profit_step =
            instance.profit_at(cluster, hull[s]) - instance.profit_at(cluster, hull[s - 1]);
        segment.slope = segment.profit_step / segment.weight_step;
        instance.segments.push_back(segment);
    }
}

// Cheapest arms, frontiers and the sorted hull segments over the allowed arms (all when empty).
void build_hulls(MckpInstance& instance, const std::vector<char>& allowed) {
    instance.cheapest.assign(size_t(instance.k), 0);
    instance.frontier.assign(size_t(instance.k), {});
    instance.segments.clear();
    instance.open_clusters.clear();
    for (int c = 0; c < instance.k; ++c) {
        add_cluster(instance, allowed, c);
        if (instance.frontier[size_t(c)].size() > 1) instance.open_clusters.push_back(c);
    }
    std::stable_sort(instance.segments.begin(), instance.segments.end(),
                     [](const HullSegment& a, const HullSegment& b) { return a.slope > b.slope; });
}

bool is_free(const std::vector<int>& fixed, int cluster) {
    return fixed.empty() || fixed[size_t(cluster)] < 0;
}

}  // namespace

MckpInstance make_mckp_instance(const ClusterTable& table) {
    MckpInstance instance;
    instance.k = table.k;
    instance.m = table.m;
    size_t cells = size_t(table.k) * size_t(table.m);
    instance.weight.resize(cells);
    instance.profit.resize(cells);
    instance.tie_cost = table.cost;
    for (int c = 0; c < table.k; ++c) {
        double largest_weight = 0.0, largest_profit = 0.0;
        for (int j = 0; j < table.m; ++j) {
            size_t at = table.index(c, j);
            instance.weight[at] = table.population[size_t(c)] * table.cost[at];
            instance.profit[at] = table.population[size_t(c)] * table.value[at];
            largest_weight = std::max(largest_weight, instance.weight[at]);
            largest_profit = std::max(largest_profit, std::abs(instance.profit[at]));
        }
        instance.weight_scale += largest_weight;
        instance.profit_scale += largest_profit;
    }
    build_hulls(instance, {});
    return instance;
}

MckpInstance restrict_arms(const MckpInstance& instance, const std::vector<char>& allowed) {
    CA_ASSERT(allowed.size() == instance.weight.size());
    MckpInstance restricted = instance;
    build_hulls(restricted, allowed);
    return restricted;
}

double policy_profit(const MckpInstance& instance, const std::vector<int>& arms) {
    double total = 0.0;
    for (int c = 0; c < instance.k; ++c) total += instance.profit_at(c, arms[size_t(c)]);
    return total;
}

double policy_weight(const MckpInstance& instance, const std::vector<int>& arms) {
    double total = 0.0;
    for (int c = 0; c < instance.k; ++c) total += instance.weight_at(c, arms[size_t(c)]);
    return total;
}

LpSolution solve_mckp_lp(const MckpInstance& instance, double budget,
                         const std::vector<int>& fixed) {
    CA_ASSERT(fixed.empty() || fixed.size() == size_t(instance.k));
    LpSolution lp;
    lp.arms.resize(size_t(instance.k));
    for (int c = 0; c < instance.k; ++c)
        lp.arms[size_t(c)] = is_free(fixed, c) ? instance.cheapest[size_t(c)] : fixed[size_t(c)];
    lp.value = policy_profit(instance, lp.arms);
    lp.cost = policy_weight(instance, lp.arms);
    lp.bound = lp.value;
    double tolerance = instance.budget_tolerance();
    lp.feasible = lp.cost <= budget + tolerance;

    // Take whole segments by decreasing slope while they fit; the first that does not fit is
    // split, or, when nothing is left to split, ends the LP between two slopes.
    double remaining = std::max(0.0, budget - lp.cost);
    double last_taken_slope = std::numeric_limits<double>::infinity();
    const HullSegment* stopped_at = nullptr;
    for (const HullSegment& segment : instance.segments) {
        if (!lp.feasible) break;
        if (!is_free(fixed, segment.cluster)) continue;
        CA_ASSERT(lp.arms[size_t(segment.cluster)] == segment.arm_low);
        if (segment.weight_step <= remaining + tolerance) {
            lp.arms[size_t(segment.cluster)] = segment.arm_high;
            remaining = std::max(0.0, remaining - segment.weight_step);
            last_taken_slope = segment.slope;
            continue;
        }
        stopped_at = &segment;
        break;
    }

    lp.value = policy_profit(instance, lp.arms);
    lp.cost = policy_weight(instance, lp.arms);
    lp.bound = lp.value;
    if (!lp.feasible || stopped_at == nullptr) return lp;  // lambda 0: the budget does not bind
    if (remaining > tolerance) {
        double fraction = remaining / stopped_at->weight_step;
        lp.split =
            SplitCluster{stopped_at->cluster, stopped_at->arm_low, stopped_at->arm_high, fraction};
        lp.bound += fraction * stopped_at->profit_step;
        lp.lambda = stopped_at->slope;
    } else if (std::isinf(last_taken_slope)) {
        // Nothing bought: any lambda above the first slope is optimal; take one strictly
        // inside, so the per-cluster argmax reproduces the solution without a tie.
        lp.lambda = 2.0 * stopped_at->slope;
    } else {
        lp.lambda = 0.5 * (stopped_at->slope + last_taken_slope);
    }
    return lp;
}

std::vector<int> fill_leftover_budget(const MckpInstance& instance, std::vector<int> arms,
                                      double budget, const std::vector<int>& fixed) {
    double tolerance = instance.budget_tolerance();
    double cost = policy_weight(instance, arms);
    // Every move strictly raises profit and moves a cluster up its frontier, so there are at
    // most K * M of them; the bound only guards against a broken frontier.
    for (int move = 0; move <= instance.k * instance.m; ++move) {
        int best_cluster = -1, best_arm = -1;
        double best_gain = 0.0, best_step = 0.0;
        for (int c : instance.open_clusters) {
            if (!is_free(fixed, c)) continue;
            int current = arms[size_t(c)];
            for (int arm : instance.frontier[size_t(c)]) {
                double gain = instance.profit_at(c, arm) - instance.profit_at(c, current);
                double step = instance.weight_at(c, arm) - instance.weight_at(c, current);
                if (gain > best_gain && cost + step <= budget + tolerance) {
                    best_cluster = c;
                    best_arm = arm;
                    best_gain = gain;
                    best_step = step;
                }
            }
        }
        if (best_cluster < 0) break;
        arms[size_t(best_cluster)] = best_arm;
        cost += best_step;
    }
    return arms;
}

}  // namespace ca
