// k-means: k-means++ seeding on a seeded sample, Lloyd or mini-batch updates, re-seeding of
// empty clusters with the farthest rows. Distances of the hot loop come from the backend; the
// reported inertia is recomputed in double so that rows on their centroid add exactly zero.
// Under several ranks each assigns its own block of rows and the per-cluster sums are added.
#include "core/kmeans.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/errors.h"
#include "core/log.h"
#include "core/ordered_sum.h"

namespace ca {

KMeansParams KMeansParams::from_config(const ConfigNode& node) {
    node.allow_only({"k", "max_iterations", "tolerance", "seed", "seeding_sample", "mini_batch",
                     "max_fit_rows"});
    KMeansParams params;
    params.k = int(node.integer_in("k", params.k, 1, 1 << 24));
    params.max_iterations =
        int(node.integer_in("max_iterations", params.max_iterations, 1, 1000000));
    params.tolerance = node.number_in("tolerance", params.tolerance, 0.0, 1.0);
    params.seed =
        uint64_t(node.integer_in("seed", long(params.seed), 0, std::numeric_limits<long>::max()));
    params.seeding_sample = node.integer_in("seeding_sample", long(params.seeding_sample), 1,
                                            std::numeric_limits<long>::max());
    params.mini_batch =
        node.integer_in("mini_batch", long(params.mini_batch), 0, std::numeric_limits<long>::max());
    params.max_fit_rows = node.integer_in("max_fit_rows", long(params.max_fit_rows), 0,
                                          std::numeric_limits<long>::max());
    return params;
}

nlohmann::json KMeansParams::to_json() const {
    return {{"k", k},
            {"max_iterations", max_iterations},
            {"tolerance", tolerance},
            {"seed", seed},
            {"seeding_sample", seeding_sample},
            {"mini_batch", mini_batch},
            {"max_fit_rows", max_fit_rows}};
}

namespace {

// std::uniform_real_distribution differs between standard libraries; this does not.
double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

// Exact differences (not the |a|^2 - 2ab + |b|^2 expansion), so a copy of a centroid weighs
// exactly 0 in the k-means++ draw. Eight partial sums let the compiler vectorise the loop.
float squared_distance(const float* a, const float* b, int d) {
    constexpr int kLanes = 8;
    float partial[kLanes] = {};
    int j = 0;
    for (; j + kLanes <= d; j += kLanes) {
        for (int lane = 0; lane < kLanes; ++lane) {
            float diff = a[j + lane] - b[j + lane];
            partial[lane] += diff * diff;
        }
    }
    float total = 0.0f;
    for (; j < d; ++j) total += (a[j] - b[j]) * (a[j] - b[j]);
    for (float lane_sum : partial) total += lane_sum;
    return total;
}

void check_finite(const float* x, int64_t n, int d, const char* what) {
    int64_t first_bad = -1;
#pragma omp parallel for schedule(static) reduction(max : first_bad)
    for (int64_t e = 0; e < n * d; ++e) {
        // The lowest bad index is wanted; reduction(max) over negated indices finds it.
        if (!std::isfinite(x[e])) first_bad = std::max(first_bad, n * d - e);
    }
    if (first_bad < 0) return;
    int64_t e = n * d - first_bad;
    CA_THROW(InputError, "kmeans: " << what << ": row " << e / d << " (0-based), column " << e % d
                                    << " is " << x[e]
                                    << "; k-means needs finite values (the loader "
                                    << "should have rejected or imputed this cell)");
}

// Rows compared by value, so 0.0 and -0.0 are one point.
struct RowHash {
    const float* x;
    int d;
    size_t operator()(int64_t row) const {
        uint64_t hash = 1469598103934665603ull;
        for (int j = 0; j < d; ++j) {
            float value = x[row * d + j] + 0.0f;  // maps -0.0 to +0.0
            uint32_t bits;
            std::memcpy(&bits, &value, sizeof(bits));
            hash = (hash ^ bits) * 1099511628211ull;
        }
        return size_t(hash);
    }
};

struct RowEqual {
    const float* x;
    int d;
    bool operator()(int64_t a, int64_t b) const {
        for (int j = 0; j < d; ++j)
            if (x[a * d + j] != x[b * d + j]) return false;
        return true;
    }
};

// When the rows hold at most `limit` distinct points, fills one representative row per point
// (in order of first appearance) and every row's label, and returns true. Stops scanning as
// soon as limit + 1 points are seen, so ordinary data costs about K rows of hashing.
bool group_distinct_rows(const float* x, int64_t n, int d, int limit,
                         std::vector<int64_t>& representatives, std::vector<int32_t>& labels) {
    std::unordered_set<int64_t, RowHash, RowEqual> seen(16, RowHash{x, d}, RowEqual{x, d});
    for (int64_t i = 0; i < n; ++i) {
        if (seen.insert(i).second && int64_t(seen.size()) > limit) return false;
    }
    representatives.clear();
    labels.assign(size_t(n), 0);
    std::unordered_map<int64_t, int32_t> cluster_of_representative;
    for (int64_t i = 0; i < n; ++i) {
        int64_t representative = *seen.find(i);
        auto found = cluster_of_representative.find(representative);
        if (found == cluster_of_representative.end()) {
            found = cluster_of_representative.emplace(representative, representatives.size()).first;
            representatives.push_back(i);
        }
        labels[size_t(i)] = found->second;
    }
    return true;
}

// Selection sampling (Knuth's algorithm S): sorted rows, without replacement.
std::vector<int64_t> sample_rows(int64_t n, int64_t wanted, std::mt19937_64& rng) {
    std::vector<int64_t> rows;
    rows.reserve(size_t(std::min(n, wanted)));
    if (wanted >= n) {
        for (int64_t i = 0; i < n; ++i) rows.push_back(i);
        return rows;
    }
    for (int64_t i = 0; i < n && int64_t(rows.size()) < wanted; ++i) {
        if (uniform01(rng) * double(n - i) < double(wanted - int64_t(rows.size())))
            rows.push_back(i);
    }
    return rows;
}

// The rows k-means++ draws from: a sorted sample, or every row when rows is null.
struct CandidateRows {
    const int64_t* rows = nullptr;
    int64_t count = 0;
    int64_t row(int64_t r) const { return rows ? rows[r] : r; }
};

// min_distance[r] = min(min_distance[r], |x_row(r) - centroid|^2) over the candidates.
void lower_distances(const float* x, int d, CandidateRows candidates, const float* centroid,
                     std::vector<float>& min_distance) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < candidates.count; ++r) {
        float distance = squared_distance(x + candidates.row(r) * d, centroid, d);
        if (distance < min_distance[size_t(r)]) min_distance[size_t(r)] = distance;
    }
}

