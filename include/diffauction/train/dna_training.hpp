// diffauction/train/dna_training.hpp - DNA's training adapter: the TrainableModel
// (train/trainer.hpp) over DNA's relaxed loss (mechanisms/learned/dna.hpp), the
// objective's scales and the default τ schedule.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/learned/dna.hpp"
#include "diffauction/train/schedule.hpp"
#include "diffauction/train/trainer.hpp"

namespace diffauction {

/// The default τ annealing (choice): exponential from 1.0, ×0.999 per step, with a
/// floor of 0.05 (reached after about 3 000 steps).
template <Scalar T>
Schedule<T> default_dna_tau_schedule() {
    return ExponentialSchedule<T>(T(1), T(0.999), 1, T(0.05));
}

/// Sets the objective's scales to training-set means (choice): revenue_scale = mean
/// over all candidates of b_i·ctr_i (the revenue an ad would bring at price = bid,
/// an upper bound of f_rev), metric_scales[l] = mean of column l of `log.metrics`
/// for every weighted column. A mean that is not > 0 leaves the scale at 1.
template <Scalar T>
DnaObjective<T> normalise_objective(DnaObjective<T> obj, std::span<const Sample<T>> samples) {
    const Index used = detail::metric_columns_used(obj);
    double rev = 0, count = 0;
    std::vector<double> col(static_cast<std::size_t>(used), 0.0);
    for (const Sample<T>& s : samples) {
        const Index n = s.auction.num_candidates();
        if (s.auction.bids.size() == n)
            for (Index i = 0; i < n; ++i)
                rev += static_cast<double>(s.auction.bids[i]) * static_cast<double>(s.auction.ctr[i]);
        for (Index l = 0; l < used; ++l)
            if (s.log.metrics.rows() == n && s.log.metrics.cols() > l)
                col[static_cast<std::size_t>(l)] += static_cast<double>(s.log.metrics.col(l).sum());
        count += static_cast<double>(n);
    }
    if (count > 0 && rev / count > 0 && std::isfinite(rev)) obj.revenue_scale = static_cast<T>(rev / count);
    obj.metric_scales.resize(std::max(obj.metric_scales.size(), static_cast<std::size_t>(used)), T(1));
    for (Index l = 0; l < used; ++l) {
        const double m = count > 0 ? col[static_cast<std::size_t>(l)] / count : 0.0;
        if (m > 0 && std::isfinite(m)) obj.metric_scales[static_cast<std::size_t>(l)] = static_cast<T>(m);
    }
    return obj;
}

/// The TrainableModel adapter (train/trainer.hpp): holds the training samples, the
/// objective and the τ schedule, and trains `model`'s theta in place. The model
/// must outlive the adapter. begin_step(step) sets τ = schedule.at(step);
/// metrics() reports τ, L_tgt, L_ce and the relaxed expected revenue of the last step.
template <Scalar T>
class DnaTrainable {
public:
    /// Validates every sample (ordinary auctions of the model's width, metric
    /// columns the objective reads) and the objective; with `normalise`, the
    /// objective's scales come from `normalise_objective` over `samples`.
    DnaTrainable(Dna<T>& model, std::vector<Sample<T>> samples, DnaObjective<T> objective = {},
                 Schedule<T> tau = default_dna_tau_schedule<T>(), bool normalise = true)
        : model_(&model), samples_(std::move(samples)), schedule_(std::move(tau)) {
        detail::require(!samples_.empty(), "samples", kNone, "is empty");
        detail::validate_objective(objective);
        const Index used = detail::metric_columns_used(objective);
        for (std::size_t b = 0; b < samples_.size(); ++b) {
            const Sample<T>& s = samples_[b];
            model_->check_auction(s.auction, static_cast<Index>(b));
            if (used > 0)
                detail::require(s.log.metrics.rows() == s.auction.num_candidates() && s.log.metrics.cols() >= used &&
                                    detail::all_finite(s.log.metrics),
                                "log.metrics", kNone, "must be N x L, finite, with the columns the objective weighs",
                                static_cast<Index>(b));
        }
        obj_ = normalise ? normalise_objective<T>(std::move(objective), samples_) : std::move(objective);
        tau_ = schedule_.at(0);
    }

