// diffauction/train/schedule.hpp - temperature and learning-rate schedules
// (SPEC §2: constant, exponential, polynomial; DNA anneals τ, SPEC §4.1).
//
// Each schedule is a small value type, validated on construction, with
// `T at(step)` for the 0-based step count. `Schedule<T>` holds any of them.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <variant>

#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// Anything with `T at(std::int64_t step) const`.
template <class S, class T>
concept ScheduleFor = requires(const S& s, std::int64_t step) {
    { s.at(step) } -> std::convertible_to<T>;
};

namespace detail {
inline void require_step(std::int64_t step) { require(step >= 0, "step", kNone, "must be >= 0"); }
template <Scalar T>
void require_nonnegative(T x, const char* field) {
    require(std::isfinite(x) && x >= T(0), field, kNone, "must be finite and >= 0");
}
}  // namespace detail

/// The same value at every step.
template <Scalar T>
class ConstantSchedule {
public:
    /// `value` must be finite and >= 0.
    explicit ConstantSchedule(T value) : value_(value) { detail::require_nonnegative(value, "value"); }
    T at(std::int64_t step) const {
        detail::require_step(step);
        return value_;
    }
    T value() const { return value_; }

private:
    T value_;
};

/// `max(floor, initial · gamma^(step/period))`: decays by the factor gamma every
/// `period` steps, smoothly (step/period real) or, with `staircase`, in jumps
/// (step/period rounded down), and never goes below `floor`.
template <Scalar T>
class ExponentialSchedule {
public:
    /// Requires initial finite > 0, 0 < gamma <= 1, period >= 1, 0 <= floor <= initial.
    ExponentialSchedule(T initial, T gamma, std::int64_t period, T floor = T(0), bool staircase = false)
        : initial_(initial), gamma_(gamma), floor_(floor), period_(period), staircase_(staircase) {
        detail::require(std::isfinite(initial) && initial > T(0), "initial", kNone, "must be finite and > 0");
        detail::require(gamma > T(0) && gamma <= T(1), "gamma", kNone, "must be in (0, 1]");
        detail::require(period >= 1, "period", kNone, "must be >= 1");
        detail::require(std::isfinite(floor) && floor >= T(0) && floor <= initial, "floor", kNone,
                        "must be finite and in [0, initial]");
    }
    T at(std::int64_t step) const {
        detail::require_step(step);
        const double e = staircase_ ? static_cast<double>(step / period_)
                                    : static_cast<double>(step) / static_cast<double>(period_);
        const double value = static_cast<double>(initial_) * std::pow(static_cast<double>(gamma_), e);
        return std::max(floor_, static_cast<T>(value));
    }
    T initial() const { return initial_; }
    T gamma() const { return gamma_; }
    T floor() const { return floor_; }
    std::int64_t period() const { return period_; }
    bool staircase() const { return staircase_; }

private:
    T initial_, gamma_, floor_;
    std::int64_t period_;
    bool staircase_;
};

/// `end + (initial − end)·(1 − min(step, steps)/steps)^power`: goes from `initial`
/// at step 0 to `end` at step `steps` and stays at `end` afterwards. Holding the
/// last value past `steps` is by design (the schedule is defined for every step),
/// not a clamp of bad input: invalid parameters and negative steps throw.
template <Scalar T>
class PolynomialSchedule {
public:
    /// Requires initial and end finite and >= 0 (either may be larger), steps >= 1,
    /// power finite and > 0 (1 is linear).
    PolynomialSchedule(T initial, T end, std::int64_t steps, T power = T(1))
        : initial_(initial), end_(end), power_(power), steps_(steps) {
        detail::require_nonnegative(initial, "initial");
        detail::require_nonnegative(end, "end");
        detail::require(steps >= 1, "steps", kNone, "must be >= 1");
        detail::require(std::isfinite(power) && power > T(0), "power", kNone, "must be finite and > 0");
    }
    T at(std::int64_t step) const {
        detail::require_step(step);
        const double done = static_cast<double>(std::min(step, steps_)) / static_cast<double>(steps_);
        const double w = std::pow(1.0 - done, static_cast<double>(power_));
        const double e = static_cast<double>(end_);
        return static_cast<T>(e + (static_cast<double>(initial_) - e) * w);
    }
    T initial() const { return initial_; }
    T end() const { return end_; }
    T power() const { return power_; }
    std::int64_t steps() const { return steps_; }

private:
    T initial_, end_, power_;
    std::int64_t steps_;
};

/// Any of the schedules above, as one value type (implicitly built from each).
template <Scalar T>
class Schedule {
public:
    using Variant = std::variant<ConstantSchedule<T>, ExponentialSchedule<T>, PolynomialSchedule<T>>;

    // Implicit by design: a Schedule<T> parameter accepts any of the three kinds.
    Schedule(ConstantSchedule<T> s) : s_(s) {}
    Schedule(ExponentialSchedule<T> s) : s_(s) {}
    Schedule(PolynomialSchedule<T> s) : s_(s) {}

    T at(std::int64_t step) const {
        return std::visit([step](const auto& s) { return s.at(step); }, s_);
    }
    /// The schedule held (for saving it, or std::get on its kind).
    const Variant& get() const { return s_; }

private:
    Variant s_;
};

}  // namespace diffauction
