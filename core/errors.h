// Error types and checks shared by the whole project.
// Two tiers: InputError / ConfigError for the caller's mistakes (reported by the command
// line, exit non-zero), CA_ASSERT for broken invariants (a bug in clusteralloc).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ca {

// Bad data: a file, line and column should be part of the message.
class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Bad configuration: the message names the config file and key path.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Formats "path:line:col: message" the way compilers do, so editors can jump to it.
inline std::string at_location(const std::string& path, long line, long column,
                               const std::string& message) {
    std::ostringstream out;
    out << path << ':' << line;
    if (column > 0) out << ':' << column;
    out << ": " << message;
    return out.str();
}

[[noreturn]] void assertion_failed(const char* expression, const char* function, const char* file,
                                   int line, const std::string& detail);

}  // namespace ca

// Internal invariant; prints expression, function and file:line, then throws std::logic_error.
#define CA_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) ::ca::assertion_failed(#cond, __func__, __FILE__, __LINE__, ""); \
    } while (0)

#define CA_ASSERT_MSG(cond, msg)                                                  \
    do {                                                                          \
        if (!(cond)) {                                                            \
            std::ostringstream ca_assert_stream_;                                 \
            ca_assert_stream_ << msg;                                             \
            ::ca::assertion_failed(#cond, __func__, __FILE__, __LINE__,           \
                                   ca_assert_stream_.str());                      \
        }                                                                         \
    } while (0)

// Throws InputError / ConfigError with a streamed message.
#define CA_THROW(ErrorType, msg)                  \
    do {                                          \
        std::ostringstream ca_throw_stream_;      \
        ca_throw_stream_ << msg;                  \
        throw ErrorType(ca_throw_stream_.str());  \
    } while (0)
