// diffauction/train/objectives/regret_loss.hpp - the augmented-Lagrangian regret
// objective (SPEC §2, "Augmented-Lagrangian regret trainer"; RegretNet, Dütting et
// al. 2019) over a relaxed model's ragged profiles (mechanisms/relaxed.hpp), for
// RelaxedTrainable (train/relaxed_trainable.hpp).
//
// Over a mini-batch of B auctions with values v (one per candidate row; truthful
// bids = values) it minimises
//   L = −rev + Σ_j λ_j rgt_j + (ρ/2) Σ_j rgt_j²,
//   rev   = (1/B) Σ_r payment_r(v)                    (truthful profile),
//   rgt_j = (1/B) Σ_b relu(u_r(v_r; b'_r, v_−r) − u_r(v_r; v)),  r = candidate j of b,
// with b'_r the misreport found by the search of train/misreport.hpp, λ_j and rgt_j
// per position j (j < the training data's largest N; auctions without a j-th
// candidate add 0). Every T_λ steps λ_j ← λ_j + ρ·rgt_j (rgt of the most recent
// training batch); every T_ρ steps ρ ← ρ + Δρ. Defaults λ₀ = 5, ρ₀ = 1, T_λ = 100,
// Δρ = 5, T_ρ = 10 000 (SPEC).
//
// Each step (RelaxedTrainable calls the hooks in this order):
//   begin_step(step)   the λ / ρ schedule;
//   profiles(...)      the misreport search at the current θ, warm-started from each
//                      training bidder's previous misreport, then the bids of the
//                      step's relaxed pass: the truthful profile, then the batch's n
//                      deviation profiles (focus j), as in train/misreport.hpp;
//   evaluate(...)      the loss and dL/d(click, payment) of that pass.
// Gradient: the misreports are held fixed when differentiating (the envelope /
// Danskin argument, as in RegretNet): dL/dθ flows through the misreported and the
// truthful outcome, both at the current θ.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/relaxed.hpp"
#include "diffauction/train/misreport.hpp"

namespace diffauction {

/// RegretLoss's settings.
template <Scalar T>
struct RegretLossOptions {
    T lambda0 = T(5);                  ///< initial λ_j for every position
    T rho0 = T(1);                     ///< initial ρ (>= 0)
    std::int64_t lambda_period = 100;  ///< T_λ: λ update before every T_λ-th step
    T rho_increment = T(5);            ///< Δρ (>= 0)
    std::int64_t rho_period = 10000;   ///< T_ρ: ρ ← ρ + Δρ before every T_ρ-th step
    /// Misreport search per step, warm-started from each training bidder's previous
    /// misreport. (choice) Default: RegretNet's, gradient ascent only (25 Adam steps,
    /// lr 0.1, values in [0, 1]); turn `grid` on to add the multiplier grid.
    MisreportOptions<T> misreport = [] {
        MisreportOptions<T> o;
        o.grid = false;
        return o;
    }();
    /// Seed of the first warm starts, drawn uniformly in [ascent.lo, ascent.hi]: per
    /// training auction, one draw per position j < the largest N (positions an
    /// auction lacks are drawn and dropped, so an auction's draws do not depend on
    /// its size).
    std::uint64_t seed = 0x5eed;
};

namespace detail {
template <Scalar T>
void validate(const RegretLossOptions<T>& o) {
    require(std::isfinite(o.lambda0), "lambda0", kNone, "must be finite");
    require(std::isfinite(o.rho0) && o.rho0 >= T(0), "rho0", kNone, "must be finite and >= 0");
    require(o.lambda_period >= 1, "lambda_period", kNone, "must be >= 1");
    require(std::isfinite(o.rho_increment) && o.rho_increment >= T(0), "rho_increment", kNone,
            "must be finite and >= 0");
    require(o.rho_period >= 1, "rho_period", kNone, "must be >= 1");
    validate(o.misreport);
}
}  // namespace detail

/// The augmented-Lagrangian regret objective for model M (see the file comment).
/// Holds λ, ρ, the warm starts (one per training candidate row) and the search's
/// workspace for M, so training continues where it stopped; a fresh objective with
/// the same options repeats a run exactly.
template <RelaxedModel M>
class RegretLoss {
public:
    using T = typename M::scalar_type;
    using model_type = M;  ///< the profiles hook runs M's searches

