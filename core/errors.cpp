// Out-of-line body of the assertion macro, so the macro stays small at every call site.
#include "core/errors.h"

namespace ca {

void assertion_failed(const char* expression, const char* function, const char* file, int line,
                      const std::string& detail) {
    std::ostringstream out;
    out << "internal error: assertion '" << expression << "' failed in " << function << " at "
        << file << ':' << line;
    if (!detail.empty()) out << ": " << detail;
    throw std::logic_error(out.str());
}

}  // namespace ca
