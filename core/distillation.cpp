// Student training: shuffled mini-batches, softmax cross-entropy on hard or soft teacher labels,
// Adam, and early stopping on the validation agreement with the best weights restored. The
// ranks share each batch's parts and the validation rows; every rank ends with the same weights.
#include "core/distillation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "core/adam_optimizer.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/parted_gradient.h"
#include "core/shuffle.h"

namespace ca {

DistillationParams DistillationParams::from_config(const ConfigNode& node) {
    node.allow_only({"enabled", "hidden", "epochs", "batch_size", "learning_rate", "labels",
                     "temperature", "patience", "seed", "gradient_parts"});
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
    params.gradient_parts =
        int(node.integer_in("gradient_parts", params.gradient_parts, 1, 1 << 12));
    if ((params.gradient_parts & (params.gradient_parts - 1)) != 0)
        node.fail("gradient_parts",
                  "expected a power of two, got " + std::to_string(params.gradient_parts));
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
            {"seed", seed},
            {"gradient_parts", gradient_parts}};
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

// Shuffled mini-batches, each cut into the fixed parts of core/parted_gradient.h: the ranks
// share the parts and, on the CPU, a rank's parts run side by side.
class StudentTrainer {
  public:
    StudentTrainer(const Dataset& train, const TeacherClusters& teacher,
                   const DistillationParams& params, Mlp& student, Backend& backend,
                   Communicator& comm)
        : train_(train),
          teacher_(teacher),
          params_(params),
          student_(student),
          backend_(backend),
          adam_(student.parameter_count(), adam_params(params)),
          rng_(params.seed),
          order_(train.n),
          parted_(params.gradient_parts, student.parameter_count(), comm,
                  backend.concurrent_calls()),
          parts_(size_t(parted_.own_parts())) {
        for (int64_t i = 0; i < train.n; ++i) order_[i] = i;
    }

    /// One epoch; returns the mean cross-entropy per row, the same on every rank.
    double run_epoch() {
        shuffle_rows(order_, rng_);
        for (int64_t start = 0; start < train_.n; start += params_.batch_size) {
            const int64_t rows = std::min<int64_t>(params_.batch_size, train_.n - start);
            const std::vector<float>& gradient =
                parted_.batch(rows, [&](int q, RowRange part, float* part_gradient) {
                    return part_loss(parts_[size_t(q)], order_.data() + start + part.begin,
                                     part.size(), rows, part_gradient);
                });
            adam_.step(student_.parameters().data(), gradient.data(), backend_);
        }
        return parted_.take_loss_total() / double(train_.n);
    }

  private:
    // What one part of a batch reuses from batch to batch.
    struct PartScratch {
        MlpWorkspace workspace;
        std::vector<float> x, z, targets, logit_gradient;
        std::vector<int32_t> labels;
    };

    static AdamParams adam_params(const DistillationParams& params) {
        AdamParams adam;
        adam.learning_rate = float(params.learning_rate);
        return adam;
    }

    // Summed cross-entropy of the listed rows; their gradient, divided by the batch's rows,
    // into gradient.
    double part_loss(PartScratch& part, const int64_t* rows, int64_t count, int64_t batch_rows,
                     float* gradient) {
        const int d = train_.d, k = teacher_.k;
        part.x.resize(size_t(count) * d);
        part.labels.resize(size_t(count));
        for (int64_t r = 0; r < count; ++r) {
            std::copy_n(train_.row(rows[r]), d, part.x.data() + r * d);
            part.labels[size_t(r)] = teacher_.train_labels[size_t(rows[r])];
        }
        const float* soft = nullptr;
        if (params_.labels == "soft") {
            part.z.resize(size_t(count) * teacher_.hidden_width);
            teacher_.hidden(part.x.data(), count, part.z.data());
            part.targets.resize(size_t(count) * k);
            soft_cluster_targets(part.z.data(), count, teacher_.hidden_width,
                                 teacher_.centroids.data(), k, params_.temperature,
                                 part.targets.data());
            soft = part.targets.data();
        }
        const MlpLayout& layout = student_.layout();
        const float* parameters = student_.parameters().data();
        layout.forward(parameters, part.x.data(), count, backend_, part.workspace);
        part.logit_gradient.resize(size_t(count) * k);
        const double loss =
            softmax_cross_entropy(part.workspace.layer_output(layout.layer_count() - 1), count, k,
                                  soft ? nullptr : part.labels.data(), soft,
                                  1.0 / double(batch_rows), part.logit_gradient.data());
        layout.backward(parameters, part.x.data(), part.logit_gradient.data(), count, backend_,
                        part.workspace, gradient, nullptr);
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
    PartedGradient parted_;
    std::vector<PartScratch> parts_;
};

// Share of rows whose student cluster is the teacher's. Each rank predicts its run of whole
// inference blocks and the counts are summed: the same share as one process.
double sharded_agreement(const Mlp& student, const Dataset& rows,
                         const std::vector<int32_t>& labels, Backend& backend, Communicator& comm) {
    if (rows.n == 0) return 1.0;
    const RowRange own = comm.aligned_shard(rows.n, MlpLayout::kInferenceBlockRows);
    std::vector<int32_t> predicted =
        predict_clusters(student, rows.row(own.begin), own.size(), backend);
    int64_t same = 0;
    for (int64_t i = 0; i < own.size(); ++i)
        same += predicted[size_t(i)] == labels[size_t(own.begin + i)] ? 1 : 0;
    return double(allreduce_sum(comm, same)) / double(rows.n);
}

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
                               Backend& backend, Communicator& comm) {
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

    StudentTrainer trainer(train, teacher, params, student, backend, comm);
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
        double agreed = sharded_agreement(student, judge, judge_labels, backend, comm);
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
