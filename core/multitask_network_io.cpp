// The multi-task network's config parsing and its JSON model file (write and checked read).
#include <climits>
#include <cmath>

#include "core/errors.h"
#include "core/multitask_network.h"

namespace ca {

namespace {
constexpr const char* kModelFormat = "clusteralloc.multitask_network";
constexpr int kModelVersion = 1;
constexpr long kMaxWidth = 1 << 16;

// A number that must be positive: number_in() bounds are inclusive, so zero is refused here.
double positive_number(const ConfigNode& node, const std::string& key, double fallback,
                       double high) {
    const double value = node.number_in(key, fallback, 0.0, high);
    if (value <= 0.0) node.fail(key, "expected a positive number, got 0");
    return value;
}

const nlohmann::json& required(const nlohmann::json& document, const std::string& key,
                               const std::string& origin) {
    auto it = document.find(key);
    if (it == document.end())
        CA_THROW(InputError, origin << ": " << key << ": required key is "
                                    << "missing (corrupt model file?)");
    return *it;
}

int read_count(const nlohmann::json& document, const std::string& key, long low,
               const std::string& origin) {
    const nlohmann::json& item = required(document, key, origin);
    if (!item.is_number_integer() || item.get<long>() < low || item.get<long>() > INT_MAX)
        CA_THROW(InputError, origin << ": " << key << ": expected an integer >= " << low << ", got "
                                    << item.dump());
    return item.get<int>();
}

TaskSpec read_task(const nlohmann::json& item, const std::string& where) {
    if (!item.is_object())
        CA_THROW(InputError, where << ": expected an object, got " << item.dump());
    TaskSpec task;
    const nlohmann::json& name = required(item, "name", where);
    const nlohmann::json& loss = required(item, "loss", where);
    const nlohmann::json& scale = required(item, "target_scale", where);
    const nlohmann::json& weight = required(item, "weight", where);
    if (!name.is_string()) CA_THROW(InputError, where << ".name: expected a string");
    task.name = name.get<std::string>();
    if (!loss.is_string() || !loss_from_name(loss.get<std::string>(), &task.loss))
        CA_THROW(InputError,
                 where << ".loss: expected \"mse\", \"huber\" or \"bce\", got " << loss.dump());
    if (!scale.is_number() || !(scale.get<double>() > 0.0) || !std::isfinite(scale.get<double>()))
        CA_THROW(InputError,
                 where << ".target_scale: expected a positive number, got " << scale.dump());
    task.target_scale = scale.get<float>();
    if (!weight.is_number() || !(weight.get<double>() >= 0.0) ||
        !std::isfinite(weight.get<double>()))
        CA_THROW(InputError, where << ".weight: expected a number >= 0, got " << weight.dump());
    task.weight = weight.get<double>();
    return task;
}
}  // namespace

MultiTaskNetworkParams parse_network_params(const ConfigNode& network) {
    network.allow_only({"hidden1", "hidden2", "head_hidden", "learning_rate", "batch_size",
                        "gradient_parts", "max_epochs", "patience", "seed", "value_loss",
                        "huber_delta", "task_weights", "weight_decay"});
    MultiTaskNetworkParams p;
    p.hidden1 = int(network.integer_in("hidden1", p.hidden1, 1, kMaxWidth));
    p.hidden2 = int(network.integer_in("hidden2", p.hidden2, 1, kMaxWidth));
    p.head_hidden = int(network.integer_in("head_hidden", p.head_hidden, 0, kMaxWidth));
    p.learning_rate = positive_number(network, "learning_rate", p.learning_rate, 10.0);
    p.batch_size = int(network.integer_in("batch_size", p.batch_size, 1, 1 << 24));
    p.gradient_parts = int(network.integer_in("gradient_parts", p.gradient_parts, 1, 1 << 12));
    if ((p.gradient_parts & (p.gradient_parts - 1)) != 0)
        network.fail("gradient_parts",
                     "expected a power of two (1, 2, 4, ...), got " +
                         std::to_string(p.gradient_parts));
    p.max_epochs = int(network.integer_in("max_epochs", p.max_epochs, 1, 1000000));
    p.patience = int(network.integer_in("patience", p.patience, 1, 1000000));
    p.seed = uint64_t(network.integer_in("seed", long(p.seed), 0, LONG_MAX));
    p.value_loss = network.choice("value_loss", p.value_loss, {"auto", "mse", "huber", "bce"});
    p.huber_delta = positive_number(network, "huber_delta", p.huber_delta, 1e6);
    p.weight_decay = network.number_in("weight_decay", p.weight_decay, 0.0, 1.0);

    if (network.has("task_weights") && !network.child("task_weights").is_object())
        network.fail("task_weights",
                     "expected an object like {\"value\": 1, \"cost\": 1, "
                     "\"aux\": 0.5}");
    ConfigNode weights = network.child("task_weights");
    weights.allow_only({"value", "cost", "aux"});
    p.value_weight = weights.number_in("value", p.value_weight, 0.0, 1e6);
    p.cost_weight = weights.number_in("cost", p.cost_weight, 0.0, 1e6);
    p.aux_weight = weights.number_in("aux", p.aux_weight, 0.0, 1e6);
    return p;
}

nlohmann::json to_json(const MultiTaskNetworkParams& p) {
    return {{"hidden1", p.hidden1},
            {"hidden2", p.hidden2},
            {"head_hidden", p.head_hidden},
            {"learning_rate", p.learning_rate},
            {"batch_size", p.batch_size},
            {"gradient_parts", p.gradient_parts},
            {"max_epochs", p.max_epochs},
            {"patience", p.patience},
            {"seed", p.seed},
            {"value_loss", p.value_loss},
            {"huber_delta", p.huber_delta},
            {"task_weights",
             {{"value", p.value_weight}, {"cost", p.cost_weight}, {"aux", p.aux_weight}}},
            {"weight_decay", p.weight_decay}};
}

nlohmann::json TrainingReport::to_json() const {
    nlohmann::json rows = nlohmann::json::array();
    for (const EpochRecord& e : epochs)
        rows.push_back({{"epoch", e.epoch},
                        {"train_loss", e.train_loss},
                        {"validation_loss", e.validation_loss},
                        {"seconds", e.seconds}});
    return {{"epochs", rows},
            {"best_epoch", best_epoch},
            {"best_validation_loss", best_validation_loss},
            {"stopped_early", stopped_early},
            {"samples_per_second", samples_per_second}};
}

nlohmann::json MultiTaskNetwork::to_json() const {
    nlohmann::json tasks = nlohmann::json::array();
    for (const TaskSpec& task : tasks_)
        tasks.push_back({{"name", task.name},
                         {"loss", loss_name(task.loss)},
                         {"target_scale", task.target_scale},
                         {"weight", task.weight}});
    return {{"format", kModelFormat},
            {"version", kModelVersion},
            {"params", ca::to_json(params_)},
            {"input_width", d_},
            {"arms", m_},
            {"aux_count", n_aux_},
            {"tasks", tasks},
            {"parameters", parameters_}};
}

MultiTaskNetwork MultiTaskNetwork::from_json(const nlohmann::json& document,
                                             const std::string& origin) {
    if (!document.is_object())
        CA_THROW(InputError,
                 origin << ": expected a network model object, got " << document.type_name());
    const nlohmann::json& format = required(document, "format", origin);
    if (format != kModelFormat)
        CA_THROW(InputError,
                 origin << ": format: expected \"" << kModelFormat << "\", got " << format.dump());
    const nlohmann::json& version = required(document, "version", origin);
    if (version != kModelVersion)
        CA_THROW(InputError,
                 origin << ": version: expected " << kModelVersion << ", got " << version.dump());

    // The stored settings go through the config parser, so they are checked the same way.
    MultiTaskNetworkParams params;
    const nlohmann::json& stored = required(document, "params", origin);
    try {
        params = parse_network_params(
            ConfigNode::from_json(nlohmann::json{{"params", stored}}, origin).child("params"));
    } catch (const ConfigError& error) {
        throw InputError(error.what());
    }
    MultiTaskNetwork network(params, read_count(document, "input_width", 1, origin),
                             read_count(document, "arms", 1, origin),
                             read_count(document, "aux_count", 0, origin));

    const nlohmann::json& tasks = required(document, "tasks", origin);
    if (!tasks.is_array() || int(tasks.size()) != network.task_count())
        CA_THROW(InputError, origin << ": tasks: expected an array of " << network.task_count()
                                    << " tasks (value, cost, auxiliary), got " << tasks.dump());
    for (int t = 0; t < network.task_count(); ++t)
        network.tasks_[t] = read_task(tasks[t], origin + ": tasks[" + std::to_string(t) + "]");
    network.parameters_ =
        parameters_from_json(required(document, "parameters", origin),
                             int64_t(network.parameters_.size()), origin + ": parameters");
    return network;
}

}  // namespace ca
