// diffauction/train/progress.hpp - a one-line progress display for training loops
// (SPEC §2 trainer). Plain <cstdio>, no fmt dependency.
//
// On a terminal the line rewrites itself with '\r'; when the output is not a
// terminal (a pipe, a file, CI logs) it is silent unless forced, and forced output
// to a non-terminal is one '\n'-terminated line per update.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

namespace diffauction {

/// When the progress line prints.
enum class ProgressMode {
    automatic,  ///< only when the output is a terminal (isatty)
    always,     ///< forced: also to files and pipes, one line per update
    never,      ///< silent
};

namespace detail {
inline bool is_terminal(std::FILE* f) {
    if (f == nullptr) return false;
#if defined(_WIN32)
    return _isatty(_fileno(f)) != 0;
#else
    return ::isatty(::fileno(f)) != 0;
#endif
}
}  // namespace detail

/// Prints at most one update per `min_interval_seconds` (forced updates always
/// print). Allocates nothing; not thread-safe (the trainer is single-threaded).
class ProgressLine {
public:
    /// `out` may be nullptr (silent). The terminal test runs once, here.
    ProgressLine(std::FILE* out, ProgressMode mode, double min_interval_seconds = 0.2)
        : out_(out), interval_(min_interval_seconds), terminal_(detail::is_terminal(out)) {
        enabled_ = out != nullptr &&
                   (mode == ProgressMode::always || (mode == ProgressMode::automatic && terminal_));
    }
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;
    ~ProgressLine() { finish(); }

    /// True when updates reach the output.
    bool enabled() const { return enabled_; }
    /// True when the line rewrites itself ('\r', a terminal); false: one line per update.
    bool rewrites() const { return terminal_; }

    /// True when enabled and an unforced update would show now (lets callers skip
    /// formatting a line that would not be printed).
    bool due() const {
        return enabled_ &&
               (!shown_ || std::chrono::duration<double>(std::chrono::steady_clock::now() - last_).count() >= interval_);
    }

    /// Shows `text` (one line, no '\n') when enabled and either `force` or at
    /// least the interval has passed since the last shown update.
    void update(const char* text, bool force = false) {
        if (!enabled_) return;
        const auto now = std::chrono::steady_clock::now();
        if (!force && shown_ && std::chrono::duration<double>(now - last_).count() < interval_) return;
        last_ = now;
        shown_ = true;
        if (terminal_) {
            const int len = std::max(0, std::fprintf(out_, "\r%s", text) - 1);  // minus the '\r'
            // Blank what a longer previous line left behind.
            const int pad = std::max(0, previous_len_ - len);
            std::fprintf(out_, "%*s", pad, "");
            previous_len_ = len;
            open_line_ = true;
        } else {
            std::fprintf(out_, "%s\n", text);
        }
        std::fflush(out_);
    }

    /// Ends a rewritten line with '\n' (idempotent; the destructor calls it).
    void finish() {
        if (enabled_ && open_line_) {
            std::fputc('\n', out_);
            std::fflush(out_);
        }
        open_line_ = false;
        previous_len_ = 0;
    }

private:
    std::FILE* out_;
    double interval_;
    bool terminal_;
    bool enabled_ = false;
    bool shown_ = false;
    bool open_line_ = false;
    int previous_len_ = 0;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace diffauction
