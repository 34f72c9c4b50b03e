// diffauction/train/aug_lagrangian.hpp - the augmented-Lagrangian regret trainer
// (SPEC §2, "Augmented-Lagrangian regret trainer"; RegretNet, Dütting et al. 2019).
//
// Over mini-batches of auctions with values v (bids = values when truthful) it minimises
//   L = −rev + Σ_j λ_j rgt_j + (ρ/2) Σ_j rgt_j²,
//   rev   = mean over the batch of Σ_j payment_j(v),
//   rgt_j = mean over the batch of relu(u_j(v_j; b'_j, v_−j) − u_j(v_j; v)),
// with b'_j the misreport found by the search of train/misreport.hpp. Every T_λ
// steps λ_j ← λ_j + ρ·rgt_j (rgt of the most recent batch); every T_ρ steps
// ρ ← ρ + Δρ. Defaults λ₀ = 5, ρ₀ = 1, T_λ = 100, Δρ = 5, T_ρ = 10 000 (SPEC).
//
// Gradient: the misreports are held fixed when differentiating (the envelope /
// Danskin argument, as in RegretNet): dL/dθ flows through the misreported outcome
// and the truthful outcome of the mechanism, both at the current θ; the gradient
// with respect to the bids is what the ascent search climbs.
//
// The loop itself is the library's Trainer (train/trainer.hpp): shuffled epochs,
// Adam, learning-rate schedules, clipping, callbacks, early stopping and the
// progress line all come from there; this header adds a TrainableModel adapter
// that runs the misreport search and the loss, and updates λ and ρ.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/train/misreport.hpp"
#include "diffauction/train/trainer.hpp"