// One D^2 draw among the candidates; -1 when every candidate sits on a chosen centroid.
int64_t draw_proportional(const std::vector<float>& weight, std::mt19937_64& rng) {
    double total = 0.0;
    for (float w : weight) total += w;
    if (total <= 0.0) return -1;
    double target = uniform01(rng) * total;
    double running = 0.0;
    int64_t last_positive = -1;
    for (size_t r = 0; r < weight.size(); ++r) {
        if (weight[r] <= 0.0f) continue;
        running += weight[r];
        last_positive = int64_t(r);
        if (running > target) return int64_t(r);
    }
    return last_positive;  // rounding left the target at the very top
}

// k-means++ (Arthur & Vassilvitskii 2007) on a seeded sample. If the sample runs out of
// distinct points before K (the full data have more, see group_distinct_rows), the remaining
// centroids are drawn the same way from all rows.
std::vector<float> seed_kmeanspp(const float* x, int64_t n, int d, int k,
                                 const KMeansParams& params, std::mt19937_64& rng) {
    std::vector<int64_t> sample = sample_rows(n, params.seeding_sample, rng);
    CandidateRows candidates{sample.data(), int64_t(sample.size())};
    std::vector<float> centroids;
    centroids.reserve(size_t(k) * d);
    auto add_centroid = [&](int64_t row) {
        centroids.insert(centroids.end(), x + row * d, x + (row + 1) * d);
    };
    auto newest = [&]() { return centroids.data() + centroids.size() - d; };

    add_centroid(candidates.row(int64_t(rng() % uint64_t(candidates.count))));
    std::vector<float> min_distance(sample.size(), std::numeric_limits<float>::infinity());
    lower_distances(x, d, candidates, newest(), min_distance);
    while (int64_t(centroids.size()) < int64_t(k) * d) {
        int64_t pick = draw_proportional(min_distance, rng);
        if (pick >= 0) {
            add_centroid(candidates.row(pick));
            lower_distances(x, d, candidates, newest(), min_distance);
            continue;
        }
        CA_ASSERT_MSG(candidates.rows != nullptr, "k-means++ ran out of distinct points");
        candidates = CandidateRows{nullptr, n};
        min_distance.assign(size_t(n), std::numeric_limits<float>::infinity());
        for (size_t c = 0; c < centroids.size(); c += size_t(d))
            lower_distances(x, d, candidates, centroids.data() + c, min_distance);
    }
    return centroids;
}