    VectorX<T>& theta() { return model_->theta(); }
    Index num_items() const { return static_cast<Index>(samples_.size()); }
    std::span<const Sample<T>> samples() const { return samples_; }
    const DnaObjective<T>& objective() const { return obj_; }
    T tau() const { return tau_; }
    /// Sets τ directly (until the next begin_step).
    void set_tau(T tau) {
        detail::require(std::isfinite(tau) && tau > T(0), "tau", kNone, "must be finite and > 0");
        tau_ = tau;
    }
    void begin_step(std::int64_t step) {
        const T tau = schedule_.at(step);
        detail::require(tau > T(0), "tau", step, "the schedule must stay > 0 (NeuralSort needs τ > 0)");
        tau_ = tau;
    }
    /// Auctions per forward/backward pass (>= 1): a batch is processed in chunks of
    /// this many auctions, each chunk's forward followed by its backward, so that its
    /// activations are still in cache when the backward reads them. (choice) Default
    /// 16: 16 × 30 candidates × 128 floats = 240 KiB for φ₁'s widest activation, inside
    /// a 512 KiB L2; whole batches of 128 measured slower (BENCHMARKS.md). The loss and
    /// gradient are the batch means whatever the chunk size (to rounding: the sums are
    /// grouped differently).
    void set_chunk_auctions(Index n) {
        detail::require(n >= 1, "chunk_auctions", kNone, "must be >= 1");
        chunk_ = n;
    }
    Index chunk_auctions() const { return chunk_; }

    /// Mean loss over `items` at the current τ; ADDS its gradient into `grad`.
    T loss_and_grad(std::span<const Index> items, VectorX<T>& grad) { return chunked(items, &grad); }
    /// Mean loss over `items` at the current τ, without gradient.
    T loss(std::span<const Index> items) { return chunked(items, nullptr); }
    std::span<const Metric> metrics() const { return metrics_; }
    /// The cache of the last chunk of the last call (P̂, prices, F_all; its loss parts
    /// are that chunk's share of the batch means).
    const typename Dna<T>::TrainCache& cache() const { return cache_; }

private:
    // The batch mean over `items`, chunk by chunk; with `grad`, each chunk's backward
    // right after its forward. The samples and the objective were validated at
    // construction, so the forward skips re-checking them.
    T chunked(std::span<const Index> items, VectorX<T>* grad) {
        detail::require(!items.empty(), "items", kNone, "is empty");
        const auto nb = static_cast<Index>(items.size());
        T loss = 0, tgt = 0, ce = 0, rev = 0;
        for (std::size_t first = 0; first < items.size(); first += static_cast<std::size_t>(chunk_)) {
            const auto part = items.subspan(first, std::min(items.size() - first, static_cast<std::size_t>(chunk_)));
            loss += model_->relaxed_forward_impl(samples_, part, obj_, tau_, cache_, false, nb);
            if (grad != nullptr) model_->relaxed_backward(cache_, *grad);
            tgt += cache_.loss_tgt;
            ce += cache_.loss_ce;
            rev += cache_.revenue;
        }
        metrics_[0] = {"tau", static_cast<double>(tau_)};
        metrics_[1] = {"L_tgt", static_cast<double>(tgt)};
        metrics_[2] = {"L_ce", static_cast<double>(ce)};
        metrics_[3] = {"rev", static_cast<double>(rev)};
        return loss;
    }
    Dna<T>* model_;
    std::vector<Sample<T>> samples_;
    DnaObjective<T> obj_;
    Schedule<T> schedule_;
    T tau_ = T(1);
    Index chunk_ = 16;
    typename Dna<T>::TrainCache cache_;
    std::array<Metric, 4> metrics_{};
};

}  // namespace diffauction
