// Training of a dense scorer under a loss computed from its outputs, shared by the direct
// baselines (DRP, DRM): Adam on shuffled mini-batches, early stopping on held-out rows, with the
// best weights (the initial ones included) restored at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/communicator.h"
#include "core/config.h"
#include "core/dataset.h"
#include "core/mlp.h"
#include "kernels/backend.h"

namespace ca {

// The network and optimiser settings every direct baseline reads from its config object.
struct DirectNetworkParams {
    std::vector<int> hidden = {64, 32};  ///< hidden layer widths of the scorer (ReLU after each)
    double learning_rate = 1e-3;         ///< Adam step size
    int batch_size = 1024;               ///< rows per mini-batch
    int max_epochs = 50;                 ///< upper bound on passes over the training rows
    int patience = 5;                    ///< epochs without a lower held-out loss before stopping
    uint64_t seed = 0;                   ///< weights and batch order; the split's seed is added
};

/// Reads "hidden", "learning_rate", "batch_size", "max_epochs", "patience" and "seed" of node,
/// keeping defaults for absent keys. The caller's allow_only must list these keys too.
DirectNetworkParams parse_direct_network(const ConfigNode& node, DirectNetworkParams defaults);
/// The same keys back.
nlohmann::json direct_network_json(const DirectNetworkParams& params);

/// Some rows of a dataset, in the order a loss sees them.
struct RowSelection {
    const Dataset* data = nullptr;
    std::vector<int64_t> rows;
};

/// Loss of the listed rows of data given the scorer's outputs (count x outputs, in the order of
/// rows). When grad_output is not null it receives d loss / d output, same shape.
using OutputLoss = std::function<double(const Dataset& data, const int64_t* rows, int64_t count,
                                        const float* output, float* grad_output)>;

struct DirectTrainingReport {
    int epochs = 0;             ///< epochs run
    int best_epoch = 0;         ///< epoch whose weights were kept; 0 = the initial weights
    double best_loss = 0.0;     ///< held-out loss of the kept weights
    double initial_loss = 0.0;  ///< held-out loss of the initial weights
    nlohmann::json to_json() const;
};

/// {input, hidden..., outputs}.
std::vector<int> direct_widths(int input, const std::vector<int>& hidden, int outputs);

/// Parts each mini-batch of a direct baseline is cut into: the ranks share them (on the CPU
/// they run side by side); the trained scorer does not depend on the ranks or threads.
constexpr int kDirectGradientParts = 4;

/// Trains network on train.rows with loss; the held-out loss is computed on all held_out.rows
/// as one batch (train.rows when held_out has none). label prefixes the log line. With
/// several ranks each computes its parts of every batch (the loss, which couples a batch's
/// rows, is taken over the joined outputs) and every rank ends with the same weights.
DirectTrainingReport train_direct_network(Mlp& network, const RowSelection& train,
                                          const RowSelection& held_out, const OutputLoss& loss,
                                          const DirectNetworkParams& params, uint64_t seed,
                                          Backend& backend, const std::string& label,
                                          Communicator& comm = local_communicator());

/// Outputs of network for the listed rows of data (rows x outputs), in blocks; with several
/// ranks each scores its blocks and every rank receives all outputs.
std::vector<float> infer_rows(const Mlp& network, const Dataset& data,
                              const std::vector<int64_t>& rows, Backend& backend,
                              Communicator& comm = local_communicator());

/// Deterministic, well-mixed seed for one stream of a method (splitmix64).
uint64_t direct_seed(uint64_t seed, uint64_t stream);

}  // namespace ca
