// ConfigNode: typed, range-checked reads from JSON with file and key path in every message.
#include "core/config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace ca {

namespace {
const nlohmann::json& empty_object() {
    static const nlohmann::json empty = nlohmann::json::object();
    return empty;
}

// nlohmann reports a byte offset; turn it into line:column for the message.
std::string offset_to_line_column(const std::string& text, size_t offset) {
    long line = 1, column = 1;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return std::to_string(line) + ":" + std::to_string(column);
}
}  // namespace

ConfigNode::ConfigNode(std::shared_ptr<const nlohmann::json> root, const nlohmann::json* node,
                       std::string origin, std::string path)
    : root_(std::move(root)), node_(node), origin_(std::move(origin)), path_(std::move(path)) {}

ConfigNode ConfigNode::from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) CA_THROW(ConfigError, path << ": cannot open config file");
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    try {
        auto root = std::make_shared<const nlohmann::json>(nlohmann::json::parse(text));
        if (!root->is_object()) CA_THROW(ConfigError, path << ": the config must be a JSON object");
        return ConfigNode(root, root.get(), path, "");
    } catch (const nlohmann::json::parse_error& error) {
        CA_THROW(ConfigError, path << ":" << offset_to_line_column(text, error.byte)
                                   << ": invalid JSON: " << error.what());
    }
}

ConfigNode ConfigNode::from_json(nlohmann::json document, const std::string& origin) {
    auto root = std::make_shared<const nlohmann::json>(std::move(document));
    return ConfigNode(root, root.get(), origin, "");
}

std::string ConfigNode::where(const std::string& key) const {
    std::string full = path_;
    if (!key.empty()) full += (full.empty() ? "" : ".") + key;
    return origin_ + ": " + (full.empty() ? "(top level)" : full);
}

void ConfigNode::fail(const std::string& key, const std::string& message) const {
    throw ConfigError(where(key) + ": " + message);
}

const nlohmann::json* ConfigNode::member(const std::string& key) const {
    if (!node_->is_object()) return nullptr;
    auto it = node_->find(key);
    if (it == node_->end() || it->is_null()) return nullptr;
    return &*it;
}

bool ConfigNode::has(const std::string& key) const { return member(key) != nullptr; }

ConfigNode ConfigNode::child(const std::string& key) const {
    std::string path = path_.empty() ? key : path_ + "." + key;
    const nlohmann::json* found = member(key);
    if (!found) return ConfigNode(root_, &empty_object(), origin_, path);
    if (!found->is_object() && !found->is_array())
        fail(key, "expected an object or array, got " + found->dump());
    return ConfigNode(root_, found, origin_, path);
}

ConfigNode ConfigNode::element(size_t index) const {
    CA_ASSERT(node_->is_array() && index < node_->size());
    return ConfigNode(root_, &(*node_)[index], origin_, path_ + "[" + std::to_string(index) + "]");
}

size_t ConfigNode::size() const { return node_->size(); }
bool ConfigNode::is_object() const { return node_->is_object(); }
bool ConfigNode::is_array() const { return node_->is_array(); }

std::vector<std::string> ConfigNode::keys() const {
    std::vector<std::string> out;
    if (node_->is_object())
        for (auto it = node_->begin(); it != node_->end(); ++it) out.push_back(it.key());
    return out;
}

double ConfigNode::number(const std::string& key, double fallback) const {
    const nlohmann::json* found = member(key);
    if (!found) return fallback;
    if (!found->is_number()) fail(key, "expected a number, got " + found->dump());
    double value = found->get<double>();
    if (!std::isfinite(value)) fail(key, "expected a finite number");
    return value;
}

double ConfigNode::number_in(const std::string& key, double fallback, double low,
                             double high) const {
    double value = number(key, fallback);
    if (value < low || value > high) {
        std::ostringstream out;
        out << "value " << value << " is outside [" << low << ", " << high << "]";
        fail(key, out.str());
    }
    return value;
}

long ConfigNode::integer(const std::string& key, long fallback) const {
    const nlohmann::json* found = member(key);
    if (!found) return fallback;
    if (!found->is_number_integer()) fail(key, "expected an integer, got " + found->dump());
    return found->get<long>();
}

long ConfigNode::integer_in(const std::string& key, long fallback, long low, long high) const {
    long value = integer(key, fallback);
    if (value < low || value > high) {
        fail(key, "value " + std::to_string(value) + " is outside [" + std::to_string(low) +
                      ", " + std::to_string(high) + "]");
    }
    return value;
}

bool ConfigNode::boolean(const std::string& key, bool fallback) const {
    const nlohmann::json* found = member(key);
    if (!found) return fallback;
    if (!found->is_boolean()) fail(key, "expected true or false, got " + found->dump());
    return found->get<bool>();
}

std::string ConfigNode::string(const std::string& key, const std::string& fallback) const {
    const nlohmann::json* found = member(key);
    if (!found) return fallback;
    if (!found->is_string()) fail(key, "expected a string, got " + found->dump());
    return found->get<std::string>();
}

std::string ConfigNode::required_string(const std::string& key) const {
    if (!has(key)) fail(key, "required key is missing");
    return string(key, "");
}

std::string ConfigNode::choice(const std::string& key, const std::string& fallback,
                               std::initializer_list<const char*> allowed) const {
    std::string value = string(key, fallback);
    std::string listing;
    for (const char* option : allowed) {
        if (value == option) return value;
        listing += (listing.empty() ? "" : ", ") + std::string(option);
    }
    fail(key, "unknown value \"" + value + "\"; expected one of: " + listing);
}

std::vector<double> ConfigNode::numbers(const std::string& key,
                                        const std::vector<double>& fallback) const {
    const nlohmann::json* found = member(key);
    if (!found) return fallback;
    if (!found->is_array()) fail(key, "expected an array of numbers, got " + found->dump());
    std::vector<double> out;
    for (size_t i = 0; i < found->size(); ++i) {
        const auto& item = (*found)[i];
        if (!item.is_number())
            fail(key + "[" + std::to_string(i) + "]", "expected a number, got " + item.dump());
        out.push_back(item.get<double>());
    }
    return out;
}

std::vector<std::string> ConfigNode::strings(const std::string& key,
                                             const std::vector<std::string>& fallback) const {
    const nlohmann::json* found = member(key);
    if (!found) return fallback;
    if (found->is_string()) return {found->get<std::string>()};
    if (!found->is_array()) fail(key, "expected an array of strings, got " + found->dump());
    std::vector<std::string> out;
    for (size_t i = 0; i < found->size(); ++i) {
        const auto& item = (*found)[i];
        if (!item.is_string())
            fail(key + "[" + std::to_string(i) + "]", "expected a string, got " + item.dump());
        out.push_back(item.get<std::string>());
    }
    return out;
}

void ConfigNode::allow_only(std::initializer_list<const char*> known) const {
    if (!node_->is_object()) return;
    for (auto it = node_->begin(); it != node_->end(); ++it) {
        bool found = false;
        std::string listing;
        for (const char* name : known) {
            if (it.key() == name) found = true;
            listing += (listing.empty() ? "" : ", ") + std::string(name);
        }
        if (!found) fail(it.key(), "unknown key; known keys here: " + listing);
    }
}

}  // namespace ca
