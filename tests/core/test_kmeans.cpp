// k-means against brute-force partitions, its fixed-point conditions, determinism, the
// fewer-distinct-points-than-K case (BC-05) and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/csv_reader.h"
#include "core/errors.h"
#include "core/kmeans.h"
#include "kernels/backend.h"

namespace ca {
namespace {

struct Points {
    std::vector<float> x;
    int64_t n = 0;
    int d = 0;
};

// Optimal inertia over every labelling of the points into exactly k non-empty groups.
double brute_force_inertia(const Points& points, int k) {
    std::vector<int> labels(size_t(points.n), 0);
    double best = std::numeric_limits<double>::infinity();
    while (true) {
        std::vector<double> sums(size_t(k) * points.d, 0.0);
        std::vector<int> sizes(size_t(k), 0);
        for (int64_t i = 0; i < points.n; ++i) {
            sizes[size_t(labels[size_t(i)])] += 1;
            for (int j = 0; j < points.d; ++j)
                sums[size_t(labels[size_t(i)]) * points.d + j] +=
                    points.x[size_t(i * points.d + j)];
        }
        bool all_used = true;
        for (int size : sizes) all_used = all_used && size > 0;
        if (all_used) {
            double inertia = 0.0;
            for (int64_t i = 0; i < points.n; ++i) {
                int c = labels[size_t(i)];
                for (int j = 0; j < points.d; ++j) {
                    double diff = points.x[size_t(i * points.d + j)] -
                                  sums[size_t(c) * points.d + j] / sizes[size_t(c)];
                    inertia += diff * diff;
                }
            }
            best = std::min(best, inertia);
        }
        // Next labelling, counting in base k.
        size_t digit = 0;
        while (digit < labels.size() && ++labels[digit] == k) labels[digit++] = 0;
        if (digit == labels.size()) break;
    }
    return best;
}

double squared_distance(const Points& points, int64_t row, const std::vector<float>& centroids,
                        int c) {
    double total = 0.0;
    for (int j = 0; j < points.d; ++j) {
        double diff =
            double(points.x[size_t(row * points.d + j)]) - centroids[size_t(c) * points.d + j];
        total += diff * diff;
    }
    return total;
}

// Points scattered uniformly in [0, 10)^d.
Points uniform_points(int64_t n, int d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    Points points{{}, n, d};
    for (int64_t e = 0; e < n * d; ++e) points.x.push_back(float(rng() % 10000) / 1000.0f);
    return points;
}

// n points around `groups` centres 100 apart, each within 1 of its centre; blob i holds the
// rows with i == row % groups.
Points blob_points(int64_t n, int d, int groups, uint64_t seed) {
    std::mt19937_64 rng(seed);
    Points points{{}, n, d};
    for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < d; ++j)
            points.x.push_back(float(100 * ((i % groups) * (j + 1) % 7)) +
                               float(rng() % 1000) / 1000.0f);
    return points;
}

KMeansParams params_for(int k, uint64_t seed) {
    KMeansParams params;
    params.k = k;
    params.seed = seed;
    params.max_iterations = 100;
    params.tolerance = 0.0;  // run until the labels stop changing
    return params;
}

Points read_feature_columns(const std::string& path, int columns) {
    Points points;
    points.d = columns;
    read_csv_file(path, [&](const CsvRecord& record) {
        if (record.line == 1) return true;
        for (int j = 0; j < columns; ++j)
            points.x.push_back(std::stof(std::string(record.fields[size_t(j)])));
        points.n += 1;
        return true;
    });
    return points;
}

std::string test_data(const std::string& name) {
    const char* folder = std::getenv("CA_TEST_DATA");
    return std::string(folder ? folder : "tests/data") + "/" + name;
}

TEST(KMeansBruteForce, WellSeparatedGroupsReachTheOptimum) {
    for (int k = 2; k <= 3; ++k) {
        for (uint64_t seed = 0; seed < 5; ++seed) {
            Points points = blob_points(8, 2, k, 100 + seed);
            double optimum = brute_force_inertia(points, k);
            KMeansResult result =
                kmeans_fit(points.x.data(), points.n, points.d, params_for(k, seed), cpu_backend());
            EXPECT_EQ(result.k_effective, k);
            EXPECT_NEAR(result.inertia, optimum, 1e-6 * optimum) << "k " << k << " seed " << seed;
        }
    }
}

TEST(KMeansBruteForce, NeverBelowTheOptimumOnScatteredPoints) {
    for (int k = 2; k <= 3; ++k) {
        for (uint64_t seed = 0; seed < 6; ++seed) {
            Points points = uniform_points(8, 2, seed);
            double optimum = brute_force_inertia(points, k);
            KMeansResult result =
                kmeans_fit(points.x.data(), points.n, points.d, params_for(k, seed), cpu_backend());
            EXPECT_GE(result.inertia, optimum * (1.0 - 1e-6));
        }
    }
}

// At convergence Lloyd's two conditions hold: each row sits with its nearest centroid, and
// each centroid is the mean of its rows.
TEST(KMeansFixedPoint, LabelsNearestAndCentroidsMeans) {
    for (uint64_t seed = 0; seed < 4; ++seed) {
        Points points = uniform_points(300, 3, 40 + seed);
        KMeansResult result =
            kmeans_fit(points.x.data(), points.n, points.d, params_for(7, seed), cpu_backend());
        ASSERT_TRUE(result.converged);
        int k = result.k_effective;
        ASSERT_EQ(k, 7);

        std::vector<double> sums(size_t(k) * points.d, 0.0);
        std::vector<int> sizes(size_t(k), 0);
        double inertia = 0.0;
        for (int64_t i = 0; i < points.n; ++i) {
            int label = result.labels[size_t(i)];
            double own = squared_distance(points, i, result.centroids, label);
            inertia += own;
            for (int c = 0; c < k; ++c)
                EXPECT_LE(own, squared_distance(points, i, result.centroids, c) + 1e-4);
            sizes[size_t(label)] += 1;
            for (int j = 0; j < points.d; ++j)
                sums[size_t(label) * points.d + j] += points.x[size_t(i * points.d + j)];
        }
        for (int c = 0; c < k; ++c) {
            ASSERT_GT(sizes[size_t(c)], 0);
            for (int j = 0; j < points.d; ++j)
                EXPECT_NEAR(result.centroids[size_t(c) * points.d + j],
                            sums[size_t(c) * points.d + j] / sizes[size_t(c)], 1e-4);
        }
        EXPECT_NEAR(result.inertia, inertia, 1e-9 * inertia);
    }
}

TEST(KMeansDeterminism, SameSeedSameResult) {
    Points points = uniform_points(2000, 4, 7);
    KMeansParams params = params_for(16, 3);
    params.seeding_sample = 500;  // seeding draws a sample
    KMeansResult first = kmeans_fit(points.x.data(), points.n, points.d, params, cpu_backend());
    KMeansResult second = kmeans_fit(points.x.data(), points.n, points.d, params, cpu_backend());
    EXPECT_EQ(first.labels, second.labels);
    EXPECT_EQ(first.centroids, second.centroids);
    EXPECT_EQ(first.inertia, second.inertia);
    EXPECT_EQ(first.iterations, second.iterations);
}

TEST(KMeansNoEmptyClusters, ManyClustersForFewRows) {
    // K close to N with repeated rows: re-seeding and the distinct-point check must leave
    // every returned cluster with rows.
    for (uint64_t seed = 0; seed < 20; ++seed) {
        Points points = uniform_points(30, 2, seed);
        for (int64_t e = 0; e < 10 * 2; ++e) points.x[size_t(e + 20)] = points.x[size_t(e % 6)];
        KMeansResult result =
            kmeans_fit(points.x.data(), points.n, points.d, params_for(17, seed), cpu_backend());
        std::vector<int> sizes(size_t(result.k_effective), 0);
        for (int32_t label : result.labels) {
            ASSERT_GE(label, 0);
            ASSERT_LT(label, result.k_effective);
            sizes[size_t(label)] += 1;
        }
        for (int size : sizes) EXPECT_GT(size, 0);
        EXPECT_TRUE(std::isfinite(result.inertia));
    }
}

// Three pairs on a line, 0/1, 10/11 and 20/21; the optimum pairs them up (inertia 3 x 0.5).
TEST(KMeansReseed, EmptyClusterTakesTheFarthestRow) {
    const std::vector<float> x = {0, 1, 10, 11, 20, 21};
    const std::vector<std::vector<float>> starts = {
        {0.0f, 0.4f, 100.0f},  // the far centroid wins no row
        {0.0f, 0.0f, 0.0f}};   // two copies lose every row to the first
    for (const std::vector<float>& start : starts) {
        KMeansResult result =
            kmeans_fit_from(x.data(), 6, 1, start.data(), params_for(3, 0), cpu_backend());
        EXPECT_GE(result.reseeded, start[1] == 0.0f ? 2 : 1);
        ASSERT_EQ(result.k_effective, 3);
        EXPECT_NEAR(result.inertia, 1.5, 1e-9);
        for (int pair = 0; pair < 3; ++pair)
            EXPECT_EQ(result.labels[size_t(2 * pair)], result.labels[size_t(2 * pair + 1)]);
        EXPECT_NE(result.labels[0], result.labels[2]);
        EXPECT_NE(result.labels[2], result.labels[4]);
        EXPECT_NE(result.labels[0], result.labels[4]);
    }
}

TEST(KMeansBC05, FewerDistinctPointsThanK) {
    Points points = read_feature_columns(test_data("BC-05.csv"), 2);
    ASSERT_EQ(points.n, 6);
    std::vector<int32_t> first_labels;
    for (uint64_t seed = 0; seed <= 4; ++seed) {
        KMeansResult result =
            kmeans_fit(points.x.data(), points.n, points.d, params_for(5, seed), cpu_backend());
        ASSERT_EQ(result.k_effective, 3);
        ASSERT_EQ(result.centroids.size(), 6u);
        std::vector<int> sizes(3, 0);
        for (int32_t label : result.labels) sizes[size_t(label)] += 1;
        EXPECT_EQ(sizes, std::vector<int>({2, 2, 2}));
        std::set<std::pair<float, float>> distinct;
        for (int c = 0; c < 3; ++c)
            distinct.insert({result.centroids[size_t(2 * c)], result.centroids[size_t(2 * c + 1)]});
        EXPECT_EQ(distinct.size(), 3u);
        EXPECT_EQ(result.inertia, 0.0);
        // Rows with equal features share a cluster: rows 2k and 2k+1 are the pairs.
        for (int pair = 0; pair < 3; ++pair)
            EXPECT_EQ(result.labels[size_t(2 * pair)], result.labels[size_t(2 * pair + 1)]);
        if (seed == 0) first_labels = result.labels;
        EXPECT_EQ(result.labels, first_labels) << "seed " << seed;
    }
}

TEST(KMeansBC05, MoreClustersThanRows) {
    Points points = uniform_points(4, 3, 11);
    KMeansResult result =
        kmeans_fit(points.x.data(), points.n, points.d, params_for(9, 0), cpu_backend());
    EXPECT_EQ(result.k_effective, 4);
    EXPECT_EQ(result.inertia, 0.0);
}

TEST(KMeansMiniBatch, RecoversSeparatedGroups) {
    Points points = blob_points(3000, 2, 3, 5);
    KMeansParams params = params_for(3, 1);
    params.mini_batch = 256;
    params.max_iterations = 30;
    KMeansResult result = kmeans_fit(points.x.data(), points.n, points.d, params, cpu_backend());
    ASSERT_EQ(result.k_effective, 3);
    // Each blob maps to one cluster and the three clusters differ.
    std::set<int32_t> used;
    for (int blob = 0; blob < 3; ++blob) {
        int32_t label = result.labels[size_t(blob)];
        used.insert(label);
        for (int64_t i = blob; i < points.n; i += 3) ASSERT_EQ(result.labels[size_t(i)], label);
    }
    EXPECT_EQ(used.size(), 3u);
}

TEST(KMeansAssign, NearestCentroid) {
    Points points = uniform_points(200, 3, 21);
    Points centroids = uniform_points(5, 3, 22);
    std::vector<int32_t> labels =
        kmeans_assign(points.x.data(), points.n, points.d, centroids.x.data(), 5, cpu_backend());
    for (int64_t i = 0; i < points.n; ++i) {
        double own = squared_distance(points, i, centroids.x, labels[size_t(i)]);
        for (int c = 0; c < 5; ++c)
            EXPECT_LE(own, squared_distance(points, i, centroids.x, c) + 1e-4);
    }
}

TEST(KMeansBadInput, NonFiniteCellNamed) {
    Points points = uniform_points(5, 2, 1);
    points.x[5] = std::numeric_limits<float>::quiet_NaN();  // row 2, column 1
    try {
        kmeans_fit(points.x.data(), points.n, points.d, params_for(2, 0), cpu_backend());
        FAIL() << "NaN accepted";
    } catch (const InputError& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("row 2"), std::string::npos) << message;
        EXPECT_NE(message.find("column 1"), std::string::npos) << message;
    }
    points.x[5] = std::numeric_limits<float>::infinity();
    EXPECT_THROW(
        kmeans_assign(points.x.data(), points.n, points.d, points.x.data(), 1, cpu_backend()),
        InputError);
}

