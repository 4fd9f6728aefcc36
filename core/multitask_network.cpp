// Multi-task network: task set-up from the data, the factual-arm loss and its gradient over a
// batch, the training loop with early stopping, and blocked inference.
#include "core/multitask_network.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "core/errors.h"
#include "core/log.h"
#include "core/ordered_sum.h"
#include "core/parted_gradient.h"
#include "core/shuffle.h"

namespace ca {

// Targets of every task divided by the task's scale, and each row's weight N/N_t.
struct MultiTaskNetwork::TaskData {
    std::vector<std::vector<float>> targets;
    std::vector<float> weight;
};

// A batch in contiguous memory: rows x D features, and per row its arm, targets and weight.
struct MultiTaskNetwork::Batch {
    const float* x = nullptr;
    int64_t rows = 0;
    const int32_t* arm = nullptr;
    std::vector<const float*> targets;
    const float* weight = nullptr;
};

// Everything one training run reuses from batch to batch, so batches allocate nothing.
struct MultiTaskNetwork::Scratch {
    MlpWorkspace trunk, head;
    std::vector<float> head_gradient;  ///< rows x M, d loss / d head output
    std::vector<float> z_gradient;     ///< rows x h2, d loss / d z summed over heads
    std::vector<float> x;
    std::vector<int32_t> arm;
    std::vector<std::vector<float>> targets;
    std::vector<float> weight;
    Batch batch;
    /// One per mini-batch part this rank owns, when the parts run side by side.
    std::vector<Scratch> parts;
};

namespace {
// Distinct, well-mixed seeds for the trunk, each head and the batch order (splitmix64).
uint64_t derive_seed(uint64_t seed, uint64_t stream) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

bool all_binary(const std::vector<float>& column) {
    return std::all_of(column.begin(), column.end(),
                       [](float v) { return v == 0.0f || v == 1.0f; });
}

// Population standard deviation; 1 when the column is constant, so targets stay as they are.
float target_scale(const std::vector<float>& column) {
    if (column.empty()) return 1.0f;
    double sum = 0.0, sum_squares = 0.0;
    for (float v : column) sum += v;
    const double mean = sum / double(column.size());
    for (float v : column) sum_squares += (v - mean) * (v - mean);
    const double std_dev = std::sqrt(sum_squares / double(column.size()));
    return std_dev > 0.0 && std::isfinite(std_dev) ? float(std_dev) : 1.0f;
}

const std::vector<float>& task_column(const Dataset& data, int task) {
    if (task == 0) return data.value;
    if (task == 1) return data.cost;
    return data.aux[task - 2];
}

std::string row_location(const Dataset& data, int64_t row) {
    if (!data.source_line.empty()) return at_location(data.source, data.source_line[row], 0, "");
    return data.source + ": row " + std::to_string(row + 1) + ": ";
}

}  // namespace

MultiTaskNetwork::MultiTaskNetwork(const MultiTaskNetworkParams& params, int d, int m, int n_aux)
    : params_(params), d_(d), m_(m), n_aux_(n_aux) {
    if (d < 1 || m < 1 || n_aux < 0)
        CA_THROW(InputError, "network: needs at least one feature and one arm, got D="
                                 << d << ", M=" << m << ", auxiliary outcomes=" << n_aux);
    trunk_ = MlpLayout({d, params.hidden1, params.hidden2}, /*relu_output=*/true);
    head_ = params.head_hidden > 0 ? MlpLayout({params.hidden2, params.head_hidden, m})
                                   : MlpLayout({params.hidden2, m});
    tasks_.push_back({"value", LossKind::kMse, 1.0f, params.value_weight});
    tasks_.push_back({"cost", LossKind::kMse, 1.0f, params.cost_weight});
    for (int a = 0; a < n_aux; ++a)
        tasks_.push_back({"aux" + std::to_string(a), LossKind::kMse, 1.0f, params.aux_weight});

    parameters_.resize(head_offset(task_count()));
    trunk_.init_he(parameters_.data(), derive_seed(params.seed, 0));
    for (int t = 0; t < task_count(); ++t)
        head_.init_he(parameters_.data() + head_offset(t), derive_seed(params.seed, 1 + t));
}

void MultiTaskNetwork::check_data(const Dataset& data, const std::string& role) const {
    if (data.d != d_ || data.m != m_ || int(data.aux.size()) != n_aux_)
        CA_THROW(InputError, data.source << ": the " << role << " set has D=" << data.d
                                         << ", M=" << data.m << ", " << data.aux.size()
                                         << " auxiliary outcomes; the network expects D=" << d_
                                         << ", M=" << m_ << ", " << n_aux_);
    CA_ASSERT(int64_t(data.x.size()) == data.n * d_ && int64_t(data.arm.size()) == data.n);
    CA_ASSERT(int64_t(data.value.size()) == data.n && int64_t(data.cost.size()) == data.n);
    for (int64_t i = 0; i < data.n; ++i) {
        if (data.arm[i] < 0 || data.arm[i] >= m_)
            CA_THROW(InputError, row_location(data, i)
                                     << "arm " << data.arm[i] << " is outside [0, " << m_ << ")");
        for (int t = 0; t < task_count(); ++t) {
            const float v = task_column(data, t)[i];
            if (!std::isfinite(v))
                CA_THROW(InputError, row_location(data, i) << tasks_[t].name << " is " << v
                                                           << "; outcomes must be finite");
        }
        const float* row = data.row(i);
        for (int j = 0; j < d_; ++j)
            if (!std::isfinite(row[j]))
                CA_THROW(InputError, row_location(data, i) << "feature " << j << " is " << row[j]
                                                           << "; features must be finite");
    }
}

void MultiTaskNetwork::configure_tasks(const Dataset& train, const Dataset* validation) {
    const bool check_validation = validation && validation->n > 0;
    for (int a = 0; a < n_aux_ && a < int(train.aux_names.size()); ++a)
        tasks_[2 + a].name = train.aux_names[a];

    LossKind amount = LossKind::kMse;
    if (params_.value_loss == "huber") amount = LossKind::kHuber;
    for (int t = 0; t < task_count(); ++t) {
        bool binary = t == 0   ? train.value_is_binary
                      : t == 1 ? train.cost_is_binary
                               : all_binary(train.aux[t - 2]);
        if (check_validation)
            binary = binary && (t == 0   ? validation->value_is_binary
                                : t == 1 ? validation->cost_is_binary
                                         : all_binary(validation->aux[t - 2]));
        LossKind kind = binary ? LossKind::kBce : amount;
        if (t == 0 && params_.value_loss != "auto") {
            if (params_.value_loss == "bce" && !binary)
                CA_THROW(ConfigError, "network.value_loss: \"bce\" needs a 0/1 value, but the "
                                          << "value of " << train.source
                                          << " is not 0/1; use \"mse\" or \"huber\"");
            loss_from_name(params_.value_loss, &kind);
        }
        tasks_[t].loss = kind;
        tasks_[t].target_scale =
            kind == LossKind::kBce ? 1.0f : target_scale(task_column(train, t));
    }
}

MultiTaskNetwork::TaskData MultiTaskNetwork::task_data(const Dataset& data) const {
    TaskData out;
    std::vector<int64_t> counts = data.arm_counts();
    out.weight.resize(data.n);
    for (int64_t i = 0; i < data.n; ++i)
        out.weight[i] = float(double(data.n) / double(counts[data.arm[i]]));
    for (int t = 0; t < task_count(); ++t) {
        const std::vector<float>& column = task_column(data, t);
        const float scale = tasks_[t].target_scale;
        out.targets.emplace_back(column.size());
        for (size_t i = 0; i < column.size(); ++i) out.targets.back()[i] = column[i] / scale;
    }
    return out;
}

// Loss and gradient are sums over the batch's rows divided by normaliser: the batch's own rows,
// or under data parallelism the whole mini-batch of which this batch is one rank's block.
double MultiTaskNetwork::batch_loss(const Batch& batch, Backend& backend, Scratch& scratch,
                                    float* gradient, int64_t normaliser) const {
    const int64_t rows = batch.rows;
    const float* params = parameters_.data();
    trunk_.forward(params, batch.x, rows, backend, scratch.trunk);
    const float* z = scratch.trunk.layer_output(trunk_.layer_count() - 1);
    if (gradient) {
        // Grow only: the last, shorter batch of an epoch reuses the memory.
        if (scratch.head_gradient.size() < size_t(rows) * m_)
            scratch.head_gradient.resize(size_t(rows) * m_);
        if (scratch.z_gradient.size() < size_t(rows) * hidden_width())
            scratch.z_gradient.resize(size_t(rows) * hidden_width());
    }

    double total = 0.0;
    for (int t = 0; t < task_count(); ++t) {
        const TaskSpec& task = tasks_[t];
        const float* head_params = params + head_offset(t);
        head_.forward(head_params, z, rows, backend, scratch.head);
        const float* output = scratch.head.layer_output(head_.layer_count() - 1);
        float* head_gradient = gradient ? scratch.head_gradient.data() : nullptr;
        total += task.weight * factual_arm_loss(output, rows, m_, batch.arm, batch.targets[t],
                                                batch.weight, task.loss, params_.huber_delta,
                                                task.weight / double(normaliser), head_gradient);
        if (gradient)
            head_.backward(head_params, z, head_gradient, rows, backend, scratch.head,
                           gradient + head_offset(t), scratch.z_gradient.data(), t > 0);
    }
    if (gradient)
        trunk_.backward(params, batch.x, scratch.z_gradient.data(), rows, backend, scratch.trunk,
                        gradient, nullptr);
    return total / double(normaliser);
}

// Each rank sums the loss of its parts of the rows; the parts are added in the fixed order of
// core/ordered_sum.h, so every rank count sees the same loss (and stops at the same epoch).
double MultiTaskNetwork::evaluate(const Dataset& data, const TaskData& targets, Backend& backend,
                                  Scratch& scratch, Communicator& comm) const {
    Batch& batch = scratch.batch;
    batch.targets.resize(task_count());
    const SumPlan plan(data.n, comm);
    std::vector<double> part_losses;
    for (int p = plan.first_part(); p < plan.end_part(); ++p) {
        const RowRange rows = plan.part_rows(p);
        double total = 0.0;
        for (int64_t start = rows.begin; start < rows.end;
             start += MlpLayout::kInferenceBlockRows) {
            batch.rows = std::min(MlpLayout::kInferenceBlockRows, rows.end - start);
            batch.x = data.x.data() + start * d_;
            batch.arm = data.arm.data() + start;
            batch.weight = targets.weight.data() + start;
            for (int t = 0; t < task_count(); ++t)
                batch.targets[t] = targets.targets[t].data() + start;
            total += batch_loss(batch, backend, scratch, nullptr, batch.rows) * double(batch.rows);
        }
        part_losses.push_back(total);
    }
    const double total = ordered_total(plan, part_losses, comm);
    return data.n > 0 ? total / double(data.n) : 0.0;
}

double MultiTaskNetwork::loss_and_gradient(const Dataset& data, Backend& backend,
                                           std::vector<float>* gradient) const {
    check_data(data, "evaluated");
    CA_ASSERT(data.n > 0);
    return loss_and_gradient(data, task_data(data).weight, data.n, backend, gradient);
}

double MultiTaskNetwork::loss_and_gradient(const Dataset& data, const std::vector<float>& weight,
                                           int64_t normaliser, Backend& backend,
                                           std::vector<float>* gradient) const {
    check_data(data, "evaluated");
    CA_ASSERT(data.n > 0 && normaliser > 0 && int64_t(weight.size()) == data.n);
    TaskData targets = task_data(data);
    Scratch scratch;
    Batch& batch = scratch.batch;
    batch.x = data.x.data();
    batch.rows = data.n;
    batch.arm = data.arm.data();
    batch.weight = weight.data();
    for (int t = 0; t < task_count(); ++t) batch.targets.push_back(targets.targets[t].data());
    if (gradient) gradient->assign(parameters_.size(), 0.0f);
    return batch_loss(batch, backend, scratch, gradient ? gradient->data() : nullptr, normaliser);
}

void MultiTaskNetwork::gather_batch(const Dataset& data, const TaskData& targets,
                                    const int64_t* rows, int64_t count, Scratch& scratch) const {
    scratch.x.resize(size_t(count) * d_);
    scratch.arm.resize(count);
    scratch.weight.resize(count);
    scratch.targets.resize(task_count());
    for (auto& column : scratch.targets) column.resize(count);
#pragma omp parallel for schedule(static) if (count * d_ > 65536)
    for (int64_t b = 0; b < count; ++b) {
        const int64_t row = rows[b];
        std::memcpy(scratch.x.data() + b * d_, data.row(row), sizeof(float) * d_);
        scratch.arm[b] = data.arm[row];
        scratch.weight[b] = targets.weight[row];
        for (int t = 0; t < task_count(); ++t) scratch.targets[t][b] = targets.targets[t][row];
    }
    Batch& batch = scratch.batch;
    batch.x = scratch.x.data();
    batch.rows = count;
    batch.arm = scratch.arm.data();
    batch.weight = scratch.weight.data();
    batch.targets.resize(task_count());
    for (int t = 0; t < task_count(); ++t) batch.targets[t] = scratch.targets[t].data();
}

double MultiTaskNetwork::train_epoch(const Dataset& data, const TaskData& targets,
                                     const std::vector<int64_t>& order, Backend& backend,
                                     Scratch& scratch, AdamOptimizer& adam, Communicator& comm) {
    // Every batch is cut into gradient_parts parts whatever the number of ranks; each rank
    // takes its parts (core/parted_gradient.h). Where the backend takes calls from several
    // threads at once (the CPU) the parts run side by side, one thread each: no product is
    // split and no barrier falls inside a part, and each part's bits are those of a one-thread
    // run. Elsewhere the parts go in turn.
    PartedGradient parted(params_.gradient_parts, int64_t(parameters_.size()), comm,
                          backend.concurrent_calls());
    scratch.parts.resize(size_t(parted.own_parts()));
    for (int64_t start = 0; start < data.n; start += params_.batch_size) {
        const int64_t count = std::min<int64_t>(params_.batch_size, data.n - start);
        const std::vector<float>& gradient =
            parted.batch(count, [&](int q, RowRange part, float* part_gradient) {
                Scratch& mine = scratch.parts[size_t(q)];
                gather_batch(data, targets, order.data() + start + part.begin, part.size(), mine);
                return batch_loss(mine.batch, backend, mine, part_gradient, count) * double(count);
            });
        adam.step(parameters_.data(), gradient.data(), backend);
    }
    return parted.take_loss_total() / double(data.n);
}

TrainingReport MultiTaskNetwork::fit(const Dataset& train, const Dataset& validation,
                                     Backend& backend, Communicator& comm) {
    check_data(train, "training");
    check_data(validation, "validation");
    if (train.n == 0) CA_THROW(InputError, train.source << ": the training set has no rows");
    configure_tasks(train, &validation);
    std::vector<int64_t> arm_rows = train.arm_counts();
    for (int j = 0; j < m_; ++j)
        if (arm_rows[j] == 0)
            log_warning("network: arm " + std::to_string(j) +
                        " has no training rows; its predictions are untrained");
    const bool has_validation = validation.n > 0;
    if (!has_validation)
        log_warning(
            "network: the validation set is empty; early stopping uses the training "
            "loss");
    const Dataset& stopping_set = has_validation ? validation : train;
    const TaskData train_targets = task_data(train);
    const TaskData stopping_targets = has_validation ? task_data(validation) : train_targets;

    AdamParams adam_params;
    adam_params.learning_rate = float(params_.learning_rate);
    adam_params.weight_decay = float(params_.weight_decay);
    AdamOptimizer adam(int64_t(parameters_.size()), adam_params);
    Scratch scratch;
    std::vector<int64_t> order(train.n);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 order_engine(derive_seed(params_.seed, 1000));

    TrainingReport report;
    std::vector<float> best_parameters = parameters_;
    double best_loss = std::numeric_limits<double>::infinity(), train_seconds = 0.0;
    int epochs_since_best = 0;
    for (int epoch = 1; epoch <= params_.max_epochs; ++epoch) {
        const double start = wall_seconds();
        shuffle_rows(order, order_engine);
        const double train_loss =
            train_epoch(train, train_targets, order, backend, scratch, adam, comm);
        train_seconds += wall_seconds() - start;
        const double stopping_loss =
            evaluate(stopping_set, stopping_targets, backend, scratch, comm);
        if (!std::isfinite(train_loss) || !std::isfinite(stopping_loss))
            CA_THROW(ConfigError, "network: training diverged in epoch "
                                      << epoch << " (training loss " << train_loss
                                      << "); lower network.learning_rate (now "
                                      << params_.learning_rate << ")");
        report.epochs.push_back({epoch, train_loss, stopping_loss, wall_seconds() - start});

        // Keep the best weights; stop when patience epochs in a row brought no improvement.
        const bool improved = stopping_loss < best_loss;
        if (improved) {
            best_loss = stopping_loss;
            best_parameters = parameters_;
            report.best_epoch = epoch;
            epochs_since_best = 0;
        } else {
            ++epochs_since_best;
        }
        char line[160];
        std::snprintf(line, sizeof(line),
                      "network epoch %d/%d: train loss %.6g, validation loss %.6g, %.2f s%s", epoch,
                      params_.max_epochs, train_loss, stopping_loss, report.epochs.back().seconds,
                      improved ? " (best)" : "");
        log_info(line);
        if (epochs_since_best >= params_.patience) {
            report.stopped_early = epoch < params_.max_epochs;
            break;
        }
    }
    parameters_ = best_parameters;
    // The ranks already agree when their sums agree bit for bit; rank 0's copy makes sure, as
    // every rank goes on to compute the same hidden representation from these weights.
    broadcast_floats(comm, parameters_);
    report.best_validation_loss = best_loss;
    report.samples_per_second =
        train_seconds > 0.0 ? double(train.n) * double(report.epochs.size()) / train_seconds : 0.0;
    return report;
}

void MultiTaskNetwork::transform_output(int task, const float* raw, int64_t count,
                                        float* out) const {
    if (tasks_[task].loss == LossKind::kBce) {
        for (int64_t i = 0; i < count; ++i) out[i] = float(sigmoid(raw[i]));
        return;
    }
    const float scale = tasks_[task].target_scale;
    for (int64_t i = 0; i < count; ++i) out[i] = raw[i] * scale;
}

void MultiTaskNetwork::predict_heads(const std::vector<int>& tasks, const std::vector<float*>& outs,
                                     const float* x, int64_t n, Backend& backend) const {
    MlpWorkspace trunk_workspace, head_workspace;
    const float* params = parameters_.data();
    for (int64_t start = 0; start < n; start += MlpLayout::kInferenceBlockRows) {
        const int64_t rows = std::min(MlpLayout::kInferenceBlockRows, n - start);
        trunk_.forward(params, x + start * d_, rows, backend, trunk_workspace);
        const float* z = trunk_workspace.layer_output(trunk_.layer_count() - 1);
        for (size_t i = 0; i < tasks.size(); ++i) {
            head_.forward(params + head_offset(tasks[i]), z, rows, backend, head_workspace);
            transform_output(tasks[i], head_workspace.layer_output(head_.layer_count() - 1),
                             rows * m_, outs[i] + start * m_);
        }
    }
}

void MultiTaskNetwork::predict(const float* x, int64_t n, Backend& backend, float* value,
                               float* cost) const {
    predict_heads({0, 1}, {value, cost}, x, n, backend);
}

void MultiTaskNetwork::predict_task(int task, const float* x, int64_t n, Backend& backend,
                                    float* out) const {
    CA_ASSERT_MSG(task >= 0 && task < task_count(), "task " << task << " of " << task_count());
    predict_heads({task}, {out}, x, n, backend);
}

void MultiTaskNetwork::hidden(const float* x, int64_t n, Backend& backend, float* z) const {
    trunk_.infer(parameters_.data(), x, n, backend, z);
}

}  // namespace ca
