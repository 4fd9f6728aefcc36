// Dense stack: forward, backward and blocked inference as sgemm + fused bias/ReLU per layer.
#include "core/mlp.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/errors.h"

namespace ca {

namespace {
// Box-Muller over mt19937_64 rather than std::normal_distribution, whose algorithm differs
// between standard libraries: the same seed gives the same network everywhere.
class NormalSource {
  public:
    explicit NormalSource(uint64_t seed) : engine_(seed) {}
    double next() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u1 = uniform_open(), u2 = uniform_open();
        double radius = std::sqrt(-2.0 * std::log(u1));
        double angle = 2.0 * M_PI * u2;
        spare_ = radius * std::sin(angle);
        has_spare_ = true;
        return radius * std::cos(angle);
    }

  private:
    // In (0, 1]: log(0) must not happen.
    double uniform_open() { return (double(engine_() >> 11) + 1.0) * 0x1.0p-53; }

    std::mt19937_64 engine_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};
}  // namespace

MlpLayout::MlpLayout(std::vector<int> widths, bool relu_output)
    : widths_(std::move(widths)), relu_output_(relu_output) {
    CA_ASSERT_MSG(widths_.size() >= 2, "an MLP needs input and output widths");
    for (int width : widths_) CA_ASSERT_MSG(width > 0, "layer width " << width);
    for (int layer = 0; layer < layer_count(); ++layer) {
        weight_offsets_.push_back(parameter_count_);
        parameter_count_ += fan_in_out(layer) + widths_[layer + 1];
    }
    max_width_ = *std::max_element(widths_.begin(), widths_.end());
}

void MlpLayout::init_he(float* params, uint64_t seed) const {
    NormalSource normal(seed);
    for (int layer = 0; layer < layer_count(); ++layer) {
        const double std_dev = std::sqrt(2.0 / widths_[layer]);
        float* weights = params + weight_offset(layer);
        for (int64_t i = 0; i < fan_in_out(layer); ++i) weights[i] = float(std_dev * normal.next());
        std::fill_n(params + bias_offset(layer), widths_[layer + 1], 0.0f);
    }
}

void MlpLayout::reserve(MlpWorkspace& workspace, int64_t rows) const {
    workspace.offsets_.assign(layer_count(), 0);
    int64_t total = 0;
    for (int layer = 0; layer < layer_count(); ++layer) {
        workspace.offsets_[layer] = total;
        total += rows * widths_[layer + 1];
    }
    // Grow only: a smaller batch (the last one of an epoch) reuses the memory.
    if (int64_t(workspace.activations_.size()) < total) workspace.activations_.resize(total);
    const size_t gradient_size = size_t(rows) * max_width_;
    if (workspace.gradient_a_.size() < gradient_size) {
        workspace.gradient_a_.resize(gradient_size);
        workspace.gradient_b_.resize(gradient_size);
    }
    workspace.rows_ = rows;
}

void MlpLayout::run_layer(const float* params, int layer, const float* in, int64_t rows, float* out,
                          Backend& backend) const {
    const int fan_in = widths_[layer], fan_out = widths_[layer + 1];
    backend.gemm(false, false, rows, fan_out, fan_in, 1.0f, in, fan_in,
                 params + weight_offset(layer), fan_out, 0.0f, out, fan_out);
    backend.add_bias_activation(out, params + bias_offset(layer), rows, fan_out, relu_after(layer));
}

void MlpLayout::forward(const float* params, const float* x, int64_t rows, Backend& backend,
                        MlpWorkspace& workspace) const {
    reserve(workspace, rows);
    const float* in = x;
    for (int layer = 0; layer < layer_count(); ++layer) {
        float* out = workspace.layer_output(layer);
        run_layer(params, layer, in, rows, out, backend);
        in = out;
    }
}

void MlpLayout::backward(const float* params, const float* x, const float* grad_output,
                         int64_t rows, Backend& backend, MlpWorkspace& workspace,
                         float* grad_params, float* grad_input, bool accumulate_input) const {
    CA_ASSERT_MSG(workspace.rows_ == rows, "backward over " << rows << " rows after a forward "
                                                            << "over " << workspace.rows_);
    const int last = layer_count() - 1;
    float* buffer_a = workspace.gradient_a_.data();
    float* buffer_b = workspace.gradient_b_.data();

    // d loss / d (pre-activation) of the last layer.
    const float* grad_layer = grad_output;
    if (relu_after(last)) {
        std::copy_n(grad_output, rows * output_width(), buffer_a);
        backend.relu_backward(workspace.layer_output(last), buffer_a, rows * output_width());
        grad_layer = buffer_a;
    }

    for (int layer = last; layer >= 0; --layer) {
        const int fan_in = widths_[layer], fan_out = widths_[layer + 1];
        const float* in = layer == 0 ? x : workspace.layer_output(layer - 1);

        // dW = in^T grad_layer and db = column sums of grad_layer.
        backend.gemm(true, false, fan_in, fan_out, rows, 1.0f, in, fan_in, grad_layer, fan_out,
                     0.0f, grad_params + weight_offset(layer), fan_out);
        backend.column_sums(grad_layer, rows, fan_out, grad_params + bias_offset(layer));

        // d loss / d in = grad_layer W^T; below the first layer it is masked by the ReLU.
        const float* weights = params + weight_offset(layer);
        if (layer == 0) {
            if (grad_input) {
                backend.gemm(false, true, rows, fan_in, fan_out, 1.0f, grad_layer, fan_out, weights,
                             fan_out, accumulate_input ? 1.0f : 0.0f, grad_input, fan_in);
            }
            break;
        }
        float* grad_in = grad_layer == buffer_a ? buffer_b : buffer_a;
        backend.gemm(false, true, rows, fan_in, fan_out, 1.0f, grad_layer, fan_out, weights,
                     fan_out, 0.0f, grad_in, fan_in);
        backend.relu_backward(workspace.layer_output(layer - 1), grad_in, rows * fan_in);
        grad_layer = grad_in;
    }
}