    /// Figures on the trainer's progress line: revenue and regret (mean over
    /// positions) of the batch, and λ (mean over positions) and ρ in force.
    static constexpr std::array<const char*, 4> part_names{"rev", "rgt", "lambda", "rho"};
    /// ρ/2·Σ_j rgt_j² is not a sum over auctions: RelaxedTrainable evaluates a whole
    /// mini-batch in one pass.
    static constexpr bool whole_batch = true;

    /// Validates the options (input_error naming the field).
    explicit RegretLoss(RegretLossOptions<T> options = {})
        : opts_((detail::validate(options), std::move(options))), rho_(opts_.rho0) {}

    const RegretLossOptions<T>& options() const { return opts_; }
    /// λ_j (empty before the first step).
    const VectorX<T>& lambda() const { return lambda_; }
    T rho() const { return rho_; }
    /// The warm starts, one per candidate row of the training data (empty before the first step).
    const VectorX<T>& misreports() const { return warm_; }
    /// Revenue and rgt_j (per position) of the last training batch.
    T last_revenue() const { return revenue_; }
    const VectorX<T>& last_regret() const { return regret_; }

    /// One column: the true values.
    Index columns() const { return 1; }
    void write_columns(const Sample<T>& s, Index index, Eigen::Ref<MatrixX<T>> out) const {
        detail::require(s.auction.owners.empty(), "owners", kNone,
                        "must be empty: the regret objective takes one bidder per candidate", index);
        detail::check_truth_values(s, index);
        out.col(0) = s.truth.values;
    }

    /// The λ / ρ schedule before step `step` (steps done so far): if step > 0 and
    /// step % T_λ == 0, λ ← λ + ρ·rgt (the last training batch's); then, if step % T_ρ
    /// == 0, ρ ← ρ + Δρ. (choice) λ first, with the ρ in force during the last T_λ steps.
    void begin_step(std::int64_t step) {
        if (step <= 0 || regret_.size() != lambda_.size() || lambda_.size() == 0) return;
        if (step % opts_.lambda_period == 0) lambda_ += rho_ * regret_;
        if (step % opts_.rho_period == 0) rho_ += opts_.rho_increment;
    }

    /// The misreport search and the bids of the step's pass (see the file comment):
    /// `data` is all training auctions, `items` the batch's indices into it, `batch`
    /// and `columns` the batch itself and its values. Writes bids ((1 + n)·total, n =
    /// the batch's largest N) and focus (1 + n entries).
    void profiles(const M& model, const Batch<T>& data, std::span<const Index> items, const Batch<T>& batch,
                  const Eigen::Ref<const MatrixX<T>>& columns, T tau, VectorX<T>& bids, std::vector<Index>& focus) {
        start(data);
        const Index total = batch.total_candidates();
        values_ = columns.col(0);
        mis_.resize(total);
        for (std::size_t q = 0; q < items.size(); ++q) {
            const Index b = items[q], n = data.end(b) - data.begin(b);
            mis_.segment(batch.begin(static_cast<Index>(q)), n) = warm_.segment(data.begin(b), n);
        }
        search_misreports(model, batch, values_, tau, mis_, best_, opts_.misreport, ws_);
        for (std::size_t q = 0; q < items.size(); ++q) {
            const Index b = items[q], n = data.end(b) - data.begin(b);
            warm_.segment(data.begin(b), n) = mis_.segment(batch.begin(static_cast<Index>(q)), n);
        }
        detail::deviation_profiles<T>(batch, values_, 1, [&](Index r) { return mis_[r]; }, bids, focus);
    }

