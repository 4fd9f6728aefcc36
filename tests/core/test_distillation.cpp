// Student training: the loss against hand-computed values, soft labels against the formula, and
// near-perfect agreement on well-separated blobs whose teacher labels are the blob ids.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/distillation.h"
#include "core/errors.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

TEST(DistillLossTest, HardLabelCrossEntropyAndGradientByHand) {
    // Logits (0, ln 3): softmax (1/4, 3/4).
    const float logits[2] = {0.0f, float(std::log(3.0))};
    const int32_t label = 1;
    float gradient[2];
    double loss = softmax_cross_entropy(logits, 1, 2, &label, nullptr, 1.0, gradient);
    EXPECT_NEAR(loss, -std::log(0.75), 1e-7);
    EXPECT_NEAR(gradient[0], 0.25, 1e-7);
    EXPECT_NEAR(gradient[1], -0.25, 1e-7);
}

TEST(DistillLossTest, SoftTargetsAndScaleByHand) {
    const float logits[2] = {0.0f, float(std::log(3.0))};
    const float targets[2] = {0.5f, 0.5f};
    float gradient[2];
    double loss = softmax_cross_entropy(logits, 1, 2, nullptr, targets, 0.5, gradient);
    EXPECT_NEAR(loss, -0.5 * std::log(0.25) - 0.5 * std::log(0.75), 1e-7);
    EXPECT_NEAR(gradient[0], 0.5 * (0.25 - 0.5), 1e-7);
    EXPECT_NEAR(gradient[1], 0.5 * (0.75 - 0.5), 1e-7);
}

TEST(DistillLossTest, HugeLogitsStayFinite) {
    // A naive exp(1000) overflows; the loss of the wrong label is the logit gap, 1000.
    const float logits[2] = {1000.0f, 0.0f};
    const int32_t right = 0, wrong = 1;
    EXPECT_NEAR(softmax_cross_entropy(logits, 1, 2, &right, nullptr, 1.0, nullptr), 0.0, 1e-9);
    EXPECT_NEAR(softmax_cross_entropy(logits, 1, 2, &wrong, nullptr, 1.0, nullptr), 1000.0, 1e-6);
}

TEST(DistillSoftLabelsTest, FollowTheCentroidDistances) {
    // z = (0, 0); centroids (1, 0) and (0, 2): squared distances 1 and 4.
    const float z[2] = {0.0f, 0.0f};
    const float centroids[4] = {1.0f, 0.0f, 0.0f, 2.0f};
    float targets[2];
    soft_cluster_targets(z, 1, 2, centroids, 2, 1.0, targets);
    double p0 = std::exp(-1.0) / (std::exp(-1.0) + std::exp(-4.0));
    EXPECT_NEAR(targets[0], p0, 1e-6);
    EXPECT_NEAR(targets[1], 1.0 - p0, 1e-6);

    // T = 3 flattens them: exp(-1/3) against exp(-4/3).
    soft_cluster_targets(z, 1, 2, centroids, 2, 3.0, targets);
    EXPECT_NEAR(targets[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
}

TEST(DistillSoftLabelsTest, FarPointsDoNotUnderflow) {
    // Squared distances near 1e8 with T = 1: exp(-1e8) is 0 in double, yet the nearest
    // centroid must still get probability 1.
    const float z[1] = {10000.0f};
    const float centroids[2] = {0.0f, 1.0f};
    float targets[2];
    soft_cluster_targets(z, 1, 1, centroids, 2, 1.0, targets);
    EXPECT_FLOAT_EQ(targets[0], 0.0f);
    EXPECT_FLOAT_EQ(targets[1], 1.0f);
}

// K well-separated Gaussian blobs in D dimensions: centres on a scaled random sign pattern,
// at least 8 standard deviations apart in every pair, so the blob id is the right cluster.
struct Blobs {
    Dataset rows;
    std::vector<int32_t> labels;
    std::vector<float> centres;  ///< K x D
};

Blobs make_blobs(int64_t n, int k, int d, uint64_t seed, const std::vector<float>& centres) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 0.5f);
    Blobs blobs;
    blobs.centres = centres;
    blobs.rows.n = n;
    blobs.rows.d = d;
    blobs.rows.x.resize(size_t(n) * d);
    for (int64_t i = 0; i < n; ++i) {
        int32_t blob = int32_t(rng() % uint64_t(k));
        blobs.labels.push_back(blob);
        for (int j = 0; j < d; ++j)
            blobs.rows.x[i * d + j] = centres[size_t(blob) * d + j] + noise(rng);
    }
    return blobs;
}

