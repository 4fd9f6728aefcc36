// HRC's block-wise hidden representations and k-means on a sample of the training rows: labels
// against kmeans_assign on the whole z, the seeded sample's properties, the sampled fit against
// a whole-z reference at every block size, and the kmeans.max_fit_rows config key.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/data_source.h"
#include "core/errors.h"
#include "core/hrc_method.h"
#include "core/kmeans.h"
#include "core/multitask_network.h"
#include "kernels/backend.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

MultiTaskNetworkParams tiny_network() {
    MultiTaskNetworkParams params;
    params.hidden1 = 12;
    params.hidden2 = 6;
    params.head_hidden = 4;
    params.seed = 5;
    return params;
}

// n rows of d standard normal features; the other columns are not read by hidden().
Dataset random_rows(int64_t n, int d, uint64_t seed) {
    Dataset data;
    data.source = "random";
    data.n = n;
    data.d = d;
    data.x.resize(size_t(n) * d);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : data.x) v = normal(rng);
    return data;
}

std::vector<float> whole_hidden(const MultiTaskNetwork& network, const Dataset& data) {
    std::vector<float> z(size_t(data.n) * network.hidden_width());
    network.hidden(data.x.data(), data.n, cpu_backend(), z.data());
    return z;
}

// K centroids taken from the hidden rows listed.
std::vector<float> centroids_from(const std::vector<float>& z, int width,
                                  const std::vector<int64_t>& rows) {
    std::vector<float> centroids;
    for (int64_t row : rows)
        centroids.insert(centroids.end(), z.begin() + row * width, z.begin() + (row + 1) * width);
    return centroids;
}

TEST(HrcBlocks, LabelsEqualKmeansAssignOnTheWholeZ) {
    const Dataset data = random_rows(9000, 4, 1);  // more than two 4096-row inference blocks
    MultiTaskNetwork network(tiny_network(), data.d, 2, 0);
    const int width = network.hidden_width();
    const std::vector<float> z = whole_hidden(network, data);
    const std::vector<float> centroids = centroids_from(z, width, {3, 500, 2000, 4500, 8999});
    const std::vector<int32_t> expected =
        kmeans_assign(z.data(), data.n, width, centroids.data(), 5, cpu_backend());
    std::set<int32_t> used(expected.begin(), expected.end());
    ASSERT_GE(used.size(), 3u) << "the reference labelling is too uniform to tell blocks apart";

    for (int64_t block : {int64_t(1), int64_t(7), int64_t(1000), int64_t(4096), int64_t(8999),
                          int64_t(9000), kHrcBlockRows}) {
        std::vector<int32_t> labels =
            hidden_labels(network, data, centroids.data(), 5, cpu_backend(), block);
        ASSERT_EQ(labels, expected) << "block of " << block << " rows";
    }
    EXPECT_TRUE(
        hidden_labels(network, random_rows(0, 4, 1), centroids.data(), 5, cpu_backend()).empty());
}

// Ranks label their runs of whole blocks and share them: every rank gets every label, and
// the labels are the one-process ones, also with more ranks than blocks.
TEST(HrcBlocks, RanksShareTheLabellingOfWholeBlocks) {
    const Dataset data = random_rows(9000, 4, 3);
    MultiTaskNetwork network(tiny_network(), data.d, 2, 0);
    const std::vector<float> z = whole_hidden(network, data);
    const std::vector<float> centroids =
        centroids_from(z, network.hidden_width(), {1, 900, 3000, 7000});
    for (int64_t block : {int64_t(1000), int64_t(4096)}) {
        const std::vector<int32_t> expected =
            hidden_labels(network, data, centroids.data(), 4, cpu_backend(), block);
        for (int ranks : {2, 3, 16}) {
            auto labels =
                testing::run_on_ranks<std::vector<int32_t>>(ranks, [&](Communicator& comm) {
                    return hidden_labels(network, data, centroids.data(), 4, cpu_backend(), block,
                                         comm);
                });
            for (const auto& rank_labels : labels)
                EXPECT_EQ(rank_labels, expected) << ranks << " ranks, blocks of " << block;
        }
    }
}

TEST(HrcBlocks, HiddenOfListedRowsEqualsTheirRowsOfTheWholeZ) {
    const Dataset data = random_rows(5000, 3, 2);
    MultiTaskNetwork network(tiny_network(), data.d, 3, 0);
    const int width = network.hidden_width();
    const std::vector<float> z = whole_hidden(network, data);
    const std::vector<int64_t> rows = {4999, 0, 17, 17, 2500, 4096, 4095};
    for (int64_t block : {int64_t(1), int64_t(3), int64_t(4096)}) {
        std::vector<float> listed = hidden_of_rows(network, data, rows, cpu_backend(), block);
        ASSERT_EQ(listed.size(), rows.size() * width);
        for (size_t r = 0; r < rows.size(); ++r)
            for (int j = 0; j < width; ++j)
                ASSERT_EQ(listed[r * width + j], z[rows[r] * width + j])
                    << "row " << rows[r] << ", block " << block;
    }
}