    /// weight × L of the batch from the outcome of its 1 + n profiles (truthful, then
    /// the deviations of `profiles`); ADDS weight·rev, the mean rgt, the mean λ and ρ
    /// into parts; with d, WRITES dL/d(click, payment) (d_alloc empty) and records rev
    /// and rgt for the next λ update. RelaxedTrainable passes weight = 1/B.
    T evaluate(const Batch<T>& batch, const Eigen::Ref<const MatrixX<T>>& columns, const RelaxedOutcome<T>& out,
               T weight, std::span<T> parts, RelaxedGradient<T>* d) {
        const Index total = batch.total_candidates(), n = detail::max_candidates(batch);
        detail::require(lambda_.size() >= n, "batch", kNone,
                        "has more candidates than the training data (run profiles() on this batch first)");
        detail::require(out.total == total && out.profiles == 1 + n, "outcome", kNone,
                        "must hold the truthful profile then one deviation profile per position (profiles())");
        detail::require(columns.rows() == total && columns.cols() == 1, "columns", kNone,
                        "must be the batch's values (total x 1)");
        const auto v = columns.col(0);
        // gain(r) = u_r(misreport) − u_r(truthful).
        gain_.resize(total);
        for (Index b = 0; b < batch.size(); ++b)
            for (Index r = batch.begin(b), j = 0; r < batch.end(b); ++r, ++j) {
                const Index dev = out.row(1 + j, r);
                gain_[r] = (v[r] * out.click[dev] - out.payment[dev]) - (v[r] * out.click[r] - out.payment[r]);
            }
        VectorX<T>& rgt = d != nullptr ? regret_ : scratch_regret_;
        rgt.setZero(lambda_.size());
        for (Index b = 0; b < batch.size(); ++b)
            for (Index r = batch.begin(b), j = 0; r < batch.end(b); ++r, ++j) rgt[j] += std::max(gain_[r], T(0));
        rgt *= weight;
        const T revenue = out.payment.head(total).sum() * weight;
        const T loss = -revenue + lambda_.dot(rgt) + rho_ / T(2) * rgt.squaredNorm();
        parts[0] += revenue;
        parts[1] += rgt.mean();
        parts[2] += lambda_.mean();
        parts[3] += rho_;
        if (d == nullptr) return loss;
        revenue_ = revenue;
        d->d_alloc.resize(0, 0);
        d->d_click.setZero(out.rows());
        d->d_payment.setZero(out.rows());
        d->d_payment.head(total).setConstant(-weight);  // d(−rev)/d(payment)
        for (Index b = 0; b < batch.size(); ++b)
            for (Index r = batch.begin(b), j = 0; r < batch.end(b); ++r, ++j) {
                if (!(gain_[r] > T(0))) continue;
                const T w = (lambda_[j] + rho_ * rgt[j]) * weight;  // dL/d(gain) where the relu is active
                const Index dev = out.row(1 + j, r);
                d->d_click[dev] += w * v[r];
                d->d_payment[dev] -= w;
                d->d_click[r] -= w * v[r];
                d->d_payment[r] += w;
            }
        return loss;
    }

private:
    // λ = λ₀ per position and the first warm starts, sized to the training data.
    void start(const Batch<T>& data) {
        if (lambda_.size() == 0) lambda_.setConstant(detail::max_candidates(data), opts_.lambda0);
        if (warm_.size() == data.total_candidates()) return;
        Rng rng = Rng(opts_.seed).fork(0x6d6973);
        const double lo = static_cast<double>(opts_.misreport.ascent.lo);
        const double hi = static_cast<double>(opts_.misreport.ascent.hi);
        warm_.resize(data.total_candidates());
        for (Index b = 0; b < data.size(); ++b)
            for (Index j = 0; j < lambda_.size(); ++j) {
                const T x = static_cast<T>(rng.uniform(lo, hi));
                if (data.end(b) - data.begin(b) > j) warm_[data.begin(b) + j] = x;
            }
    }

    RegretLossOptions<T> opts_;
    VectorX<T> lambda_;
    T rho_;
    VectorX<T> warm_;
    T revenue_ = T(0);
    VectorX<T> regret_, scratch_regret_;
    // per-step scratch
    VectorX<T> values_, mis_, best_, gain_;
    MisreportWorkspace<M> ws_;
};

}  // namespace diffauction