// Working state of the Lloyd loop; labels and distance2 always belong to `centroids` except
// between an update and the next assignment. Under several ranks only the own rows' entries
// are kept; the others are stale until the labels are gathered at the end.
struct LloydState {
    std::vector<float> centroids;
    std::vector<int32_t> labels;
    std::vector<float> distance2;
    double inertia = 0.0;
    int iterations = 0;
    int reseeded = 0;
    bool converged = false;
    Communicator* comm = nullptr;  ///< sums over the ranks
    /// The parts of the rows each rank sums; fixed-order sums make any rank count give the
    /// bits of one process.
    std::optional<SumPlan> plan;
    RowRange own;  ///< the rows this rank assigns (all rows on one rank): its parts' rows
};

// sum over all rows of term(row), added part by part in the fixed order of core/ordered_sum.h.
template <typename Term>
double ordered_row_sum(const LloydState& state, const Term& term) {
    const SumPlan& plan = *state.plan;
    std::vector<double> part_sums(size_t(plan.end_part() - plan.first_part()), 0.0);
#pragma omp parallel for schedule(static)
    for (int p = plan.first_part(); p < plan.end_part(); ++p) {
        const RowRange rows = plan.part_rows(p);
        double total = 0.0;
        for (int64_t i = rows.begin; i < rows.end; ++i) total += term(i);
        part_sums[size_t(p - plan.first_part())] = total;
    }
    return ordered_total(plan, part_sums, *state.comm);
}

// Part by part, so every rank count makes the same backend calls on the same rows (a BLAS
// product's bits depend on the shape of the call).
void assign_all(const float* x, int d, int k, LloydState& state, Backend& backend) {
    const SumPlan& plan = *state.plan;
    for (int p = plan.first_part(); p < plan.end_part(); ++p) {
        const RowRange rows = plan.part_rows(p);
        if (rows.size() == 0) continue;
        backend.assign_nearest(x + rows.begin * d, rows.size(), d, state.centroids.data(), k,
                               state.labels.data() + rows.begin,
                               state.distance2.data() + rows.begin);
    }
    state.inertia =
        ordered_row_sum(state, [&](int64_t i) { return double(state.distance2[size_t(i)]); });
}

// distance2[i] = min(distance2[i], |x_i - point|^2) for the rows of range.
void lower_row_distances(const float* x, int d, RowRange range, const float* point,
                         std::vector<float>& distance2) {
#pragma omp parallel for schedule(static)
    for (int64_t i = range.begin; i < range.end; ++i) {
        float distance = squared_distance(x + i * d, point, d);
        if (distance < distance2[size_t(i)]) distance2[size_t(i)] = distance;
    }
}

// A row that re-seeds an empty cluster, and the cluster it leaves.
struct FarthestRow {
    int64_t row = -1;
    int32_t label = -1;
};

