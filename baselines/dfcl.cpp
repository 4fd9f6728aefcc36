// DFCL: fine-tuning a copy of the shared network with a decision loss, model selection by the
// hard decision's IPW utility on the validation rows, then the per-user Lagrangian.
// Choices where the paper leaves a detail open:
// - automatic lambda grid: quantiles of the shared network's per-user best incremental return;
// - utilities are divided by the training value's standard deviation, so tau and h are unitless;
// - the multi-task loss stays in the objective (prediction_weight), so predictions keep scale;
// - the weights with the best validation decision value (the shared ones included) are kept.
#include "baselines/dfcl.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "core/adam_optimizer.h"
#include "core/errors.h"
#include "core/individual_solver.h"
#include "core/log.h"
#include "core/parted_gradient.h"
#include "core/reference_policies.h"
#include "core/shuffle.h"

namespace ca {

DfclParams DfclParams::from_config(const ConfigNode& node) {
    node.allow_only({"max_epochs", "patience", "learning_rate", "batch_size", "lambdas",
                     "lambda_count", "temperature", "max_entropy", "ifd_step", "prediction_weight",
                     "seed"});
    DfclParams params;
    params.max_epochs = int(node.integer_in("max_epochs", params.max_epochs, 0, 100000));
    params.patience = int(node.integer_in("patience", params.patience, 1, 100000));
    params.learning_rate = node.number_in("learning_rate", params.learning_rate, 1e-9, 10.0);
    params.batch_size = int(node.integer_in("batch_size", params.batch_size, 1, 1L << 24));
    params.lambdas = node.numbers("lambdas", params.lambdas);
    for (size_t k = 0; k < params.lambdas.size(); ++k)
        if (!(params.lambdas[k] >= 0.0) || !std::isfinite(params.lambdas[k]))
            node.fail("lambdas[" + std::to_string(k) + "]",
                      "expected a finite lambda >= 0, got " + std::to_string(params.lambdas[k]));
    params.lambda_count = int(node.integer_in("lambda_count", params.lambda_count, 1, 1000));
    params.temperature = node.number_in("temperature", params.temperature, 1e-6, 1e6);
    params.max_entropy = node.boolean("max_entropy", params.max_entropy);
    params.ifd_step = node.number_in("ifd_step", params.ifd_step, 1e-6, 1e6);
    params.prediction_weight =
        node.number_in("prediction_weight", params.prediction_weight, 0.0, 1e6);
    params.seed = uint64_t(node.integer_in("seed", long(params.seed), 0, 1L << 40));
    return params;
}

nlohmann::json DfclParams::to_json() const {
    return {{"max_epochs", max_epochs},
            {"patience", patience},
            {"learning_rate", learning_rate},
            {"batch_size", batch_size},
            {"lambdas", lambdas},
            {"lambda_count", lambda_count},
            {"temperature", temperature},
            {"max_entropy", max_entropy},
            {"ifd_step", ifd_step},
            {"prediction_weight", prediction_weight},
            {"seed", seed}};
}

nlohmann::json DfclTrainingReport::to_json() const {
    return {{"epochs", epochs},
            {"best_epoch", best_epoch},
            {"initial_decision_value", initial_decision_value},
            {"best_decision_value", best_decision_value}};
}

namespace {

// Population standard deviation of the values; 1 when they are constant.
double value_scale(const Dataset& data) {
    if (data.n == 0) return 1.0;
    double sum = 0.0, squares = 0.0;
    for (float v : data.value) sum += v;
    const double mean = sum / double(data.n);
    for (float v : data.value) squares += (v - mean) * (v - mean);
    const double sd = std::sqrt(squares / double(data.n));
    return sd > 0.0 && std::isfinite(sd) ? sd : 1.0;
}

// IPW weight N / N_t of every row, from the rows' own arm counts.
std::vector<float> ipw_weights(const Dataset& data) {
    std::vector<int64_t> counts = data.arm_counts();
    std::vector<float> weight(data.n);
    for (int64_t i = 0; i < data.n; ++i)
        weight[i] = float(double(data.n) / double(counts[data.arm[i]]));
    return weight;
}

DecisionBatch batch_of(const Dataset& data, const std::vector<float>& weight) {
    return {data.x.data(),     data.n,           data.arm.data(),
            data.value.data(), data.cost.data(), weight.data()};
}

double validation_value(const MultiTaskNetwork& network, const Dataset& data,
                        const std::vector<float>& weight, const std::vector<double>& lambdas,
                        double scale, Backend& backend) {
    std::vector<float> value(size_t(data.n) * data.m), cost(value.size());
    network.predict(data.x.data(), data.n, backend, value.data(), cost.data());
    return decision_value(value.data(), cost.data(), data.m, batch_of(data, weight), lambdas,
                          scale);
}

// One pass over the training rows in the given order: the decision loss plus the weighted
// multi-task loss per mini-batch, one Adam step each. Each batch is cut into
// kDfclGradientParts parts shared by the ranks (side by side on the CPU); every part's losses
// are divided by the whole batch's rows and its multi-task row weights come from the whole
// batch's arm counts, so the parts add up to the batch's gradient on any rank count.
void fine_tune_epoch(MultiTaskNetwork& network, const DecisionLoss& loss, const Dataset& train,
                     const std::vector<float>& train_weight, const std::vector<int64_t>& order,
                     const DfclParams& params, AdamOptimizer& adam, Backend& backend,
                     Communicator& comm) {
    PartedGradient parted(kDfclGradientParts, int64_t(network.parameters().size()), comm,
                          backend.concurrent_calls());
    std::vector<DecisionLoss> part_losses(size_t(parted.own_parts()), loss);
    std::vector<float> batch_weight;
    for (int64_t start = 0; start < train.n; start += params.batch_size) {
        const int64_t count = std::min<int64_t>(params.batch_size, train.n - start);
        const int64_t* rows = order.data() + start;
        // The multi-task loss weighs rows by N_batch / N_t of the whole batch.
        std::vector<int64_t> arm_rows(size_t(train.m), 0);
        for (int64_t b = 0; b < count; ++b) arm_rows[size_t(train.arm[rows[b]])] += 1;
        batch_weight.resize(size_t(count));
        for (int64_t b = 0; b < count; ++b)
            batch_weight[size_t(b)] =
                float(double(count) / double(arm_rows[size_t(train.arm[rows[b]])]));
        const std::vector<float>& gradient = parted.batch(count, [&](int q, RowRange part,
                                                                     float* part_gradient) {
            const std::vector<int64_t> part_rows(rows + part.begin, rows + part.end);
            const Dataset batch = train.subset(part_rows);
            std::vector<float> weight(size_t(part.size()));
            for (int64_t b = 0; b < part.size(); ++b)
                weight[size_t(b)] = train_weight[part_rows[size_t(b)]];
            std::vector<float> decision;
            const double value = part_losses[size_t(q)].evaluate(network, batch_of(batch, weight),
                                                                 backend, &decision, count);
            if (params.prediction_weight > 0.0) {
                const std::vector<float> prediction_weight(batch_weight.begin() + part.begin,
                                                           batch_weight.begin() + part.end);
                std::vector<float> prediction;
                network.loss_and_gradient(batch, prediction_weight, count, backend, &prediction);
                for (size_t p = 0; p < decision.size(); ++p)
                    decision[p] += float(params.prediction_weight) * prediction[p];
            }
            std::copy(decision.begin(), decision.end(), part_gradient);
            return value * double(count);
        });
        adam.step(network.parameters().data(), gradient.data(), backend);
    }
}

}  // namespace

void DfclMethod::fit(MethodContext& context) {
    comm_ = context.communicator;
    const Dataset& train = context.train;
    if (train.n == 0) CA_THROW(InputError, train.source << ": DFCL: the training set has no rows");
    network_ = std::make_unique<MultiTaskNetwork>(context.shared_network());
    MultiTaskNetwork& network = *network_;

    lambdas_ = params_.lambdas;
    if (lambdas_.empty()) {
        std::vector<float> value(size_t(train.n) * train.m), cost(value.size());
        network.predict(train.x.data(), train.n, context.backend, value.data(), cost.data());
        lambdas_ = automatic_lambda_grid(value.data(), cost.data(), train.n, train.m,
                                         params_.lambda_count);
    }
    loss_params_ = {variant_, params_.temperature, params_.max_entropy, params_.ifd_step,
                    value_scale(train)};
    DecisionLoss loss(loss_params_, lambdas_);

    // Model selection on the validation rows (the training rows when there are none).
    const Dataset& selection = context.validation.n > 0 ? context.validation : train;
    const std::vector<float> selection_weight = ipw_weights(selection);
    const std::vector<float> train_weight = ipw_weights(train);
    report_ = {};
    report_.initial_decision_value = validation_value(
        network, selection, selection_weight, lambdas_, loss_params_.value_scale, context.backend);
    report_.best_decision_value = report_.initial_decision_value;
    std::vector<float> best_parameters = network.parameters();

    AdamParams adam_params;
    adam_params.learning_rate = float(params_.learning_rate);
    AdamOptimizer adam(int64_t(network.parameters().size()), adam_params);
    std::mt19937_64 order_engine(params_.seed + context.seed + 0x5DEECE66Dull);
    std::vector<int64_t> order(train.n);
    std::iota(order.begin(), order.end(), 0);
    int epochs_since_best = 0;
    for (int epoch = 1; epoch <= params_.max_epochs; ++epoch) {
        shuffle_rows(order, order_engine);
        fine_tune_epoch(network, loss, train, train_weight, order, params_, adam, context.backend,
                        *context.communicator);
        const double selected = validation_value(network, selection, selection_weight, lambdas_,
                                                 loss_params_.value_scale, context.backend);
        report_.epochs = epoch;
        if (selected > report_.best_decision_value) {
            report_.best_decision_value = selected;
            report_.best_epoch = epoch;
            best_parameters = network.parameters();
            epochs_since_best = 0;
        } else if (++epochs_since_best >= params_.patience) {
            break;
        }
    }
    network.parameters() = best_parameters;
    char line[200];
    std::snprintf(line, sizeof(line),
                  "%s: %d epochs, validation decision value %.6g -> %.6g (best epoch %d)",
                  name().c_str(), report_.epochs, report_.initial_decision_value,
                  report_.best_decision_value, report_.best_epoch);
    log_info(line);
}

void DfclMethod::prepare(const Dataset& rows, Backend& backend) {
    CA_ASSERT_MSG(network_ != nullptr, "prepare() before fit()");
    allocator_.prepare(*network_, rows, backend, *comm_);
}

KnobRange DfclMethod::knob_range() const { return allocator_.knob_range(); }

void DfclMethod::choose(double knob, std::vector<int32_t>& choice) const {
    allocator_.choose(knob, choice);
}

std::vector<double> DfclMethod::treatment_scores() const { return allocator_.treatment_scores(); }

nlohmann::json DfclMethod::diagnostics() const {
    return {{"params", params_.to_json()},
            {"lambdas", lambdas_},
            {"value_scale", loss_params_.value_scale},
            {"training", report_.to_json()}};
}

}  // namespace ca
