// Student training: shuffled mini-batches, softmax cross-entropy on hard or soft teacher labels,
// Adam, and early stopping on the validation agreement with the best weights restored.
#include "core/distillation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "core/adam_optimizer.h"
#include "core/errors.h"
#include "core/log.h"

namespace ca {

DistillationParams DistillationParams::from_config(const ConfigNode& node) {
    node.allow_only({"enabled", "hidden", "epochs", "batch_size", "learning_rate", "labels",
                     "temperature", "patience", "seed"});
    DistillationParams params;
    params.enabled = node.boolean("enabled", params.enabled);
    std::vector<double> hidden(params.hidden.begin(), params.hidden.end());
    hidden = node.numbers("hidden", hidden);
    params.hidden.clear();
    for (size_t i = 0; i < hidden.size(); ++i) {
        if (hidden[i] < 1 || hidden[i] > 65536 || hidden[i] != std::floor(hidden[i]))
            node.fail("hidden[" + std::to_string(i) + "]",
                      "expected a layer width in [1, 65536], got " + std::to_string(hidden[i]));
        params.hidden.push_back(int(hidden[i]));
    }
    params.epochs = int(node.integer_in("epochs", params.epochs, 1, 100000));
    params.batch_size = int(node.integer_in("batch_size", params.batch_size, 1, 1 << 20));
    params.learning_rate = node.number_in("learning_rate", params.learning_rate, 1e-9, 10.0);
    params.labels = node.choice("labels", params.labels, {"hard", "soft"});
    params.temperature = node.number_in("temperature", params.temperature, 1e-9, 1e12);
    params.patience = int(node.integer_in("patience", params.patience, 1, 100000));
    params.seed =
        uint64_t(node.integer_in("seed", long(params.seed), 0, std::numeric_limits<long>::max()));
    return params;
}

nlohmann::json DistillationParams::to_json() const {
    return {{"enabled", enabled},
            {"hidden", hidden},
            {"epochs", epochs},
            {"batch_size", batch_size},
            {"learning_rate", learning_rate},
            {"labels", labels},
            {"temperature", temperature},
            {"patience", patience},
            {"seed", seed}};
}

nlohmann::json StudentReport::to_json() const {
    nlohmann::json history = nlohmann::json::array();
    for (const auto& epoch : epochs)
        history.push_back({{"epoch", epoch.epoch},
                           {"train_loss", epoch.train_loss},
                           {"validation_agreement", epoch.validation_agreement},
                           {"seconds", epoch.seconds}});
    return {{"epochs", history},
            {"best_epoch", best_epoch},
            {"validation_agreement", validation_agreement},
            {"stopped_early", stopped_early},
            {"seconds", seconds}};
}

void argmax_rows(const float* logits, int64_t rows, int k, int32_t* clusters) {
    for (int64_t i = 0; i < rows; ++i) {
        const float* row = logits + i * k;
        clusters[i] = int32_t(std::max_element(row, row + k) - row);
    }
}

std::vector<int32_t> predict_clusters(const Mlp& student, const float* x, int64_t n,
                                      Backend& backend) {
    const int k = student.output_width();
    std::vector<int32_t> clusters(n);
    // Block by block, so the logits of a large population never exist all at once.
    const int64_t block = MlpLayout::kInferenceBlockRows;
    std::vector<float> logits(size_t(std::min(n, block)) * k);
    for (int64_t start = 0; start < n; start += block) {
        const int64_t rows = std::min(block, n - start);
        student.infer(x + start * student.input_width(), rows, backend, logits.data());
        argmax_rows(logits.data(), rows, k, clusters.data() + start);
    }
    return clusters;
}

double agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    CA_ASSERT_MSG(a.size() == b.size(), a.size() << " labels against " << b.size());
    if (a.empty()) return 1.0;
    int64_t same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i] ? 1 : 0;
    return double(same) / double(a.size());
}