// Farthest row (largest distance2, lowest index on ties) whose cluster keeps a row without it.
// Each rank offers the best of its own rows; the largest distance wins and, on ties, the
// lowest rank, whose rows come first: the row a single process would pick.
FarthestRow farthest_movable_row(const LloydState& state, const std::vector<int64_t>& counts) {
    FarthestRow best;
    float best_distance = 0.0f;
    for (int64_t i = state.own.begin; i < state.own.end; ++i) {
        int32_t label = state.labels[size_t(i)];
        if (state.distance2[size_t(i)] > best_distance && counts[size_t(label)] > 1) {
            best_distance = state.distance2[size_t(i)];
            best = {i, label};
        }
    }
    Communicator& comm = *state.comm;
    if (comm.size() == 1) return best;
    const size_t ranks = size_t(comm.size()), me = size_t(comm.rank());
    std::vector<double> distance(ranks, 0.0);
    std::vector<int64_t> offer(2 * ranks, 0);
    distance[me] = best_distance;
    offer[2 * me] = best.row;
    offer[2 * me + 1] = best.label;
    allreduce_sum(comm, distance);
    allreduce_sum(comm, offer);
    FarthestRow winner;
    double winner_distance = 0.0;
    for (size_t r = 0; r < ranks; ++r) {
        if (offer[2 * r] < 0 || distance[r] <= winner_distance) continue;
        winner_distance = distance[r];
        winner = {offer[2 * r], int32_t(offer[2 * r + 1])};
    }
    return winner;
}

// Centroids become the means of their rows. An empty cluster takes over the row farthest from
// its centroid; distances are then lowered against that row so that a second empty cluster
// does not take a copy of it. Returns the number of clusters re-seeded.
int update_centroids(const float* x, int d, int k, LloydState& state, Backend& backend) {
    const RowRange own = state.own;
    const SumPlan& plan = *state.plan;
    OrderedSum<double> ordered_sums(plan, int64_t(k) * d);
    std::vector<double> part_sums(size_t(k) * d);
    std::vector<int64_t> counts(size_t(k), 0);
    for (int p = plan.first_part(); p < plan.end_part(); ++p) {
        const RowRange rows = plan.part_rows(p);
        std::fill(part_sums.begin(), part_sums.end(), 0.0);
        if (rows.size() > 0)
            backend.accumulate_centroids(x + rows.begin * d, rows.size(), d,
                                         state.labels.data() + rows.begin, k, part_sums.data(),
                                         counts.data());
        ordered_sums.add_part(part_sums);
    }
    std::vector<double> sums = ordered_sums.total(*state.comm);
    allreduce_sum(*state.comm, counts);

    // Every rank holds all rows, so each applies the same move to its copy of the sums.
    int reseeded = 0;
    for (int c = 0; c < k; ++c) {
        if (counts[size_t(c)] > 0) continue;
        FarthestRow farthest = farthest_movable_row(state, counts);
        if (farthest.row < 0) break;
        const int64_t row = farthest.row;
        const int32_t old = farthest.label;
        for (int j = 0; j < d; ++j) {
            sums[size_t(old) * d + j] -= x[row * d + j];
            sums[size_t(c) * d + j] = x[row * d + j];
        }
        counts[size_t(old)] -= 1;
        counts[size_t(c)] = 1;
        state.labels[size_t(row)] = c;
        lower_row_distances(x, d, own, x + row * d, state.distance2);
        ++reseeded;
    }

    for (int c = 0; c < k; ++c) {
        if (counts[size_t(c)] == 0) continue;
        for (int j = 0; j < d; ++j)
            state.centroids[size_t(c) * d + j] =
                float(sums[size_t(c) * d + j] / double(counts[size_t(c)]));
    }
    if (reseeded > 0)
        log_info("kmeans: re-seeded " + std::to_string(reseeded) +
                 " empty cluster(s) with the farthest rows");
    return reseeded;
}

