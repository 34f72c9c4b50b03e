// diffauction/train/edgenet_training.hpp - EdgeNet's training adapter: EdgeNet
// (mechanisms/learned/edgenet.hpp) as a RegretMechanism for the augmented-Lagrangian
// trainer (train/aug_lagrangian.hpp), and train_edgenet.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/learned/edgenet.hpp"
#include "diffauction/train/aug_lagrangian.hpp"
#include "diffauction/train/schedule.hpp"
#include "diffauction/train/trainer.hpp"

namespace diffauction {

/// EdgeNet as a RegretMechanism (train/misreport.hpp) over auctions of at most N
/// candidates and K slots, for the augmented-Lagrangian trainer. Holds a pointer to
/// the model (which must outlive it) and trains its theta in place.
///
/// Context row layout (F = 1 + N·(D + 2) + K; `pack` writes it): [n_b, x_1 … x_N
/// (x_i = [features_i, ctr_i, cvr_i], zero beyond n_b), β_1 … β_K]. Bidder j < n_b
/// owns candidate j; bidders j >= n_b are padding: they get nothing, pay nothing and
/// their bids are ignored (zero gradient). The relaxed outcome runs at `tau()`
/// (> 0; the trainer's callbacks may anneal it with `set_tau`).
template <Scalar T>
class EdgeNetRegret {
public:
    using scalar_type = T;
    struct Cache {
        typename EdgeNet<T>::Cache net;
        VectorX<T> d_click, d_payment, d_bids;
    };

    EdgeNetRegret(EdgeNet<T>& model, Index bidders, Index slots, T tau = T(1))
        : model_(&model), n_(bidders), k_(slots), tau_(tau) {
        detail::require(bidders >= 1, "bidders", kNone, "must be >= 1");
        detail::require(slots >= 1 && slots <= model.config().max_slots, "slots", kNone,
                        "must be in [1, the model's max_slots]");
        set_tau(tau);
    }

    VectorX<T>& theta() { return model_->theta(); }
    Index num_bidders() const { return n_; }
    Index num_slots() const { return k_; }
    Index context_dim() const { return 1 + n_ * model_->input_dim() + k_; }
    T tau() const { return tau_; }
    void set_tau(T tau) {
        detail::require(std::isfinite(tau) && tau > T(0), "tau", kNone, "must be finite and > 0");
        tau_ = tau;
    }
    const EdgeNet<T>& model() const { return *model_; }

    /// Context rows and truthful bids (values) of `samples` (S x F and S x N).
    /// Validates every auction for the model and N_b <= N; K_b may differ from K:
    /// the first min(K, K_b) position factors are used, the rest 0 (choice).
    void pack(std::span<const Sample<T>> samples, MatrixX<T>& context, MatrixX<T>& values) const {
        const Index s = static_cast<Index>(samples.size()), w = model_->input_dim();
        detail::require(s >= 1, "samples", kNone, "is empty");
        context.setZero(s, context_dim());
        values.setZero(s, n_);
        MatrixX<T> x;
        for (Index b = 0; b < s; ++b) {
            const Sample<T>& smp = samples[static_cast<std::size_t>(b)];
            const AuctionView<T> a = smp.auction;
            model_->check_auction(a, b);
            const Index n = a.num_candidates();
            detail::require(n <= n_, "candidates", kNone, [&] {
                return "has " + std::to_string(n) + " candidates, more than the adapter's " + std::to_string(n_);
            }, b);
            detail::require(smp.truth.values.size() == n && detail::all_finite(smp.truth.values), "truth.values",
                            kNone, "must hold N finite values", b);
            x.resize(n, w);
            write_candidate_inputs(a, model_->config().feature_dim, x, 0);
            context(b, 0) = static_cast<T>(n);
            for (Index i = 0; i < n; ++i) context.row(b).segment(1 + i * w, w) = x.row(i);
            const Index k = std::min(k_, a.num_slots());
            context.row(b).segment(1 + n_ * w, k) = a.slot_ctr.head(k).transpose();
            values.row(b).head(n) = smp.truth.values.transpose();
        }
    }

