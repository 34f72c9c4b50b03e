// diffauction/train/objectives/rank_loss.hpp - DNA's training objective (SPEC §4.1) as
// a policy over a relaxed outcome (mechanisms/relaxed.hpp) of one bid profile (C = 1):
//
//   F_all[i] = λ_rev·price_i·ctr_i / revenue_scale + Σ_l λ_l metric_l(i) / scale_l
//   L_tgt    = −Σ_{k<K_b} β_k A[k,:]·F_all
//   L_ce     = −(1/K_b) Σ_{k<K_b} log A[k, y_k],   y = the top K_b candidates by F_all
//   L        = mean over auctions of L_tgt + α·L_ce
//
// The price is read from the outcome (informational there: no gradient of its own);
// since Σ_k β_k A[k,i]·price_i·ctr_i = payment_i, the revenue term's gradient is taken
// through `payment` (which carries the price's gradient) and the metric terms' through
// `alloc`. The targets y are a hard order: no gradient flows through them.
// train/relaxed_trainable.hpp plugs it, with a RelaxedMechanism, into the Trainer.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/relaxed.hpp"
#include "diffauction/sort/neural_sort.hpp"

namespace diffauction {

/// Weights of the rank objective F_all[i] = Σ_l λ_l f_l(i) and of L_ce.
///
/// Units (choice): every term is divided by its scale, so that with scales equal to
/// the terms' typical sizes the λ's are dimensionless mix weights.
/// `normalise_objective` sets the scales to training-set means; with all scales 1
/// the λ's carry the units of their terms (revenue per impression at position factor
/// 1, and whatever the metric columns hold).
template <Scalar T>
struct RankObjective {
    /// λ of revenue, f_rev(i) = price_i·ctr_i with the outcome's price (for DNA,
    /// price_i = max(0, r⁻¹(r_next(i); x'_i)) from the candidate right below i in the
    /// hard order, 0 for the last one).
    T revenue = T(1);
    /// λ_l of column l of `Log::metrics` (for the synthetic market: MarketMetric —
    /// ctr, ctr·cvr, ctr·cvr·price (GMV), ctr·value); may be shorter than L (missing = 0).
    std::vector<T> metrics{};
    T revenue_scale = T(1);          ///< f_rev is divided by this (> 0)
    std::vector<T> metric_scales{};  ///< f_l is divided by metric_scales[l] (> 0; missing = 1)
    /// Weight α of L_ce (>= 0). (choice) 0.1: on the synthetic market, revenue-only
    /// training (2 500 steps, examples/train_dna.cpp) reached a held-out RPM of 345 at
    /// α = 1, 369 at α = 0.1, 371 at α = 0.03 and 369 at α = 0: L_ce's target order
    /// (realised price·ctr) conflicts with the revenue term once τ is small.
    T alpha = T(0.1);
};

namespace detail {
template <Scalar T>
void validate_objective(const RankObjective<T>& o) {
    require(std::isfinite(o.revenue), "objective.revenue", kNone, "must be finite");
    require(std::isfinite(o.revenue_scale) && o.revenue_scale > T(0), "objective.revenue_scale", kNone,
            "must be finite and > 0");
    for (std::size_t l = 0; l < o.metrics.size(); ++l)
        require(std::isfinite(o.metrics[l]), "objective.metrics", static_cast<Index>(l), "must be finite");
    for (std::size_t l = 0; l < o.metric_scales.size(); ++l)
        require(std::isfinite(o.metric_scales[l]) && o.metric_scales[l] > T(0), "objective.metric_scales",
                static_cast<Index>(l), "must be finite and > 0");
    require(std::isfinite(o.alpha) && o.alpha >= T(0), "objective.alpha", kNone, "must be finite and >= 0");
}
/// Number of metric columns the objective reads (index of the last non-zero λ + 1).
template <Scalar T>
Index metric_columns_used(const RankObjective<T>& o) {
    Index used = 0;
    for (std::size_t l = 0; l < o.metrics.size(); ++l)
        if (o.metrics[l] != T(0)) used = static_cast<Index>(l) + 1;
    return used;
}
}  // namespace detail

/// Sets the objective's scales to training-set means (choice): revenue_scale = mean
/// over all candidates of b_i·ctr_i (the revenue an ad would bring at price = bid,
/// an upper bound of f_rev), metric_scales[l] = mean of column l of `log.metrics`
/// for every weighted column. A mean that is not > 0 leaves the scale at 1.
template <Scalar T>
RankObjective<T> normalise_objective(RankObjective<T> obj, std::span<const Sample<T>> samples) {
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

/// DNA's rank loss (file comment) over a RelaxedOutcome of one profile: the objective
/// policy of RelaxedTrainable (train/relaxed_trainable.hpp). Holds the objective and
/// its scratch (so `evaluate` is not const; one per thread).
template <Scalar T>
class RankLoss {
public:
    using scalar_type = T;
    /// The parts `evaluate` adds into `parts`, in this order: the weighted sums of
    /// L_tgt, of L_ce and of the relaxed expected revenue Σ_i payment_i.
    static constexpr std::array<const char*, 3> part_names{"L_tgt", "L_ce", "rev"};

    /// Validates the objective (input_error naming "objective.<field>").
    explicit RankLoss(RankObjective<T> objective = {}) : obj_(std::move(objective)) {
        detail::validate_objective(obj_);
    }
    const RankObjective<T>& objective() const { return obj_; }

    /// Per-candidate columns `evaluate` reads: the first `columns()` columns of
    /// `Log::metrics` (up to the last weighted one; 0 when no metric is weighted).
    Index columns() const { return detail::metric_columns_used(obj_); }
    /// Rows of sample `s` (N x columns()) of the stacked columns; throws input_error
    /// ("log.metrics", naming sample index `index`) unless log.metrics is N x L with
    /// L >= columns() and finite.
    void write_columns(const Sample<T>& s, Index index, Eigen::Ref<MatrixX<T>> out) const {
        const Index used = columns(), n = s.auction.num_candidates();
        if (used == 0) return;
        detail::require(s.log.metrics.rows() == n && s.log.metrics.cols() >= used && detail::all_finite(s.log.metrics),
                        "log.metrics", kNone, [&] {
                            return "must be N x L (L >= " + std::to_string(used) +
                                   ", the columns the objective weighs) and finite";
                        }, index);
        detail::require(out.rows() == n && out.cols() == used, "columns", kNone, "must be N x columns()", index);
        out = s.log.metrics.leftCols(used);
    }

    /// weight·Σ_b (L_tgt,b + α·L_ce,b) over the auctions of `batch` (its relaxed outcome
    /// `out`, one profile; `columns` = total x columns() rows of write_columns) — with
    /// weight = 1/B the batch mean, and chunks of a batch weighted by 1/B add up to it.
    /// ADDS weight·Σ_b L_tgt,b, weight·Σ_b L_ce,b and weight·Σ_b Σ_i payment_i into
    /// `parts` (part_names). With `d`, WRITES dL/d(alloc, click, payment) of the
    /// returned value (d_click left empty; d_payment empty when λ_rev = 0). (choice)
    /// A[k, y_k] is floored at the smallest normal T before the log, so an entry that
    /// underflowed gives a finite loss and a zero gradient; the τ floor of the default
    /// schedule keeps this rare.
    T evaluate(const Batch<T>& batch, const Eigen::Ref<const MatrixX<T>>& columns, const RelaxedOutcome<T>& out,
               T weight, std::span<T> parts, RelaxedGradient<T>* d) {
        const Index total = batch.total_candidates(), used = this->columns();
        detail::require(out.profiles == 1 && out.total == total && out.price.size() == total, "outcome", kNone,
                        "must be the relaxed outcome of the batch under one bid profile");
        detail::require(columns.rows() == total && columns.cols() == used, "columns", kNone,
                        "must be total x columns()");
        detail::require(parts.size() == part_names.size(), "parts", kNone, "needs one entry per part name");
        detail::require(std::isfinite(weight) && weight >= T(0), "weight", kNone, "must be finite and >= 0");
        const T rev_coef = obj_.revenue / obj_.revenue_scale, alpha = obj_.alpha;
        fm_.setZero(total);
        for (Index l = 0; l < used; ++l) {
            const T w = obj_.metrics[static_cast<std::size_t>(l)] / metric_scale(l);
            if (w != T(0)) fm_ += w * columns.col(l);
        }
        f_.resize(total);
        if (d != nullptr) {
            d->d_alloc.setZero(total, out.max_slots());
            d->d_click.resize(0);
            if (rev_coef != T(0))
                d->d_payment.setConstant(total, -weight * rev_coef);
            else
                d->d_payment.resize(0);
        }
        target_.assign(static_cast<std::size_t>(total), kNone);
        const T floor = std::numeric_limits<T>::min();
        T tgt = T(0), ce = T(0), rev = T(0);
        for (Index b = 0; b < batch.size(); ++b) {
            const AuctionView<T> a = batch.auction(b);
            const Index o = batch.begin(b), n = a.num_candidates(), kb = std::min(a.num_slots(), n);
            auto f = f_.segment(o, n);
            f.array() = rev_coef * (out.price.segment(o, n).array() * a.ctr.array()) + fm_.segment(o, n).array();
            detail::top_k_descending<T>(f, target_.data() + o, n, kb);
            T ce_b = T(0);
            for (Index kk = 0; kk < kb; ++kk) {
                const T beta = a.slot_ctr[kk];
                tgt -= beta * out.alloc.col(kk).segment(o, n).dot(f);
                const Index y = o + target_[static_cast<std::size_t>(o + kk)];
                const T py = out.alloc(y, kk);
                ce_b -= std::log(std::max(py, floor));
                if (d != nullptr) {
                    d->d_alloc.col(kk).segment(o, n) = (-beta * weight) * fm_.segment(o, n);
                    if (py >= floor) d->d_alloc(y, kk) -= alpha * weight / (static_cast<T>(kb) * py);
                }
            }
            rev += out.payment.segment(o, n).sum();
            ce += ce_b / static_cast<T>(kb);
        }
        const T loss_tgt = tgt * weight, loss_ce = ce * weight;
        parts[0] += loss_tgt;
        parts[1] += loss_ce;
        parts[2] += rev * weight;
        return loss_tgt + alpha * loss_ce;
    }

    /// F_all of the last `evaluate`, per candidate row.
    const VectorX<T>& f_all() const { return f_; }
    /// The L_ce targets of the last `evaluate`, stacked: for auction b, entries
    /// begin(b) .. begin(b) + K_b − 1 are its top K_b candidates by F_all (local
    /// indices, ties → lower); the others are kNone.
    std::span<const Index> targets() const { return target_; }

private:
    T metric_scale(Index l) const {
        return l < static_cast<Index>(obj_.metric_scales.size()) ? obj_.metric_scales[static_cast<std::size_t>(l)]
                                                                 : T(1);
    }
    RankObjective<T> obj_;
    VectorX<T> fm_, f_;
    std::vector<Index> target_;
};

}  // namespace diffauction