void run_lloyd(const float* x, int d, int k, const KMeansParams& params, LloydState& state,
               Backend& backend) {
    assign_all(x, d, k, state, backend);
    std::vector<int32_t> previous;
    const RowRange own = state.own;
    for (int iteration = 1; iteration <= params.max_iterations; ++iteration) {
        double start = wall_seconds();
        double previous_inertia = state.inertia;
        state.reseeded += update_centroids(x, d, k, state, backend);
        previous = state.labels;
        assign_all(x, d, k, state, backend);
        state.iterations = iteration;

        int64_t changed = 0;
#pragma omp parallel for schedule(static) reduction(+ : changed)
        for (int64_t i = own.begin; i < own.end; ++i)
            changed += previous[size_t(i)] != state.labels[size_t(i)];
        changed = allreduce_sum(*state.comm, changed);
        std::ostringstream line;
        line << "kmeans iteration " << iteration << ": inertia " << state.inertia << ", " << changed
             << " labels changed, " << wall_seconds() - start << " s";
        log_debug(line.str());

        // Stable labels mean the centroids already are the means of their rows.
        double drop = previous_inertia - state.inertia;
        if (changed == 0 || state.inertia <= 0.0 ||
            (drop >= 0.0 && drop <= params.tolerance * previous_inertia)) {
            state.converged = true;
            return;
        }
    }
}

// Mini-batch k-means (Sculley 2010): each centroid moves toward its batch rows with a step of
// 1 / (rows it has absorbed so far). Stops on the smoothed batch inertia or the batch limit.
// Batches are small, so every rank draws and applies the same ones (then takes rank 0's
// centroids); only the final assignment of all rows is sharded.
void run_mini_batch(const float* x, int64_t n, int d, int k, const KMeansParams& params,
                    std::mt19937_64& rng, LloydState& state, Backend& backend) {
    int64_t batch = std::min(params.mini_batch, n);
    std::vector<float> rows(size_t(batch) * d);
    std::vector<int32_t> labels(static_cast<size_t>(batch));
    std::vector<float> distance2(static_cast<size_t>(batch));
    std::vector<int64_t> absorbed(size_t(k), 0);
    double smoothed = -1.0;
    for (int iteration = 1; iteration <= params.max_iterations; ++iteration) {
        for (int64_t r = 0; r < batch; ++r) {
            int64_t row = int64_t(rng() % uint64_t(n));
            std::copy(x + row * d, x + (row + 1) * d, rows.begin() + r * d);
        }
        backend.assign_nearest(rows.data(), batch, d, state.centroids.data(), k, labels.data(),
                               distance2.data());
        double batch_inertia = 0.0;
        for (int64_t r = 0; r < batch; ++r) {
            batch_inertia += distance2[size_t(r)];
            int32_t c = labels[size_t(r)];
            float step = 1.0f / float(++absorbed[size_t(c)]);
            float* centroid = state.centroids.data() + size_t(c) * d;
            for (int j = 0; j < d; ++j)
                centroid[j] += step * (rows[size_t(r) * d + j] - centroid[j]);
        }
        batch_inertia /= double(batch);
        state.iterations = iteration;
        log_debug("kmeans mini-batch " + std::to_string(iteration) + ": mean batch distance " +
                  std::to_string(batch_inertia));

        double next = smoothed < 0.0 ? batch_inertia : 0.7 * smoothed + 0.3 * batch_inertia;
        if (smoothed >= 0.0 && std::abs(next - smoothed) <= params.tolerance * smoothed) {
            state.converged = true;
            smoothed = next;
            break;
        }
        smoothed = next;
    }
    broadcast_floats(*state.comm, state.centroids);
    assign_all(x, d, k, state, backend);
}

// Rows per cluster over all ranks.
std::vector<int64_t> cluster_sizes(const LloydState& state, int k) {
    std::vector<int64_t> sizes(size_t(k), 0);
    for (int64_t i = state.own.begin; i < state.own.end; ++i) ++sizes[size_t(state.labels[i])];
    allreduce_sum(*state.comm, sizes);
    return sizes;
}

bool has_empty_cluster(const LloydState& state, int k) {
    std::vector<int64_t> sizes = cluster_sizes(state, k);
    return std::find(sizes.begin(), sizes.end(), 0) != sizes.end();
}