TEST(HrcBlocks, FitRowsAreAllRowsUpToTheLimit) {
    const std::vector<int64_t> all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    EXPECT_EQ(kmeans_fit_rows(10, 0, 1), all);   // 0 = no limit
    EXPECT_EQ(kmeans_fit_rows(10, 10, 1), all);  // at the limit
    EXPECT_EQ(kmeans_fit_rows(10, 11, 1), all);
    EXPECT_TRUE(kmeans_fit_rows(0, 5, 1).empty());
}

TEST(HrcBlocks, FitSampleIsSeededDistinctAndAscending) {
    const int64_t n = 100000, wanted = 1000;
    std::vector<int64_t> sample = kmeans_fit_rows(n, wanted, 42);
    ASSERT_EQ(int64_t(sample.size()), wanted);
    EXPECT_TRUE(std::is_sorted(sample.begin(), sample.end()));
    EXPECT_EQ(std::set<int64_t>(sample.begin(), sample.end()).size(), sample.size());
    EXPECT_GE(sample.front(), 0);
    EXPECT_LT(sample.back(), n);
    // Spread over the rows, not a prefix: about a tenth of the sample in each tenth of the rows.
    for (int tenth = 0; tenth < 10; ++tenth) {
        auto in_tenth = std::count_if(sample.begin(), sample.end(),
                                      [&](int64_t row) { return row / (n / 10) == tenth; });
        EXPECT_GT(in_tenth, 50) << "tenth " << tenth;
        EXPECT_LT(in_tenth, 150) << "tenth " << tenth;
    }
    EXPECT_EQ(kmeans_fit_rows(n, wanted, 42), sample);
    EXPECT_NE(kmeans_fit_rows(n, wanted, 43), sample);
}

TEST(HrcBlocks, FitSampleDrawsEveryRowWithTheSameChance) {
    // 3 of 10 rows: over many seeds each row is drawn in 30% of them (binomial sd ~0.3%).
    const int seeds = 20000;
    std::vector<int> drawn(10, 0);
    for (int seed = 0; seed < seeds; ++seed)
        for (int64_t row : kmeans_fit_rows(10, 3, uint64_t(seed))) ++drawn[size_t(row)];
    for (int row = 0; row < 10; ++row)
        EXPECT_NEAR(double(drawn[row]) / seeds, 0.3, 0.015) << "row " << row;
}

struct SmallRct {
    DataSplits splits;
    std::unique_ptr<MultiTaskNetwork> network;
};

SmallRct small_rct() {
    nlohmann::json data = {
        {"source", "synthetic"},
        {"synthetic",
         {{"rows", 3000}, {"features", 5}, {"arms", 3}, {"seed", 7}, {"segments", 4}}}};
    SmallRct rct{DataSource::open(ConfigNode::from_json(data, "test.json")).split(0), nullptr};
    rct.network = std::make_unique<MultiTaskNetwork>(
        tiny_network(), rct.splits.train.d, rct.splits.train.m, int(rct.splits.train.aux.size()));
    return rct;
}

HrcMethod fitted_hrc(const SmallRct& rct, HrcParams params, uint64_t seed) {
    const MultiTaskNetwork& network = *rct.network;
    MethodContext context{rct.splits.train, rct.splits.validation, cpu_backend(), seed,
                          [&network]() -> const MultiTaskNetwork& { return network; }};
    HrcMethod hrc(std::move(params));
    hrc.fit(context);
    hrc.prepare(rct.splits.test, cpu_backend());
    return hrc;
}

