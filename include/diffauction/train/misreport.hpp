// diffauction/train/misreport.hpp - misreport search for the ex-post regret of a
// relaxed model (mechanisms/relaxed.hpp) over a ragged Batch (SPEC §2,
// "Augmented-Lagrangian regret trainer"; RegretNet, Dütting et al. 2019).
//
// Values v: one per candidate row of the batch (total entries; truthful bids = v).
// (choice, this version) Ordinary auctions only: candidate i is bidder i, so a
// bidder is a candidate row. Regret of the bidder of row r:
//   rgt_r = max_{b'} relu(u_r(v_r; b', v_−r) − u_r(v_r; v)),
//   u_r   = v_r·click_r − payment_r  (= (v_r − price_r)·click_r, SPEC §2),
// estimated by two searches over b', each per row, the other bidders truthful:
//  - a grid of multipliers b' = c·v_r, c ∈ C (default {0, 0.1, …, 2.0}, as in
//    metrics/ic.hpp; grid points are not clipped, as in the IC metrics);
//  - projected gradient ascent on b' (RegretNet: 25 Adam steps, lr 0.1, every
//    iterate clipped to the value range [lo, hi]) from a warm start the caller
//    keeps per row (the previous search's result).
//
// Deviation profiles: with n the batch's largest N_b, position j < n is one bid
// profile of the relaxed pass: in every auction with more than j candidates,
// candidate j bids its misreport and the others their values; its focus is j (only
// candidate j's rows are read). So a search step over every bidder of B auctions is
// ONE relaxed pass of n profiles (and, for the ascent, one backward), whatever the
// auctions' sizes; profile j of an auction with N_b <= j is read by nobody.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/relaxed.hpp"
#include "diffauction/metrics/ic.hpp"
#include "diffauction/train/adam.hpp"

