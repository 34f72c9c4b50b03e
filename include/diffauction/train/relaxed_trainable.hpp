// diffauction/train/relaxed_trainable.hpp - the one adapter between a relaxed model
// and the Trainer: RelaxedTrainable<M, Objective> is a TrainableModel
// (train/trainer.hpp) for any RelaxedModel M (mechanisms/relaxed.hpp) and any
// RelaxedObjective (below; RankLoss, train/objectives/rank_loss.hpp; RegretLoss,
// train/objectives/regret_loss.hpp): each step runs M's relaxed pass over the
// mini-batch, the objective over its outcome, and M's backward with the objective's
// gradient.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/relaxed.hpp"
#include "diffauction/train/schedule.hpp"
#include "diffauction/train/trainer.hpp"

namespace diffauction {

/// The default τ annealing (choice): exponential from 1.0, ×0.999 per step, with a
/// floor of 0.05 (reached after about 3 000 steps).
template <Scalar T>
Schedule<T> default_tau_schedule() {
    return ExponentialSchedule<T>(T(1), T(0.999), 1, T(0.05));
}

/// What RelaxedTrainable asks of an objective O over scalar T:
/// - `O::part_names`: a std::array of the names of the figures it reports (e.g.
///   {"L_tgt", "L_ce", "rev"}), shown on the trainer's progress line after τ;
/// - `columns()`: how many per-candidate columns it reads, and
///   `write_columns(sample, index, out)`: sample's N x columns() rows of them (it
///   validates what it reads, naming sample `index`); RelaxedTrainable stacks them
///   once, at construction;
/// - `evaluate(batch, columns, outcome, weight, parts, d)`: weight × its loss summed
///   over the auctions of `batch` from their relaxed outcome (one bid profile) and the
///   batch's columns; ADDS the weighted parts into `parts`; with `d`, WRITES the
///   gradient of the returned value wrt (alloc, click, payment).
/// Optionally (RegretLoss has all three):
/// - `begin_step(step)`: called by RelaxedTrainable::begin_step, after τ is set;
/// - `profiles(model, data, items, batch, columns, tau, bids, focus)`: writes the bid
///   profiles (C·total) and focus of the pass instead of the batch's own bids as one
///   profile (data: all training auctions, items: the batch's indices into it);
/// - `static constexpr bool whole_batch = true`: the loss is not a sum over auctions,
///   so every mini-batch is evaluated in one pass (no chunks).
template <class O, class T>
concept RelaxedObjective =
    Scalar<T> && requires(O& o, const O& co, const Sample<T>& s, Index index, Eigen::Ref<MatrixX<T>> out,
                          const Batch<T>& batch, const Eigen::Ref<const MatrixX<T>>& columns,
                          const RelaxedOutcome<T>& outcome, T weight, std::span<T> parts, RelaxedGradient<T>* d) {
        { O::part_names.size() } -> std::convertible_to<std::size_t>;
        { co.columns() } -> std::convertible_to<Index>;
        co.write_columns(s, index, out);
        { o.evaluate(batch, columns, outcome, weight, parts, d) } -> std::convertible_to<T>;
    };

namespace detail {
/// An objective made for one model type (`Objective::model_type`, e.g. RegretLoss<M>,
/// whose profiles hook runs M's searches) is used with that model only.
template <class O, class M>
concept ObjectiveFor = (!requires { typename O::model_type; }) || std::same_as<typename O::model_type, M>;
}  // namespace detail

/// The TrainableModel adapter (train/trainer.hpp): holds the training auctions as a
/// Batch (plus the objective's per-candidate columns), the objective and the τ
/// schedule, and trains `model`'s theta in place; the model must outlive the
/// adapter. Items are auctions (indices into the samples given at construction), each
/// under its own bids (one profile) or the objective's `profiles`. begin_step(step)
/// sets τ = schedule.at(step) (then the objective's begin_step); metrics() reports τ
/// and the objective's parts (part_names) of the last call.
template <class M, class Objective>
    requires RelaxedModel<M> && RelaxedObjective<Objective, typename M::scalar_type> &&
             detail::ObjectiveFor<Objective, M>
class RelaxedTrainable {
public:
    using T = typename M::scalar_type;
    static constexpr std::size_t num_parts = std::tuple_size_v<std::remove_cv_t<decltype(Objective::part_names)>>;

    /// Validates every sample (Batch::push_back, the model's `check_auction` when it
    /// has one, the objective's write_columns) and stacks them. Normalising an
    /// objective's scales (e.g. normalise_objective) is the caller's step, before.
    RelaxedTrainable(M& model, std::span<const Sample<T>> samples, Objective objective,
                     Schedule<T> tau = default_tau_schedule<T>())
        : model_(&model), obj_(std::move(objective)), schedule_(std::move(tau)) {
        detail::require(!samples.empty(), "samples", kNone, "is empty");
        for (std::size_t b = 0; b < samples.size(); ++b) {
            if constexpr (requires { model.check_auction(samples[b].auction, Index{0}); })
                model_->check_auction(samples[b].auction, static_cast<Index>(b));
            data_.push_back(samples[b].auction);
        }
        columns_.resize(data_.total_candidates(), obj_.columns());
        for (std::size_t b = 0; b < samples.size(); ++b) {
            const auto q = static_cast<Index>(b);
            obj_.write_columns(samples[b], q, columns_.middleRows(data_.begin(q), data_.end(q) - data_.begin(q)));
        }
        tau_ = schedule_.at(0);
        detail::require(std::isfinite(tau_) && tau_ > T(0), "tau", 0, "the schedule must stay > 0");
    }

