// One logger with levels and a stage timer. Only rank 0 prints (set_log_rank).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace ca {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
// Ranks other than 0 stay silent except for errors.
void set_log_rank(int rank);

void log_error(const std::string& message);
void log_warning(const std::string& message);
void log_info(const std::string& message);
void log_debug(const std::string& message);

// While it lives, the warnings logged on this thread are collected instead of printed: work one
// rank does for all (a budget level) hands its warnings to rank 0, which alone prints.
class WarningCapture {
  public:
    WarningCapture();
    ~WarningCapture();
    WarningCapture(const WarningCapture&) = delete;
    WarningCapture& operator=(const WarningCapture&) = delete;
    /// The warnings collected so far, in order; the capture starts empty again.
    std::vector<std::string> take();

  private:
    std::vector<std::string> messages_;
    std::vector<std::string>* outer_;
};

// Wall-clock seconds since an arbitrary fixed point.
double wall_seconds();

// Accumulates named stage timings in order of first use; written into every run's outputs.
class StageTimer {
  public:
    void add(const std::string& stage, double seconds);
    const std::vector<std::pair<std::string, double>>& stages() const { return stages_; }

  private:
    std::vector<std::pair<std::string, double>> stages_;
};

// Times a scope and adds it to a StageTimer; logs the stage when it took over a second.
class ScopedStage {
  public:
    ScopedStage(StageTimer& timer, std::string stage);
    ~ScopedStage();
    ScopedStage(const ScopedStage&) = delete;
    ScopedStage& operator=(const ScopedStage&) = delete;

  private:
    StageTimer& timer_;
    std::string stage_;
    double start_;
};

}  // namespace ca