TEST(KMeansBadInput, NoRowsOrNoClusters) {
    std::vector<float> none;
    EXPECT_THROW(kmeans_fit(none.data(), 0, 2, params_for(2, 0), cpu_backend()), InputError);
    Points points = uniform_points(5, 2, 1);
    EXPECT_THROW(kmeans_fit(points.x.data(), points.n, points.d, params_for(0, 0), cpu_backend()),
                 ConfigError);
}

TEST(KMeansConfig, ReadsKeysAndRejectsUnknownOnes) {
    auto node = ConfigNode::from_json(
        nlohmann::json::parse(R"({"k": 8, "max_iterations": 5, "tolerance": 0.01,
                                  "seed": 9, "seeding_sample": 50, "mini_batch": 64})"),
        "test.json");
    KMeansParams params = KMeansParams::from_config(node);
    EXPECT_EQ(params.k, 8);
    EXPECT_EQ(params.max_iterations, 5);
    EXPECT_EQ(params.tolerance, 0.01);
    EXPECT_EQ(params.seed, 9u);
    EXPECT_EQ(params.seeding_sample, 50);
    EXPECT_EQ(params.mini_batch, 64);
    EXPECT_EQ(KMeansParams::from_config(ConfigNode::from_json(params.to_json(), "x")).to_json(),
              params.to_json());

    auto misspelt =
        ConfigNode::from_json(nlohmann::json::parse(R"({"kmeans": {"kk": 8}})"), "test.json");
    try {
        KMeansParams::from_config(misspelt.child("kmeans"));
        FAIL() << "unknown key accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("kmeans.kk"), std::string::npos) << error.what();
    }
    auto zero = ConfigNode::from_json(nlohmann::json::parse(R"({"kmeans": {"k": 0}})"), "t.json");
    EXPECT_THROW(KMeansParams::from_config(zero.child("kmeans")), ConfigError);
}

}  // namespace
}  // namespace ca
