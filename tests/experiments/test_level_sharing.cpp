// Budget levels shared over ranks: each level computed once, on its owner (level mod ranks),
// every rank receives every level and its warnings in order, EOM results packed exactly.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <string>
#include <vector>

#include "core/log.h"
#include "experiments/level_sharing.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

TEST(LevelSharingTest, EachLevelIsComputedOnceAndEveryRankGetsAll) {
    for (int ranks : {1, 2, 3, 7}) {
        std::atomic<int> calls{0};
        auto shared =
            testing::run_on_ranks<std::vector<std::vector<double>>>(ranks, [&](Communicator& comm) {
                return share_levels(5, comm, [&](int level) {
                    EXPECT_EQ(level % comm.size(), comm.rank());
                    ++calls;
                    // A varying count of numbers per level, none for level 3.
                    return std::vector<double>(size_t(level == 3 ? 0 : level + 1), level + 0.25);
                });
            });
        EXPECT_EQ(calls.load(), 5) << ranks << " ranks";
        for (const auto& levels : shared) {
            ASSERT_EQ(levels.size(), 5u);
            for (int level = 0; level < 5; ++level)
                EXPECT_EQ(levels[size_t(level)],
                          std::vector<double>(size_t(level == 3 ? 0 : level + 1), level + 0.25));
        }
    }
}

// A warning logged while matching a level reaches every rank's log in level order, whichever
// rank matched it (rank 0 alone prints; the captures here see what each rank logs).
TEST(LevelSharingTest, WarningsOfEveryLevelAreLoggedInLevelOrder) {
    for (int ranks : {1, 2, 3}) {
        auto logged =
            testing::run_on_ranks<std::vector<std::string>>(ranks, [](Communicator& comm) {
                WarningCapture capture;
                share_levels(4, comm, [](int level) {
                    log_warning("level " + std::to_string(level));
                    if (level == 2) log_warning("level 2 again");
                    return std::vector<double>{double(level)};
                });
                return capture.take();
            });
        const std::vector<std::string> expected = {"level 0", "level 1", "level 2", "level 2 again",
                                                   "level 3"};
        for (const auto& warnings : logged) EXPECT_EQ(warnings, expected) << ranks << " ranks";
    }
}

TEST(LevelSharingTest, NestedCapturesRestoreTheOuterOne) {
    WarningCapture outer;
    log_warning("a");
    {
        WarningCapture inner;
        log_warning("b");
        EXPECT_EQ(inner.take(), std::vector<std::string>{"b"});
    }
    log_warning("c");
    EXPECT_EQ(outer.take(), (std::vector<std::string>{"a", "c"}));
}

TEST(LevelSharingTest, EomResultsAndTruthRoundTripExactly) {
    EomResult eom;
    eom.value = std::nextafter(1.0 / 3.0, 1.0);
    eom.cost = -0.0;
    eom.knob = 1e-300;
    eom.reached = false;
    eom.status = BudgetMatch::kOverAtMinimum;
    eom.propensity_source = PropensitySource::kPerRow;
    const TrueOutcome truth{2.5, std::nextafter(0.1, 0.0)};
    const std::vector<double> packed = pack_level(eom, &truth);
    const EomResult back = unpack_eom(packed);
    EXPECT_EQ(back.value, eom.value);
    EXPECT_TRUE(std::signbit(back.cost));
    EXPECT_EQ(back.knob, eom.knob);
    EXPECT_FALSE(back.reached);
    EXPECT_EQ(back.status, BudgetMatch::kOverAtMinimum);
    EXPECT_EQ(back.propensity_source, PropensitySource::kPerRow);
    EXPECT_EQ(unpack_truth(packed).value, 2.5);
    EXPECT_EQ(unpack_truth(packed).cost, truth.cost);
    EXPECT_EQ(pack_level(eom, nullptr).size() + 2, packed.size());
}

}  // namespace
}  // namespace ca