// The last assignment can leave a centroid without rows; a few more updates re-seed it. What
// is still empty after that is dropped, so no empty cluster leaves k-means.
int remove_empty_clusters(const float* x, int d, int k, LloydState& state, Backend& backend) {
    for (int pass = 0; pass < 8 && has_empty_cluster(state, k); ++pass) {
        state.reseeded += update_centroids(x, d, k, state, backend);
        assign_all(x, d, k, state, backend);
    }
    std::vector<int64_t> sizes = cluster_sizes(state, k);
    std::vector<int32_t> new_index(size_t(k), -1);
    int kept = 0;
    for (int c = 0; c < k; ++c) {
        if (sizes[size_t(c)] == 0) continue;
        if (kept != c) {
            std::copy(state.centroids.begin() + size_t(c) * d,
                      state.centroids.begin() + size_t(c + 1) * d,
                      state.centroids.begin() + size_t(kept) * d);
        }
        new_index[size_t(c)] = kept++;
    }
    if (kept == k) return k;
    log_warning("kmeans: " + std::to_string(k - kept) +
                " cluster(s) stayed empty after re-seeding and were dropped; K_eff = " +
                std::to_string(kept));
    state.centroids.resize(size_t(kept) * d);
    for (int64_t i = state.own.begin; i < state.own.end; ++i)
        state.labels[size_t(i)] = new_index[size_t(state.labels[size_t(i)])];
    return kept;
}

double exact_inertia(const float* x, int d, const LloydState& state) {
    const std::vector<float>& centroids = state.centroids;
    const std::vector<int32_t>& labels = state.labels;
    return ordered_row_sum(state, [&](int64_t i) {
        const float* centroid = centroids.data() + size_t(labels[size_t(i)]) * d;
        double row = 0.0;
        for (int j = 0; j < d; ++j) {
            double diff = double(x[i * d + j]) - double(centroid[j]);
            row += diff * diff;
        }
        return row;
    });
}

// Every rank's own labels to every rank: each contributes a vector that is zero outside its
// rows, so their sum is all N labels.
void gather_labels(LloydState& state) {
    Communicator& comm = *state.comm;
    if (comm.size() == 1) return;
    std::vector<int64_t> all(state.labels.size(), 0);
    for (int64_t i = state.own.begin; i < state.own.end; ++i)
        all[size_t(i)] = state.labels[size_t(i)];
    allreduce_sum(comm, all);
    for (size_t i = 0; i < all.size(); ++i) state.labels[i] = int32_t(all[i]);
}

// Fewer distinct points than K: each distinct point is its own cluster, which is the optimum
// (inertia 0) and the same for every seed.
KMeansResult one_cluster_per_point(const float* x, int d, int k,
                                   const std::vector<int64_t>& representatives,
                                   std::vector<int32_t> labels) {
    KMeansResult result;
    result.k_effective = int(representatives.size());
    for (int64_t row : representatives)
        result.centroids.insert(result.centroids.end(), x + row * d, x + (row + 1) * d);
    result.labels = std::move(labels);
    result.converged = true;
    if (result.k_effective < k) {
        log_warning("kmeans: K=" + std::to_string(k) + " exceeds the " +
                    std::to_string(result.k_effective) + " distinct points; using K_eff=" +
                    std::to_string(result.k_effective) + " clusters, one per distinct point");
    }
    return result;
}

void check_arguments(const float* x, int64_t n, int d, const KMeansParams& params) {
    if (params.k < 1) CA_THROW(ConfigError, "kmeans.k must be >= 1, got " << params.k);
    if (params.max_iterations < 1)
        CA_THROW(ConfigError, "kmeans.max_iterations must be >= 1, got " << params.max_iterations);
    if (params.seeding_sample < 1)
        CA_THROW(ConfigError, "kmeans.seeding_sample must be >= 1, got " << params.seeding_sample);
    if (n < 1) CA_THROW(InputError, "kmeans: no rows to cluster (N = " << n << ")");
    if (d < 1) CA_THROW(InputError, "kmeans: rows have no columns (D = " << d << ")");
    CA_ASSERT(x != nullptr);
    check_finite(x, n, d, "input");
}

}  // namespace