    VectorX<T>& theta() { return model_->theta(); }
    Index num_items() const { return data_.size(); }
    /// The training auctions (item b is auction b).
    const Batch<T>& batch() const { return data_; }
    /// The stacked per-candidate columns of the objective (total x columns()).
    const MatrixX<T>& columns() const { return columns_; }
    const Objective& objective() const { return obj_; }
    Objective& objective() { return obj_; }
    T tau() const { return tau_; }
    /// Sets τ directly (until the next begin_step).
    void set_tau(T tau) {
        detail::require(std::isfinite(tau) && tau > T(0), "tau", kNone, "must be finite and > 0");
        tau_ = tau;
    }
    void begin_step(std::int64_t step) {
        const T tau = schedule_.at(step);
        detail::require(std::isfinite(tau) && tau > T(0), "tau", step,
                        "the schedule must stay > 0 (a relaxed pass needs τ > 0)");
        tau_ = tau;
        if constexpr (requires { obj_.begin_step(step); }) obj_.begin_step(step);
    }
    /// Auctions per forward/backward pass (>= 1): a batch is processed in chunks of
    /// this many auctions, each chunk's forward followed by its backward, so that its
    /// activations are still in cache when the backward reads them. (choice) Default
    /// 16: for DNA, 16 × 30 candidates × 128 floats = 240 KiB for φ₁'s widest
    /// activation, inside a 512 KiB L2; whole batches of 128 measured slower
    /// (BENCHMARKS.md). The loss and gradient are the batch means whatever the chunk
    /// size (to rounding: the sums are grouped differently): each chunk's objective is
    /// weighted by 1/B. An objective with `whole_batch` ignores it.
    void set_chunk_auctions(Index n) {
        detail::require(n >= 1, "chunk_auctions", kNone, "must be >= 1");
        chunk_ = n;
    }
    Index chunk_auctions() const { return chunk_; }

    /// Mean loss over `items` at the current τ; ADDS its gradient into `grad`.
    T loss_and_grad(std::span<const Index> items, VectorX<T>& grad) { return chunked(items, &grad); }
    /// Mean loss over `items` at the current τ, without gradient.
    T loss(std::span<const Index> items) { return chunked(items, nullptr); }
    /// τ, then the objective's parts (batch means) of the last call.
    std::span<const Metric> metrics() const { return metrics_; }
    /// The sub-batch, relaxed outcome and cache of the last chunk of the last call.
    const Batch<T>& last_chunk() const { return chunk_batch_; }
    const RelaxedOutcome<T>& outcome() const { return out_; }
    const typename M::RelaxedCache& cache() const { return cache_; }

private:
    // The batch mean over `items`, chunk by chunk; with `grad`, each chunk's backward
    // right after its forward.
    T chunked(std::span<const Index> items, VectorX<T>* grad) {
        detail::require(!items.empty(), "items", kNone, "is empty");
        const T weight = T(1) / static_cast<T>(items.size());
        std::array<T, num_parts> parts{};
        T loss = T(0);
        const std::size_t chunk = whole_batch ? items.size() : static_cast<std::size_t>(chunk_);
        for (std::size_t first = 0; first < items.size(); first += chunk) {
            const auto part = items.subspan(first, std::min(items.size() - first, chunk));
            chunk_batch_.assign(data_, part);  // checks the indices
            chunk_columns_.resize(chunk_batch_.total_candidates(), columns_.cols());
            if (columns_.cols() > 0)
                for (std::size_t q = 0; q < part.size(); ++q) {
                    const Index b = part[q], n = data_.end(b) - data_.begin(b);
                    chunk_columns_.middleRows(chunk_batch_.begin(static_cast<Index>(q)), n) =
                        columns_.middleRows(data_.begin(b), n);
                }
            if constexpr (has_profiles) {
                obj_.profiles(*model_, data_, part, chunk_batch_, chunk_columns_, tau_, bids_, focus_);
                model_->relaxed_forward(chunk_batch_, bids_, tau_, cache_, out_, focus_);
            } else {
                relaxed_candidate_bids(chunk_batch_, bids_);
                model_->relaxed_forward(chunk_batch_, bids_, tau_, cache_, out_);
            }
            loss += obj_.evaluate(chunk_batch_, chunk_columns_, out_, weight, parts,
                                  grad != nullptr ? &d_ : nullptr);
            if (grad != nullptr) model_->relaxed_backward(cache_, d_, *grad, nullptr);
        }
        metrics_[0] = {"tau", static_cast<double>(tau_)};
        for (std::size_t p = 0; p < num_parts; ++p)
            metrics_[p + 1] = {Objective::part_names[p], static_cast<double>(parts[p])};
        return loss;
    }

    static constexpr bool whole_batch = [] {
        if constexpr (requires { Objective::whole_batch; }) return static_cast<bool>(Objective::whole_batch);
        return false;
    }();
    static constexpr bool has_profiles =
        requires(Objective& o, const M& m, const Batch<T>& b, std::span<const Index> items, const MatrixX<T>& c, T t,
                 VectorX<T>& bids, std::vector<Index>& focus) { o.profiles(m, b, items, b, c, t, bids, focus); };

    M* model_;
    Objective obj_;
    Schedule<T> schedule_;
    Batch<T> data_;
    MatrixX<T> columns_;
    T tau_ = T(1);
    Index chunk_ = 16;
    // per-chunk scratch
    Batch<T> chunk_batch_;
    MatrixX<T> chunk_columns_;
    VectorX<T> bids_;
    std::vector<Index> focus_;
    typename M::RelaxedCache cache_;
    RelaxedOutcome<T> out_;
    RelaxedGradient<T> d_;
    std::array<Metric, num_parts + 1> metrics_{};
};

}  // namespace diffauction