    /// RegretMechanism::forward (context B x F, bids C·B x N).
    void forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& context,
                 const Eigen::Ref<const MatrixX<T>>& bids, Cache& cache, MatrixX<T>& alloc,
                 MatrixX<T>& payment) const {
        forward(theta, context, bids, cache, alloc, payment, {});
    }
    /// The focused forward (FocusedRegretMechanism): block c prices only bidder
    /// focus[c] (kNone: every bidder); the other payments are 0.
    void forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& context,
                 const Eigen::Ref<const MatrixX<T>>& bids, Cache& cache, MatrixX<T>& alloc,
                 MatrixX<T>& payment, std::span<const Index> focus) const {
        const Index b = context.rows();
        detail::require(context.cols() == context_dim() && b >= 1, "context", kNone, "must be B x context_dim()");
        detail::require(bids.cols() == n_ && bids.rows() >= b && bids.rows() % b == 0, "bids", kNone,
                        "must be C·B x N");
        const Index copies = bids.rows() / b, w = model_->input_dim();
        typename EdgeNet<T>::Cache& c = cache.net;
        c.offsets.resize(static_cast<std::size_t>(b) + 1);
        c.offsets[0] = 0;
        c.steps.resize(static_cast<std::size_t>(b));
        c.beta.setZero(b, model_->config().max_slots);
        for (Index i = 0; i < b; ++i) {
            const T nf = context(i, 0);
            detail::require(nf >= T(1) && nf <= static_cast<T>(n_) && nf == std::floor(nf), "context", i,
                            "column 0 must be the auction's candidate count in [1, N]");
            const Index n = static_cast<Index>(nf);
            c.offsets[static_cast<std::size_t>(i) + 1] = c.offsets[static_cast<std::size_t>(i)] + n;
            const Index k = std::min(k_, n);
            c.steps[static_cast<std::size_t>(i)] = k;
            c.beta.row(i).head(k) = context.row(i).segment(1 + n_ * w, k);
        }
        const Index total = c.offsets.back();
        c.x.resize(total, w);
        c.bids.resize(copies * total);
        for (Index i = 0; i < b; ++i) {
            const Index o = c.offsets[static_cast<std::size_t>(i)];
            const Index n = c.offsets[static_cast<std::size_t>(i) + 1] - o;
            for (Index j = 0; j < n; ++j) c.x.row(o + j) = context.row(i).segment(1 + j * w, w);
            for (Index p = 0; p < copies; ++p) c.bids.segment(p * total + o, n) = bids.row(p * b + i).head(n).transpose();
        }
        detail::require(focus.empty() || static_cast<Index>(focus.size()) == copies, "focus", kNone,
                        "must be empty or have one entry per block");
        c.focus.assign(focus.begin(), focus.end());
        model_->forward_rows(theta, copies, tau_, c);
        alloc.setZero(copies * b, n_);
        payment.setZero(copies * b, n_);
        for (Index p = 0; p < copies; ++p)
            for (Index i = 0; i < b; ++i) {
                const Index o = c.offsets[static_cast<std::size_t>(i)];
                const Index n = c.offsets[static_cast<std::size_t>(i) + 1] - o;
                alloc.row(p * b + i).head(n) = c.click.segment(p * total + o, n).transpose();
                payment.row(p * b + i).head(n) = c.payment.segment(p * total + o, n).transpose();
            }
    }

    /// RegretMechanism::backward.
    void backward(const VectorX<T>& theta, Cache& cache, const Eigen::Ref<const MatrixX<T>>& d_alloc,
                  const Eigen::Ref<const MatrixX<T>>& d_payment, VectorX<T>& grad, MatrixX<T>* d_bids) const {
        typename EdgeNet<T>::Cache& c = cache.net;
        const Index b = static_cast<Index>(c.offsets.size()) - 1, total = c.total(), copies = c.copies;
        detail::require(d_alloc.rows() == copies * b && d_alloc.cols() == n_ && d_payment.rows() == copies * b &&
                            d_payment.cols() == n_,
                        "d_alloc/d_payment", kNone, "must be C·B x N of the forward call");
        cache.d_click.resize(copies * total);
        cache.d_payment.resize(copies * total);
        for (Index p = 0; p < copies; ++p)
            for (Index i = 0; i < b; ++i) {
                const Index o = c.offsets[static_cast<std::size_t>(i)];
                const Index n = c.offsets[static_cast<std::size_t>(i) + 1] - o;
                cache.d_click.segment(p * total + o, n) = d_alloc.row(p * b + i).head(n).transpose();
                cache.d_payment.segment(p * total + o, n) = d_payment.row(p * b + i).head(n).transpose();
            }
        model_->backward_rows(theta, c, cache.d_click, cache.d_payment, grad,
                              d_bids != nullptr ? &cache.d_bids : nullptr);
        if (d_bids == nullptr) return;
        d_bids->setZero(copies * b, n_);
        for (Index p = 0; p < copies; ++p)
            for (Index i = 0; i < b; ++i) {
                const Index o = c.offsets[static_cast<std::size_t>(i)];
                const Index n = c.offsets[static_cast<std::size_t>(i) + 1] - o;
                d_bids->row(p * b + i).head(n) = cache.d_bids.segment(p * total + o, n).transpose();
            }
    }

