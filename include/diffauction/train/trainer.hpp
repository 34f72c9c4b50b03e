// diffauction/train/trainer.hpp - the mini-batch training loop (SPEC §2: Adam,
// clipping, schedules; DNA's loop in SPEC §4.1): shuffled epochs, one Adam step per
// mini-batch, optional callbacks (ensmallen style), early stopping on a validation
// metric, and a one-line progress display.
//
// The loop is single-threaded, so a fixed seed gives bit-identical parameters on a
// given build. (Data-parallel gradients may come later; they would have to keep
// the reduction order fixed to stay deterministic.)
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/train/adam.hpp"
#include "diffauction/train/progress.hpp"
#include "diffauction/train/schedule.hpp"

namespace diffauction {

/// What a model must offer the trainer. It owns its training items (auctions,
/// samples) and its flat parameter vector:
/// - `theta()`: the flat parameter vector (STYLE.md), updated in place by Adam;
/// - `loss_and_grad(items, grad)`: the mean loss over the training items whose
///   indices (in [0, num_items)) are `items`, ADDING its gradient into `grad`
///   (same layout as theta; the trainer zeroes it before each call, as layers
///   accumulate).
/// Optional members, used when present:
/// - `void begin_step(std::int64_t step)`: called before each loss_and_grad with
///   the 0-based step count (e.g. to set τ = schedule.at(step));
/// - `std::span<const Metric> metrics() const`: extra figures of the last
///   loss_and_grad call, passed to on_step and shown on the progress line.
template <class M, class T>
concept TrainableModel = Scalar<T> && requires(M& m, std::span<const Index> items, VectorX<T>& grad) {
    { m.theta() } -> std::same_as<VectorX<T>&>;
    { m.loss_and_grad(items, grad) } -> std::convertible_to<T>;
};

/// One named figure a model reports after a step (name must outlive the step).
struct Metric {
    const char* name = "";
    double value = 0;
};

/// Passed to `on_step` after every Adam step.
template <Scalar T>
struct StepInfo {
    std::int64_t step = 0;          ///< steps taken so far by this trainer (1 after the first)
    std::int64_t epoch = 0;         ///< 0-based epoch the step belongs to
    Index batch_items = 0;          ///< items in this mini-batch
    T loss = T(0);                  ///< the mini-batch loss returned by the model
    T grad_norm = T(0);             ///< ‖grad‖₂ before clipping
    T learning_rate = T(0);         ///< the schedule's value used for this step
    double items_per_second = 0;    ///< throughput since train() began
    std::span<const Metric> metrics{};  ///< the model's own figures (empty if it has none)
};

/// Passed to `on_epoch_end` after every full epoch.
template <Scalar T>
struct EpochInfo {
    std::int64_t epoch = 0;                 ///< 0-based index of the epoch just finished
    std::int64_t step = 0;                  ///< steps taken so far
    T mean_loss = T(0);                     ///< item-weighted mean of the epoch's mini-batch losses
    std::optional<double> validation{};     ///< the validation metric, when early stopping is on
    bool improved = false;                  ///< validation improved on the best so far
};

/// Something with `on_step(const StepInfo<T>&)` and/or `on_epoch_end(const
/// EpochInfo<T>&)`, each returning void or bool (true = stop training after
/// this step / epoch). Requiring one of the two catches misspelt hooks.
template <class C, class T>
concept TrainerCallback = Scalar<T> && (requires(C& c, const StepInfo<T>& s) { c.on_step(s); } ||
                                        requires(C& c, const EpochInfo<T>& e) { c.on_epoch_end(e); });

/// Why train() returned.
enum class StopReason { completed, callback, early_stopping, max_steps };

template <Scalar T>
struct TrainResult {
    std::int64_t steps = 0;    ///< steps taken by this trainer so far (all train() calls)
    std::int64_t epochs = 0;   ///< full epochs finished by this trainer so far
    T last_epoch_loss = std::numeric_limits<T>::quiet_NaN();  ///< mean loss of the last full epoch
    std::optional<double> best_validation{};  ///< best validation metric of this call
    std::int64_t best_epoch = -1;             ///< epoch where it was reached (-1: none)
    StopReason reason = StopReason::completed;
};

template <Scalar T>
struct TrainerOptions {
    std::int64_t epochs = 10;  ///< epochs per train() call (ignored when max_steps is set)
    /// Step budget (>= 0). When set, train() runs epoch after epoch until the trainer
    /// has taken this many steps in all (counted over every train() call, like
    /// steps()), stopping mid-epoch if need be (StopReason::max_steps), and `epochs`
    /// is ignored. A partial last epoch is not counted in epochs() and gets no
    /// on_epoch_end or validation. Unset: `epochs` epochs.
    std::optional<std::int64_t> max_steps{};
    Index batch_size = 128;  ///< DNA trains with 128 (SPEC §4.1)
    /// Skip the last, smaller mini-batch of each epoch (default: keep it, so every
    /// item is seen once per epoch).
    bool drop_last = false;
    std::uint64_t seed = 0x5eed;  ///< shuffling seed
    AdamOptions<T> adam{};
    /// Learning rate per step; empty: constant adam.learning_rate.
    std::optional<Schedule<T>> learning_rate{};
    /// Gradient-norm clipping before each step; <= 0 or infinity: off.
    T clip_norm = T(0);