std::vector<float> blob_centres(int k, int d) {
    // Corners of the hypercube {-4, 4}^d picked by the bits of the blob index: distinct
    // corners differ by at least 8 in one coordinate (16 standard deviations of the noise).
    std::vector<float> centres(size_t(k) * d);
    for (int c = 0; c < k; ++c)
        for (int j = 0; j < d; ++j) centres[size_t(c) * d + j] = ((c >> j) & 1) ? 4.0f : -4.0f;
    return centres;
}

// The teacher of blob data: the blob ids as labels, and for soft labels z = x with the blob
// centres as centroids.
TeacherClusters blob_teacher(const Blobs& train, const Blobs& validation, int k, int d) {
    TeacherClusters teacher;
    teacher.k = k;
    teacher.train_labels = train.labels;
    teacher.validation_labels = validation.labels;
    teacher.hidden = [d](const float* x, int64_t rows, float* z) { std::copy_n(x, rows * d, z); };
    teacher.hidden_width = d;
    teacher.centroids = train.centres;
    return teacher;
}

double student_agreement_on_blobs(const DistillationParams& params) {
    const int k = 6, d = 5;
    std::vector<float> centres = blob_centres(k, d);
    Blobs train = make_blobs(3000, k, d, 1, centres);
    Blobs validation = make_blobs(500, k, d, 2, centres);
    Blobs test = make_blobs(2000, k, d, 3, centres);

    // The blobs live in x itself: z = x, and the centroids are the blob centres.
    const TeacherClusters teacher = blob_teacher(train, validation, k, d);

    DistilledStudent student =
        train_student(train.rows, validation.rows, teacher, params, cpu_backend());
    EXPECT_GE(student.report.best_epoch, 1);
    EXPECT_FALSE(student.report.epochs.empty());
    std::vector<int32_t> predicted =
        predict_clusters(student.network, test.rows.x.data(), test.rows.n, cpu_backend());
    return agreement(predicted, test.labels);
}

TEST(DistillTrainingTest, HardLabelsAgreeWithSeparableTeacher) {
    DistillationParams params;
    params.epochs = 15;
    EXPECT_GT(student_agreement_on_blobs(params), 0.95);
}

TEST(DistillTrainingTest, SoftLabelsAgreeWithSeparableTeacher) {
    DistillationParams params;
    params.epochs = 15;
    params.labels = "soft";
    params.temperature = 4.0;
    EXPECT_GT(student_agreement_on_blobs(params), 0.95);
}

TEST(DistillTrainingTest, SameSeedGivesSameStudent) {
    std::vector<float> centres = blob_centres(4, 3);
    Blobs train = make_blobs(400, 4, 3, 5, centres);
    Blobs validation = make_blobs(100, 4, 3, 6, centres);
    TeacherClusters teacher;
    teacher.k = 4;
    teacher.train_labels = train.labels;
    teacher.validation_labels = validation.labels;
    DistillationParams params;
    params.epochs = 3;
    params.hidden = {8};
    DistilledStudent a = train_student(train.rows, validation.rows, teacher, params, cpu_backend());
    DistilledStudent b = train_student(train.rows, validation.rows, teacher, params, cpu_backend());
    EXPECT_EQ(a.network.parameters(), b.network.parameters());
    EXPECT_EQ(a.network.layout().widths(), (std::vector<int>{3, 8, 4}));
}

