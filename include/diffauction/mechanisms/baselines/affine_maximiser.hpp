// diffauction/mechanisms/baselines/affine_maximiser.hpp - the list-enumerating affine
// maximiser behind VCG with externalities, WVCG and JAMA (SPEC §3, §4.4).
//
// For every feasible list l it evaluates
//     R(l) = sum_k c_k(l) * sum_{owners o of l_k} mu_o * b_o  +  boost(l),
// where c_k(l) comes from a list-wise CTR model, picks l* = argmax R, and charges
// bidder j the affine-maximiser (weighted Clarke) payment, e.g. with the pivot of
// SPEC §3 (ClarkePivot::without_bidder)
//     payment_j = [ max_{l without j's candidates} R(l) - R_{-j}(l*) ] / mu_j,
// R_{-j} dropping j's own term mu_j b_j c. Price per click = payment_j / clicks_j,
// clicks_j = sum of c_k(l*) over the slots holding a candidate j owns.
//
// Feasible lists (choice): every ordered list of distinct candidates of length
// 0..min(K, N), enumerated by `for_each_list_up_to` (longer lists first, then
// lexicographic; the first best list wins ties). Shorter lists must be feasible:
// under externalities an ad can lower the others' clicks, and the counterfactual
// "lists without j" must be a subset of the lists the allocation chose from, or
// IR fails (when N <= K every full-length list contains j). With SeparableCtr and
// non-negative bids a full list is always among the best, so this matches the
// closed forms. A bidder may own several shown candidates (joint auctions: a brand
// may appear with several stores); only a candidate cannot be shown twice.
//
// The first term of the payment (the Clarke pivot h_j) has two forms, see ClarkePivot;
// VCG, WVCG and JAMA use ClarkePivot::zero_bid (payments >= 0 under any boost and
// click model), JAMA and JointVcg offer without_bidder as an option.
// Enumerating more than kMaxEnumeratedLists lists throws size_limit_error (sort/lists.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/click_models/click_model.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/sort/lists.hpp"

namespace diffauction {

/// The Clarke pivot h_j of an affine-maximiser / VCG payment
/// p_j = [h_j - R_{-j}(l*)] / mu_j (then divided by j's clicks for a price per click).
enum class ClarkePivot {
    /// h_j = max R(l) over the lists holding none of j's candidates: SPEC §3 ("l without
    /// i") and joint VCG as this library defines it ("without j's bundles"). In a joint
    /// auction this also removes the bundles j shares with a partner, so j is credited
    /// with the partner's value from them and its payment can be negative.
    without_bidder,
    /// h_j = max over ALL lists of R_{-j}(l), i.e. the lists are evaluated as if j bid
    /// 0 (the textbook Clarke pivot). Payments are then >= 0 and IR and IC still hold.
    /// For ordinary auctions with SeparableCtr and no boost both pivots give the same prices.
    zero_bid,
};

}  // namespace diffauction