namespace diffauction {

/// The trainer's settings. The loop's own settings (epochs, batch size, seed,
/// Adam, learning-rate schedule, clipping, early stopping, progress) are `trainer`.
template <Scalar T>
struct AugLagrangianOptions {
    T lambda0 = T(5);                  ///< initial λ_j for every bidder
    T rho0 = T(1);                     ///< initial ρ (>= 0)
    std::int64_t lambda_period = 100;  ///< T_λ: λ update after every T_λ steps
    T rho_increment = T(5);            ///< Δρ (>= 0)
    std::int64_t rho_period = 10000;   ///< T_ρ: ρ ← ρ + Δρ after every T_ρ steps
    /// Misreport search per step, warm-started from each training sample's previous
    /// misreports. (choice) Default: RegretNet's, gradient ascent only (25 Adam
    /// steps, lr 0.1, values in [0, 1]); turn `grid` on to add the multiplier grid.
    MisreportOptions<T> misreport = [] {
        MisreportOptions<T> o;
        o.grid = false;
        return o;
    }();
    TrainerOptions<T> trainer{};
};

/// The parts of the loss of one batch.
template <Scalar T>
struct AugLagrangianTerms {
    T loss = T(0);
    T revenue = T(0);   ///< mean over the batch of Σ_j payment_j at truthful bids
    VectorX<T> regret;  ///< rgt_j, mean over the batch, per bidder (size N)
};

/// Reusable memory of `augmented_lagrangian_loss` (no allocation once warm).
template <RegretMechanism M>
struct AugLagrangianWorkspace {
    using T = typename M::scalar_type;
    typename M::Cache cache;
    MatrixX<T> bids, alloc, payment, d_alloc, d_payment, gain;
    std::vector<Index> focus;
};

namespace detail {
template <Scalar T>
void validate(const AugLagrangianOptions<T>& o) {
    require(std::isfinite(o.lambda0), "lambda0", kNone, "must be finite");
    require(std::isfinite(o.rho0) && o.rho0 >= T(0), "rho0", kNone, "must be finite and >= 0");
    require(o.lambda_period >= 1, "lambda_period", kNone, "must be >= 1");
    require(std::isfinite(o.rho_increment) && o.rho_increment >= T(0), "rho_increment", kNone,
            "must be finite and >= 0");
    require(o.rho_period >= 1, "rho_period", kNone, "must be >= 1");
    validate(o.misreport);
}
}  // namespace detail

/// The augmented-Lagrangian loss of one batch (B auctions: rows of context B x F
/// and values B x N) at fixed misreports (B x N: misreports(b, j) is bidder j's
/// report in auction b, the others truthful). Runs the truthful batch and the N
/// deviation blocks as one stacked forward of (N+1)·B auctions; fills `terms` and
/// returns the loss. When grad is given, ADDS dL/dθ into it (one backward).
/// Throws input_error for mismatched sizes, non-finite inputs, lambda not of size
/// N or not finite, rho negative or not finite, grad not of theta's size.
template <RegretMechanism M>
typename M::scalar_type augmented_lagrangian_loss(const M& mech, const VectorX<typename M::scalar_type>& theta,
                                                  const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                                                  const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values,
                                                  const Eigen::Ref<const MatrixX<typename M::scalar_type>>& misreports,
                                                  const VectorX<typename M::scalar_type>& lambda,
                                                  typename M::scalar_type rho,
                                                  AugLagrangianTerms<typename M::scalar_type>& terms,
                                                  AugLagrangianWorkspace<M>& ws,
                                                  VectorX<typename M::scalar_type>* grad = nullptr) {
    using T = typename M::scalar_type;
    detail::check_batch(mech, context, values);
    detail::check_same_shape<T>(misreports, values, "misreports");
    const Index b = values.rows(), n = values.cols();
    detail::require(lambda.size() == n && lambda.allFinite(), "lambda", kNone, "must have N finite entries");
    detail::require(std::isfinite(rho) && rho >= T(0), "rho", kNone, "must be finite and >= 0");
    detail::require(grad == nullptr || grad->size() == theta.size(), "grad", kNone, "must have theta's size");

    ws.bids.resize((n + 1) * b, n);
    ws.bids.topRows(b) = values;
    detail::fill_deviations<T>(values, 1, [&](Index i, Index j) { return misreports(i, j); }, ws.bids);
    detail::deviation_focus(1, n, ws.focus);  // the truthful block reads every bidder
    detail::forward_focused(mech, theta, context, ws.bids, ws.cache, ws.alloc, ws.payment, ws.focus);

    // gain(b, j) = u_j(misreport) − u_j(truthful).
    detail::deviation_utilities<T>(values, 1, ws.alloc, ws.payment, ws.gain);
    ws.gain.array() -= values.array() * ws.alloc.topRows(b).array() - ws.payment.topRows(b).array();
    const T inv_b = T(1) / static_cast<T>(b);
    terms.regret.resize(n);
    for (Index j = 0; j < n; ++j) terms.regret[j] = ws.gain.col(j).cwiseMax(T(0)).sum() * inv_b;
    terms.revenue = ws.payment.topRows(b).sum() * inv_b;
    terms.loss = -terms.revenue + lambda.dot(terms.regret) + rho / T(2) * terms.regret.squaredNorm();
    if (grad == nullptr) return terms.loss;

    ws.d_alloc.setZero((n + 1) * b, n);
    ws.d_payment.setZero((n + 1) * b, n);
    ws.d_payment.topRows(b).setConstant(-inv_b);  // d(−rev)/d(payment)
    for (Index j = 0; j < n; ++j) {
        const T w = (lambda[j] + rho * terms.regret[j]) * inv_b;  // dL/d(gain) where the relu is active
        for (Index i = 0; i < b; ++i) {
            if (!(ws.gain(i, j) > T(0))) continue;
            const Index r = (j + 1) * b + i;
            ws.d_alloc(r, j) += w * values(i, j);
            ws.d_payment(r, j) -= w;
            ws.d_alloc(i, j) -= w * values(i, j);
            ws.d_payment(i, j) += w;
        }
    }
    mech.backward(theta, ws.cache, ws.d_alloc, ws.d_payment, *grad, nullptr);
    return terms.loss;
}

/// The augmented-Lagrangian trainer. Holds the loop (Trainer: Adam state,
/// shuffling, step count), the multipliers λ (one per bidder) and ρ, and the
/// misreports kept per training sample (warm starts), so a second train() call
/// continues where the first stopped; a fresh trainer with the same options
/// repeats a run exactly (single-threaded, seeded).
///
/// Schedule, with s the number of steps done so far (across train() calls):
/// before step s runs, if s > 0 and s % T_λ == 0, λ_j ← λ_j + ρ·rgt_j with rgt
/// from the batch of the step just done; then, if s > 0 and s % T_ρ == 0,
/// ρ ← ρ + Δρ. (choice) λ first, with the ρ in force during the last T_λ steps.
///
/// The progress line and StepInfo::metrics show "rev" and "rgt" (mean over
/// bidders) of the batch, and "lambda" (mean over bidders) and "rho" in force.
template <RegretMechanism M>
class AugLagrangianTrainer {
public:
    using T = typename M::scalar_type;

    /// Validates the options (input_error naming the field).
    explicit AugLagrangianTrainer(AugLagrangianOptions<T> options = {})
        : opts_((detail::validate(options), std::move(options))), loop_(opts_.trainer), rho_(opts_.rho0) {}

    const AugLagrangianOptions<T>& options() const { return opts_; }
    /// λ_j (empty before the first train() call).
    const VectorX<T>& lambda() const { return lambda_; }
    T rho() const { return rho_; }
    /// The warm starts: misreports(s, j) for training sample s and bidder j.
    const MatrixX<T>& misreports() const { return misreports_; }
    /// The loss terms of the last batch.
    const AugLagrangianTerms<T>& last_terms() const { return terms_; }
    std::int64_t steps() const { return loop_.steps(); }
    /// The loop (its optimiser state, step and epoch counts).
    const Trainer<T>& loop() const { return loop_; }
    Trainer<T>& loop() { return loop_; }

