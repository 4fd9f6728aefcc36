// ConfigNode: every error names the file and key path; unknown keys are refused.
#include <gtest/gtest.h>

#include "core/config.h"
#include "core/errors.h"

namespace ca {
namespace {

ConfigNode sample() {
    return ConfigNode::from_json(nlohmann::json::parse(R"({
        "kmeans": {"k": 64, "seed": 3},
        "solver": {"budgets": [0.1, "x", 0.5]},
        "name": "demo"
    })"),
                                 "configs/demo.json");
}

std::string message_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "";
}

TEST(ConfigTest, ReadsTypedValuesAndDefaults) {
    ConfigNode root = sample();
    EXPECT_EQ(root.child("kmeans").integer("k", 8), 64);
    EXPECT_EQ(root.child("kmeans").integer("iterations", 50), 50);
    EXPECT_EQ(root.string("name", ""), "demo");
    EXPECT_FALSE(root.child("missing").has("k"));
}

TEST(ConfigTest, WrongTypeNamesFileAndKeyPath) {
    ConfigNode root = sample();
    std::string message = message_of([&] { root.child("solver").numbers("budgets", {}); });
    EXPECT_NE(message.find("configs/demo.json: solver.budgets[1]"), std::string::npos) << message;
    EXPECT_NE(message.find("\"x\""), std::string::npos) << message;
}

TEST(ConfigTest, OutOfRangeShowsValueAndBounds) {
    ConfigNode root = sample();
    std::string message = message_of([&] { root.child("kmeans").integer_in("k", 8, 1, 32); });
    EXPECT_NE(message.find("kmeans.k"), std::string::npos) << message;
    EXPECT_NE(message.find("64"), std::string::npos) << message;
    EXPECT_NE(message.find("32"), std::string::npos) << message;
}

TEST(ConfigTest, UnknownKeyIsAnError) {
    ConfigNode root = sample();
    std::string message = message_of([&] { root.child("kmeans").allow_only({"k"}); });
    EXPECT_NE(message.find("kmeans.seed"), std::string::npos) << message;
    EXPECT_NO_THROW(root.child("kmeans").allow_only({"k", "seed"}));
}

TEST(ConfigTest, SyntaxErrorNamesLineAndColumn) {
    std::string path = ::testing::TempDir() + "/broken_config.json";
    FILE* file = std::fopen(path.c_str(), "w");
    std::fputs("{\n  \"k\": 4,\n  \"seed\" 2\n}\n", file);
    std::fclose(file);
    std::string message = message_of([&] { ConfigNode::from_file(path); });
    EXPECT_NE(message.find(path + ":3:"), std::string::npos) << message;
}

TEST(ConfigTest, ChoiceListsAllowedValues) {
    ConfigNode root = ConfigNode::from_json({{"device", "tpu"}}, "cli");
    std::string message = message_of([&] { root.choice("device", "cpu", {"cpu", "cuda"}); });
    EXPECT_NE(message.find("tpu"), std::string::npos);
    EXPECT_NE(message.find("cpu, cuda"), std::string::npos);
}

}  // namespace
}  // namespace ca
