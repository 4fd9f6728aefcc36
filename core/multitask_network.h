// The HRC representation network: a trunk x -> Linear(D,h1) -> ReLU -> Linear(h1,h2) -> ReLU = z
// and one head per outcome task (value, cost, each auxiliary outcome) with M outputs, one per
// arm. Only the logged arm's output is trained, each row weighted N/N_t. Trunk and heads share
// one flat parameter buffer, so one Adam step (and one gradient all-reduce) covers them all.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/adam_optimizer.h"
#include "core/communicator.h"
#include "core/config.h"
#include "core/dataset.h"
#include "core/losses.h"
#include "core/mlp.h"
#include "kernels/backend.h"

namespace ca {

// The config's "network" object.
struct MultiTaskNetworkParams {
    int hidden1 = 256;            ///< width h1 of the first trunk layer
    int hidden2 = 128;            ///< width h2 of the representation z
    int head_hidden = 64;         ///< hidden width of each head's tower; 0 makes heads linear
    double learning_rate = 1e-3;  ///< Adam step size
    int batch_size = 1024;        ///< rows per mini-batch
    /// Parts of a mini-batch whose gradients are added in one fixed order (a power of two):
    /// runs on up to this many ranks reproduce each other bit for bit; more ranks idle.
    int gradient_parts = 4;
    int max_epochs = 30;  ///< upper bound on passes over the training rows
    int patience = 3;     ///< epochs without a lower validation loss before stopping
    uint64_t seed = 0;    ///< initial weights and mini-batch order
    /// "auto" (bce for 0/1 values, else mse), "mse", "huber" or "bce". Cost and auxiliary
    /// amounts use it too when it is mse or huber (else mse); 0/1 columns always use bce.
    std::string value_loss = "auto";
    double huber_delta = 1.0;   ///< Huber threshold, in training standard deviations
    double value_weight = 1.0;  ///< task_weights.value: weight of the value loss
    double cost_weight = 1.0;   ///< task_weights.cost: weight of the cost loss
    double aux_weight = 0.5;    ///< task_weights.aux: weight of each auxiliary loss
    double weight_decay = 0.0;  ///< decoupled (AdamW) weight decay; 0 is plain Adam
};

/// Reads the "network" object; unknown keys and out-of-range values are ConfigErrors naming
/// the key.
MultiTaskNetworkParams parse_network_params(const ConfigNode& network);
/// The same keys back, so a run records its exact settings; parse(to_json(p)) == p.
nlohmann::json to_json(const MultiTaskNetworkParams& params);

// How one head is trained and how its output is turned into a prediction.
struct TaskSpec {
    std::string name;                ///< "value", "cost" or the auxiliary outcome's name
    LossKind loss = LossKind::kMse;  ///< bce heads output logits, predictions are sigmoids
    float target_scale = 1.0f;       ///< amount targets are divided by it (training std)
    double weight = 1.0;             ///< weight of this task in the total loss
};

struct EpochRecord {
    int epoch = 0;                 ///< 1-based
    double train_loss = 0.0;       ///< mean weighted loss over the epoch's batches
    double validation_loss = 0.0;  ///< weighted loss of the validation rows after the epoch
    double seconds = 0.0;          ///< wall time of the epoch, validation included
};

struct TrainingReport {
    std::vector<EpochRecord> epochs;
    int best_epoch = 0;                 ///< epoch whose weights were kept
    double best_validation_loss = 0.0;  ///< its validation loss
    bool stopped_early = false;         ///< patience ran out before max_epochs
    double samples_per_second = 0.0;    ///< training rows per second, validation excluded
    nlohmann::json to_json() const;
};

class MultiTaskNetwork {
  public:
    /// d = input width D, m = arms M, n_aux = auxiliary outcomes; weights He-initialised.
    MultiTaskNetwork(const MultiTaskNetworkParams& params, int d, int m, int n_aux);