double softmax_cross_entropy(const float* logits, int64_t rows, int k, const int32_t* labels,
                             const float* soft_targets, double gradient_scale, float* gradient) {
    double total = 0.0;
    std::vector<double> shifted(k);
    for (int64_t i = 0; i < rows; ++i) {
        const float* row = logits + i * k;
        // log-sum-exp around the largest logit: exact for any logit magnitude.
        double top = *std::max_element(row, row + k);
        double sum = 0.0;
        for (int c = 0; c < k; ++c) {
            shifted[c] = double(row[c]) - top;
            sum += std::exp(shifted[c]);
        }
        double log_sum = std::log(sum);
        for (int c = 0; c < k; ++c) {
            double target = labels ? (labels[i] == c ? 1.0 : 0.0) : soft_targets[i * k + c];
            double log_p = shifted[c] - log_sum;
            if (target > 0.0) total -= target * log_p;
            if (gradient) gradient[i * k + c] = float(gradient_scale * (std::exp(log_p) - target));
        }
    }
    return total;
}

void soft_cluster_targets(const float* z, int64_t rows, int width, const float* centroids, int k,
                          double temperature, float* targets) {
    std::vector<double> distance(k);
    for (int64_t i = 0; i < rows; ++i) {
        const float* point = z + i * int64_t(width);
        for (int c = 0; c < k; ++c) {
            const float* centre = centroids + int64_t(c) * width;
            double squares = 0.0;
            for (int j = 0; j < width; ++j) {
                double diff = double(point[j]) - centre[j];
                squares += diff * diff;
            }
            distance[c] = squares;
        }
        double nearest = *std::min_element(distance.begin(), distance.end());
        double sum = 0.0;
        for (int c = 0; c < k; ++c) {
            distance[c] = std::exp(-(distance[c] - nearest) / temperature);
            sum += distance[c];
        }
        for (int c = 0; c < k; ++c) targets[i * k + c] = float(distance[c] / sum);
    }
}

namespace {

void check_labels(const std::vector<int32_t>& labels, int64_t rows, int k, const char* split) {
    if (int64_t(labels.size()) != rows)
        CA_THROW(InputError, "distillation: " << labels.size() << " teacher labels for the " << rows
                                              << " " << split << " rows");
    for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || labels[i] >= k)
            CA_THROW(InputError, "distillation: " << split << " row " << i << " has cluster "
                                                  << labels[i] << ", outside [0, " << k << ")");
}

// Fisher-Yates over mt19937_64 (std::shuffle differs between standard libraries).
void shuffle_rows(std::vector<int64_t>& order, std::mt19937_64& rng) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
}

// One epoch's mini-batches; returns the mean cross-entropy per row.
class StudentTrainer {
  public:
    StudentTrainer(const Dataset& train, const TeacherClusters& teacher,
                   const DistillationParams& params, Mlp& student, Backend& backend)
        : train_(train),
          teacher_(teacher),
          params_(params),
          student_(student),
          backend_(backend),
          adam_(student.parameter_count(), adam_params(params)),
          rng_(params.seed),
          order_(train.n) {
        for (int64_t i = 0; i < train.n; ++i) order_[i] = i;
    }

    double run_epoch() {
        shuffle_rows(order_, rng_);
        double total = 0.0;
        for (int64_t start = 0; start < train_.n; start += params_.batch_size)
            total += run_batch(start, std::min<int64_t>(params_.batch_size, train_.n - start));
        return total / double(train_.n);
    }

  private:
    static AdamParams adam_params(const DistillationParams& params) {
        AdamParams adam;
        adam.learning_rate = float(params.learning_rate);
        return adam;
    }

    double run_batch(int64_t start, int64_t rows) {
        const int d = train_.d, k = teacher_.k;
        batch_x_.resize(size_t(rows) * d);
        batch_labels_.resize(rows);
        for (int64_t r = 0; r < rows; ++r) {
            int64_t row = order_[start + r];
            std::copy_n(train_.row(row), d, batch_x_.data() + r * d);
            batch_labels_[r] = teacher_.train_labels[row];
        }
        const float* soft = nullptr;
        if (params_.labels == "soft") {
            batch_z_.resize(size_t(rows) * teacher_.hidden_width);
            teacher_.hidden(batch_x_.data(), rows, batch_z_.data());
            batch_targets_.resize(size_t(rows) * k);
            soft_cluster_targets(batch_z_.data(), rows, teacher_.hidden_width,
                                 teacher_.centroids.data(), k, params_.temperature,
                                 batch_targets_.data());
            soft = batch_targets_.data();
        }

        student_.forward(batch_x_.data(), rows, backend_, workspace_);
        gradient_.resize(size_t(rows) * k);
        double loss = softmax_cross_entropy(student_.output(workspace_), rows, k,
                                            soft ? nullptr : batch_labels_.data(), soft,
                                            1.0 / double(rows), gradient_.data());
        student_.backward(batch_x_.data(), gradient_.data(), rows, backend_, workspace_);
        adam_.step(student_.parameters().data(), student_.gradient().data(), backend_);
        return loss;
    }

