// Checked access to JSON configs. Every read names the file and key path on error, and each
// params parser declares the keys it knows, so a misspelt key is an error, not a silent default.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace ca {

class ConfigNode {
public:
    /// Parses a JSON file; syntax errors name the file, line and column.
    static ConfigNode from_file(const std::string& path);
    /// Wraps an in-memory document; origin stands in for the file name in messages.
    static ConfigNode from_json(nlohmann::json document, const std::string& origin);

    bool has(const std::string& key) const;
    /// An object member; a missing key gives an empty object at that path.
    ConfigNode child(const std::string& key) const;
    /// An element of an array node.
    ConfigNode element(size_t index) const;
    size_t size() const;
    bool is_object() const;
    bool is_array() const;
    std::vector<std::string> keys() const;

    double number(const std::string& key, double fallback) const;
    double number_in(const std::string& key, double fallback, double low, double high) const;
    long integer(const std::string& key, long fallback) const;
    long integer_in(const std::string& key, long fallback, long low, long high) const;
    bool boolean(const std::string& key, bool fallback) const;
    std::string string(const std::string& key, const std::string& fallback) const;
    /// A string that must be one of the allowed values.
    std::string choice(const std::string& key, const std::string& fallback,
                       std::initializer_list<const char*> allowed) const;
    std::vector<double> numbers(const std::string& key, const std::vector<double>& fallback) const;
    std::vector<std::string> strings(const std::string& key,
                                     const std::vector<std::string>& fallback) const;
    std::string required_string(const std::string& key) const;

    /// Throws ConfigError for any key of this object that is not in known.
    void allow_only(std::initializer_list<const char*> known) const;

    /// "file: a.b[2].key" for messages.
    std::string where(const std::string& key = "") const;
    [[noreturn]] void fail(const std::string& key, const std::string& message) const;

    const nlohmann::json& json() const { return *node_; }
    const std::string& origin() const { return origin_; }

private:
    ConfigNode(std::shared_ptr<const nlohmann::json> root, const nlohmann::json* node,
               std::string origin, std::string path);
    const nlohmann::json* member(const std::string& key) const;

    std::shared_ptr<const nlohmann::json> root_;
    const nlohmann::json* node_;
    std::string origin_;
    std::string path_;
};

}  // namespace ca
