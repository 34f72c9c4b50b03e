// diffauction/metrics/ic.hpp - incentive-compatibility metrics of SPEC §5:
// DNA's Psi_v and Psi_p (value maximisers), IC-R (utility maximisers) and the
// RegretNet ex-post regret, by rerunning a mechanism with one bid changed.
//
// (choice) Every IC metric is measured at the *truthful* profile: the auction is
// rerun with bids = truth.values (so m_i, "the truthful bid", is truth.values[i]),
// whatever bids the sample carries. For samples with bids = values (the synthetic
// market's default) this is the sample itself.
//
// Reruns reuse one Workspace, two Outcomes and one bid buffer held in an
// `IcWorkspace`; the auction is viewed, never copied (its bid map is re-seated on
// the buffer), so nothing is allocated per misreport once warm.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/mechanisms/mechanism.hpp"
#include "diffauction/metrics/business.hpp"

namespace diffauction {

/// The default misreport multipliers {0, 0.1, ..., 2.0} (SPEC §2, §5).
inline std::vector<double> default_misreport_grid() {
    std::vector<double> g(21);
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<double>(i) / 10.0;
    return g;
}

/// What to compute and on which grids.
struct IcOptions {
    /// Multipliers c of the misreports c * v_i for IC-R and the ex-post regret
    /// (one grid shared by both: the regret of bidder i *is* the IC-R numerator
    /// term of i). Finite, >= 0, non-empty.
    std::vector<double> misreport_grid = default_misreport_grid();
    /// Number P of Psi bid perturbations. (choice) A deterministic grid
    /// b' = c * m_i with c = 2t/P, t = 1..P: P points in (0, 2], evenly spaced, that
    /// contain c = 1 (the truthful bid) when P is even; P = 100 as in DNA.
    Index psi_perturbations = 100;
    bool psi = true;     ///< compute Psi_v and Psi_p (P reruns per truthful winner)
    bool regret = true;  ///< compute IC-R and the ex-post regret (|grid| reruns per bidder)
};

/// Throws input_error unless the options are usable (allocation-free when they are).
inline void validate_ic_options(const IcOptions& o) {
    if (o.misreport_grid.empty()) throw input_error("misreport_grid", kNone, "is empty");
    for (std::size_t i = 0; i < o.misreport_grid.size(); ++i)
        if (!(std::isfinite(o.misreport_grid[i]) && o.misreport_grid[i] >= 0.0))
            throw input_error("misreport_grid", static_cast<Index>(i), "must be finite and >= 0");
    if (o.psi_perturbations < 1) throw input_error("psi_perturbations", kNone, "must be >= 1");
}

/// IC metrics over a set of auctions. Quantities not computed (options off, or
/// nobody to average over) are NaN.
struct IcMetrics {
    Index auctions = 0;  ///< auctions measured
    Index bidders = 0;   ///< bidder instances (sum of M over the auctions)
    /// Bidder instances that win a slot when truthful: the N of Psi. (choice) Psi
    /// averages over the winners of all measured auctions pooled, not per auction.
    Index winners = 0;
    /// Psi_v = (1/N) sum_i (1/beta_{k_i}) max_{b'} (beta_{k'_i} - beta_{k_i}) 1(p_i(b') < m_i).
    double psi_v = std::numeric_limits<double>::quiet_NaN();
    /// Psi_p = (1/N) sum_i max_{b'} (beta_{k_i} p_i(b_i) - beta_{k'_i} p_i(b')) 1(k'_i = k_i) / (beta_{k_i} p_i(b_i)).
    double psi_p = std::numeric_limits<double>::quiet_NaN();
    /// IC-R = sum_i max_c [u_i(c v_i) - u_i(v_i)]^+ / sum_i u_i(v_i). (choice) +inf when
    /// the gains are positive but the truthful utilities sum to <= 0 (a first-price
    /// rule at truthful bids: everybody's utility is 0), 0 when both are 0.
    double ic_r = std::numeric_limits<double>::quiet_NaN();
    double regret_mean = std::numeric_limits<double>::quiet_NaN();  ///< mean ex-post regret per bidder
    double regret_max = std::numeric_limits<double>::quiet_NaN();   ///< largest ex-post regret
    double utility_total = 0;  ///< sum_i u_i(v_i), the IC-R denominator
    double gain_total = 0;     ///< sum_i regret_i, the IC-R numerator
};

/// Sums behind `IcMetrics` (in double whatever the mechanism's scalar).
class IcAccumulator {
public:
    void add_auction() { ++auctions_; }
    /// One bidder's truthful utility and its best gain over the misreport grid.
    void add_bidder(double truthful_utility, double gain) {
        ++bidders_;
        utility_ += truthful_utility;
        gain_ += gain;
        regret_max_ = std::max(regret_max_, gain);
    }
    /// One truthful winner's Psi_v term (already divided by beta_{k_i}) and Psi_p term.
    void add_winner(double psi_v_term, double psi_p_term) {
        ++winners_;
        psi_v_ += psi_v_term;
        psi_p_ += psi_p_term;
    }

