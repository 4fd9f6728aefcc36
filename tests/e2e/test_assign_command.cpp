// End to end: `clusteralloc run` distils HRC and writes policy.json; `clusteralloc assign`
// streams users through it. Its output must equal the in-memory pipeline (features encoded by
// the documented rules -> student -> table) row by row, and bad input must be refused with
// file:line:column and leave no output.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/distillation.h"
#include "core/policy_file.h"
#include "core/policy_serving.h"
#include "e2e/run_binary.h"

namespace ca {
namespace {

namespace fs = std::filesystem;
using testing::fresh_directory;
using testing::read_json;
using testing::run_clusteralloc;
using testing::write_text;

// An RCT of 3,000 users with two arms: the coupon works for young web users and hardly for
// anyone else, so the clusters carry signal.
std::string rct_csv() {
    std::mt19937_64 rng(17);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const char* channels[] = {"Web", "Phone", "Store"};
    std::ostringstream out;
    out << "uid,age,member,channel,treatment,converted\n";
    for (int i = 0; i < 3000; ++i) {
        double age = 18 + 50 * unit(rng);
        int member = unit(rng) < 0.4;
        const char* channel = channels[rng() % 3];
        bool coupon = unit(rng) < 0.5;
        double p = 0.05 + 0.03 * member;
        if (coupon) p += (age < 40 && channel[0] == 'W') ? 0.35 : 0.03;
        out << 500000 + 3 * i << ',' << age << ',' << member << ',' << channel << ','
            << (coupon ? "coupon" : "control") << ',' << (unit(rng) < p) << '\n';
    }
    return out.str();
}

std::string run_config(const std::string& data) {
    return R"({
      "name": "assign_source",
      "data": {"source": "csv", "path": ")" +
           data + R"(", "id_column": "uid",
               "treatment": {"column": "treatment", "arms": ["control", "coupon"]},
               "value": {"column": "converted"}, "cost": {"per_arm": [0, 1]},
               "features": [{"column": "age", "type": "numeric"},
                            {"column": "member", "type": "binary"},
                            {"column": "channel", "type": "categorical"}]},
      "network": {"hidden1": 32, "hidden2": 16, "head_hidden": 8, "max_epochs": 4,
                  "batch_size": 256},
      "kmeans": {"k": 8},
      "solver": {"budgets": {"levels": 6}},
      "evaluation": {"seeds": 1, "budget_levels": 4, "methods": ["HRC"]},
      "distillation": {"epochs": 20, "hidden": [16]}
    })";
}

// 10,000 users (three inference blocks) with the columns reordered, an extra column, and some
// unknown channels and missing cells.
struct Users {
    std::vector<int64_t> ids;
    std::vector<std::string> age, member, channel;
};

Users make_users() {
    std::mt19937_64 rng(23);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const char* channels[] = {"Web", "Phone", "Store"};
    Users users;
    for (int i = 0; i < 10000; ++i) {
        users.ids.push_back(9000000 + 7 * int64_t(i));
        std::ostringstream age;
        age << 18 + 50 * unit(rng);
        users.age.push_back(i % 89 == 5 ? "" : age.str());
        users.member.push_back(i % 101 == 7 ? "NA" : (unit(rng) < 0.4 ? "1" : "0"));
        users.channel.push_back(i % 97 == 3 ? "Kiosk" : channels[rng() % 3]);
    }
    return users;
}

std::string users_csv(const Users& users) {
    std::ostringstream out;
    out << "channel,extra,uid,member,age\n";
    for (size_t i = 0; i < users.ids.size(); ++i)
        out << users.channel[i] << ",x" << i << ',' << users.ids[i] << ',' << users.member[i] << ','
            << users.age[i] << '\n';
    return out.str();
}

// The encoding spelled out from the encoder's stored statistics: (v - mean) / scale, 0 for a
// missing cell; one-hot over the stored levels, all zeros for an unknown level.
std::vector<float> encode_by_hand(const ServingPolicy& policy, const Users& users) {
    nlohmann::json columns = policy.encoder.to_json()["columns"];
    std::vector<float> x;
    for (size_t i = 0; i < users.ids.size(); ++i) {
        for (const auto& column : columns) {
            std::string name = column["name"];
            if (name == "channel") {
                for (const auto& level : column["levels"])
                    x.push_back(level == users.channel[i] ? 1.0f : 0.0f);
                continue;
            }
            const std::string& cell = name == "age" ? users.age[i] : users.member[i];
            bool missing = cell.empty() || cell == "NA";
            double mean = column["mean"], scale = column["scale"];
            x.push_back(missing ? 0.0f : float((std::stod(cell) - mean) / scale));
        }
    }
    return x;
}

struct AssignedRow {
    int64_t id = 0;
    int cluster = 0;
    std::string treatment;
};

std::vector<AssignedRow> read_assignments(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "user_id,cluster,treatment");
    std::vector<AssignedRow> rows;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string id, cluster, treatment;
        std::getline(fields, id, ',');
        std::getline(fields, cluster, ',');
        std::getline(fields, treatment);
        rows.push_back({std::stoll(id), std::stoi(cluster), treatment});
    }
    return rows;
}

class AssignCommandTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        root_ = new fs::path(fresh_directory("e2e_assign"));
        std::string data = write_text(*root_ / "rct.csv", rct_csv());
        std::string config = write_text(*root_ / "config.json", run_config(data));
        run_output_ = new std::string;
        auto result =
            run_clusteralloc("run --config " + config + " --out " + (*root_ / "run").string());
        *run_output_ = result.output;
        run_ok_ = result.exit_code == 0;
        users_ = new Users(make_users());
        write_text(*root_ / "users.csv", users_csv(*users_));
    }
    static void TearDownTestSuite() {
        delete root_;
        delete run_output_;
        delete users_;
    }
    void SetUp() override { ASSERT_TRUE(run_ok_) << *run_output_; }

    static std::string policy_path() { return (*root_ / "run" / "policy.json").string(); }

    // Runs assign on users.csv and compares every row with the in-memory pipeline.
    void expect_same_as_in_memory(double budget, BudgetMode mode, const std::string& flag) {
        fs::path out = *root_ / ("assignments_" + flag + ".csv");
        std::ostringstream command;
        command.precision(17);
        command << "assign --policy " << policy_path() << " --budget " << budget << " --input "
                << (*root_ / "users.csv").string() << " --out " << out.string() << " --budget-mode "
                << flag;
        auto result = run_clusteralloc(command.str());
        ASSERT_EQ(result.exit_code, 0) << result.output;
        EXPECT_NE(result.output.find("assigned 10000 users"), std::string::npos) << result.output;

        ServingPolicy policy = read_policy_file(policy_path());
        std::vector<float> x = encode_by_hand(policy, *users_);
        std::vector<int32_t> clusters =
            predict_clusters(policy.student, x.data(), int64_t(users_->ids.size()), cpu_backend());
        ServedAllocation allocation = lookup_budget(policy, budget, mode).allocation;

        std::vector<AssignedRow> rows = read_assignments(out);
        ASSERT_EQ(rows.size(), users_->ids.size());
        for (size_t i = 0; i < rows.size(); ++i) {
            ASSERT_EQ(rows[i].id, users_->ids[i]) << "row " << i;
            ASSERT_EQ(rows[i].cluster, clusters[i]) << "row " << i;
            int arm = arm_for_user(allocation, clusters[i], users_->ids[i]);
            ASSERT_EQ(rows[i].treatment, policy.arm_names[arm]) << "row " << i;
        }
    }

    static fs::path* root_;
    static std::string* run_output_;
    static bool run_ok_;
    static Users* users_;
};

fs::path* AssignCommandTest::root_ = nullptr;
std::string* AssignCommandTest::run_output_ = nullptr;
bool AssignCommandTest::run_ok_ = false;
Users* AssignCommandTest::users_ = nullptr;

TEST_F(AssignCommandTest, RunWritesPolicyAndDistillationReport) {
    ServingPolicy policy = read_policy_file(policy_path());
    EXPECT_EQ(policy.id_column, "uid");
    EXPECT_EQ(policy.arm_names, (std::vector<std::string>{"control", "coupon"}));
    EXPECT_EQ(policy.input_columns(), (std::vector<std::string>{"age", "member", "channel"}));
    EXPECT_EQ(policy.budgets.size(), 6u);
    EXPECT_EQ(policy.student.layout().widths(), (std::vector<int>{5, 16, policy.k}));
    EXPECT_EQ(policy.config["distillation"]["hidden"], nlohmann::json::array({16}));
    EXPECT_FALSE(policy.revision.empty());

    nlohmann::json metrics = read_json(*root_ / "run" / "metrics.json");
    ASSERT_TRUE(metrics.contains("distillation")) << metrics.dump();
    const auto& distillation = metrics["distillation"];
    EXPECT_EQ(distillation["seeds"], 1);
    double agreement = distillation["agreement_mean"];
    EXPECT_GT(agreement, 0.0);
    EXPECT_LE(agreement, 1.0);
    // The teacher column is HRC's own point at each level, as reported for HRC.
    const auto& hrc_levels = metrics["methods"][0]["levels"];
    ASSERT_EQ(distillation["levels"].size(), hrc_levels.size());
    for (size_t l = 0; l < hrc_levels.size(); ++l)
        EXPECT_DOUBLE_EQ(double(distillation["levels"][l]["teacher_eom_mean"]),
                         double(hrc_levels[l]["eom_mean"]));

    std::ifstream summary(*root_ / "run" / "summary.md");
    std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("## Distilled student"), std::string::npos);
    EXPECT_NE(run_output_->find("Distilled student: agrees with HRC's clusters on"),
              std::string::npos)
        << *run_output_;
}

