// Seeded train / validation / test split: sizes, determinism, disjoint parts that cover all rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/data_split.h"

namespace ca {
namespace {

std::vector<int64_t> all_rows(const SplitIndices& split) {
    std::vector<int64_t> rows = split.train;
    rows.insert(rows.end(), split.validation.begin(), split.validation.end());
    rows.insert(rows.end(), split.test.begin(), split.test.end());
    std::sort(rows.begin(), rows.end());
    return rows;
}

TEST(Split, DisjointCoveringAndSizedByTheFractions) {
    SplitIndices split = split_rows(1000, SplitFractions{}, 42);
    EXPECT_EQ(split.train.size(), 600u);
    EXPECT_EQ(split.validation.size(), 100u);
    EXPECT_EQ(split.test.size(), 300u);
    std::vector<int64_t> expected(1000);
    std::iota(expected.begin(), expected.end(), int64_t(0));
    // Sorted union equal to 0..999 means no row is missing and none is in two parts.
    EXPECT_EQ(all_rows(split), expected);
    EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
    EXPECT_TRUE(std::is_sorted(split.test.begin(), split.test.end()));
}

TEST(Split, DeterministicForASeedAndDifferentAcrossSeeds) {
    SplitIndices first = split_rows(500, SplitFractions{}, 7);
    SplitIndices again = split_rows(500, SplitFractions{}, 7);
    SplitIndices other = split_rows(500, SplitFractions{}, 8);
    EXPECT_EQ(first.train, again.train);
    EXPECT_EQ(first.validation, again.validation);
    EXPECT_EQ(first.test, again.test);
    EXPECT_NE(first.train, other.train);
}

TEST(Split, ShuffleIsNotTheIdentity) {
    // A split that kept file order would put rows 0..59 in train.
    SplitIndices split = split_rows(100, SplitFractions{}, 1);
    std::vector<int64_t> first_rows(60);
    std::iota(first_rows.begin(), first_rows.end(), int64_t(0));
    EXPECT_NE(split.train, first_rows);
}

TEST(Split, SmallAndDegenerateSizesStillAddUp) {
    for (int64_t n : {0, 1, 2, 3, 7, 11}) {
        SplitIndices split = split_rows(n, SplitFractions{}, 3);
        EXPECT_EQ(int64_t(all_rows(split).size()), n) << "n = " << n;
    }
    SplitFractions all_train{1.0, 0.0, 0.0};
    SplitIndices split = split_rows(5, all_train, 3);
    EXPECT_EQ(split.train, (std::vector<int64_t>{0, 1, 2, 3, 4}));
    EXPECT_TRUE(split.validation.empty());
    EXPECT_TRUE(split.test.empty());
}

TEST(Split, EveryRowLandsInTrainAboutAsOftenAsTheFraction) {
    // Over 400 seeds each of 10 rows should be in train about 60% of the time; a biased
    // shuffle (for example one that never moves the last row) would stand out.
    const int seeds = 400;
    std::vector<int> in_train(10, 0);
    for (int seed = 0; seed < seeds; ++seed)
        for (int64_t row : split_rows(10, SplitFractions{}, seed).train) in_train[row] += 1;
    for (int row = 0; row < 10; ++row) {
        double share = double(in_train[row]) / seeds;
        EXPECT_NEAR(share, 0.6, 0.1) << "row " << row;
    }
}

}  // namespace
}  // namespace ca