// The ranks share each batch's parts and the validation rows: every rank ends with the bits
// one process gets, for hard and soft labels, whatever the number of ranks (8 ranks leave
// some without a part).
TEST(DistillTrainingTest, EveryRankCountTrainsTheOneProcessStudent) {
    const int k = 4, d = 3;
    std::vector<float> centres = blob_centres(k, d);
    Blobs train = make_blobs(700, k, d, 5, centres);
    Blobs validation = make_blobs(9000, k, d, 6, centres);  // more than two inference blocks
    const TeacherClusters teacher = blob_teacher(train, validation, k, d);
    for (const char* labels : {"hard", "soft"}) {
        DistillationParams params;
        params.epochs = 3;
        params.hidden = {8};
        params.batch_size = 100;
        params.labels = labels;
        const DistilledStudent one =
            train_student(train.rows, validation.rows, teacher, params, cpu_backend());
        for (int ranks : {2, 3, 8}) {
            auto students = testing::run_on_ranks<DistilledStudent>(ranks, [&](Communicator& comm) {
                return train_student(train.rows, validation.rows, teacher, params, cpu_backend(),
                                     comm);
            });
            for (const DistilledStudent& student : students) {
                EXPECT_EQ(student.network.parameters(), one.network.parameters())
                    << labels << ", " << ranks << " ranks";
                ASSERT_EQ(student.report.epochs.size(), one.report.epochs.size());
                for (size_t e = 0; e < one.report.epochs.size(); ++e) {
                    EXPECT_EQ(student.report.epochs[e].train_loss, one.report.epochs[e].train_loss);
                    EXPECT_EQ(student.report.epochs[e].validation_agreement,
                              one.report.epochs[e].validation_agreement);
                }
            }
        }
    }
}

TEST(DistillTrainingTest, LabelsOutsideTheClustersAreRefused) {
    std::vector<float> centres = blob_centres(2, 2);
    Blobs train = make_blobs(10, 2, 2, 7, centres);
    TeacherClusters teacher;
    teacher.k = 2;
    teacher.train_labels = train.labels;
    teacher.train_labels[3] = 2;
    try {
        train_student(train.rows, Dataset{}, teacher, DistillationParams{}, cpu_backend());
        FAIL() << "a label outside [0, K) was accepted";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("training row 3 has cluster 2, outside [0, 2)"),
                  std::string::npos)
            << error.what();
    }
    teacher.train_labels.pop_back();
    EXPECT_THROW(train_student(train.rows, Dataset{}, teacher, DistillationParams{}, cpu_backend()),
                 InputError);
}

TEST(DistillParamsTest, ReadsEveryKeyAndWritesItBack) {
    nlohmann::json document = {{"enabled", false},   {"hidden", {32, 16}},    {"epochs", 7},
                               {"batch_size", 128},  {"learning_rate", 0.01}, {"labels", "soft"},
                               {"temperature", 2.5}, {"patience", 2},         {"seed", 9},
                               {"gradient_parts", 8}};
    DistillationParams params =
        DistillationParams::from_config(ConfigNode::from_json(document, "test.json"));
    EXPECT_FALSE(params.enabled);
    EXPECT_EQ(params.hidden, (std::vector<int>{32, 16}));
    EXPECT_EQ(params.epochs, 7);
    EXPECT_EQ(params.batch_size, 128);
    EXPECT_DOUBLE_EQ(params.learning_rate, 0.01);
    EXPECT_EQ(params.labels, "soft");
    EXPECT_DOUBLE_EQ(params.temperature, 2.5);
    EXPECT_EQ(params.patience, 2);
    EXPECT_EQ(params.seed, 9u);
    EXPECT_EQ(params.gradient_parts, 8);
    EXPECT_EQ(params.to_json(), document);
}

TEST(DistillParamsTest, DefaultsMatchTheDocumentedOnes) {
    DistillationParams params =
        DistillationParams::from_config(ConfigNode::from_json(nlohmann::json::object(), "t"));
    EXPECT_TRUE(params.enabled);
    EXPECT_EQ(params.hidden, (std::vector<int>{64}));
    EXPECT_EQ(params.labels, "hard");
}

TEST(DistillParamsTest, BadValuesNameTheKey) {
    auto message_of = [](const nlohmann::json& document) {
        try {
            DistillationParams::from_config(ConfigNode::from_json(document, "run.json"));
        } catch (const ConfigError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message_of({{"label", "hard"}}).find("label"), std::string::npos);
    EXPECT_NE(message_of({{"labels", "fuzzy"}}).find("labels"), std::string::npos);
    EXPECT_NE(message_of({{"gradient_parts", 3}}).find("gradient_parts"), std::string::npos);
    EXPECT_NE(message_of({{"hidden", {64, 0}}}).find("hidden[1]"), std::string::npos);
    EXPECT_NE(message_of({{"temperature", 0}}).find("temperature"), std::string::npos);
    EXPECT_NE(message_of({{"epochs", -1}}).find("epochs"), std::string::npos);
}

}  // namespace
}  // namespace ca
