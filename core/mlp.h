// A dense stack Linear -> ReLU -> ... -> Linear over ca::Backend, with every weight and bias in
// one flat float buffer, so that an optimizer step or a gradient all-reduce touches one array.
// MlpLayout computes over a caller's buffer (several stacks can share one); Mlp owns its own.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/backend.h"

namespace ca {

// Scratch memory of one forward/backward pass: each layer's output for rows of a batch, and two
// gradient buffers. It only grows, so a training loop allocates nothing after its first batch.
class MlpWorkspace {
  public:
    /// Output of layer l (rows x widths[l + 1]) after the last forward().
    const float* layer_output(int layer) const { return activations_.data() + offsets_[layer]; }
    float* layer_output(int layer) { return activations_.data() + offsets_[layer]; }
    /// Rows of the last forward().
    int64_t rows() const { return rows_; }

  private:
    friend class MlpLayout;
    std::vector<float> activations_;
    std::vector<int64_t> offsets_;  ///< start of each layer's output in activations_
    std::vector<float> gradient_a_, gradient_b_;
    int64_t rows_ = 0;
};

// Shapes of a dense stack and where its parameters sit in a flat buffer. Layer l maps
// widths[l] inputs to widths[l + 1] outputs; its weights W (widths[l] x widths[l + 1],
// row-major, so y = x W + b) come first, then its bias. ReLU follows every layer except the
// last, and the last too when relu_output is set (a representation trunk).
class MlpLayout {
  public:
    MlpLayout() = default;
    /// widths = {input, hidden..., output}, at least two entries, all positive.
    explicit MlpLayout(std::vector<int> widths, bool relu_output = false);

    const std::vector<int>& widths() const { return widths_; }
    bool relu_output() const { return relu_output_; }
    int layer_count() const { return int(widths_.size()) - 1; }
    int input_width() const { return widths_.front(); }
    int output_width() const { return widths_.back(); }
    int64_t parameter_count() const { return parameter_count_; }
    /// Offset of layer l's weights / bias in the flat buffer.
    int64_t weight_offset(int layer) const { return weight_offsets_[layer]; }
    int64_t bias_offset(int layer) const { return weight_offsets_[layer] + fan_in_out(layer); }

    /// He-normal weights (std sqrt(2 / fan_in)) and zero biases, deterministic for a seed.
    void init_he(float* params, uint64_t seed) const;

    /// Runs rows of x (rows x input) through the stack, keeping each layer's output in the
    /// workspace; the result is workspace.layer_output(layer_count() - 1).
    void forward(const float* params, const float* x, int64_t rows, Backend& backend,
                 MlpWorkspace& workspace) const;

    /// Backpropagates grad_output (rows x output, d loss / d output) through the forward() just
    /// run on the same x. Writes d loss / d params into grad_params (overwritten, same layout as
    /// params) and, when grad_input is not null, d loss / d x into it (added to its contents
    /// when accumulate_input is set, so several heads can feed one trunk).
    void backward(const float* params, const float* x, const float* grad_output, int64_t rows,
                  Backend& backend, MlpWorkspace& workspace, float* grad_params, float* grad_input,
                  bool accumulate_input = false) const;

    /// Inference for any n, in blocks of kInferenceBlockRows so activations stay in cache;
    /// out is n x output.
    void infer(const float* params, const float* x, int64_t n, Backend& backend, float* out) const;

    /// Rows per block in infer(): 4-8k rows keep a block's activations in cache.
    static constexpr int64_t kInferenceBlockRows = 4096;

  private:
    int64_t fan_in_out(int layer) const { return int64_t(widths_[layer]) * widths_[layer + 1]; }
    bool relu_after(int layer) const { return relu_output_ || layer + 1 < layer_count(); }
    void reserve(MlpWorkspace& workspace, int64_t rows) const;
    void run_layer(const float* params, int layer, const float* in, int64_t rows, float* out,
                   Backend& backend) const;

    std::vector<int> widths_;
    bool relu_output_ = false;
    std::vector<int64_t> weight_offsets_;
    int64_t parameter_count_ = 0;
    int max_width_ = 0;
};

// A dense stack that owns its parameters and their gradient: the building block for the
// student classifier and the baselines, which bring their own losses.
class Mlp {
  public:
    Mlp() = default;
    /// He-initialised from seed; see MlpLayout for widths and relu_output.
    Mlp(std::vector<int> widths, uint64_t seed, bool relu_output = false);

    const MlpLayout& layout() const { return layout_; }
    int input_width() const { return layout_.input_width(); }
    int output_width() const { return layout_.output_width(); }
    int64_t parameter_count() const { return layout_.parameter_count(); }
    std::vector<float>& parameters() { return parameters_; }
    const std::vector<float>& parameters() const { return parameters_; }
    /// d loss / d parameters from the last backward().
    std::vector<float>& gradient() { return gradient_; }
    const std::vector<float>& gradient() const { return gradient_; }

    /// See MlpLayout::forward; the output is workspace.layer_output(layers - 1).
    void forward(const float* x, int64_t rows, Backend& backend, MlpWorkspace& workspace) const;
    const float* output(const MlpWorkspace& workspace) const {
        return workspace.layer_output(layout_.layer_count() - 1);
    }
    /// See MlpLayout::backward; the parameter gradient goes to gradient().
    void backward(const float* x, const float* grad_output, int64_t rows, Backend& backend,
                  MlpWorkspace& workspace, float* grad_input = nullptr);
    /// Blocked inference; out is n x output_width().
    void infer(const float* x, int64_t n, Backend& backend, float* out) const;

    /// {"widths": [...], "relu_output": bool, "parameters": [...]}; floats round-trip exactly.
    nlohmann::json to_json() const;
    /// Checks shapes, counts and finiteness; errors name origin and the key (InputError).
    static Mlp from_json(const nlohmann::json& document, const std::string& origin);

  private:
    MlpLayout layout_;
    std::vector<float> parameters_;
    std::vector<float> gradient_;
};

/// Reads a flat float array written by to_json, checking its length and that every entry is a
/// finite number; where names the key for messages ("model.json: parameters").
std::vector<float> parameters_from_json(const nlohmann::json& array, int64_t expected_count,
                                        const std::string& where);

}  // namespace ca