    /// Early stopping: evaluated after every epoch when set (it reads the model
    /// through whatever it captured). Lower is better unless `maximize`.
    std::function<double()> validation_metric{};
    bool maximize = false;
    double min_delta = 0;        ///< an improvement must beat the best by more than this
    std::int64_t patience = 5;   ///< stop after this many epochs without improvement
    /// (choice) On return, theta holds the parameters of the best validated epoch
    /// of this call (whatever stopped training); false keeps the last parameters.
    bool restore_best = true;

    std::FILE* progress_out = stdout;
    ProgressMode progress = ProgressMode::automatic;
    double progress_interval_seconds = 0.2;
};

namespace detail {
template <class F>
bool call_hook(F&& f) {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
        std::forward<F>(f)();
        return false;
    } else {
        return static_cast<bool>(std::forward<F>(f)());
    }
}
template <class M>
concept HasBeginStep = requires(M& m, std::int64_t s) { m.begin_step(s); };
template <class M>
concept HasMetrics = requires(const M& m) {
    { m.metrics() } -> std::convertible_to<std::span<const Metric>>;
};

template <Scalar T>
void validate(const TrainerOptions<T>& o) {
    require(o.epochs >= 0, "epochs", kNone, "must be >= 0");
    require(!o.max_steps || *o.max_steps >= 0, "max_steps", kNone, "must be >= 0 when set");
    require(o.batch_size >= 1, "batch_size", kNone, "must be >= 1");
    validate(o.adam);
    require(!std::isnan(o.clip_norm), "clip_norm", kNone, "is NaN (use 0 or infinity to turn clipping off)");
    require(std::isfinite(o.min_delta) && o.min_delta >= 0, "min_delta", kNone, "must be finite and >= 0");
    require(o.patience >= 0, "patience", kNone, "must be >= 0");
    require(std::isfinite(o.progress_interval_seconds) && o.progress_interval_seconds >= 0,
            "progress_interval_seconds", kNone, "must be finite and >= 0");
}

/// Appends printf-style text at buf[pos], never past the end; returns the new position.
template <std::size_t N, class... Args>
std::size_t append(std::array<char, N>& buf, std::size_t pos, const char* format, Args... args) {
    if (pos >= N) return pos;
    const int n = std::snprintf(buf.data() + pos, N - pos, format, args...);
    return n < 0 ? pos : std::min(N - 1, pos + static_cast<std::size_t>(n));
}
}  // namespace detail

/// The training loop. Holds the optimiser, the shuffling generator and the step
/// count, so that a second train() call continues where the first stopped (Adam's
/// moments, the schedule, the shuffles); a fresh Trainer with the same options
/// repeats a run exactly.
template <Scalar T>
class Trainer {
public:
    /// Validates the options (input_error naming the field).
    explicit Trainer(TrainerOptions<T> options = {})
        : opts_(std::move(options)), adam_(opts_.adam), rng_(opts_.seed) {
        detail::validate(opts_);
    }