    /// Adam on shuffled mini-batches of train, early stopping on the validation loss with the
    /// best weights restored; one log line per epoch. An empty validation set falls back to
    /// the training loss. Starts from the current weights (fresh He weights after
    /// construction). Throws InputError for data that does not fit the network and ConfigError
    /// when training diverges. With several ranks (each passing the same data) training is data
    /// parallel: every rank walks the same shuffled order; each mini-batch is cut into
    /// gradient_parts parts, each rank takes its parts, and the parts' gradients (normalised by
    /// the whole batch) are added in a fixed order before one Adam step, so the update has the
    /// same bits on any number of ranks. Validation losses are summed the same way; every rank
    /// ends with rank 0's weights.
    TrainingReport fit(const Dataset& train, const Dataset& validation, Backend& backend,
                       Communicator& comm = local_communicator());

    /// Expected value and cost under every arm, n x M each, row-major (bce heads give
    /// probabilities, amount heads are in the data's units).
    void predict(const float* x, int64_t n, Backend& backend, float* value, float* cost) const;
    /// The same for any task (0 value, 1 cost, 2 + a auxiliary outcome a); out is n x M.
    void predict_task(int task, const float* x, int64_t n, Backend& backend, float* out) const;
    /// The representation z, n x hidden_width().
    void hidden(const float* x, int64_t n, Backend& backend, float* z) const;
    int hidden_width() const { return params_.hidden2; }
    int input_width() const { return d_; }
    int arm_count() const { return m_; }
    int task_count() const { return int(tasks_.size()); }
    const std::vector<TaskSpec>& tasks() const { return tasks_; }
    const MultiTaskNetworkParams& params() const { return params_; }

    nlohmann::json to_json() const;
    /// Checks format, shapes and every number; InputError names origin and the key.
    static MultiTaskNetwork from_json(const nlohmann::json& document, const std::string& origin);

    /// Chooses each task's loss and target scale from the training data (fit calls it). The
    /// validation set, when given, must agree that a column is 0/1 for it to get bce.
    void configure_tasks(const Dataset& train, const Dataset* validation = nullptr);
    /// Total loss of all rows of data as one batch, row weights N/N_t from data's own arm
    /// counts: sum over tasks of weight_t * (1/N) sum_i w_i loss_t(row i). When gradient is not
    /// null it receives d loss / d parameters() (resized). For tests and small data.
    double loss_and_gradient(const Dataset& data, Backend& backend,
                             std::vector<float>* gradient) const;
    /// The same loss with the given row weights (data.n entries), summed over data's rows and
    /// divided by normaliser: a part of a larger mini-batch passes the batch's weights and
    /// rows, and the parts' results add up to the batch's.
    double loss_and_gradient(const Dataset& data, const std::vector<float>& weight,
                             int64_t normaliser, Backend& backend,
                             std::vector<float>* gradient) const;

    /// All weights: the trunk at offset 0, then head t at head_offset(t).
    std::vector<float>& parameters() { return parameters_; }
    const std::vector<float>& parameters() const { return parameters_; }
    const MlpLayout& trunk() const { return trunk_; }
    const MlpLayout& head() const { return head_; }
    int64_t head_offset(int task) const { return trunk_.parameter_count() + task * head_size(); }

  private:
    struct Batch;
    struct Scratch;
    struct TaskData;

    int64_t head_size() const { return head_.parameter_count(); }
    void check_data(const Dataset& data, const std::string& role) const;
    TaskData task_data(const Dataset& data) const;
    double batch_loss(const Batch& batch, Backend& backend, Scratch& scratch, float* gradient,
                      int64_t normaliser) const;
    double evaluate(const Dataset& data, const TaskData& targets, Backend& backend,
                    Scratch& scratch, Communicator& comm) const;
    double train_epoch(const Dataset& data, const TaskData& targets,
                       const std::vector<int64_t>& order, Backend& backend, Scratch& scratch,
                       AdamOptimizer& adam, Communicator& comm);
    void gather_batch(const Dataset& data, const TaskData& targets, const int64_t* rows,
                      int64_t count, Scratch& scratch) const;
    void predict_heads(const std::vector<int>& tasks, const std::vector<float*>& outs,
                       const float* x, int64_t n, Backend& backend) const;
    void transform_output(int task, const float* raw, int64_t count, float* out) const;

    MultiTaskNetworkParams params_;
    int d_ = 0, m_ = 0, n_aux_ = 0;
    std::vector<TaskSpec> tasks_;
    MlpLayout trunk_, head_;
    std::vector<float> parameters_;
};

}  // namespace ca