namespace diffauction::detail {

/// Scratch of `affine_maximiser_run`; reused across auctions it stops allocating.
template <Scalar T>
struct AffineWorkspace {
    ListScratch lists;
    std::vector<T> click;          ///< click probabilities of the list being visited
    std::vector<T> best_click;     ///< ... of the best list so far
    std::vector<Index> best_list;  ///< the best list so far
    std::vector<T> pivot;          ///< per bidder: the Clarke pivot h_j so far
    std::vector<unsigned char> present;  ///< per bidder: owns a candidate of the visited list
    std::vector<T> coef;           ///< per bidder: mu_j * b_j
};

/// The zero list boost.
struct ZeroBoost {
    template <Scalar T>
    T operator()(const AuctionView<T>&, std::span<const Index>) const { return T(0); }
};

/// R_{-j}(l) = boost + sum_k c_k * sum_{owners o != j of l_k} coef_o (j = kNone: R(l)),
/// summed term by term so that dropping a bidder with no term changes nothing.
template <Scalar T>
T list_value_without(const AuctionView<T>& a, std::span<const Index> list, std::span<const T> click,
                     std::span<const T> coef, T boost, Index j) {
    T r = boost;
    for (std::size_t t = 0; t < list.size(); ++t) {
        const Index o1 = a.owner(list[t]), o2 = a.co_owner(list[t]);
        T v = 0;
        if (o1 != j) v += coef[static_cast<std::size_t>(o1)];
        if (o2 != kNone && o2 != j) v += coef[static_cast<std::size_t>(o2)];
        r += click[t] * v;
    }
    return r;
}

/// Runs the affine maximiser described at the top of this header. `mu` holds one
/// weight per bidder (validated by the caller) or is empty for mu = 1. The boost
/// callable `boost(a, list) -> T` must be finite; the model's click probabilities
/// must be finite and >= 0 (input_error "boost" / "list_ctr" otherwise). A shown
/// bidder whose click probability is 0 is charged 0.
template <Scalar T, ListCtrModel<T> Model, class Boost>
void affine_maximiser_run(const AuctionView<T>& a, const Model& model, std::span<const T> mu,
                          const Boost& boost, ClarkePivot pivot, Outcome<T>& out, AffineWorkspace<T>& ws) {
    const Index n = a.num_candidates(), k = a.num_slots(), m = a.num_bidders();
    require_enumerable(n, k, "the affine maximiser (VCG/WVCG with a list-wise click model, boosted WVCG, JAMA)");
    const auto mb = static_cast<std::size_t>(m);
    ws.click.resize(static_cast<std::size_t>(k));
    ws.best_click.resize(static_cast<std::size_t>(k));
    ws.best_list.clear();
    ws.best_list.reserve(static_cast<std::size_t>(k));
    ws.pivot.assign(mb, -std::numeric_limits<T>::infinity());
    ws.present.assign(mb, 0);
    ws.coef.resize(mb);
    for (std::size_t j = 0; j < mb; ++j)
        ws.coef[j] = (mu.empty() ? T(1) : mu[j]) * a.bids[static_cast<Index>(j)];
    const std::span<const T> coef(ws.coef);

    T best = -std::numeric_limits<T>::infinity();
    for_each_list_up_to(n, k, ws.lists, [&](std::span<const Index> list) {
        const std::span<T> c(ws.click.data(), list.size());
        model.list_ctr(a, list, c);
        const T b = boost(a, list);
        // Plain ifs, not require(): its message argument would build a string per list.
        if (!(std::abs(b) <= SupportedRange<T>::max_amount))  // false for NaN too
            throw input_error("boost", kNone, "returned " + detail::outside_range(std::abs(b), T(0), SupportedRange<T>::max_amount) + " (in absolute value)");
        for (std::size_t s = 0; s < list.size(); ++s) {
            if (!(std::isfinite(c[s]) && c[s] >= T(0)))
                throw input_error("list_ctr", static_cast<Index>(s),
                                  "the click model returned a negative or non-finite probability");
            ws.present[static_cast<std::size_t>(a.owner(list[s]))] = 1;
            if (a.co_owner(list[s]) != kNone) ws.present[static_cast<std::size_t>(a.co_owner(list[s]))] = 1;
        }
        const T r = list_value_without<T>(a, list, c, coef, b, kNone);
        if (r > best) {
            best = r;
            ws.best_list.assign(list.begin(), list.end());
            std::copy(c.begin(), c.end(), ws.best_click.begin());
        }
        for (std::size_t j = 0; j < mb; ++j) {
            T h = r;
            if (ws.present[j]) {
                if (pivot == ClarkePivot::without_bidder) continue;
                h = list_value_without<T>(a, list, c, coef, b, static_cast<Index>(j));
            }
            if (h > ws.pivot[j]) ws.pivot[j] = h;
        }
        for (const Index i : list) {
            ws.present[static_cast<std::size_t>(a.owner(i))] = 0;
            if (a.co_owner(i) != kNone) ws.present[static_cast<std::size_t>(a.co_owner(i))] = 0;
        }
    });

    out.reset(k, m);
    const std::span<const Index> lstar(ws.best_list);
    const std::span<const T> cstar(ws.best_click.data(), lstar.size());
    for (std::size_t s = 0; s < lstar.size(); ++s) {
        const Index i = lstar[s];
        out.slots[s] = i;
        out.click_prob[static_cast<std::size_t>(a.owner(i))] += cstar[s];
        if (a.co_owner(i) != kNone) out.click_prob[static_cast<std::size_t>(a.co_owner(i))] += cstar[s];
    }
    const T boost_star = boost(a, lstar);
    for (std::size_t j = 0; j < mb; ++j) {
        const T clicks = out.click_prob[j];
        if (clicks <= T(0)) continue;  // not shown, or shown but never clicked: charged 0
        const T others = list_value_without<T>(a, lstar, cstar, coef, boost_star, static_cast<Index>(j));
        const T w = mu.empty() ? T(1) : mu[j];
        const T price = (ws.pivot[j] - others) / w / clicks;
        // R(l*) >= h_j under either pivot, so price <= bid in exact arithmetic; min()
        // only absorbs rounding of the subtraction and divisions.
        out.price[j] = std::min(price, a.bids[static_cast<Index>(j)]);
    }
}

}  // namespace diffauction::detail
