// diffauction/mechanisms/baselines/vcg.hpp - Vickrey-Clarke-Groves for position auctions,
// with separable CTRs (closed form) or a list-wise CTR model (enumeration), SPEC §3.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffauction/click_models/click_model.hpp"
#include "diffauction/mechanisms/baselines/affine_maximiser.hpp"
#include "diffauction/mechanisms/mechanism.hpp"

namespace diffauction {

namespace detail {
/// Separable VCG payment of the ad ranked in slot s (0-based) when candidates are
/// ranked by `score` in `order`: sum_{t=s}^{K-1} (beta_t - beta_{t+1}) * score_{(t+1)},
/// with beta_K = 0 and score 0 beyond the last candidate. It is the welfare the
/// others lose: everyone below moves up one slot without it. Divide by the ad's
/// click probability (times its weight, for WVCG) to get a price per click.
template <Scalar T>
T separable_vcg_payment(const VectorMap<T>& slot_ctr, std::span<const T> score,
                        std::span<const Index> order, Index s) {
    const Index k = slot_ctr.size(), n = static_cast<Index>(order.size());
    T pay = 0;
    for (Index t = s; t < k && t + 1 < n; ++t) {
        const T next_beta = t + 1 < k ? slot_ctr[t + 1] : T(0);
        pay += (slot_ctr[t] - next_beta) * score[static_cast<std::size_t>(order[static_cast<std::size_t>(t + 1)])];
    }
    return pay;
}

/// Throws input_error("owners") for a joint auction given to a mechanism for ordinary ones.
template <Scalar T>
void require_ordinary(const AuctionView<T>& a, const char* mechanism) {
    if (a.joint())
        throw input_error("owners", kNone,
                          std::string(mechanism) + " takes ordinary auctions, not joint ones (use JointVcg or Jama)");
}
}  // namespace detail

/// VCG (SPEC §3). Ordinary auctions only (input_error "owners" for a joint one).
///
/// - `Model = SeparableCtr` (default): closed form. Rank by b_i * ctr_i (ties: lower
///   index), top min(K, N) win; the ad in slot k (1-based) pays per click
///   sum_{j>=k} (beta_j - beta_{j+1}) * score_{(j+1)} / (beta_k * ctr_i), beta_{K+1} = 0,
///   score 0 beyond N. Click probability beta_k * ctr_i.
/// - any other `ListCtrModel`: enumerate every ordered list of distinct ads of length
///   0..min(K, N) (see affine_maximiser.hpp for why shorter lists are feasible; a
///   (choice)), show the one with maximal SW(l) = sum_{i in l} b_i * ctr_i(l) (ties:
///   longer list, then lexicographically smaller), and charge each winner its
///   externality on the others, max_l SW_{-i}(l) - SW_{-i}(l*) (ClarkePivot::zero_bid),
///   divided by its click probability ctr_i(l*). (choice) The zero-bid pivot, not
///   SPEC §3's max over the lists without i: the payment is then >= 0 under any click
///   model (issue 15: never a negative price) and IC and IR hold as well; the two agree
///   whenever an ad appended at the bottom of a list cannot change the others' clicks
///   (SeparableCtr, cascade-style externalities such as test::ToyCategoryCtr). Cost:
///   O(sum_L N!/(N-L)!) model calls per auction, meant for small N; past
///   kMaxEnumeratedLists lists, size_limit_error (sort/lists.hpp).
template <Scalar T, ListCtrModel<T> Model = SeparableCtr>
class Vcg {
public:
    using scalar_type = T;
    using model_type = Model;
    struct Workspace {
        std::vector<T> score;
        std::vector<Index> order;
        detail::AffineWorkspace<T> affine;
    };

    Vcg() = default;
    explicit Vcg(Model model) : model_(std::move(model)) {}
    const Model& model() const { return model_; }

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        validate(a);
        detail::require_ordinary(a, "VCG");
        if constexpr (std::is_same_v<Model, SeparableCtr>) {
            const Index n = a.num_candidates(), k = a.num_slots();
            ws.score.resize(static_cast<std::size_t>(n));
            for (Index i = 0; i < n; ++i) ws.score[static_cast<std::size_t>(i)] = a.bids[i] * a.ctr[i];
            // Slots and VCG payments read only the first K + 1 ranks.
            detail::rank_by_score<T>(ws.score, ws.order, static_cast<std::size_t>(k) + 1);
            out.reset(k, n);
            for (Index s = 0; s < std::min(k, n); ++s) {
                const Index i = ws.order[static_cast<std::size_t>(s)];
                const T click = a.slot_ctr[s] * a.ctr[i];
                const T pay = detail::separable_vcg_payment<T>(a.slot_ctr, ws.score, ws.order, s);
                out.slots[static_cast<std::size_t>(s)] = i;
                out.click_prob[static_cast<std::size_t>(i)] = click;
                // pay <= beta_s * b_i * ctr_i (scores below are <= i's), so pay / click
                // <= b_i; min() only absorbs the last-ulp rounding of the division.
                out.price[static_cast<std::size_t>(i)] = std::min(pay / click, a.bids[i]);
            }
        } else {
            detail::affine_maximiser_run(a, model_, std::span<const T>(), detail::ZeroBoost{}, ClarkePivot::zero_bid, out, ws.affine);
        }
    }

private:
    [[no_unique_address]] Model model_{};
};

}  // namespace diffauction
