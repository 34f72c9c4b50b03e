// diffauction/mechanisms/baselines/myerson.hpp - Myerson's optimal auction for position
// auctions with independent private values, with separable CTRs (closed-form
// thresholds) or a list-wise CTR model (enumeration + bisection), SPEC §3 and §4.5.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffauction/click_models/click_model.hpp"
#include "diffauction/mechanisms/mechanism.hpp"
#include "diffauction/sort/lists.hpp"

namespace diffauction {

/// Which lists Myerson's enumeration path (a list-wise click model) chooses from.
enum class MyersonLists {
    /// Every ordered list of distinct ads, ads with negative virtual value included: the
    /// revenue-optimal rule when an ad can raise its neighbours' clicks (default).
    all_ads,
    /// Only lists of ads with phi >= 0 (the rule before issue 14; kept for comparison).
    eligible_ads,
};

/// Myerson's optimal auction (SPEC §3). Ordinary auctions only (input_error "owners"
/// otherwise); needs `auction.priors`, one `ValueDist` per bidder (input_error "priors"
/// when empty). Virtual values phi_i = priors[i].virtual_value(b_i); only ads with
/// phi_i >= 0 are eligible (an ad with phi_i = 0 is shown when a slot is free).
///
/// - `Model = SeparableCtr` (default): rank the eligible ads by phi_i * ctr_i (ties:
///   lower index), fill min(K, #eligible) slots. The ad in slot k (0-based) pays the
///   Myerson threshold price per click
///       p_i = sum_{t=k}^{K-1} (beta_t - beta_{t+1}) * z_t / beta_k,   beta_K = 0,
///   z_t = inverse_virtual_value_i(s_{t+1} / ctr_i), the lowest bid that still wins
///   slot t, s_{t+1} = the score of the eligible ad ranked t+1 (0 when there is none:
///   z_t is then i's reserve price).
/// - any other `ListCtrModel`: enumerate the feasible lists, pick the one with
///   maximal virtual welfare sum_{i in l} phi_i * ctr_i(l) (ties: longer list, then
///   lexicographically smaller), and charge P_i = b_i q_i(b_i) - int_0^{b_i} q_i(z) dz,
///   q_i(z) = i's click probability when it bids z and the others do not move. q_i is
///   a non-decreasing step function; its jumps are found by bisection on z (relative
///   tolerance `bisection_tol` of b_i), and P_i = sum over jumps in (0, b_i] of
///   z_jump * dq (q_i(0) may be > 0: such an ad is shown even at bid 0 and pays only
///   for the clicks its bid adds). Price per click = P_i / q_i(b_i).
///
/// Feasible lists: MyersonLists::all_ads (default) is every ordered list of distinct
/// ads of length 0..min(K, N), ads with phi < 0 included: under a click model where an
/// ad raises its neighbours' clicks (the market's dearer-neighbour effect), showing it
/// can raise the virtual welfare, and the maximum over all lists is the optimal
/// mechanism (issue 14: +3 % revenue on small market auctions). MyersonLists::eligible_ads
/// restricts the lists to ads with phi >= 0, as before. Why q_i is monotone: for bids
/// z < z' of i, let l, l' be the chosen lists. With all_ads the feasible set does not
/// depend on any bid; with eligible_ads, if i is ineligible at z then q_i(z) = 0 <=
/// q_i(z'), else the feasible set is the same at z and z'. Then optimality of l at z and
/// of l' at z' gives (phi_i(z') - phi_i(z)) * (ctr_i(l') - ctr_i(l)) >= 0; phi_i is
/// strictly increasing, so ctr_i(l') >= ctr_i(l). Allowing lists shorter than
/// min(K, N) keeps an ad whose presence lowers the others' virtual welfare from being
/// forced in; with SeparableCtr a full list of eligible ads is always among the best
/// (an ad adds phi_i * ctr_i without moving anyone's clicks), so both paths agree.
/// More than kMaxEnumeratedLists lists (counted over the ads the rule admits):
/// size_limit_error (sort/lists.hpp).
/// Cost of the enumeration path: one model call per list, then per winner
/// O(#lists * (K + jumps * bisection steps)); meant for small N.
template <Scalar T, ListCtrModel<T> Model = SeparableCtr>
class Myerson {
public:
    using scalar_type = T;
    using model_type = Model;
    struct Workspace {
        std::vector<T> phi;              ///< virtual value per candidate
        std::vector<T> score;            ///< separable: phi_i * ctr_i (-inf if ineligible)
        std::vector<Index> order;
        std::vector<Index> eligible;
        ListScratch lists;
        std::vector<T> click;            ///< model output for one list
        std::vector<Index> table_list;   ///< enumeration: K entries per list (kNone padded)
        std::vector<T> table_click;      ///< enumeration: K click probabilities per list
        std::vector<T> line_a, line_s;   ///< per list: others' virtual welfare, i's click
    };