private:
    EdgeNet<T>* model_;
    Index n_, k_;
    T tau_;
};

/// Options of `train_edgenet`.
template <Scalar T>
struct EdgeNetTrainOptions {
    /// The adapter's N (bidders per context row); 0: the largest N of the samples.
    Index bidders = 0;
    /// K decoded in training; 0: the largest min(K_b, N_b) of the samples.
    Index slots = 0;
    /// τ of the relaxed outcome per step (choice: from 1, ×0.99 per step, floor 0.05,
    /// reached after 300 steps; training must end near serving's hard decoding: with
    /// ×0.999 τ was still 0.55 after 600 steps and the served IC-R doubled, BENCHMARKS.md).
    Schedule<T> tau = ExponentialSchedule<T>(T(1), T(0.99), 1, T(0.05));
    /// Stop after this many steps in all (0: run regret.trainer.epochs epochs, or
    /// regret.trainer.max_steps when that is set; otherwise it sets max_steps).
    std::int64_t steps = 0;
    /// The augmented Lagrangian and its loop (epochs, batch, Adam, seed, progress).
    /// (choice) Misreports: the multiplier grid {0, 0.25, ..., 2} plus 5 warm-started
    /// Adam steps, clipped to regret.misreport.ascent's [lo, hi] (see value_range_from_samples).
    /// When true (default), the ascent's range is set to [0, 2·(largest value in the
    /// samples)] instead of regret.misreport.ascent.lo/hi.
    bool value_range_from_samples = true;
    AugLagrangianOptions<T> regret = [] {
        AugLagrangianOptions<T> o;
        o.misreport.grid = true;
        o.misreport.multipliers = {0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0};
        o.misreport.ascent.steps = 5;
        o.trainer.batch_size = 64;
        o.trainer.adam.learning_rate = T(1e-3);
        o.trainer.clip_norm = T(10);
        return o;
    }();
};

/// What `train_edgenet` returns: the loop's result and the trainer's final state.
template <Scalar T>
struct EdgeNetTrainResult {
    TrainResult<T> loop;
    VectorX<T> lambda;  ///< the multipliers λ_j at the end
    T rho = T(0);
    T tau = T(0);       ///< τ of the last step
    AugLagrangianTerms<T> last;  ///< loss terms of the last batch (revenue, regret per bidder)
};

/// Trains `model` (initialised by the caller) on the samples' truthful values with
/// the augmented-Lagrangian regret trainer: −revenue + λ·rgt + ρ/2·rgt² (SPEC §2,
/// §4.2), τ annealed per step. Deterministic for fixed options (single thread).
/// Throws input_error for bad samples (see EdgeNetRegret::pack) or options.
template <Scalar T, class... Callbacks>
EdgeNetTrainResult<T> train_edgenet(EdgeNet<T>& model, std::span<const Sample<T>> samples,
                                    EdgeNetTrainOptions<T> opt = {}, Callbacks&&... callbacks) {
    detail::require(!samples.empty(), "samples", kNone, "is empty");
    detail::require(opt.steps >= 0, "steps", kNone, "must be >= 0");
    Index n = opt.bidders, k = opt.slots;
    T vmax = T(0);
    for (const Sample<T>& s : samples) {
        if (opt.bidders == 0) n = std::max(n, s.auction.num_candidates());
        if (opt.slots == 0) k = std::max(k, std::min(s.auction.num_slots(), s.auction.num_candidates()));
        if (s.truth.values.size() > 0 && detail::all_finite(s.truth.values))
            vmax = std::max(vmax, s.truth.values.maxCoeff());
    }
    EdgeNetRegret<T> mech(model, n, k, opt.tau.at(0));
    MatrixX<T> context, values;
    mech.pack(samples, context, values);
    if (opt.value_range_from_samples) {
        opt.regret.misreport.ascent.lo = T(0);
        opt.regret.misreport.ascent.hi = T(2) * vmax;
    }
    if (opt.steps > 0) opt.regret.trainer.max_steps = opt.steps;
    AugLagrangianTrainer<EdgeNetRegret<T>> trainer(opt.regret);
    struct Anneal {
        EdgeNetRegret<T>* mech;
        const Schedule<T>* tau;
        void on_step(const StepInfo<T>& s) const { mech->set_tau(tau->at(s.step)); }
    };
    EdgeNetTrainResult<T> r;
    r.loop = trainer.train(mech, values, context, Anneal{&mech, &opt.tau},
                           std::forward<Callbacks>(callbacks)...);
    r.lambda = trainer.lambda();
    r.rho = trainer.rho();
    r.tau = mech.tau();
    r.last = trainer.last_terms();
    return r;
}

}  // namespace diffauction
