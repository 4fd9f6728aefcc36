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
#include "core/parted_gradient.h"
#include "core/rank_gather.h"
#include "core/shuffle.h"

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

// The loss of the held-out rows as one batch. Each rank scores its run of whole inference
// blocks; the outputs are joined, so every rank computes the loss on the same numbers.
double held_out_loss(const Mlp& network, const RowSelection& held_out, const std::vector<float>& x,
                     const OutputLoss& loss, Backend& backend, Communicator& comm) {
    const int64_t count = int64_t(held_out.rows.size());
    const std::vector<float> output = rows_over_ranks<float>(
        count, MlpLayout::kInferenceBlockRows, network.output_width(), comm,
        [&](int64_t first, int64_t rows, float* out) {
            network.infer(x.data() + first * network.input_width(), rows, backend, out);
        });
    return loss(*held_out.data, held_out.rows.data(), count, output.data(), nullptr);
}

}  // namespace

std::vector<float> infer_rows(const Mlp& network, const Dataset& data,
                              const std::vector<int64_t>& rows, Backend& backend,
                              Communicator& comm) {
    const int64_t block = MlpLayout::kInferenceBlockRows;
    return rows_over_ranks<float>(
        int64_t(rows.size()), block, network.output_width(), comm,
        [&](int64_t first, int64_t count, float* out) {
            std::vector<float> x;
            for (int64_t start = first; start < first + count; start += block) {
                const int64_t size = std::min<int64_t>(block, first + count - start);
                gather_features(data, rows.data() + start, size, x);
                network.infer(x.data(), size, backend,
                              out + (start - first) * network.output_width());
            }
        });
}

namespace {

// One epoch of mini-batches. Each batch is cut into kDirectGradientParts parts shared by the
// ranks: the parts' outputs are joined, the coupled loss is taken over the whole batch on
// every rank, and each part backpropagates its rows' share (core/parted_gradient.h).
class DirectTrainer {
  public:
    DirectTrainer(Mlp& network, const RowSelection& train, const OutputLoss& loss,
                  const DirectNetworkParams& params, Backend& backend, Communicator& comm)
        : network_(network),
          train_(train),
          loss_(loss),
          params_(params),
          backend_(backend),
          adam_(network.parameter_count(), adam_params(params)),
          parted_(kDirectGradientParts, network.parameter_count(), comm,
                  backend.concurrent_calls()),
          parts_(size_t(parted_.own_parts())) {}

    void run_epoch(const std::vector<int64_t>& order) {
        const MlpLayout& layout = network_.layout();
        const int width = network_.output_width();
        for (int64_t start = 0; start < int64_t(order.size()); start += params_.batch_size) {
            const int64_t count = std::min<int64_t>(params_.batch_size, order.size() - start);
            const int64_t* rows = order.data() + start;
            const float* parameters = network_.parameters().data();
            auto forward = [&](int q, RowRange part, float* outputs) {
                Part& mine = parts_[size_t(q)];
                gather_features(*train_.data, rows + part.begin, part.size(), mine.x);
                layout.forward(parameters, mine.x.data(), part.size(), backend_, mine.workspace);
                const float* out = mine.workspace.layer_output(layout.layer_count() - 1);
                std::copy_n(out, part.size() * width, outputs);
            };
            auto loss = [&](const float* outputs, float* output_gradient) {
                return loss_(*train_.data, rows, count, outputs, output_gradient);
            };
            auto backward = [&](int q, RowRange part, const float* output_gradient,
                                float* gradient) {
                Part& mine = parts_[size_t(q)];
                layout.backward(parameters, mine.x.data(), output_gradient, part.size(), backend_,
                                mine.workspace, gradient, nullptr);
            };
            const std::vector<float>& gradient =
                parted_.coupled_batch(count, width, forward, loss, backward);
            adam_.step(network_.parameters().data(), gradient.data(), backend_);
        }
    }

  private:
    // What one part of a batch reuses from batch to batch: its rows' features (read again by
    // the backward pass) and the activations.
    struct Part {
        std::vector<float> x;
        MlpWorkspace workspace;
    };

    static AdamParams adam_params(const DirectNetworkParams& params) {
        AdamParams adam;
        adam.learning_rate = float(params.learning_rate);
        return adam;
    }

    Mlp& network_;
    const RowSelection& train_;
    const OutputLoss& loss_;
    const DirectNetworkParams& params_;
    Backend& backend_;
    AdamOptimizer adam_;
    PartedGradient parted_;
    std::vector<Part> parts_;
};

}  // namespace

DirectTrainingReport train_direct_network(Mlp& network, const RowSelection& train,
                                          const RowSelection& held_out, const OutputLoss& loss,
                                          const DirectNetworkParams& params, uint64_t seed,
                                          Backend& backend, const std::string& label,
                                          Communicator& comm) {
    CA_ASSERT(train.data != nullptr && !train.rows.empty());
    const RowSelection& stopping = held_out.rows.empty() ? train : held_out;
    std::vector<float> stopping_x;
    gather_features(*stopping.data, stopping.rows.data(), int64_t(stopping.rows.size()),
                    stopping_x);

    std::mt19937_64 order_engine(direct_seed(seed, 7));
    std::vector<int64_t> order = train.rows;
    DirectTrainer trainer(network, train, loss, params, backend, comm);

    DirectTrainingReport report;
    report.initial_loss = held_out_loss(network, stopping, stopping_x, loss, backend, comm);
    report.best_loss = report.initial_loss;
    std::vector<float> best_parameters = network.parameters();
    int epochs_since_best = 0;
    for (int epoch = 1; epoch <= params.max_epochs; ++epoch) {
        shuffle_rows(order, order_engine);
        trainer.run_epoch(order);
        const double stopping_loss =
            held_out_loss(network, stopping, stopping_x, loss, backend, comm);
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