    const Dataset& train_;
    const TeacherClusters& teacher_;
    const DistillationParams& params_;
    Mlp& student_;
    Backend& backend_;
    AdamOptimizer adam_;
    std::mt19937_64 rng_;
    std::vector<int64_t> order_;
    MlpWorkspace workspace_;
    std::vector<float> batch_x_, batch_z_, batch_targets_, gradient_;
    std::vector<int32_t> batch_labels_;
};

void check_teacher(const Dataset& train, const Dataset& validation, const TeacherClusters& teacher,
                   const DistillationParams& params) {
    if (teacher.k < 1) CA_THROW(InputError, "distillation: the teacher has K = " << teacher.k);
    if (train.n < 1) CA_THROW(InputError, "distillation: no training rows");
    check_labels(teacher.train_labels, train.n, teacher.k, "training");
    check_labels(teacher.validation_labels, validation.n, teacher.k, "validation");
    if (params.labels != "soft") return;
    if (!teacher.hidden || teacher.hidden_width < 1 ||
        teacher.centroids.size() != size_t(teacher.k) * teacher.hidden_width)
        CA_THROW(InputError, "distillation: soft labels need the teacher's representation and "
                                 << teacher.k << " centroids of its width");
}

}  // namespace

DistilledStudent train_student(const Dataset& train, const Dataset& validation,
                               const TeacherClusters& teacher, const DistillationParams& params,
                               Backend& backend) {
    check_teacher(train, validation, teacher, params);
    std::vector<int> widths = {train.d};
    widths.insert(widths.end(), params.hidden.begin(), params.hidden.end());
    widths.push_back(teacher.k);
    DistilledStudent result{Mlp(widths, params.seed), {}};
    Mlp& student = result.network;
    StudentReport& report = result.report;

    // Without validation rows the training rows judge the epochs.
    const Dataset& judge = validation.n > 0 ? validation : train;
    const std::vector<int32_t>& judge_labels =
        validation.n > 0 ? teacher.validation_labels : teacher.train_labels;

    StudentTrainer trainer(train, teacher, params, student, backend);
    std::vector<float> best = student.parameters();
    double best_agreement = -1.0;
    int since_best = 0;
    double start = wall_seconds();
    for (int epoch = 1; epoch <= params.epochs; ++epoch) {
        double epoch_start = wall_seconds();
        double loss = trainer.run_epoch();
        if (!std::isfinite(loss))
            CA_THROW(ConfigError, "distillation diverged at epoch "
                                      << epoch << " (loss " << loss
                                      << "); lower distillation.learning_rate (now "
                                      << params.learning_rate << ")");
        double agreed =
            agreement(predict_clusters(student, judge.x.data(), judge.n, backend), judge_labels);
        report.epochs.push_back({epoch, loss, agreed, wall_seconds() - epoch_start});
        log_debug("distillation epoch " + std::to_string(epoch) + ": loss " + std::to_string(loss) +
                  ", validation agreement " + std::to_string(agreed));

        if (agreed > best_agreement) {
            best_agreement = agreed;
            best = student.parameters();
            report.best_epoch = epoch;
            since_best = 0;
        } else if (++since_best >= params.patience) {
            report.stopped_early = epoch < params.epochs;
            break;
        }
    }
    student.parameters() = best;
    report.validation_agreement = best_agreement;
    report.seconds = wall_seconds() - start;
    return result;
}

}  // namespace ca
