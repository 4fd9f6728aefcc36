// Logger and stage timer implementation: plain stderr lines with a level tag.
#include "core/log.h"

#include <cstdio>

namespace ca {

namespace {
LogLevel g_level = LogLevel::kInfo;
int g_rank = 0;

void emit(LogLevel level, const char* tag, const std::string& message) {
    if (level > g_level) return;
    if (g_rank != 0 && level != LogLevel::kError) return;
    std::fprintf(stderr, "[%s] %s\n", tag, message.c_str());
    std::fflush(stderr);
}
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }
void set_log_rank(int rank) { g_rank = rank; }

void log_error(const std::string& message) { emit(LogLevel::kError, "error", message); }
namespace {
// The capture active on this thread, if any (WarningCapture).
thread_local std::vector<std::string>* active_capture = nullptr;
}  // namespace

void log_warning(const std::string& message) {
    if (active_capture) {
        active_capture->push_back(message);
        return;
    }
    emit(LogLevel::kWarning, "warning", message);
}

WarningCapture::WarningCapture() : outer_(active_capture) { active_capture = &messages_; }

WarningCapture::~WarningCapture() { active_capture = outer_; }

std::vector<std::string> WarningCapture::take() { return std::move(messages_); }
void log_info(const std::string& message) { emit(LogLevel::kInfo, "info", message); }
void log_debug(const std::string& message) { emit(LogLevel::kDebug, "debug", message); }

double wall_seconds() {
    using Clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

void StageTimer::add(const std::string& stage, double seconds) {
    for (auto& entry : stages_) {
        if (entry.first == stage) {
            entry.second += seconds;
            return;
        }
    }
    stages_.emplace_back(stage, seconds);
}

ScopedStage::ScopedStage(StageTimer& timer, std::string stage)
    : timer_(timer), stage_(std::move(stage)), start_(wall_seconds()) {}

ScopedStage::~ScopedStage() {
    double seconds = wall_seconds() - start_;
    timer_.add(stage_, seconds);
    if (seconds > 1.0) {
        char buffer[64];
        std::snprintf(buffer, sizeof(buffer), "%.2f s", seconds);
        log_info("stage " + stage_ + " done in " + buffer);
    }
}

}  // namespace ca
