// The shared training loop of the direct baselines: Adam, shuffled batches, early stopping.
#include "baselines/direct_training.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "core/adam_optimizer.h"
#include "core/errors.h"
#include "core/log.h"

namespace ca {

DirectNetworkParams parse_direct_network(const ConfigNode& node, DirectNetworkParams defaults) {
    DirectNetworkParams params = defaults;
    std::vector<double> hidden(defaults.hidden.begin(), defaults.hidden.end());
    hidden = node.numbers("hidden", hidden);
    params.hidden.clear();
    for (size_t i = 0; i < hidden.size(); ++i) {
        if (hidden[i] < 1 || hidden[i] > 65536 || hidden[i] != std::floor(hidden[i]))
            node.fail("hidden[" + std::to_string(i) + "]",
                      "expected a whole number in [1, 65536], got " + std::to_string(hidden[i]));
        params.hidden.push_back(int(hidden[i]));
    }
    params.learning_rate = node.number_in("learning_rate", defaults.learning_rate, 1e-9, 10.0);
    params.batch_size = int(node.integer_in("batch_size", defaults.batch_size, 2, 1L << 24));
    params.max_epochs = int(node.integer_in("max_epochs", defaults.max_epochs, 1, 100000));
    params.patience = int(node.integer_in("patience", defaults.patience, 1, 100000));
    params.seed = uint64_t(node.integer_in("seed", long(defaults.seed), 0, 1L << 40));
    return params;
}

nlohmann::json direct_network_json(const DirectNetworkParams& params) {
    return {{"hidden", params.hidden},         {"learning_rate", params.learning_rate},
            {"batch_size", params.batch_size}, {"max_epochs", params.max_epochs},
            {"patience", params.patience},     {"seed", params.seed}};
}

nlohmann::json DirectTrainingReport::to_json() const {
    return {{"epochs", epochs},
            {"best_epoch", best_epoch},
            {"best_loss", best_loss},
            {"initial_loss", initial_loss}};
}

std::vector<int> direct_widths(int input, const std::vector<int>& hidden, int outputs) {
    std::vector<int> widths{input};
    widths.insert(widths.end(), hidden.begin(), hidden.end());
    widths.push_back(outputs);
    return widths;
}

uint64_t direct_seed(uint64_t seed, uint64_t stream) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

namespace {

void gather_features(const Dataset& data, const int64_t* rows, int64_t count,
                     std::vector<float>& out) {
    out.resize(size_t(count) * data.d);
    for (int64_t b = 0; b < count; ++b)
        std::memcpy(out.data() + b * data.d, data.row(rows[b]), sizeof(float) * data.d);
}

double held_out_loss(const Mlp& network, const RowSelection& held_out, const std::vector<float>& x,
                     const OutputLoss& loss, Backend& backend, std::vector<float>& output) {
    const int64_t count = int64_t(held_out.rows.size());
    output.resize(size_t(count) * network.output_width());
    network.infer(x.data(), count, backend, output.data());
    return loss(*held_out.data, held_out.rows.data(), count, output.data(), nullptr);
}

}  // namespace

std::vector<float> infer_rows(const Mlp& network, const Dataset& data,
                              const std::vector<int64_t>& rows, Backend& backend) {
    std::vector<float> out(rows.size() * size_t(network.output_width()));
    std::vector<float> x;
    const int64_t block = MlpLayout::kInferenceBlockRows;
    for (int64_t start = 0; start < int64_t(rows.size()); start += block) {
        const int64_t count = std::min<int64_t>(block, int64_t(rows.size()) - start);
        gather_features(data, rows.data() + start, count, x);
        network.infer(x.data(), count, backend, out.data() + start * network.output_width());
    }
    return out;
}

DirectTrainingReport train_direct_network(Mlp& network, const RowSelection& train,
                                          const RowSelection& held_out, const OutputLoss& loss,
                                          const DirectNetworkParams& params, uint64_t seed,
                                          Backend& backend, const std::string& label) {
    CA_ASSERT(train.data != nullptr && !train.rows.empty());
    const RowSelection& stopping = held_out.rows.empty() ? train : held_out;
    std::vector<float> stopping_x, stopping_output;
    gather_features(*stopping.data, stopping.rows.data(), int64_t(stopping.rows.size()),
                    stopping_x);

    AdamParams adam_params;
    adam_params.learning_rate = float(params.learning_rate);
    AdamOptimizer adam(network.parameter_count(), adam_params);
    std::mt19937_64 order_engine(direct_seed(seed, 7));
    std::vector<int64_t> order = train.rows;
    std::vector<float> batch_x, grad_output;
    MlpWorkspace workspace;

    DirectTrainingReport report;
    report.initial_loss =
        held_out_loss(network, stopping, stopping_x, loss, backend, stopping_output);
    report.best_loss = report.initial_loss;
    std::vector<float> best_parameters = network.parameters();
    int epochs_since_best = 0;
    for (int epoch = 1; epoch <= params.max_epochs; ++epoch) {
        std::shuffle(order.begin(), order.end(), order_engine);
        for (int64_t start = 0; start < int64_t(order.size()); start += params.batch_size) {
            const int64_t count = std::min<int64_t>(params.batch_size, order.size() - start);
            gather_features(*train.data, order.data() + start, count, batch_x);
            network.forward(batch_x.data(), count, backend, workspace);
            grad_output.assign(size_t(count) * network.output_width(), 0.0f);
            loss(*train.data, order.data() + start, count, network.output(workspace),
                 grad_output.data());
            network.backward(batch_x.data(), grad_output.data(), count, backend, workspace);
            adam.step(network.parameters().data(), network.gradient().data(), backend);
        }
        const double stopping_loss =
            held_out_loss(network, stopping, stopping_x, loss, backend, stopping_output);
        if (!std::isfinite(stopping_loss))
            CA_THROW(ConfigError, label << ": training diverged in epoch " << epoch
                                        << "; lower its learning_rate (now " << params.learning_rate
                                        << ")");
        report.epochs = epoch;
        if (stopping_loss < report.best_loss) {
            report.best_loss = stopping_loss;
            report.best_epoch = epoch;
            best_parameters = network.parameters();
            epochs_since_best = 0;
        } else if (++epochs_since_best >= params.patience) {
            break;
        }
    }
    network.parameters() = best_parameters;
    char line[200];
    std::snprintf(line, sizeof(line), "%s: %d epochs, held-out loss %.6g -> %.6g (best epoch %d)",
                  label.c_str(), report.epochs, report.initial_loss, report.best_loss,
                  report.best_epoch);
    log_info(line);
    return report;
}

}  // namespace ca
