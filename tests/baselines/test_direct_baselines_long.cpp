// Slower checks of the direct baselines: built through the method registry from a config, each
// of DRP, DRM, DFCL-PL and DFCL-IFD beats random allocation at ten budgets on a larger
// five-arm synthetic RCT, and DRP does on a binary one whose value is the conversion.
#include <gtest/gtest.h>

#include <string>

#include "baselines/direct_test_support.h"
#include "experiments/method_registry.h"

namespace ca {
namespace {

using testing_support::SharedContext;
using testing_support::SyntheticSplit;

ConfigNode run_config() {
    return ConfigNode::from_json(nlohmann::json::parse(R"({"baselines": {
        "drp": {"max_epochs": 60}, "drm": {"max_epochs": 40}, "dfcl": {"max_epochs": 8}}})"),
                                 "configs/long.json");
}

class DirectBaselinesLong : public ::testing::TestWithParam<std::string> {};

TEST_P(DirectBaselinesLong, BeatsRandomAtTenBudgetsOnFiveArms) {
    SyntheticSplit split = testing_support::synthetic_split(5, 20000, 5000, 10000, 51);
    SharedContext shared(split);
    std::unique_ptr<AllocationMethod> method = make_method(GetParam(), 0, run_config());
    EXPECT_EQ(method->name(), GetParam());
    method->fit(shared.context());
    testing_support::expect_beats_random(*method, split.test, 10);
}

INSTANTIATE_TEST_SUITE_P(Methods, DirectBaselinesLong,
                         ::testing::Values("DRP", "DRM", "DFCL-PL", "DFCL-IFD"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             for (char& c : name)
                                 if (c == '-') c = '_';
                             return name;
                         });

TEST(DrpLong, BinaryConversionPolicyBeatsRandomAtTenBudgets) {
    SyntheticSplit split =
        testing_support::synthetic_split(2, 20000, 5000, 10000, 52, SyntheticValue::kOrders);
    SharedContext shared(split);
    std::unique_ptr<AllocationMethod> method = make_method("DRP", 0, run_config());
    method->fit(shared.context());
    testing_support::expect_beats_random(*method, split.test, 10);
}

}  // namespace
}  // namespace ca
