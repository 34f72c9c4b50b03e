// diffauction/mechanisms/baselines/ugsp.hpp - utility GSP (Bachrach et al. 2014) and its
// first-price variant uGFP, SPEC §3.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "diffauction/mechanisms/mechanism.hpp"

namespace diffauction {

namespace detail {
/// The allocation shared by uGSP and uGFP: rank by the utility score
/// s_i = lambda1 * b_i * ctr_i + o_i, o_i = lambda2 * ctr_i + lambda3 * cvr_i.
template <Scalar T>
class UtilityRanking {
public:
    struct Workspace {
        std::vector<T> score;
        std::vector<Index> order;
    };

    /// lambda1 must be in [min_rate, max_amount], lambda2 and lambda3 in [0, max_amount]
    /// (SupportedRange in core/auction.hpp), i.e. lambda1 > 0, lambda2, lambda3 >= 0 (choice:
    /// they weight clicks and conversions, objectives a platform wants more of, and
    /// keep every score >= 0 so that "nobody below" can mean a next score of 0).
    UtilityRanking(T lambda1, T lambda2, T lambda3) : l1_(lambda1), l2_(lambda2), l3_(lambda3) {
        constexpr T hi = SupportedRange<T>::max_amount;
        require_in_range(lambda1, SupportedRange<T>::min_rate, hi, "lambda1", kNone);
        require_in_range(lambda2, T(0), hi, "lambda2", kNone);
        require_in_range(lambda3, T(0), hi, "lambda3", kNone);
    }
    T lambda1() const { return l1_; }
    T lambda2() const { return l2_; }
    T lambda3() const { return l3_; }

    /// o_i, the bid-free part of the score. An auction without cvr is accepted only
    /// when lambda3 == 0 (then o_i = lambda2 * ctr_i).
    T offset(const AuctionView<T>& a, Index i) const {
        return l2_ * a.ctr[i] + (l3_ == T(0) ? T(0) : l3_ * a.cvr[i]);
    }

protected:
    /// Validates, ranks into ws.order and fills slots and click probabilities;
    /// prices are left at 0 for the caller.
    void allocate(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws, const char* name) const {
        validate(a);
        if (a.joint())
            throw input_error("owners", kNone, std::string(name) + " takes ordinary auctions, not joint ones");
        if (l3_ != T(0) && a.cvr.size() == 0)
            throw input_error("cvr", kNone, "is empty but lambda3 != 0 needs a conversion rate per candidate");
        const Index n = a.num_candidates(), k = a.num_slots();
        ws.score.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i)
            ws.score[static_cast<std::size_t>(i)] = l1_ * a.bids[i] * a.ctr[i] + offset(a, i);
        // Slots and prices read only the first K + 1 ranks.
        rank_by_score<T>(ws.score, ws.order, static_cast<std::size_t>(k) + 1);
        out.reset(k, n);
        for (Index s = 0; s < std::min(k, n); ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            out.slots[static_cast<std::size_t>(s)] = i;
            out.click_prob[static_cast<std::size_t>(i)] = a.slot_ctr[s] * a.ctr[i];
        }
    }

    T l1_, l2_, l3_;
};
}  // namespace detail

/// uGSP (SPEC §3): rank by s_i = lambda1 b_i ctr_i + o_i (ties: lower index), top
/// min(K, N) win; the ad in slot k pays its critical bid
///     p_i = (s_{k+1} - o_i) / (lambda1 ctr_i), clamped to [0, b_i],
/// with s_{k+1} = lambda1 b_{k+1} ctr_{k+1} + o_{k+1} the next score. The lower clamp is
/// part of the SPEC and binds when o_i alone beats the next score (the ad would keep
/// its slot at bid 0, so it pays 0); the upper one only absorbs rounding, since
/// s_{k+1} <= s_i. Nobody below (choice): the next score is 0, the score of an empty
/// slot, so the price is max(0, -o_i / (lambda1 ctr_i)) = 0 because o_i >= 0.
/// Click probability slot_ctr[k] * ctr_i. Ordinary auctions only.
template <Scalar T>
class Ugsp : public detail::UtilityRanking<T> {
public:
    using scalar_type = T;
    using Workspace = typename detail::UtilityRanking<T>::Workspace;

    Ugsp(T lambda1, T lambda2, T lambda3) : detail::UtilityRanking<T>(lambda1, lambda2, lambda3) {}

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        this->allocate(a, out, ws, "uGSP");
        const Index n = a.num_candidates();
        for (Index s = 0; s < std::min(a.num_slots(), n); ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            const T next = s + 1 < n ? ws.score[static_cast<std::size_t>(ws.order[static_cast<std::size_t>(s + 1)])] : T(0);
            const T p = (next - this->offset(a, i)) / (this->l1_ * a.ctr[i]);
            out.price[static_cast<std::size_t>(i)] = std::clamp(p, T(0), a.bids[i]);
        }
    }
};

/// uGFP (SPEC §3): the uGSP allocation, and every shown ad pays its own bid per click.
template <Scalar T>
class Ugfp : public detail::UtilityRanking<T> {
public:
    using scalar_type = T;
    using Workspace = typename detail::UtilityRanking<T>::Workspace;

    Ugfp(T lambda1, T lambda2, T lambda3) : detail::UtilityRanking<T>(lambda1, lambda2, lambda3) {}

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        this->allocate(a, out, ws, "uGFP");
        for (Index s = 0; s < std::min(a.num_slots(), a.num_candidates()); ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            out.price[static_cast<std::size_t>(i)] = a.bids[i];
        }
    }
};

}  // namespace diffauction