    const TrainerOptions<T>& options() const { return opts_; }
    const Adam<T>& optimizer() const { return adam_; }
    /// Mutable access, e.g. to restore a saved optimiser state.
    Adam<T>& optimizer() { return adam_; }
    std::int64_t steps() const { return step_; }
    std::int64_t epochs() const { return epoch_; }

    /// Trains `model` on items 0..num_items-1 for options().epochs epochs, or until
    /// options().max_steps steps when that is set (fewer when a callback or early
    /// stopping stops it). Each epoch shuffles the items
    /// with the trainer's seeded Rng and walks them in mini-batches of batch_size;
    /// each mini-batch is one Adam step with lr = schedule.at(step) (0-based) after
    /// optional clipping. Throws input_error for num_items < 1, an empty theta,
    /// drop_last with fewer items than one batch, a non-finite loss ("loss", the
    /// step) or validation metric ("validation_metric", the epoch), and whatever
    /// Adam rejects (a non-finite gradient: "grad", its index).
    template <class M, class... Callbacks>
        requires TrainableModel<M, T> && (TrainerCallback<std::remove_cvref_t<Callbacks>, T> && ...)
    TrainResult<T> train(M& model, Index num_items, Callbacks&&... callbacks) {
        detail::require(num_items >= 1, "num_items", kNone, "must be >= 1");
        detail::require(model.theta().size() >= 1, "theta", kNone, "is empty");
        detail::require(!opts_.drop_last || num_items >= opts_.batch_size, "batch_size", kNone,
                        "is larger than num_items with drop_last: no step would run");
        const Index n = num_items;
        order_.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) order_[static_cast<std::size_t>(i)] = i;
        grad_.resize(model.theta().size());

        TrainResult<T> result;
        std::optional<double> best;
        std::int64_t since_best = 0;
        const bool early = static_cast<bool>(opts_.validation_metric);
        const bool keep_best = early && opts_.restore_best;

        ProgressLine progress(opts_.progress_out, opts_.progress, opts_.progress_interval_seconds);
        const auto start = std::chrono::steady_clock::now();
        double items_done = 0;
        bool stop = false;
        StepInfo<T> info;

        const auto budget_left = [&] { return !opts_.max_steps || step_ < *opts_.max_steps; };
        for (std::int64_t e = 0; (opts_.max_steps || e < opts_.epochs) && budget_left() && !stop; ++e) {
            shuffle();
            double loss_sum = 0;
            Index loss_items = 0;
            for (Index begin = 0; begin < n && !stop; begin += opts_.batch_size) {
                const Index len = std::min(opts_.batch_size, n - begin);
                if (opts_.drop_last && len < opts_.batch_size) break;
                if (!budget_left()) {  // the step budget ends this epoch early
                    stop = true;
                    result.reason = StopReason::max_steps;
                    break;
                }
                const std::span<const Index> items(order_.data() + begin, static_cast<std::size_t>(len));

                if constexpr (detail::HasBeginStep<M>) model.begin_step(step_);
                grad_.setZero();
                const T loss = static_cast<T>(model.loss_and_grad(items, grad_));
                detail::require(std::isfinite(loss), "loss", step_, "is not finite");
                const T grad_norm = clip_grad_norm(grad_, opts_.clip_norm);
                const T lr = opts_.learning_rate ? opts_.learning_rate->at(step_) : opts_.adam.learning_rate;
                adam_.step(model.theta(), grad_, lr);
                ++step_;

                loss_sum += static_cast<double>(loss) * static_cast<double>(len);
                loss_items += len;
                items_done += static_cast<double>(len);
                info.step = step_;
                info.epoch = epoch_;
                info.batch_items = len;
                info.loss = loss;
                info.grad_norm = grad_norm;
                info.learning_rate = lr;
                info.items_per_second = items_done / seconds_since(start);
                if constexpr (detail::HasMetrics<M>) info.metrics = std::as_const(model).metrics();
                // Every callback sees the step (no short circuit); any of them may ask to stop.
                bool cb_stop = false;
                ((cb_stop = call_on_step(callbacks, info) || cb_stop), ...);
                if (cb_stop) {
                    stop = true;
                    result.reason = StopReason::callback;
                }
                if (stop || !budget_left() || progress.due()) progress.update(format(info, std::nullopt, "loss").data(), true);
            }
            if (stop) break;

            EpochInfo<T> ep;
            ep.epoch = epoch_;
            ep.step = step_;
            ep.mean_loss = static_cast<T>(loss_sum / static_cast<double>(loss_items));
            result.last_epoch_loss = ep.mean_loss;
            ++epoch_;
            if (early) {
                const double metric = opts_.validation_metric();
                detail::require(std::isfinite(metric), "validation_metric", ep.epoch, "is not finite");
                ep.validation = metric;
                const double sign = opts_.maximize ? -1.0 : 1.0;
                ep.improved = !best || sign * (*best - metric) > opts_.min_delta;
                if (ep.improved) {
                    best = metric;
                    result.best_validation = metric;
                    result.best_epoch = ep.epoch;
                    since_best = 0;
                    if (keep_best) best_theta_ = model.theta();  // no reallocation once sized
                } else {
                    ++since_best;
                }
            }
            bool cb_stop = false;
            ((cb_stop = call_on_epoch_end(callbacks, ep) || cb_stop), ...);
            if (cb_stop) {
                stop = true;
                result.reason = StopReason::callback;
            } else if (early && since_best > opts_.patience) {
                stop = true;
                result.reason = StopReason::early_stopping;
            }
            if (progress.enabled()) {  // the epoch's mean loss (and validation), always shown
                StepInfo<T> last = info;
                last.loss = ep.mean_loss;
                last.items_per_second = items_done / seconds_since(start);
                progress.update(format(last, ep.validation, "epoch loss").data(), true);
            }
        }
        progress.finish();
        if (result.reason == StopReason::completed && !budget_left()) result.reason = StopReason::max_steps;