namespace {

// Lloyd or mini-batch from the centroids in `state`, then the empty-cluster clean-up.
KMeansResult refine(const float* x, int64_t n, int d, const KMeansParams& params,
                    std::mt19937_64& rng, LloydState& state, Backend& backend, Communicator& comm) {
    double start = wall_seconds();
    int k = params.k;
    state.labels.assign(size_t(n), 0);
    state.distance2.assign(size_t(n), 0.0f);
    state.comm = &comm;
    state.plan.emplace(n, comm);
    state.own = state.plan->own_rows();
    // Every rank seeded (or was given) the same centroids from the same rows; rank 0's copy
    // makes sure, since rows computed with another thread count may differ in the last bits.
    broadcast_floats(comm, state.centroids);
    if (params.mini_batch > 0) {
        run_mini_batch(x, n, d, k, params, rng, state, backend);
    } else {
        run_lloyd(x, d, k, params, state, backend);
    }

    KMeansResult result;
    result.k_effective = remove_empty_clusters(x, d, k, state, backend);
    result.inertia = exact_inertia(x, d, state);
    gather_labels(state);
    result.centroids = std::move(state.centroids);
    result.labels = std::move(state.labels);
    result.iterations = state.iterations;
    result.reseeded = state.reseeded;
    result.converged = state.converged;

    std::ostringstream summary;
    summary << "kmeans: K=" << result.k_effective << ", N=" << n << ", D=" << d << ", "
            << result.iterations << (params.mini_batch > 0 ? " mini-batches" : " iterations")
            << (result.converged ? " (converged)" : " (iteration limit)") << ", inertia "
            << result.inertia << ", " << result.reseeded << " re-seeded, " << wall_seconds() - start
            << " s";
    log_info(summary.str());
    return result;
}

}  // namespace

KMeansResult kmeans_fit(const float* x, int64_t n, int d, const KMeansParams& params,
                        Backend& backend, Communicator& comm) {
    check_arguments(x, n, d, params);
    std::vector<int64_t> representatives;
    std::vector<int32_t> distinct_labels;
    if (group_distinct_rows(x, n, d, params.k, representatives, distinct_labels))
        return one_cluster_per_point(x, d, params.k, representatives, std::move(distinct_labels));

    std::mt19937_64 rng(params.seed);
    LloydState state;
    state.centroids = seed_kmeanspp(x, n, d, params.k, params, rng);
    return refine(x, n, d, params, rng, state, backend, comm);
}

KMeansResult kmeans_fit_from(const float* x, int64_t n, int d, const float* initial_centroids,
                             const KMeansParams& params, Backend& backend, Communicator& comm) {
    check_arguments(x, n, d, params);
    CA_ASSERT(initial_centroids != nullptr);
    check_finite(initial_centroids, params.k, d, "initial centroids");
    std::vector<int64_t> representatives;
    std::vector<int32_t> distinct_labels;
    if (group_distinct_rows(x, n, d, params.k, representatives, distinct_labels))
        return one_cluster_per_point(x, d, params.k, representatives, std::move(distinct_labels));

    std::mt19937_64 rng(params.seed);
    LloydState state;
    state.centroids.assign(initial_centroids, initial_centroids + size_t(params.k) * d);
    return refine(x, n, d, params, rng, state, backend, comm);
}

std::vector<int32_t> kmeans_assign(const float* x, int64_t n, int d, const float* centroids, int k,
                                   Backend& backend) {
    if (k < 1) CA_THROW(InputError, "kmeans_assign: need at least one centroid, got K = " << k);
    if (d < 1) CA_THROW(InputError, "kmeans_assign: rows have no columns (D = " << d << ")");
    check_finite(x, n, d, "input");
    check_finite(centroids, k, d, "centroids");
    std::vector<int32_t> labels(size_t(std::max<int64_t>(n, 0)));
    if (n > 0) backend.assign_nearest(x, n, d, centroids, k, labels.data(), nullptr);
    return labels;
}

}  // namespace ca
