// diffauction/train/misreport.hpp - misreport search for the ex-post regret of a
// differentiable mechanism (SPEC §2, "Augmented-Lagrangian regret trainer";
// RegretNet, Dütting et al. 2019).
//
// Regret of bidder j on one auction with values v (bids = values when truthful):
//   rgt_j = max_{b'} relu(u_j(v_j; b', v_−j) − u_j(v_j; v)),
//   u_j   = v_j·alloc_j − payment_j  (= (v_j − price_j)·click_prob_j, SPEC §2),
// estimated by two searches over b', each per (auction, bidder), the other
// bidders truthful:
//  - a grid of multipliers b' = c·v_j, c ∈ C (default {0, 0.1, …, 2.0}, as in
//    metrics/ic.hpp; grid points are not clipped, as in the IC metrics);
//  - projected gradient ascent on b' (RegretNet: 25 Adam steps, lr 0.1, every
//    iterate clipped to the value range [lo, hi]) from a warm start the caller
//    keeps per training sample (the previous search's result).
// All N deviations of a batch of B auctions run as ONE stacked batch of N·B
// auctions (block j = the batch with bidder j's bid replaced, sharing the batch's
// B context rows), so a search step is one forward (and, for the ascent, one
// backward) of the mechanism.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/metrics/ic.hpp"
#include "diffauction/train/adam.hpp"