    /// Trains mech.theta() on the S auctions given by the rows of `values` (S x N,
    /// the truthful bids) and `context` (S x F, F = mech.context_dim()), for
    /// options().trainer.epochs epochs (see Trainer::train for callbacks and
    /// stopping). On the first call λ = λ₀ (size N) and the misreports are drawn
    /// uniformly in [ascent.lo, ascent.hi] with the trainer's seed; later calls keep
    /// them (the misreports are redrawn if S changes). Throws input_error for
    /// mismatched sizes or non-finite data, N different from the first call's, and
    /// whatever Trainer::train throws.
    template <class... Callbacks>
        requires(TrainerCallback<std::remove_cvref_t<Callbacks>, T> && ...)
    TrainResult<T> train(M& mech, const Eigen::Ref<const MatrixX<T>>& values, const Eigen::Ref<const MatrixX<T>>& context,
                         Callbacks&&... callbacks) {
        detail::check_batch(mech, context, values);
        const Index s = values.rows(), n = values.cols();
        if (lambda_.size() == 0) lambda_.setConstant(n, opts_.lambda0);
        detail::require(lambda_.size() == n, "values", kNone, [&] {
            return "has " + std::to_string(n) + " bidders but the trainer's multipliers are for " +
                   std::to_string(lambda_.size());
        });
        if (misreports_.rows() != s || misreports_.cols() != n) {
            Rng rng = Rng(opts_.trainer.seed).fork(0x6d6973);
            misreports_.resize(s, n);
            const double lo = static_cast<double>(opts_.misreport.ascent.lo);
            const double hi = static_cast<double>(opts_.misreport.ascent.hi);
            for (Index i = 0; i < misreports_.size(); ++i) misreports_.data()[i] = static_cast<T>(rng.uniform(lo, hi));
        }
        Model model(*this, mech, values, context);
        return loop_.train(model, s, std::forward<Callbacks>(callbacks)...);
    }
    /// As above for a mechanism without context (context_dim() == 0).
    template <class... Callbacks>
        requires(TrainerCallback<std::remove_cvref_t<Callbacks>, T> && ...)
    TrainResult<T> train(M& mech, const Eigen::Ref<const MatrixX<T>>& values, Callbacks&&... callbacks) {
        const MatrixX<T> none(values.rows(), 0);
        return train(mech, values, none, std::forward<Callbacks>(callbacks)...);
    }

private:
    /// The TrainableModel the loop drives.
    class Model {
    public:
        Model(AugLagrangianTrainer& t, M& mech, const Eigen::Ref<const MatrixX<T>>& values,
              const Eigen::Ref<const MatrixX<T>>& context)
            : t_(&t), mech_(&mech), values_(&values), context_(&context) {}
        VectorX<T>& theta() { return mech_->theta(); }

        void begin_step(std::int64_t step) {
            AugLagrangianTrainer& t = *t_;
            if (step <= 0 || t.terms_.regret.size() != t.lambda_.size()) return;
            if (step % t.opts_.lambda_period == 0) t.lambda_ += t.rho_ * t.terms_.regret;
            if (step % t.opts_.rho_period == 0) t.rho_ += t.opts_.rho_increment;
        }

        T loss_and_grad(std::span<const Index> items, VectorX<T>& grad) {
            AugLagrangianTrainer& t = *t_;
            const Index b = static_cast<Index>(items.size()), n = values_->cols(), f = context_->cols();
            t.values_b_.resize(b, n);
            t.context_b_.resize(b, f);
            t.mis_b_.resize(b, n);
            for (Index r = 0; r < b; ++r) {
                const Index i = items[static_cast<std::size_t>(r)];
                t.values_b_.row(r) = values_->row(i);
                if (f > 0) t.context_b_.row(r) = context_->row(i);
                t.mis_b_.row(r) = t.misreports_.row(i);
            }
            const VectorX<T>& theta = mech_->theta();
            search_misreports(*mech_, theta, t.context_b_, t.values_b_, t.mis_b_, t.best_b_, t.opts_.misreport,
                              t.search_ws_);
            for (Index r = 0; r < b; ++r) t.misreports_.row(items[static_cast<std::size_t>(r)]) = t.mis_b_.row(r);
            const T loss = augmented_lagrangian_loss(*mech_, theta, t.context_b_, t.values_b_, t.mis_b_, t.lambda_,
                                                     t.rho_, t.terms_, t.loss_ws_, &grad);
            metrics_[0] = {"rev", static_cast<double>(t.terms_.revenue)};
            metrics_[1] = {"rgt", static_cast<double>(t.terms_.regret.mean())};
            metrics_[2] = {"lambda", static_cast<double>(t.lambda_.mean())};
            metrics_[3] = {"rho", static_cast<double>(t.rho_)};
            return loss;
        }
        std::span<const Metric> metrics() const { return metrics_; }

    private:
        AugLagrangianTrainer* t_;
        M* mech_;
        const Eigen::Ref<const MatrixX<T>>* values_;
        const Eigen::Ref<const MatrixX<T>>* context_;
        std::array<Metric, 4> metrics_{};
    };

    AugLagrangianOptions<T> opts_;
    Trainer<T> loop_;
    VectorX<T> lambda_;
    T rho_;
    MatrixX<T> misreports_;
    AugLagrangianTerms<T> terms_;
    MatrixX<T> values_b_, context_b_, mis_b_, best_b_;
    MisreportWorkspace<M> search_ws_;
    AugLagrangianWorkspace<M> loss_ws_;
};

}  // namespace diffauction