namespace diffauction {

/// Projected gradient ascent on the misreports (RegretNet's inner loop).
template <Scalar T>
struct MisreportAscentOptions {
    Index steps = 25;          ///< Adam steps per search (0: evaluate the clipped start only)
    T learning_rate = T(0.1);  ///< Adam's learning rate (RegretNet: 0.1)
    T lo = T(0);               ///< value range: every iterate is clipped to [lo, hi]
    T hi = T(1);
};

/// Both searches. With both on, the ascent starts, per row, from whichever of the
/// warm start and the best grid point has the higher utility, and the result is the
/// best of the grid and every ascent iterate.
template <Scalar T>
struct MisreportOptions {
    bool grid = true;  ///< run the multiplier grid
    /// Multipliers c of the grid misreports c·v_r (finite, >= 0, non-empty when grid is on).
    std::vector<double> multipliers = default_misreport_grid();
    MisreportAscentOptions<T> ascent{};  ///< ascent.steps = 0: no ascent
};

/// Reusable memory of the searches (one per thread; no allocation once warm,
/// except Adam's two moment vectors per ascent call).
template <RelaxedModel M>
struct MisreportWorkspace {
    using T = typename M::scalar_type;
    typename M::RelaxedCache cache;
    RelaxedOutcome<T> out;
    RelaxedGradient<T> d;
    VectorX<T> bids, d_bids, utility, start_utility, grid_bid, grid_utility, flat, flat_grad, scratch_grad;
    std::vector<Index> focus;
};

/// Held-out figures of `evaluate_regret` (sums in double).
struct RegretEvaluation {
    Index auctions = 0;
    Index bidders = 0;       ///< bidders (candidate rows) in all
    double revenue = 0;      ///< mean over auctions of Σ payment at truthful bids
    double regret_mean = 0;  ///< mean over bidders of rgt
    double regret_max = 0;   ///< largest rgt
    /// Mean rgt of position j's bidder over the auctions that have one (j < the largest N).
    Eigen::VectorXd regret_per_position;
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

/// The largest N_b of the batch (the number of deviation profiles).
template <Scalar T>
Index max_candidates(const Batch<T>& batch) {
    Index n = 0;
    for (Index b = 0; b < batch.size(); ++b) n = std::max(n, batch.end(b) - batch.begin(b));
    return n;
}

/// x has one finite entry per candidate row of the batch (field `field`).
template <Scalar T>
void check_rows(const Batch<T>& batch, const Eigen::Ref<const VectorX<T>>& x, const char* field) {
    require(x.size() == batch.total_candidates(), field, kNone, [&] {
        return "has " + std::to_string(x.size()) + " entries but the batch has " +
               std::to_string(batch.total_candidates()) + " candidate rows";
    });
    if (!all_finite(x)) [[unlikely]]
        for (Index i = 0; i < x.size(); ++i) require(std::isfinite(x[i]), field, i, "is not finite");
}

/// What every search checks: a non-empty batch of ordinary auctions ("batch") and one
/// finite value per candidate row ("values").
template <Scalar T>
void check_search(const Batch<T>& batch, const Eigen::Ref<const VectorX<T>>& values) {
    require(!batch.empty() && batch.total_candidates() > 0, "batch", kNone, "has no candidates");
    for (Index b = 0; b < batch.size(); ++b)
        require(!batch.auction(b).joint(), "batch", b,
                "is a joint auction: the regret searches take one bidder per candidate");
    check_rows<T>(batch, values, "values");
}

/// Bids of `lead` truthful profiles followed by the batch's n deviation profiles
/// (profile lead + j: candidate j of every auction that has one bids dev(row)), and
/// their focus (kNone for the truthful ones, j for deviation j).
template <Scalar T, class Dev>
void deviation_profiles(const Batch<T>& batch, const Eigen::Ref<const VectorX<T>>& values, Index lead, Dev&& dev,
                        VectorX<T>& bids, std::vector<Index>& focus) {
    const Index total = batch.total_candidates(), n = max_candidates(batch);
    bids.resize((lead + n) * total);
    focus.assign(static_cast<std::size_t>(lead), kNone);
    for (Index c = 0; c < lead + n; ++c) bids.segment(c * total, total) = values;
    for (Index j = 0; j < n; ++j) {
        focus.push_back(j);
        for (Index b = 0; b < batch.size(); ++b)
            if (batch.end(b) - batch.begin(b) > j) {
                const Index r = batch.begin(b) + j;
                bids[(lead + j) * total + r] = dev(r);
            }
    }
}

/// u(r) = v_r·click − payment of row r in its deviation profile (lead + its local index).
template <Scalar T>
void deviation_utilities(const Batch<T>& batch, const Eigen::Ref<const VectorX<T>>& values, Index lead,
                         const RelaxedOutcome<T>& out, VectorX<T>& u) {
    const Index total = batch.total_candidates();
    u.resize(total);
    for (Index b = 0; b < batch.size(); ++b)
        for (Index r = batch.begin(b), j = 0; r < batch.end(b); ++r, ++j) {
            const Index row = out.row(lead + j, r);
            u[r] = values[r] * out.click[row] - out.payment[row];
        }
}

/// Where u(r) beats best_u(r): best_u(r) = u(r), best_bid(r) = bid(r).
template <Scalar T, class Bid>
void keep_better(const VectorX<T>& u, Bid&& bid, VectorX<T>& best_u, VectorX<T>& best_bid) {
    for (Index r = 0; r < u.size(); ++r)
        if (u[r] > best_u[r]) {
            best_u[r] = u[r];
            best_bid[r] = bid(r);
        }
}

/// Runs the deviations of `dev` as one relaxed pass into ws and writes u.
template <RelaxedModel M, class Dev>
void run_deviations(const M& m, const Batch<typename M::scalar_type>& batch,
                    const Eigen::Ref<const VectorX<typename M::scalar_type>>& values, typename M::scalar_type tau,
                    Dev&& dev, VectorX<typename M::scalar_type>& u, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    deviation_profiles<T>(batch, values, 0, dev, ws.bids, ws.focus);
    m.relaxed_forward(batch, ws.bids, tau, ws.cache, ws.out, ws.focus);
    deviation_utilities<T>(batch, values, 0, ws.out, u);
}
}  // namespace detail

/// Truthful utilities u(r) = v_r·click_r − payment_r at bids = values, and the batch's
/// total revenue Σ_r payment_r (returned). Throws input_error for a bad batch or values.
template <RelaxedModel M>
typename M::scalar_type truthful_utilities(const M& m, const Batch<typename M::scalar_type>& batch,
                                           const Eigen::Ref<const VectorX<typename M::scalar_type>>& values,
                                           typename M::scalar_type tau, VectorX<typename M::scalar_type>& utility,
                                           MisreportWorkspace<M>& ws) {
    detail::check_search(batch, values);
    ws.bids = values;
    m.relaxed_forward(batch, ws.bids, tau, ws.cache, ws.out);
    utility.resize(values.size());
    utility.array() = values.array() * ws.out.click.array() - ws.out.payment.array();
    return ws.out.payment.sum();
}

/// u(r) of row r's bidder reporting misreports(r) while the others bid their values.
template <RelaxedModel M>
void misreport_utilities(const M& m, const Batch<typename M::scalar_type>& batch,
                         const Eigen::Ref<const VectorX<typename M::scalar_type>>& values,
                         typename M::scalar_type tau,
                         const Eigen::Ref<const VectorX<typename M::scalar_type>>& misreports,
                         VectorX<typename M::scalar_type>& utility, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    detail::check_search(batch, values);
    detail::check_rows<T>(batch, misreports, "misreports");
    detail::run_deviations(m, batch, values, tau, [&](Index r) { return misreports[r]; }, utility, ws);
}

/// Grid search: for every row r, the multiplier c of `multipliers` maximising
/// u_r(v_r; c·v_r, v_−r). Writes best_bid(r) = c*·v_r and best_utility(r); ties keep
/// the earlier multiplier. One relaxed pass per multiplier. Throws input_error for an
/// empty grid, a negative or non-finite multiplier, or a bad batch or values.
template <RelaxedModel M>
void grid_search_misreports(const M& m, const Batch<typename M::scalar_type>& batch,
                            const Eigen::Ref<const VectorX<typename M::scalar_type>>& values,
                            typename M::scalar_type tau, std::span<const double> multipliers,
                            VectorX<typename M::scalar_type>& best_bid, VectorX<typename M::scalar_type>& best_utility,
                            MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    detail::validate_multipliers(multipliers);
    detail::check_search(batch, values);
    best_bid.resize(values.size());
    best_utility.setConstant(values.size(), -std::numeric_limits<T>::infinity());
    for (const double c : multipliers) {
        const T ct = static_cast<T>(c);
        detail::run_deviations(m, batch, values, tau, [&](Index r) { return ct * values[r]; }, ws.utility, ws);
        detail::keep_better<T>(ws.utility, [&](Index r) { return ct * values[r]; }, best_utility, best_bid);
    }
}

/// Projected gradient ascent on each bidder's misreport (others truthful): Adam
/// (fresh state per call, RegretNet) on −u_r with the given learning rate, `steps`
/// steps, the start and every iterate clipped to [lo, hi]. `misreports` (one per
/// row) is the start on entry (the caller's warm start; finite, any value) and the
/// best iterate seen on exit (the clipped start included, so the result is never
/// worse than the clipped start); best_utility gets its utility. Costs steps + 1
/// relaxed passes and `steps` backwards of n deviation profiles.
template <RelaxedModel M>
void ascend_misreports(const M& m, const Batch<typename M::scalar_type>& batch,
                       const Eigen::Ref<const VectorX<typename M::scalar_type>>& values, typename M::scalar_type tau,
                       VectorX<typename M::scalar_type>& misreports, VectorX<typename M::scalar_type>& best_utility,
                       const MisreportAscentOptions<typename M::scalar_type>& opt, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    detail::validate(opt);
    detail::check_search(batch, values);
    detail::check_rows<T>(batch, misreports, "misreports");
    const Index total = batch.total_candidates();
    ws.flat = misreports.cwiseMax(opt.lo).cwiseMin(opt.hi);
    ws.flat_grad.resize(total);
    best_utility.setConstant(total, -std::numeric_limits<T>::infinity());
    Adam<T> adam(AdamOptions<T>{opt.learning_rate});
    for (Index s = 0;; ++s) {
        detail::run_deviations(m, batch, values, tau, [&](Index r) { return ws.flat[r]; }, ws.utility, ws);
        detail::keep_better<T>(ws.utility, [&](Index r) { return ws.flat[r]; }, best_utility, misreports);
        if (s == opt.steps) break;
        // d(−u_r)/d(click) = −v_r, d(−u_r)/d(payment) = 1 on row r of its deviation profile.
        ws.d.d_alloc.resize(0, 0);
        ws.d.d_click.setZero(ws.out.rows());
        ws.d.d_payment.setZero(ws.out.rows());
        for (Index b = 0; b < batch.size(); ++b)
            for (Index r = batch.begin(b), j = 0; r < batch.end(b); ++r, ++j) {
                ws.d.d_click[ws.out.row(j, r)] = -values[r];
                ws.d.d_payment[ws.out.row(j, r)] = T(1);
            }
        ws.scratch_grad.setZero(m.theta().size());
        m.relaxed_backward(ws.cache, ws.d, ws.scratch_grad, &ws.d_bids);
        for (Index b = 0; b < batch.size(); ++b)
            for (Index r = batch.begin(b), j = 0; r < batch.end(b); ++r, ++j)
                ws.flat_grad[r] = ws.d_bids[j * total + r];
        adam.step(ws.flat, ws.flat_grad);
        ws.flat = ws.flat.cwiseMax(opt.lo).cwiseMin(opt.hi);
    }
}

/// Both searches as configured (see MisreportOptions): `misreports` is the warm start
/// on entry and the best misreport found on exit; best_utility its utility. With the
/// grid off and ascent.steps = 0 the result is the clipped warm start; with the grid
/// on and ascent.steps = 0, the grid's best. Throws input_error for bad options, a
/// bad batch, values or misreports.
template <RelaxedModel M>
void search_misreports(const M& m, const Batch<typename M::scalar_type>& batch,
                       const Eigen::Ref<const VectorX<typename M::scalar_type>>& values, typename M::scalar_type tau,
                       VectorX<typename M::scalar_type>& misreports, VectorX<typename M::scalar_type>& best_utility,
                       const MisreportOptions<typename M::scalar_type>& opt, MisreportWorkspace<M>& ws) {
    using T = typename M::scalar_type;
    detail::validate(opt);
    detail::check_search(batch, values);
    detail::check_rows<T>(batch, misreports, "misreports");
    if (!opt.grid) {
        ascend_misreports(m, batch, values, tau, misreports, best_utility, opt.ascent, ws);
        return;
    }
    grid_search_misreports(m, batch, values, tau, opt.multipliers, ws.grid_bid, ws.grid_utility, ws);
    if (opt.ascent.steps > 0) {
        // Start from the better of the warm start and the grid's best.
        misreport_utilities(m, batch, values, tau, misreports, ws.start_utility, ws);
        for (Index r = 0; r < values.size(); ++r)
            if (ws.grid_utility[r] > ws.start_utility[r]) misreports[r] = ws.grid_bid[r];
        ascend_misreports(m, batch, values, tau, misreports, best_utility, opt.ascent, ws);
    } else {
        best_utility.setConstant(values.size(), -std::numeric_limits<T>::infinity());
    }
    detail::keep_better<T>(ws.grid_utility, [&](Index r) { return ws.grid_bid[r]; }, best_utility, misreports);
}

namespace detail {
/// Sample `index` has one finite true value per candidate ("truth.values").
template <Scalar T>
void check_truth_values(const Sample<T>& s, Index index) {
    require(s.truth.values.size() == s.auction.num_candidates() && all_finite(s.truth.values), "truth.values",
            kNone, "must hold one finite value per candidate", index);
}
}  // namespace detail

/// The samples' true values, one per candidate row (what the searches take as
/// `values`), after checking them: one finite value per candidate ("truth.values",
/// naming the sample).
template <Scalar T>
void truthful_values(std::span<const Sample<T>> samples, VectorX<T>& values) {
    Index total = 0;
    for (std::size_t s = 0; s < samples.size(); ++s) {
        detail::check_truth_values(samples[s], static_cast<Index>(s));
        total += samples[s].truth.values.size();
    }
    values.resize(total);
    Index o = 0;
    for (const Sample<T>& smp : samples) {
        values.segment(o, smp.truth.values.size()) = smp.truth.values;
        o += smp.truth.values.size();
    }
}

/// Held-out revenue and ex-post regret of `m` on `samples` (truthful bids = the true
/// values, relaxed outcome at τ): rgt(r) = max(0, best searched utility − truthful
/// utility), the search warm-started from the truthful bids. Works through the
/// samples `chunk` auctions at a time. Throws input_error for bad options, samples
/// the model rejects, or values that are not one finite value per candidate.
template <RelaxedModel M>
RegretEvaluation evaluate_regret(const M& m, std::span<const Sample<typename M::scalar_type>> samples,
                                 typename M::scalar_type tau, const MisreportOptions<typename M::scalar_type>& opt,
                                 Index chunk = 512) {
    using T = typename M::scalar_type;
    detail::validate(opt);
    detail::require(chunk >= 1, "chunk", kNone, "must be >= 1");
    detail::require(!samples.empty(), "samples", kNone, "is empty");
    MisreportWorkspace<M> ws;
    Batch<T> batch;
    VectorX<T> values, truthful, best, mis;
    RegretEvaluation r;
    r.auctions = static_cast<Index>(samples.size());
    Eigen::VectorXd per_position, count;
    double revenue = 0, regret = 0;
    for (std::size_t s0 = 0; s0 < samples.size(); s0 += static_cast<std::size_t>(chunk)) {
        const auto part = samples.subspan(s0, std::min(samples.size() - s0, static_cast<std::size_t>(chunk)));
        batch.clear();
        for (const Sample<T>& smp : part) batch.push_back(smp.auction);
        truthful_values(part, values);
        revenue += static_cast<double>(truthful_utilities(m, batch, values, tau, truthful, ws));
        mis = values;
        search_misreports(m, batch, values, tau, mis, best, opt, ws);
        const Index n = detail::max_candidates(batch);
        if (const Index had = per_position.size(); had < n) {
            per_position.conservativeResize(n);
            count.conservativeResize(n);
            per_position.tail(n - had).setZero();
            count.tail(n - had).setZero();
        }
        for (Index b = 0; b < batch.size(); ++b)
            for (Index i = batch.begin(b), j = 0; i < batch.end(b); ++i, ++j) {
                const double g = std::max(0.0, static_cast<double>(best[i]) - static_cast<double>(truthful[i]));
                per_position[j] += g;
                count[j] += 1;
                regret += g;
                r.regret_max = std::max(r.regret_max, g);
            }
        r.bidders += batch.total_candidates();
    }
    r.revenue = revenue / static_cast<double>(r.auctions);
    r.regret_mean = regret / static_cast<double>(r.bidders);
    r.regret_per_position = per_position.cwiseQuotient(count);
    return r;
}

}  // namespace diffauction