        if (keep_best && result.best_epoch >= 0) model.theta() = best_theta_;
        result.steps = step_;
        result.epochs = epoch_;
        return result;
    }

private:
    /// Fisher-Yates with the trainer's Rng: deterministic for a fixed seed.
    void shuffle() {
        for (std::size_t i = order_.size(); i > 1; --i) {
            const auto j = static_cast<std::size_t>(rng_.uniform_int(static_cast<Index>(i)));
            std::swap(order_[i - 1], order_[j]);
        }
    }
    static double seconds_since(std::chrono::steady_clock::time_point start) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return s > 0 ? s : std::numeric_limits<double>::min();
    }
    template <class C>
    static bool call_on_step(C& c, const StepInfo<T>& info) {
        if constexpr (requires { c.on_step(info); })
            return detail::call_hook([&] { return c.on_step(info); });
        else
            return false;
    }
    template <class C>
    static bool call_on_epoch_end(C& c, const EpochInfo<T>& info) {
        if constexpr (requires { c.on_epoch_end(info); })
            return detail::call_hook([&] { return c.on_epoch_end(info); });
        else
            return false;
    }
    /// "step 120 | epoch 3 | loss 0.41234 | <metrics> | val 0.3 | lr 0.001 | 5300 items/s".
    static std::array<char, 256> format(const StepInfo<T>& s, std::optional<double> validation, const char* loss_label) {
        std::array<char, 256> buf{};
        std::size_t p = detail::append(buf, 0, "step %lld | epoch %lld | %s %.5g", static_cast<long long>(s.step),
                                       static_cast<long long>(s.epoch), loss_label, static_cast<double>(s.loss));
        for (const Metric& m : s.metrics) p = detail::append(buf, p, " | %s %.4g", m.name, m.value);
        if (validation) p = detail::append(buf, p, " | val %.5g", *validation);
        detail::append(buf, p, " | lr %.3g | %.0f items/s", static_cast<double>(s.learning_rate), s.items_per_second);
        return buf;
    }

    TrainerOptions<T> opts_;
    Adam<T> adam_;
    Rng rng_;
    std::int64_t step_ = 0;
    std::int64_t epoch_ = 0;
    std::vector<Index> order_;
    VectorX<T> grad_;
    VectorX<T> best_theta_;
};

}  // namespace diffauction
