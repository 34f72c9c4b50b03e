// diffauction/mechanisms/baselines/joint_vcg.hpp - VCG for joint auctions, where candidates
// are (brand, store) bundles bid for by their owners together (SPEC §3, §4.4).
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "diffauction/mechanisms/baselines/affine_maximiser.hpp"
#include "diffauction/mechanisms/mechanism.hpp"

namespace diffauction {

/// Joint VCG (SPEC §3, §4.4). Joint auctions only (input_error "owners" for an
/// ordinary one). Candidates are bundles owned by one or two bidders
/// (`AuctionView::owners`); a bundle's bid is the sum of its owners' bids.
///
/// Welfare of a list l: W(l) = sum_k slot_ctr[k] * ctr_{l_k} * candidate_bid(l_k)
/// (separable CTRs). Feasible lists (choice): any ordered list of distinct bundles of
/// length <= K, and a brand or store MAY appear in several shown bundles. This is the
/// allocation of JTransNet as SPEC §4.4 defines it (hard argsort of bundle scores,
/// a brand's click probability summed over slots), so the baselines and the learned
/// mechanism choose from the same lists. Welfare is then maximised by ranking bundles
/// by candidate_bid * ctr (ties: lower index) and filling min(K, N) slots.
///
/// Bidder j's click probability is the sum over its shown bundles of
/// slot_ctr[k] * ctr_bundle; its price per click is its VCG payment divided by that
/// click probability. Dominant-strategy IC and IR under either Clarke pivot:
///  - `ClarkePivot::zero_bid` (default, (choice)): the first term is the others' best
///    welfare over all lists as if j bid 0 (its bundles still formable, valued at the
///    partner's bid): the textbook Clarke pivot, payments >= 0.
///  - `ClarkePivot::without_bidder`: the first term is max W(l) over the lists without
///    j's bundles (they cannot be formed without j). Removing j also removes its
///    partners' value from those bundles, so the price can be negative and revenue can
///    fall to 0 (see the hand-worked test); kept for comparison with SPEC §3's "l ∌ i".
template <Scalar T>
class JointVcg {
public:
    using scalar_type = T;
    struct Workspace {
        std::vector<T> score;
        std::vector<Index> order;
        std::vector<T> score_without;     ///< zero_bid pivot: the others' share per bundle
        std::vector<Index> order_without;
    };

    explicit JointVcg(ClarkePivot pivot = ClarkePivot::zero_bid) : pivot_(pivot) {}
    ClarkePivot pivot() const { return pivot_; }

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        validate(a);
        if (!a.joint())
            throw input_error("owners", kNone, "JointVcg takes joint auctions: owners must name each bundle's bidders");
        const Index n = a.num_candidates(), k = a.num_slots(), m = a.num_bidders();
        ws.score.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) ws.score[static_cast<std::size_t>(i)] = a.candidate_bid(i) * a.ctr[i];
        detail::rank_by_score<T>(ws.score, ws.order);
        out.reset(k, m);
        const Index shown = std::min(k, n);
        for (Index s = 0; s < shown; ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            const T c = a.slot_ctr[s] * a.ctr[i];
            out.slots[static_cast<std::size_t>(s)] = i;
            out.click_prob[static_cast<std::size_t>(a.owner(i))] += c;
            if (a.co_owner(i) != kNone) out.click_prob[static_cast<std::size_t>(a.co_owner(i))] += c;
        }
        for (Index j = 0; j < m; ++j) {
            const T clicks = out.click_prob[static_cast<std::size_t>(j)];
            if (clicks <= T(0)) continue;
            const T without = pivot_ == ClarkePivot::without_bidder ? best_without(a, ws, j) : best_zero_bid(a, ws, j);
            // The others' welfare at l*: every owner term but j's.
            T others = 0;
            for (Index s = 0; s < shown; ++s) {
                const Index i = ws.order[static_cast<std::size_t>(s)], o1 = a.owner(i), o2 = a.co_owner(i);
                T v = 0;
                if (o1 != j) v += a.bids[o1];
                if (o2 != kNone && o2 != j) v += a.bids[o2];
                others += a.slot_ctr[s] * (v * a.ctr[i]);  // same association as the scores
            }
            // W(l*) >= without, so the price is <= b_j up to rounding, which min() absorbs.
            out.price[static_cast<std::size_t>(j)] = std::min((without - others) / clicks, a.bids[j]);
        }
    }

private:
    // Best welfare without j's bundles: the same ranking with them skipped.
    static T best_without(const AuctionView<T>& a, const Workspace& ws, Index j) {
        T w = 0;
        for (Index r = 0, t = 0; r < a.num_candidates() && t < a.num_slots(); ++r) {
            const Index i = ws.order[static_cast<std::size_t>(r)];
            if (a.owns(j, i)) continue;
            w += a.slot_ctr[t] * ws.score[static_cast<std::size_t>(i)];
            ++t;
        }
        return w;
    }
    // Best welfare of the others over all lists: rank by the others' share of each bundle.
    static T best_zero_bid(const AuctionView<T>& a, Workspace& ws, Index j) {
        const Index n = a.num_candidates();
        ws.score_without.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) {
            const Index o1 = a.owner(i), o2 = a.co_owner(i);
            T v = 0;
            if (o1 != j) v += a.bids[o1];
            if (o2 != kNone && o2 != j) v += a.bids[o2];
            ws.score_without[static_cast<std::size_t>(i)] = v * a.ctr[i];
        }
        detail::rank_by_score<T>(ws.score_without, ws.order_without);
        T w = 0;
        for (Index t = 0; t < std::min(a.num_slots(), n); ++t)
            w += a.slot_ctr[t] * ws.score_without[static_cast<std::size_t>(ws.order_without[static_cast<std::size_t>(t)])];
        return w;
    }

    ClarkePivot pivot_;
};

}  // namespace diffauction