void MlpLayout::infer(const float* params, const float* x, int64_t n, Backend& backend,
                      float* out) const {
    const int64_t block_rows = std::min(n, kInferenceBlockRows);
    std::vector<float> ping(size_t(block_rows) * max_width_), pong(ping.size());
    for (int64_t start = 0; start < n; start += kInferenceBlockRows) {
        const int64_t rows = std::min(kInferenceBlockRows, n - start);
        const float* in = x + start * input_width();
        for (int layer = 0; layer < layer_count(); ++layer) {
            float* target = layer == layer_count() - 1 ? out + start * output_width()
                            : layer % 2 == 0           ? ping.data()
                                                       : pong.data();
            run_layer(params, layer, in, rows, target, backend);
            in = target;
        }
    }
}

Mlp::Mlp(std::vector<int> widths, uint64_t seed, bool relu_output)
    : layout_(std::move(widths), relu_output),
      parameters_(layout_.parameter_count()),
      gradient_(layout_.parameter_count(), 0.0f) {
    layout_.init_he(parameters_.data(), seed);
}

void Mlp::forward(const float* x, int64_t rows, Backend& backend, MlpWorkspace& workspace) const {
    layout_.forward(parameters_.data(), x, rows, backend, workspace);
}

void Mlp::backward(const float* x, const float* grad_output, int64_t rows, Backend& backend,
                   MlpWorkspace& workspace, float* grad_input) {
    layout_.backward(parameters_.data(), x, grad_output, rows, backend, workspace, gradient_.data(),
                     grad_input);
}

void Mlp::infer(const float* x, int64_t n, Backend& backend, float* out) const {
    layout_.infer(parameters_.data(), x, n, backend, out);
}

nlohmann::json Mlp::to_json() const {
    return {{"widths", layout_.widths()},
            {"relu_output", layout_.relu_output()},
            {"parameters", parameters_}};
}

std::vector<float> parameters_from_json(const nlohmann::json& array, int64_t expected_count,
                                        const std::string& where) {
    if (!array.is_array())
        CA_THROW(InputError, where << ": expected an array of " << expected_count
                                   << " numbers, got " << array.type_name());
    if (int64_t(array.size()) != expected_count)
        CA_THROW(InputError, where << ": expected " << expected_count << " numbers, got "
                                   << array.size() << " (corrupt or mismatched model file)");
    std::vector<float> out(array.size());
    for (size_t i = 0; i < array.size(); ++i) {
        const auto& item = array[i];
        if (!item.is_number() || !std::isfinite(item.get<double>()))
            CA_THROW(InputError,
                     where << "[" << i << "]: expected a finite number, got " << item.dump());
        out[i] = item.get<float>();
    }
    return out;
}

Mlp Mlp::from_json(const nlohmann::json& document, const std::string& origin) {
    if (!document.is_object())
        CA_THROW(InputError, origin << ": expected an MLP object, got " << document.type_name());
    auto widths_it = document.find("widths");
    if (widths_it == document.end() || !widths_it->is_array() || widths_it->size() < 2)
        CA_THROW(InputError, origin << ": widths: expected an array of at least two widths");
    std::vector<int> widths;
    for (size_t i = 0; i < widths_it->size(); ++i) {
        const auto& item = (*widths_it)[i];
        if (!item.is_number_integer() || item.get<long>() <= 0 || item.get<long>() > (1 << 24))
            CA_THROW(InputError, origin << ": widths[" << i
                                        << "]: expected a positive integer, got " << item.dump());
        widths.push_back(item.get<int>());
    }
    auto relu_it = document.find("relu_output");
    if (relu_it != document.end() && !relu_it->is_boolean())
        CA_THROW(InputError,
                 origin << ": relu_output: expected true or false, got " << relu_it->dump());
    auto params_it = document.find("parameters");
    if (params_it == document.end())
        CA_THROW(InputError, origin << ": parameters: required key is missing");

    Mlp mlp;
    mlp.layout_ = MlpLayout(widths, relu_it != document.end() && relu_it->get<bool>());
    mlp.parameters_ =
        parameters_from_json(*params_it, mlp.layout_.parameter_count(), origin + ": parameters");
    mlp.gradient_.assign(mlp.parameters_.size(), 0.0f);
    return mlp;
}

}  // namespace ca