    /// Default bisection tolerance, relative to the bid: 64 machine epsilons.
    static constexpr T default_tolerance() { return T(64) * std::numeric_limits<T>::epsilon(); }

    Myerson() = default;
    /// `bisection_tol` (used only by the enumeration path) must be in (0, 1); `lists`
    /// chooses the enumeration path's feasible lists (see above).
    explicit Myerson(Model model, T bisection_tol = default_tolerance(), MyersonLists lists = MyersonLists::all_ads)
        : tol_(bisection_tol), lists_(lists), model_(std::move(model)) {
        detail::require(std::isfinite(bisection_tol) && bisection_tol > T(0) && bisection_tol < T(1),
                        "bisection_tol", kNone, "must be in (0, 1)");
    }

    const Model& model() const { return model_; }
    T bisection_tol() const { return tol_; }
    MyersonLists lists() const { return lists_; }

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        validate(a);
        if (a.joint()) throw input_error("owners", kNone, "Myerson takes ordinary auctions, not joint ones");
        if (a.priors.empty())
            throw input_error("priors", kNone, "is empty: Myerson needs a value distribution per bidder");
        const Index n = a.num_candidates();
        ws.phi.resize(static_cast<std::size_t>(n));
        ws.eligible.clear();
        for (Index i = 0; i < n; ++i) {
            const T phi = prior(a, i).virtual_value(a.bids[i]);
            ws.phi[static_cast<std::size_t>(i)] = phi;
            if (phi >= T(0)) ws.eligible.push_back(i);
        }
        out.reset(a.num_slots(), n);
        if constexpr (std::is_same_v<Model, SeparableCtr>)
            closed_form(a, out, ws);
        else
            enumerate(a, out, ws);
    }

private:
    static const ValueDist<T>& prior(const AuctionView<T>& a, Index i) { return a.priors[static_cast<std::size_t>(i)]; }