TEST(HrcBlocks, SampledFitMatchesTheWholeZReferenceAtEveryBlockSize) {
    const SmallRct rct = small_rct();
    const Dataset& train = rct.splits.train;
    const int width = rct.network->hidden_width();
    HrcParams params;
    params.kmeans.k = 6;
    params.kmeans.seed = 10;
    params.kmeans.max_fit_rows = 400;
    const uint64_t split_seed = 2;
    ASSERT_GT(train.n, 4 * params.kmeans.max_fit_rows);

    // Reference: the whole z, k-means on the sampled rows of it, every row assigned after.
    const std::vector<float> z = whole_hidden(*rct.network, train);
    const std::vector<int64_t> rows = kmeans_fit_rows(train.n, 400, 10 + split_seed);
    const std::vector<float> z_sample = centroids_from(z, width, rows);
    KMeansParams kmeans = params.kmeans;
    kmeans.seed = 10 + split_seed;
    const KMeansResult reference =
        kmeans_fit(z_sample.data(), int64_t(rows.size()), width, kmeans, cpu_backend());
    const std::vector<int32_t> reference_labels = kmeans_assign(
        z.data(), train.n, width, reference.centroids.data(), reference.k_effective, cpu_backend());
    const std::vector<float> z_test = whole_hidden(*rct.network, rct.splits.test);
    const std::vector<int32_t> reference_test =
        kmeans_assign(z_test.data(), rct.splits.test.n, width, reference.centroids.data(),
                      reference.k_effective, cpu_backend());

    for (int64_t block : {int64_t(1), int64_t(100), int64_t(4096), kHrcBlockRows}) {
        params.block_rows = block;
        HrcMethod hrc = fitted_hrc(rct, params, split_seed);
        ASSERT_EQ(hrc.clustering().centroids, reference.centroids) << "block " << block;
        ASSERT_EQ(hrc.clustering().labels, reference_labels) << "block " << block;
        ASSERT_EQ(hrc.labels(), reference_test) << "block " << block;
        EXPECT_EQ(hrc.diagnostics()["kmeans_fit_rows"], 400);
        // Every training row counts in the estimates, not only the sampled ones.
        double counted = 0.0;
        for (int64_t rows_in_cell : hrc.table().count) counted += double(rows_in_cell);
        EXPECT_EQ(counted, double(train.n)) << "block " << block;
    }
}

TEST(HrcBlocks, BelowTheLimitTheFitIsTheWholeSetFit) {
    const SmallRct rct = small_rct();
    const Dataset& train = rct.splits.train;
    const int width = rct.network->hidden_width();
    HrcParams params;
    params.kmeans.k = 6;
    ASSERT_LT(train.n, params.kmeans.max_fit_rows);
    const std::vector<float> z = whole_hidden(*rct.network, train);
    KMeansParams kmeans = params.kmeans;
    kmeans.seed = 1;
    const KMeansResult reference = kmeans_fit(z.data(), train.n, width, kmeans, cpu_backend());

    for (int64_t block : {int64_t(100), kHrcBlockRows}) {
        params.block_rows = block;
        HrcMethod hrc = fitted_hrc(rct, params, 1);
        EXPECT_EQ(hrc.clustering().centroids, reference.centroids) << "block " << block;
        EXPECT_EQ(hrc.clustering().labels, reference.labels) << "block " << block;
        EXPECT_EQ(hrc.clustering().inertia, reference.inertia) << "block " << block;
        EXPECT_EQ(hrc.diagnostics()["kmeans_fit_rows"], train.n);
    }
}

std::string config_error(const std::string& kmeans_json) {
    auto root = ConfigNode::from_json(nlohmann::json::parse(R"({"kmeans": )" + kmeans_json + "}"),
                                      "run.json");
    try {
        KMeansParams::from_config(root.child("kmeans"));
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "";
}

TEST(HrcBlocks, MaxFitRowsConfigKey) {
    EXPECT_EQ(KMeansParams().max_fit_rows, 524288);
    auto node = ConfigNode::from_json(nlohmann::json::parse(R"({"max_fit_rows": 1000})"), "t.json");
    KMeansParams params = KMeansParams::from_config(node);
    EXPECT_EQ(params.max_fit_rows, 1000);
    EXPECT_EQ(params.to_json()["max_fit_rows"], 1000);
    EXPECT_EQ(KMeansParams::from_config(ConfigNode::from_json(params.to_json(), "x")).max_fit_rows,
              1000);
    auto zero = ConfigNode::from_json(nlohmann::json::parse(R"({"max_fit_rows": 0})"), "t.json");
    EXPECT_EQ(KMeansParams::from_config(zero).max_fit_rows, 0);

    std::string negative = config_error(R"({"max_fit_rows": -5})");
    EXPECT_NE(negative.find("kmeans.max_fit_rows"), std::string::npos) << negative;
    EXPECT_NE(negative.find("-5"), std::string::npos) << negative;
    std::string text = config_error(R"({"max_fit_rows": "all"})");
    EXPECT_NE(text.find("kmeans.max_fit_rows"), std::string::npos) << text;
    EXPECT_NE(text.find("all"), std::string::npos) << text;
    std::string fraction = config_error(R"({"max_fit_rows": 0.5})");
    EXPECT_NE(fraction.find("kmeans.max_fit_rows"), std::string::npos) << fraction;
    std::string misspelt = config_error(R"({"max_fit_row": 10})");
    EXPECT_NE(misspelt.find("kmeans.max_fit_row"), std::string::npos) << misspelt;
}

}  // namespace
}  // namespace ca