TEST_F(AssignCommandTest, LowerModeEqualsInMemoryPipeline) {
    ServingPolicy policy = read_policy_file(policy_path());
    double budget =
        0.5 * (policy.budgets[2].budget_per_capita + policy.budgets[3].budget_per_capita);
    expect_same_as_in_memory(budget, BudgetMode::kLower, "lower");
}

TEST_F(AssignCommandTest, CudaWithoutADeviceIsRefusedBeforeWriting) {
    fs::path out = *root_ / "assignments_cuda.csv";
    auto result = run_clusteralloc("assign --policy " + policy_path() + " --budget 0.5 --input " +
                                   (*root_ / "users.csv").string() + " --out " + out.string() +
                                   " --device cuda");
    if (result.exit_code == 0) GTEST_SKIP() << "a CUDA device is present";
    bool no_backend = result.output.find("no CUDA backend") != std::string::npos;
    bool no_device = result.output.find("no CUDA device is visible") != std::string::npos;
    EXPECT_TRUE(no_backend || no_device) << result.output;
    EXPECT_FALSE(fs::exists(out));
}

TEST_F(AssignCommandTest, InterpolateModeEqualsInMemoryPipeline) {
    ServingPolicy policy = read_policy_file(policy_path());
    double budget =
        0.3 * policy.budgets[2].budget_per_capita + 0.7 * policy.budgets[3].budget_per_capita;
    expect_same_as_in_memory(budget, BudgetMode::kInterpolate, "interpolate");
}

// Runs assign on a small users file; returns the command's result.
testing::CommandResult assign_text(const fs::path& root, const std::string& name,
                                   const std::string& csv, const std::string& policy,
                                   const std::string& budget = "0.3") {
    std::string input = write_text(root / name, csv);
    return run_clusteralloc("assign --policy " + policy + " --budget " + budget + " --input " +
                            input + " --out " + (root / "out.csv").string());
}

void expect_no_output_left(const fs::path& root) {
    EXPECT_FALSE(fs::exists(root / "out.csv"));
    for (auto& entry : fs::directory_iterator(root))
        EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos)
            << entry.path();
}

TEST_F(AssignCommandTest, BadInputNamesLineAndColumnAndLeavesNoOutput) {
    fs::path root = fresh_directory("e2e_assign_bad");
    const std::string header = "uid,age,member,channel\n";
    const std::string good = "1,30,1,Web\n2,41,0,Phone\n";

    auto result = assign_text(root, "users.csv", header + good + "3,abc,1,Web\n", policy_path());
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.output.find("users.csv:4:2: column 'age': cannot parse \"abc\" as a number"),
              std::string::npos)
        << result.output;
    expect_no_output_left(root);

    result = assign_text(root, "binary.csv", header + good + "3,30,2,Web\n", policy_path());
    EXPECT_NE(result.output.find("binary.csv:4:3: binary column 'member' got \"2\""),
              std::string::npos)
        << result.output;

    result = assign_text(root, "ragged.csv", header + good + "3,30,1\n", policy_path());
    EXPECT_NE(result.output.find("ragged.csv:4:4: expected 4 fields as in the header, found 3"),
              std::string::npos)
        << result.output;

    result = assign_text(root, "id.csv", header + "x7,30,1,Web\n", policy_path());
    EXPECT_NE(result.output.find("id.csv:2:1: column 'uid': cannot parse \"x7\" as an integer"),
              std::string::npos)
        << result.output;

    result = assign_text(root, "columns.csv", "uid,age,channel\n1,30,Web\n", policy_path());
    EXPECT_NE(result.output.find("columns.csv:1: column 'member' (an input of the policy) is "
                                 "not in the header"),
              std::string::npos)
        << result.output;

    result = assign_text(root, "empty.csv", "", policy_path());
    EXPECT_NE(result.output.find("empty.csv: empty file"), std::string::npos) << result.output;
    expect_no_output_left(root);
}

TEST_F(AssignCommandTest, BadBudgetsAndPolicies) {
    fs::path root = fresh_directory("e2e_assign_budget");
    const std::string csv = "uid,age,member,channel\n1,30,1,Web\n";
    auto result = assign_text(root, "users.csv", csv, policy_path(), "-1");
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.output.find("budget must be a finite number >= 0"), std::string::npos)
        << result.output;
    expect_no_output_left(root);

    result = assign_text(root, "users.csv", csv, policy_path(), "100");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("above the policy's highest grid budget"), std::string::npos)
        << result.output;

    std::string text = testing::read_text(policy_path());
    size_t digit = text.find_first_of("123456789", text.find("\"parameters\":[") + 20);
    text[digit] = text[digit] == '9' ? '8' : char(text[digit] + 1);
    std::string corrupt = write_text(root / "corrupt.json", text);
    fs::remove(root / "out.csv");
    result = assign_text(root, "users.csv", csv, corrupt);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.output.find("corrupt.json: checksum mismatch"), std::string::npos)
        << result.output;
    expect_no_output_left(root);

    result = run_clusteralloc("assign --policy " + policy_path() + " --input x.csv --out y.csv");
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.output.find("--budget is required"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace ca