    static void closed_form(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) {
        const Index n = a.num_candidates(), k = a.num_slots();
        const auto e = static_cast<Index>(ws.eligible.size());
        ws.score.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) {
            const T phi = ws.phi[static_cast<std::size_t>(i)];
            ws.score[static_cast<std::size_t>(i)] = phi >= T(0) ? phi * a.ctr[i] : -std::numeric_limits<T>::infinity();
        }
        detail::rank_by_score<T>(ws.score, ws.order);  // eligible ads first
        for (Index s = 0; s < std::min(k, e); ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            const ValueDist<T>& d = prior(a, i);
            T pay = 0;  // sum_t (beta_t - beta_{t+1}) * z_t
            for (Index t = s; t < k; ++t) {
                const T next = t + 1 < e ? ws.score[static_cast<std::size_t>(ws.order[static_cast<std::size_t>(t + 1)])] : T(0);
                const T beta_next = t + 1 < k ? a.slot_ctr[t + 1] : T(0);
                pay += (a.slot_ctr[t] - beta_next) * d.inverse_virtual_value(next / a.ctr[i]);
            }
            out.slots[static_cast<std::size_t>(s)] = i;
            out.click_prob[static_cast<std::size_t>(i)] = a.slot_ctr[s] * a.ctr[i];
            // Every threshold z_t <= b_i (the scores below are <= i's) and the weights
            // sum to beta_s, so pay / beta_s <= b_i; min() absorbs rounding only.
            out.price[static_cast<std::size_t>(i)] = std::min(pay / a.slot_ctr[s], a.bids[i]);
        }
    }

    void enumerate(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        const Index k = a.num_slots();
        const auto kk = static_cast<std::size_t>(k);
        const bool all = lists_ == MyersonLists::all_ads;
        require_enumerable(all ? a.num_candidates() : static_cast<Index>(ws.eligible.size()), k,
                           "Myerson with a list-wise click model");
        ws.click.resize(kk);
        ws.table_list.clear();
        ws.table_click.clear();
        const auto visit = [&](std::span<const Index> list) {
            const std::span<T> c(ws.click.data(), list.size());
            model_.list_ctr(a, list, c);
            for (std::size_t s = 0; s < kk; ++s) {
                const bool in = s < list.size();
                if (in && !(std::isfinite(c[s]) && c[s] >= T(0)))
                    throw input_error("list_ctr", static_cast<Index>(s),
                                      "the click model returned a negative or non-finite probability");
                ws.table_list.push_back(in ? list[s] : kNone);
                ws.table_click.push_back(in ? c[s] : T(0));
            }
        };
        if (all)
            for_each_list_up_to(a.num_candidates(), k, ws.lists, visit);
        else
            for_each_list_up_to(std::span<const Index>(ws.eligible), k, ws.lists, visit);
        const std::size_t rows = ws.table_click.size() / kk;

        // The allocation: maximal virtual welfare, first best row wins ties.
        std::size_t best = 0;
        T best_v = -std::numeric_limits<T>::infinity();
        for (std::size_t r = 0; r < rows; ++r) {
            T v = 0;
            for (std::size_t s = 0; s < kk; ++s) {
                const Index i = ws.table_list[r * kk + s];
                if (i != kNone) v += ws.phi[static_cast<std::size_t>(i)] * ws.table_click[r * kk + s];
            }
            if (v > best_v) {
                best_v = v;
                best = r;
            }
        }
        for (std::size_t s = 0; s < kk; ++s) {
            const Index i = ws.table_list[best * kk + s];
            if (i == kNone) break;
            out.slots[s] = i;
            out.click_prob[static_cast<std::size_t>(i)] = ws.table_click[best * kk + s];
        }

        // Payments: for each winner, q_i(z) over the cached table; bisection for its jumps.
        ws.line_a.resize(rows);
        ws.line_s.resize(rows);
        for (std::size_t s = 0; s < kk; ++s) {
            const Index i = out.slots[s];
            if (i == kNone) break;
            const T clicks = out.click_prob[static_cast<std::size_t>(i)];
            if (clicks <= T(0)) continue;  // never clicked: charged 0
            for (std::size_t r = 0; r < rows; ++r) {
                T others = 0, own = 0;
                for (std::size_t t = 0; t < kk; ++t) {
                    const Index x = ws.table_list[r * kk + t];
                    if (x == kNone) break;
                    if (x == i)
                        own = ws.table_click[r * kk + t];
                    else
                        others += ws.phi[static_cast<std::size_t>(x)] * ws.table_click[r * kk + t];
                }
                ws.line_a[r] = others;
                ws.line_s[r] = own;
            }
            const ValueDist<T>& d = prior(a, i);
            // i's click probability at bid z: 0 when ineligible (eligible_ads), else the
            // own-click of the first row maximising others + phi_i(z) * own (the
            // allocation's rule).
            const auto q = [&](T z) {
                const T phi = d.virtual_value(z);
                if (!all && phi < T(0)) return T(0);
                std::size_t arg = 0;
                T top = -std::numeric_limits<T>::infinity();
                for (std::size_t r = 0; r < rows; ++r) {
                    const T v = ws.line_a[r] + phi * ws.line_s[r];
                    if (v > top) {
                        top = v;
                        arg = r;
                    }
                }
                return ws.line_s[arg];
            };
            const T bid = a.bids[i];
            const T width = tol_ * bid;
            // q(0): 0 under eligible_ads (phi(0) < 0 for every supported prior: uniform
            // -hi, exponential -mean); under all_ads an ad may be shown at bid 0.
            const T q0 = q(T(0));
            T hi = bid, qh = clicks, pay = 0;
            // Invariant: q(hi) >= qh > q(lo); each pass finds the highest jump below hi.
            while (qh > q0) {
                T lo = 0;
                for (int it = 0; it < 256 && hi - lo > width; ++it) {
                    const T mid = lo + (hi - lo) / T(2);
                    if (mid <= lo || mid >= hi) break;
                    if (q(mid) >= qh)
                        hi = mid;
                    else
                        lo = mid;
                }
                const T ql = q(lo);
                pay += (lo + (hi - lo) / T(2)) * (qh - ql);
                hi = lo;
                qh = ql;
            }
            // Every jump lies at or below b_i and the jumps add up to q_i(b_i), so
            // pay <= b_i * clicks; min() absorbs rounding only.
            out.price[static_cast<std::size_t>(i)] = std::min(pay / clicks, bid);
        }
    }

    T tol_ = default_tolerance();
    MyersonLists lists_ = MyersonLists::all_ads;
    [[no_unique_address]] Model model_{};
};

}  // namespace diffauction
