// Distillation of HRC into one small classifier: a dense student x -> K cluster logits trained
// with softmax cross-entropy on the teacher's clusters, so that serving needs neither the
// representation network nor the centroids. Early stopping keeps the best validation agreement.
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

// The config's "distillation" object.
struct DistillationParams {
    bool enabled = true;             ///< train the student (and write the policy) in a run
    std::vector<int> hidden = {64};  ///< hidden layer widths of the student, input to output
    int epochs = 30;                 ///< passes over the training rows at most
    int batch_size = 512;            ///< rows per mini-batch
    double learning_rate = 3e-3;     ///< Adam step size
    /// "hard": the teacher's cluster of each row; "soft": p_k proportional to
    /// exp(-||z - c_k||^2 / temperature) from the hidden representation z and the centroids.
    std::string labels = "hard";
    /// T of the soft labels, in the units of the squared distances in z; small T tends to hard.
    double temperature = 1.0;
    int patience = 5;   ///< epochs without a better validation agreement before stopping
    uint64_t seed = 0;  ///< initial weights and batch order (a run adds the split's seed)
    /// Parts each mini-batch is cut into (a power of two): the ranks share them, and on the
    /// CPU they run side by side; the result does not depend on the ranks or threads.
    int gradient_parts = 4;

    /// Reads the object; unknown keys and out-of-range values are ConfigErrors naming the key.
    static DistillationParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

// What the student learns from. Labels are clusters in [0, k).
struct TeacherClusters {
    int k = 0;                               ///< K, the student's output width
    std::vector<int32_t> train_labels;       ///< teacher's cluster of every training row
    std::vector<int32_t> validation_labels;  ///< of every validation row (early stopping)
    /// Soft labels only: writes z (rows x hidden_width) of rows of encoded features x.
    std::function<void(const float* x, int64_t rows, float* z)> hidden;
    int hidden_width = 0;          ///< width of z
    std::vector<float> centroids;  ///< K x hidden_width, the teacher's k-means centroids
};

struct DistillationEpoch {
    int epoch = 0;                      ///< 1-based
    double train_loss = 0.0;            ///< mean cross-entropy per row over the epoch
    double validation_agreement = 0.0;  ///< share of validation rows on the teacher's cluster
    double seconds = 0.0;               ///< wall time of the epoch, validation included
};

struct StudentReport {
    std::vector<DistillationEpoch> epochs;
    int best_epoch = 0;                 ///< epoch whose weights were kept
    double validation_agreement = 0.0;  ///< agreement of the kept weights
    bool stopped_early = false;         ///< patience ran out before the last epoch
    double seconds = 0.0;               ///< training wall time
    nlohmann::json to_json() const;
};

struct DistilledStudent {
    Mlp network;  ///< widths {D, hidden..., K}; logits out
    StudentReport report;
};

/// Trains the student on train.x (N x D) against the teacher. Agreement on the validation rows
/// drives early stopping, with the best weights restored; with no validation rows the training
/// rows stand in. With several ranks in comm each computes its parts of every batch and its
/// blocks of the validation rows; every rank ends with the same student. Throws InputError
/// when labels do not match the rows or lie outside [0, K), ConfigError when training diverges.
DistilledStudent train_student(const Dataset& train, const Dataset& validation,
                               const TeacherClusters& teacher, const DistillationParams& params,
                               Backend& backend, Communicator& comm = local_communicator());

/// Argmax of the student's logits (lowest index on ties) for n rows of x, in inference blocks.
std::vector<int32_t> predict_clusters(const Mlp& student, const float* x, int64_t n,
                                      Backend& backend);
/// The argmax of each row of rows x k logits into clusters.
void argmax_rows(const float* logits, int64_t rows, int k, int32_t* clusters);

/// Share of positions where a and b hold the same cluster (sizes must match; 1 when empty).
double agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b);

/// Softmax cross-entropy of rows x k logits against targets: hard labels (rows entries) when
/// labels is not null, else soft targets (rows x k, each row summing to 1). Returns the summed
/// loss; gradient (rows x k) receives gradient_scale * (softmax - target).
double softmax_cross_entropy(const float* logits, int64_t rows, int k, const int32_t* labels,
                             const float* soft_targets, double gradient_scale, float* gradient);

/// Soft labels p_k proportional to exp(-||z - c_k||^2 / temperature), rows x k, computed
/// relative to the nearest centroid so no row underflows to all zeros.
void soft_cluster_targets(const float* z, int64_t rows, int width, const float* centroids, int k,
                          double temperature, float* targets);

}  // namespace ca