    IcMetrics result() const {
        IcMetrics r;
        r.auctions = auctions_;
        r.bidders = bidders_;
        r.winners = winners_;
        if (winners_ > 0) {
            r.psi_v = psi_v_ / static_cast<double>(winners_);
            r.psi_p = psi_p_ / static_cast<double>(winners_);
        }
        if (bidders_ > 0) {
            r.utility_total = utility_;
            r.gain_total = gain_;
            if (utility_ > 0.0)
                r.ic_r = gain_ / utility_;
            else
                r.ic_r = gain_ > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
            r.regret_mean = gain_ / static_cast<double>(bidders_);
            r.regret_max = regret_max_;
        }
        return r;
    }

private:
    Index auctions_ = 0, bidders_ = 0, winners_ = 0;
    double utility_ = 0, gain_ = 0, regret_max_ = 0, psi_v_ = 0, psi_p_ = 0;
};

/// Reusable memory of the IC reruns of mechanism M.
template <Mechanism M>
struct IcWorkspace {
    using T = typename M::scalar_type;
    typename M::Workspace mech;
    Outcome<T> truthful;
    Outcome<T> deviated;
    std::vector<T> bids;
};

namespace detail {
/// Position weight of bidder j: the sum of beta_k over the slots showing one of
/// its ads (beta_{k_j} in an ordinary auction, 0 when it has no slot).
template <Scalar T>
T position_weight(const AuctionView<T>& a, const Outcome<T>& out, Index j) {
    T w = 0;
    for (Index s = 0; s < out.num_slots(); ++s) {
        const Index i = out.slots[static_cast<std::size_t>(s)];
        if (i != kNone && a.owns(j, i)) w += a.slot_ctr[s];
    }
    return w;
}
/// Whether bidder j occupies the same slots in both outcomes (k'_j = k_j).
template <Scalar T>
bool same_slots(const AuctionView<T>& a, const Outcome<T>& x, const Outcome<T>& y, Index j) {
    for (std::size_t s = 0; s < x.slots.size(); ++s) {
        const bool in_x = x.slots[s] != kNone && a.owns(j, x.slots[s]);
        const bool in_y = y.slots[s] != kNone && a.owns(j, y.slots[s]);
        if (in_x != in_y) return false;
    }
    return true;
}
}  // namespace detail

/// Adds one auction's IC terms to `acc`. `values` are the bidders' true per-click
/// values (one per bidder); the auction is evaluated at bids = values.
///
/// Psi (value maximisers): i ranges over the bidders that win a slot when truthful;
/// beta_k = slot_ctr[k], beta of no slot = 0, p_i the price per click. In a joint
/// auction beta_{k_i} generalises to the bidder's position weight (sum of beta over
/// its shown bundles) and k'_i = k_i to "the same slots". (choice) The max over b'
/// also includes b' = m_i itself, whose term is 0, so both terms are >= 0 even for
/// grids without c = 1; (choice) a winner whose truthful payment beta p is 0 has a
/// Psi_p term of 0 (it cannot pay less at the same slot; the ratio would be 0/0).
///
/// IC-R and regret (utility maximisers): u_i = (v_i - price_i) * click_prob_i with
/// the mechanism's own click_prob; bidder i's regret is
/// max(0, max_c u_i(c v_i; v_-i) - u_i(v)), c over `misreport_grid`; every bidder
/// counts, winners or not.
template <Mechanism M>
void accumulate_ic(const M& mech, const AuctionView<typename M::scalar_type>& a,
                   std::span<const typename M::scalar_type> values, const IcOptions& opt,
                   IcWorkspace<M>& ws, IcAccumulator& acc, Index sample = kNone) {
    using T = typename M::scalar_type;
    // Checks written as `if (...) throw` so that nothing is built (allocated) when they pass.
    validate_ic_options(opt);
    const Index m = a.num_bidders();
    if (static_cast<Index>(values.size()) != m)
        throw input_error("truth.values", kNone,
                          "has " + std::to_string(values.size()) + " entries but the auction has " +
                              std::to_string(m) + " bidders",
                          sample);
    for (Index j = 0; j < m; ++j)
        if (!(std::isfinite(values[static_cast<std::size_t>(j)]) && values[static_cast<std::size_t>(j)] >= T(0)))
            throw input_error("truth.values", j, "must be finite and >= 0", sample);

    // The truthful profile, viewed through the reusable bid buffer.
    ws.bids.assign(values.begin(), values.end());
    AuctionView<T> v = a;
    new (&v.bids) VectorMap<T>(ws.bids.data(), m);  // re-seat the Eigen::Map (documented idiom)
    mech.run(v, ws.truthful, ws.mech);
    acc.add_auction();

    const Index psi_n = opt.psi_perturbations;
    for (Index j = 0; j < m; ++j) {
        const std::size_t ju = static_cast<std::size_t>(j);
        const T vj = values[ju];
        if (opt.regret) {
            const T u0 = (vj - ws.truthful.price[ju]) * ws.truthful.click_prob[ju];
            T best = 0;
            for (const double c : opt.misreport_grid) {
                ws.bids[ju] = static_cast<T>(c) * vj;
                mech.run(v, ws.deviated, ws.mech);
                const T u = (vj - ws.deviated.price[ju]) * ws.deviated.click_prob[ju];
                best = std::max(best, u - u0);
            }
            ws.bids[ju] = vj;
            acc.add_bidder(static_cast<double>(u0), static_cast<double>(best));
        }
        if (opt.psi) {
            const T w = detail::position_weight(v, ws.truthful, j);
            if (!(w > T(0))) continue;  // not a truthful winner
            const T wp = w * ws.truthful.price[ju];
            T psi_v = 0, psi_p = 0;
            for (Index t = 1; t <= psi_n; ++t) {
                const T c = static_cast<T>(2.0 * static_cast<double>(t) / static_cast<double>(psi_n));
                ws.bids[ju] = c * vj;
                mech.run(v, ws.deviated, ws.mech);
                const T p = ws.deviated.price[ju];
                if (p < vj) psi_v = std::max(psi_v, detail::position_weight(v, ws.deviated, j) - w);
                if (wp > T(0) && detail::same_slots(v, ws.truthful, ws.deviated, j))
                    psi_p = std::max(psi_p, (wp - w * p) / wp);
            }
            ws.bids[ju] = vj;
            acc.add_winner(static_cast<double>(psi_v / w), static_cast<double>(psi_p));
        }
    }
}

/// IC metrics of `mech` over `data` (every sample validated first; errors carry
/// the sample index). For a subset, pass a sub-span.
template <Mechanism M>
IcMetrics ic_metrics(const M& mech, std::span<const Sample<typename M::scalar_type>> data,
                     const IcOptions& opt = {}) {
    using T = typename M::scalar_type;
    detail::require(!data.empty(), "data", kNone, "is empty");
    validate_ic_options(opt);
    for (std::size_t b = 0; b < data.size(); ++b) validate_sample(data[b], static_cast<Index>(b));
    IcWorkspace<M> ws;
    IcAccumulator acc;
    for (std::size_t b = 0; b < data.size(); ++b) {
        const Sample<T>& s = data[b];
        accumulate_ic(mech, s.auction.view(),
                      std::span<const T>(s.truth.values.data(), static_cast<std::size_t>(s.truth.values.size())),
                      opt, ws, acc, static_cast<Index>(b));
    }
    return acc.result();
}

}  // namespace diffauction