namespace diffauction {

namespace detail {
template <class M>
using regret_scalar_t = typename M::scalar_type;
}  // namespace detail

/// A mechanism whose relaxed outcome is differentiable in its parameters AND in the
/// bids, over batches of B independent auctions with a fixed number N of bidders
/// (choice, first version: every auction has exactly `num_bidders()` bidders; a
/// bidder that is absent can be given value and bid 0). What it must provide:
///
/// - `using scalar_type = T;` (float or double) and a caller-owned `Cache` type
///   (default-constructible; it keeps whatever backward needs, copies of the
///   inputs included: backward never reads forward's arguments).
/// - `VectorX<T>& theta()`: the flat parameter vector (STYLE.md), trained in place.
/// - `Index num_bidders() const` (N >= 1) and `Index context_dim() const` (F >= 0):
///   the width of the bid-free per-auction inputs (flattened per-ad features, user
///   context; 0 when the mechanism sees bids only).
/// - `void forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& context,
///                 const Eigen::Ref<const MatrixX<T>>& bids, Cache& cache,
///                 MatrixX<T>& alloc, MatrixX<T>& payment) const`:
///   context is B x F and bids C·B x N for a whole number C >= 1 of blocks (B >= 1,
///   any B and C from call to call): row r of bids is auction r of the batch, whose
///   bid-free inputs are context row r mod B. (choice) The searches run every
///   deviation of a batch as such blocks of the same B auctions, so a mechanism can
///   compute its bid-free part (an encoder over the ads' features) once per context
///   row instead of once per deviation. Writes (resizes) alloc = click
///   probabilities (C·B x N, the expected clicks of bidder j; in [0, 1]) and
///   payment = EXPECTED payments (C·B x N, price per click times click probability;
///   revenue of auction r = Σ_j payment(r, j)). Row r of the outputs must depend
///   only on row r of bids and its context row (auctions are independent), so that
///   stacking auctions is exact. Const: the same mechanism runs many times per step
///   (truthful bids and misreports) into different caches.
/// - `void backward(const VectorX<T>& theta, Cache& cache,
///                  const Eigen::Ref<const MatrixX<T>>& d_alloc,
///                  const Eigen::Ref<const MatrixX<T>>& d_payment,
///                  VectorX<T>& grad, MatrixX<T>* d_bids) const`:
///   from dL/d(alloc) and dL/d(payment) (B x N, the shapes of the last forward into
///   this cache) ADDS dL/dθ into grad (theta's layout) and, when d_bids is not
///   null, writes (resizes) *d_bids = dL/d(bids) (B x N). The cache is scratch for
///   backward too (hence not const).
/// Utilities are linear in the outputs: u_j = v_j·alloc_j − payment_j.
template <class M>
concept RegretMechanism = requires(M& mut, const M& m, const VectorX<detail::regret_scalar_t<M>>& theta,
                                   const Eigen::Ref<const MatrixX<detail::regret_scalar_t<M>>>& in,
                                   typename M::Cache& cache, MatrixX<detail::regret_scalar_t<M>>& out,
                                   VectorX<detail::regret_scalar_t<M>>& grad,
                                   MatrixX<detail::regret_scalar_t<M>>* d_bids) {
    requires Scalar<detail::regret_scalar_t<M>>;
    { mut.theta() } -> std::same_as<VectorX<detail::regret_scalar_t<M>>&>;
    { m.num_bidders() } -> std::convertible_to<Index>;
    { m.context_dim() } -> std::convertible_to<Index>;
    { m.forward(theta, in, in, cache, out, out) } -> std::same_as<void>;
    { m.backward(theta, cache, in, in, grad, d_bids) } -> std::same_as<void>;
};

/// Optionally, a RegretMechanism may also take a focus per block of bids,
///   forward(theta, context, bids, cache, alloc, payment, std::span<const Index> focus)
/// with focus.size() = C: focus[c] = j means only bidder j's alloc and payment of
/// block c are read (the others' payments may be left 0, as if constant); kNone, all
/// of them. The searches deviate bidder j in block j and read only its utility, so
/// a mechanism whose payment is per bidder (EdgeNet's payment net) skips the rest.
template <class M>
concept FocusedRegretMechanism =
    RegretMechanism<M> && requires(const M& m, const VectorX<detail::regret_scalar_t<M>>& theta,
                                   const Eigen::Ref<const MatrixX<detail::regret_scalar_t<M>>>& in,
                                   typename M::Cache& cache, MatrixX<detail::regret_scalar_t<M>>& out,
                                   std::span<const Index> focus) {
        { m.forward(theta, in, in, cache, out, out, focus) } -> std::same_as<void>;
    };

namespace detail {
/// mech.forward with the blocks' focus when the mechanism takes one.
template <RegretMechanism M>
void forward_focused(const M& mech, const VectorX<typename M::scalar_type>& theta,
                     const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                     const Eigen::Ref<const MatrixX<typename M::scalar_type>>& bids, typename M::Cache& cache,
                     MatrixX<typename M::scalar_type>& alloc, MatrixX<typename M::scalar_type>& payment,
                     std::span<const Index> focus) {
    if constexpr (FocusedRegretMechanism<M>)
        mech.forward(theta, context, bids, cache, alloc, payment, focus);
    else
        mech.forward(theta, context, bids, cache, alloc, payment);
}
/// focus = [first..., 0, 1, ..., n − 1]: `lead` unfocused blocks, then block j on bidder j.
inline void deviation_focus(Index lead, Index n, std::vector<Index>& focus) {
    focus.assign(static_cast<std::size_t>(lead), kNone);
    for (Index j = 0; j < n; ++j) focus.push_back(j);
}
}  // namespace detail

/// Projected gradient ascent on the misreports (RegretNet's inner loop).
template <Scalar T>
struct MisreportAscentOptions {
    Index steps = 25;          ///< Adam steps per search (0: evaluate the clipped start only)
    T learning_rate = T(0.1);  ///< Adam's learning rate (RegretNet: 0.1)
    T lo = T(0);               ///< value range: every iterate is clipped to [lo, hi]
    T hi = T(1);
};

/// Both searches. With both on, the ascent starts, per (auction, bidder), from
/// whichever of the warm start and the best grid point has the higher utility, and
/// the result is the best of the grid and every ascent iterate.
template <Scalar T>
struct MisreportOptions {
    bool grid = true;  ///< run the multiplier grid
    /// Multipliers c of the grid misreports c·v_j (finite, >= 0, non-empty when grid is on).
    std::vector<double> multipliers = default_misreport_grid();
    MisreportAscentOptions<T> ascent{};  ///< ascent.steps = 0: no ascent
};

/// Reusable memory of the searches (one per thread; no allocation once warm,
/// except Adam's two moment vectors per ascent call).
template <RegretMechanism M>
struct MisreportWorkspace {
    using T = typename M::scalar_type;
    typename M::Cache cache;
    MatrixX<T> bids, alloc, payment, d_alloc, d_payment, d_bids;
    MatrixX<T> utility, start, start_utility, grid_bid, grid_utility;
    VectorX<T> flat, flat_grad, scratch_grad;
    std::vector<Index> focus;
};

/// Held-out figures of `evaluate_regret` (sums in double).
struct RegretEvaluation {
    Index auctions = 0;
    double revenue = 0;      ///< mean over auctions of Σ_j payment at truthful bids
    double regret_mean = 0;  ///< mean over auctions and bidders of rgt_j
    double regret_max = 0;   ///< largest rgt_j
    Eigen::VectorXd regret_per_bidder;  ///< mean rgt_j over auctions, per bidder j
};

namespace detail {
template <Scalar T>
void validate(const MisreportAscentOptions<T>& o) {
    require(o.steps >= 0, "ascent.steps", kNone, "must be >= 0");
    require(std::isfinite(o.learning_rate) && o.learning_rate > T(0), "ascent.learning_rate", kNone,
            "must be finite and > 0");
    require(std::isfinite(o.lo) && std::isfinite(o.hi) && o.lo <= o.hi, "ascent.lo/hi", kNone,
            "must be finite with lo <= hi");
}
inline void validate_multipliers(std::span<const double> c) {
    require(!c.empty(), "multipliers", kNone, "is empty");
    for (std::size_t i = 0; i < c.size(); ++i)
        require(std::isfinite(c[i]) && c[i] >= 0.0, "multipliers", static_cast<Index>(i), "must be finite and >= 0");
}
template <Scalar T>
void validate(const MisreportOptions<T>& o) {
    if (o.grid) validate_multipliers(o.multipliers);
    validate(o.ascent);
}
template <Scalar T>
void require_finite(const Eigen::Ref<const MatrixX<T>>& x, const char* field) {
    if (!x.allFinite()) [[unlikely]] {
        for (Index i = 0; i < x.size(); ++i)
            if (!std::isfinite(x(i / x.cols(), i % x.cols()))) fail(field, i / x.cols(), "is not finite", kNone);
    }
}
/// Context (B x F) and values (B x N) fit the mechanism: B >= 1, finite.
template <RegretMechanism M>
void check_batch(const M& mech, const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                 const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values) {
    using T = typename M::scalar_type;
    const Index n = mech.num_bidders(), f = mech.context_dim();
    require(values.rows() >= 1, "values", kNone, "has no auctions (rows)");
    require(values.cols() == n, "values", kNone, [&] {
        return "has " + std::to_string(values.cols()) + " columns but the mechanism has " + std::to_string(n) +
               " bidders";
    });
    require(context.rows() == values.rows() && context.cols() == f, "context", kNone, [&] {
        return "must be " + std::to_string(values.rows()) + " x " + std::to_string(f) + " (auctions x context_dim)";
    });
    require_finite<T>(values, "values");
    require_finite<T>(context, "context");
}
template <Scalar T>
void check_same_shape(const Eigen::Ref<const MatrixX<T>>& x, const Eigen::Ref<const MatrixX<T>>& values,
                      const char* field) {
    require(x.rows() == values.rows() && x.cols() == values.cols(), field, kNone, "must have the shape of values");
    require_finite<T>(x, field);
}

/// Stacked deviation bids: N blocks (starting at block `first`) of the values,
/// block j with column j replaced by dev(b, j). Blocks before `first` are left alone
/// (the caller fills them); out must already have (first + N)·B rows.
template <Scalar T, class Dev>
void fill_deviations(const Eigen::Ref<const MatrixX<T>>& values, Index first, Dev&& dev, MatrixX<T>& out) {
    const Index b = values.rows(), n = values.cols();
    for (Index j = 0; j < n; ++j) {
        const Index r0 = (first + j) * b;
        out.middleRows(r0, b) = values;
        for (Index i = 0; i < b; ++i) out(r0 + i, j) = dev(i, j);
    }
}
/// u(b, j) = v(b, j)·alloc(r, j) − payment(r, j), r = (first + j)·B + b.
template <Scalar T>
void deviation_utilities(const Eigen::Ref<const MatrixX<T>>& values, Index first, const MatrixX<T>& alloc,
                         const MatrixX<T>& payment, MatrixX<T>& u) {
    const Index b = values.rows(), n = values.cols();
    u.resize(b, n);
    for (Index i = 0; i < b; ++i)
        for (Index j = 0; j < n; ++j) {
            const Index r = (first + j) * b + i;
            u(i, j) = values(i, j) * alloc(r, j) - payment(r, j);
        }
}
/// Where u(b, j) beats best_u(b, j): best_u(b, j) = u(b, j), best_bid(b, j) = bid(b, j).
template <Scalar T, class Bid>
void keep_better(const MatrixX<T>& u, Bid&& bid, MatrixX<T>& best_u, MatrixX<T>& best_bid) {
    for (Index i = 0; i < u.rows(); ++i)
        for (Index j = 0; j < u.cols(); ++j)
            if (u(i, j) > best_u(i, j)) {
                best_u(i, j) = u(i, j);
                best_bid(i, j) = bid(i, j);
            }
}
/// Runs the N deviations of `dev` as one stacked forward into ws and writes u.
template <RegretMechanism M, class Dev>
void run_deviations(const M& mech, const VectorX<typename M::scalar_type>& theta,
                    const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                    const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values, Dev&& dev,
                    MatrixX<typename M::scalar_type>& u, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    const Index n = values.cols();
    ws.bids.resize(n * values.rows(), n);
    fill_deviations<T>(values, 0, dev, ws.bids);
    deviation_focus(0, n, ws.focus);
    forward_focused(mech, theta, context, ws.bids, ws.cache, ws.alloc, ws.payment, ws.focus);
    deviation_utilities<T>(values, 0, ws.alloc, ws.payment, u);
}
}  // namespace detail

/// Truthful utilities u(b, j) = v_j·alloc_j − payment_j at bids = values (B x N).
/// Returns the batch's total revenue Σ_b Σ_j payment(b, j). Throws input_error for
/// mismatched sizes or non-finite inputs.
template <RegretMechanism M>
typename M::scalar_type truthful_utilities(const M& mech, const VectorX<typename M::scalar_type>& theta,
                                           const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                                           const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values,
                                           MatrixX<typename M::scalar_type>& utility, MisreportWorkspace<M>& ws) {
    detail::check_batch(mech, context, values);
    mech.forward(theta, context, values, ws.cache, ws.alloc, ws.payment);
    utility.resize(values.rows(), values.cols());
    utility.array() = values.array() * ws.alloc.array() - ws.payment.array();
    return ws.payment.sum();
}

/// u(b, j) of bidder j reporting misreports(b, j) while the others bid their values.
template <RegretMechanism M>
void misreport_utilities(const M& mech, const VectorX<typename M::scalar_type>& theta,
                         const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                         const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values,
                         const Eigen::Ref<const MatrixX<typename M::scalar_type>>& misreports,
                         MatrixX<typename M::scalar_type>& utility, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    detail::check_batch(mech, context, values);
    detail::check_same_shape<T>(misreports, values, "misreports");
    detail::run_deviations(mech, theta, context, values, [&](Index b, Index j) { return misreports(b, j); },
                           utility, ws);
}

/// Grid search: for every auction b and bidder j, the multiplier c of `multipliers`
/// maximising u_j(v_j; c·v_j, v_−j). Writes best_bid(b, j) = c*·v_j and
/// best_utility(b, j) (B x N); ties keep the earlier multiplier. One stacked
/// forward of N·B auctions per multiplier. Throws input_error for an empty grid,
/// a negative or non-finite multiplier, mismatched sizes or non-finite values.
template <RegretMechanism M>
void grid_search_misreports(const M& mech, const VectorX<typename M::scalar_type>& theta,
                            const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                            const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values,
                            std::span<const double> multipliers, MatrixX<typename M::scalar_type>& best_bid,
                            MatrixX<typename M::scalar_type>& best_utility, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    detail::validate_multipliers(multipliers);
    detail::check_batch(mech, context, values);
    const Index b = values.rows(), n = values.cols();
    best_bid.resize(b, n);
    best_utility.setConstant(b, n, -std::numeric_limits<T>::infinity());
    for (const double c : multipliers) {
        const T ct = static_cast<T>(c);
        detail::run_deviations(mech, theta, context, values, [&](Index i, Index j) { return ct * values(i, j); },
                               ws.utility, ws);
        detail::keep_better<T>(ws.utility, [&](Index i, Index j) { return ct * values(i, j); }, best_utility,
                               best_bid);
    }
}

/// Projected gradient ascent on each bidder's misreport (others truthful): Adam
/// (fresh state per call, RegretNet) on −u_j with the given learning rate,
/// `steps` steps, the start and every iterate clipped to [lo, hi]. `misreports`
/// (B x N) is the start on entry (the caller's warm start; finite, any value) and
/// the best iterate seen on exit (the clipped start included, so the result is
/// never worse than the clipped start); best_utility gets its utility. Costs
/// steps + 1 stacked forwards and `steps` backwards of N·B auctions.
template <RegretMechanism M>
void ascend_misreports(const M& mech, const VectorX<typename M::scalar_type>& theta,
                       const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                       const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values,
                       MatrixX<typename M::scalar_type>& misreports, MatrixX<typename M::scalar_type>& best_utility,
                       const MisreportAscentOptions<typename M::scalar_type>& opt, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    detail::validate(opt);
    detail::check_batch(mech, context, values);
    detail::check_same_shape<T>(misreports, values, "misreports");
    const Index b = values.rows(), n = values.cols();
    // The iterate as Adam's flat vector, (b, j) at b·N + j (row-major, like misreports).
    ws.flat = Eigen::Map<const VectorX<T>>(misreports.data(), b * n).cwiseMax(opt.lo).cwiseMin(opt.hi);
    ws.flat_grad.resize(b * n);
    best_utility.setConstant(b, n, -std::numeric_limits<T>::infinity());
    Adam<T> adam(AdamOptions<T>{opt.learning_rate});
    for (Index s = 0;; ++s) {
        detail::run_deviations(mech, theta, context, values, [&](Index i, Index j) { return ws.flat[i * n + j]; },
                               ws.utility, ws);
        detail::keep_better<T>(ws.utility, [&](Index i, Index j) { return ws.flat[i * n + j]; }, best_utility,
                               misreports);
        if (s == opt.steps) break;
        // d(−u_j)/d(alloc_j) = −v_j, d(−u_j)/d(payment_j) = 1 on bidder j's column of block j.
        ws.d_alloc.setZero(n * b, n);
        ws.d_payment.setZero(n * b, n);
        for (Index j = 0; j < n; ++j)
            for (Index i = 0; i < b; ++i) {
                ws.d_alloc(j * b + i, j) = -values(i, j);
                ws.d_payment(j * b + i, j) = T(1);
            }
        ws.scratch_grad.setZero(theta.size());
        mech.backward(theta, ws.cache, ws.d_alloc, ws.d_payment, ws.scratch_grad, &ws.d_bids);
        for (Index i = 0; i < b; ++i)
            for (Index j = 0; j < n; ++j) ws.flat_grad[i * n + j] = ws.d_bids(j * b + i, j);
        adam.step(ws.flat, ws.flat_grad);
        ws.flat = ws.flat.cwiseMax(opt.lo).cwiseMin(opt.hi);
    }
}

/// Both searches as configured (see MisreportOptions): `misreports` is the warm
/// start on entry and the best misreport found on exit; best_utility (B x N) its
/// utility. With the grid off and ascent.steps = 0 the result is the clipped warm
/// start; with the grid on and ascent.steps = 0, the grid's best. Throws
/// input_error for bad options, sizes or non-finite inputs.
template <RegretMechanism M>
void search_misreports(const M& mech, const VectorX<typename M::scalar_type>& theta,
                       const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                       const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values,
                       MatrixX<typename M::scalar_type>& misreports, MatrixX<typename M::scalar_type>& best_utility,
                       const MisreportOptions<typename M::scalar_type>& opt, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    detail::validate(opt);
    detail::check_batch(mech, context, values);
    detail::check_same_shape<T>(misreports, values, "misreports");
    if (!opt.grid) {
        ascend_misreports(mech, theta, context, values, misreports, best_utility, opt.ascent, ws);
        return;
    }
    grid_search_misreports(mech, theta, context, values, opt.multipliers, ws.grid_bid, ws.grid_utility, ws);
    if (opt.ascent.steps > 0) {
        // Start from the better of the warm start and the grid's best.
        misreport_utilities(mech, theta, context, values, misreports, ws.start_utility, ws);
        for (Index i = 0; i < values.rows(); ++i)
            for (Index j = 0; j < values.cols(); ++j)
                if (ws.grid_utility(i, j) > ws.start_utility(i, j)) misreports(i, j) = ws.grid_bid(i, j);
        ascend_misreports(mech, theta, context, values, misreports, best_utility, opt.ascent, ws);
    } else {
        best_utility.setConstant(values.rows(), values.cols(), -std::numeric_limits<T>::infinity());
    }
    detail::keep_better<T>(ws.grid_utility, [&](Index i, Index j) { return ws.grid_bid(i, j); }, best_utility,
                           misreports);
}

/// Held-out revenue and ex-post regret of `mech` at `theta` over the auctions
/// (rows) of values/context: rgt(b, j) = max(0, best searched utility − truthful
/// utility), the search warm-started from the truthful bids. Works through the
/// auctions `chunk` at a time (memory: a few (N+1)·chunk x N matrices).
template <RegretMechanism M>
RegretEvaluation evaluate_regret(const M& mech, const VectorX<typename M::scalar_type>& theta,
                                 const Eigen::Ref<const MatrixX<typename M::scalar_type>>& context,
                                 const Eigen::Ref<const MatrixX<typename M::scalar_type>>& values,
                                 const MisreportOptions<typename M::scalar_type>& opt, Index chunk = 512) {
    using T = typename M::scalar_type;
    detail::validate(opt);
    detail::check_batch(mech, context, values);
    detail::require(chunk >= 1, "chunk", kNone, "must be >= 1");
    const Index s = values.rows(), n = values.cols();
    MisreportWorkspace<M> ws;
    MatrixX<T> truthful, best, mis;
    RegretEvaluation r;
    r.auctions = s;
    r.regret_per_bidder.setZero(n);
    double revenue = 0;
    for (Index b0 = 0; b0 < s; b0 += chunk) {
        const Index len = std::min(chunk, s - b0);
        const Eigen::Ref<const MatrixX<T>> v = values.middleRows(b0, len);
        const Eigen::Ref<const MatrixX<T>> x = context.middleRows(b0, len);
        revenue += static_cast<double>(truthful_utilities(mech, theta, x, v, truthful, ws));
        mis = v;
        search_misreports(mech, theta, x, v, mis, best, opt, ws);
        for (Index i = 0; i < len; ++i)
            for (Index j = 0; j < n; ++j) {
                const double g = std::max(0.0, static_cast<double>(best(i, j)) - static_cast<double>(truthful(i, j)));
                r.regret_per_bidder[j] += g;
                r.regret_max = std::max(r.regret_max, g);
            }
    }
    r.revenue = revenue / static_cast<double>(s);
    r.regret_mean = r.regret_per_bidder.sum() / static_cast<double>(s * n);
    r.regret_per_bidder /= static_cast<double>(s);
    return r;
}

}  // namespace diffauction
