// An environment variable set (or removed) for one scope and restored afterwards, for tests of
// what the launchers (mpirun, srun) tell a process through its environment.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace ca {
namespace testing {

class ScopedEnv {
  public:
    /// value nullptr removes the variable for the scope.
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) {
            setenv(name, value, 1);
        } else {
            unsetenv(name);
        }
    }
    ~ScopedEnv() {
        if (old_) {
            setenv(name_.c_str(), old_->c_str(), 1);
        } else {
            unsetenv(name_.c_str());
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    std::string name_;
    std::optional<std::string> old_;
};

}  // namespace testing
}  // namespace ca
