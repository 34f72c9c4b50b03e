// diffauction/mechanisms/baselines/wvcg.hpp - weighted VCG, the affine maximiser over ad
// lists with bid-free per-ad weights and a list boost (SPEC §3, used by NMA §4.3).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffauction/click_models/click_model.hpp"
#include "diffauction/mechanisms/baselines/affine_maximiser.hpp"
#include "diffauction/mechanisms/mechanism.hpp"
#include "diffauction/mechanisms/baselines/vcg.hpp"

namespace diffauction {

/// Weighted VCG (affine maximiser), SPEC §3. Ordinary auctions only. It shows
///     l* = argmax_l R(l),   R(l) = sum_{i in l} w_i * b_i * ctr_i(l) + beta(l),
/// over every ordered list of distinct ads of length 0..min(K, N) (the feasible set
/// of affine_maximiser.hpp, a (choice)), and charges the ad i in l* per click
///     p_i = [max_l R_{-i}(l) - R_{-i}(l*)] / (w_i * ctr_i(l*)),
/// R_{-i} dropping i's own term (ClarkePivot::zero_bid). (choice) SPEC §3 takes the
/// max over the lists without i; under a boost that rewards, say, longer lists, that
/// pivot pays an ad whose removal shortens the list (a negative price). The zero-bid
/// pivot keeps every payment >= 0 (issue 15) with IC and IR intact, and equals SPEC's
/// without a boost under SeparableCtr or cascade-style click models. Weights w_i > 0 and the boost beta(l) must not
/// depend on the bids (they may read features, ctr, context): then the mechanism is
/// dominant-strategy IC and IR. With w = 1 and no boost it is VCG (vcg.hpp).
///
/// Weights come either from a callable `(const AuctionView<T>&, Index i) -> T` given
/// to the constructor, or per call as a span of N weights (e.g. computed by a learned
/// weight network), which takes precedence. The boost is a callable
/// `(const AuctionView<T>&, std::span<const Index> list) -> T`, called for every
/// enumerated list including the empty one; an empty std::function means beta = 0.
/// With SeparableCtr and no boost the closed form is used: rank by w_i b_i ctr_i,
/// separable VCG payment of those weighted scores divided by w_i * beta_k * ctr_i.
/// Errors: input_error "weights" (size, or outside [min_rate, max_amount] of
/// SupportedRange), "boost" (non-finite or |boost| > max_amount), size_limit_error (too
/// many lists to enumerate, sort/lists.hpp),
/// "owners" (joint auction), "list_ctr" (model returned a bad probability).
template <Scalar T, ListCtrModel<T> Model = SeparableCtr>
class Wvcg {
public:
    using scalar_type = T;
    using model_type = Model;
    /// Bid-free weight of candidate i (must be finite and > 0).
    using WeightFn = std::function<T(const AuctionView<T>&, Index)>;
    /// Bid-free boost of an ordered list (must be finite).
    using BoostFn = std::function<T(const AuctionView<T>&, std::span<const Index>)>;

    struct Workspace {
        std::vector<T> weights;
        std::vector<T> score;
        std::vector<Index> order;
        detail::AffineWorkspace<T> affine;
    };

    /// w = 1, beta = 0: VCG.
    Wvcg() = default;
    /// `weights` empty means w = 1; `boost` empty means beta = 0.
    explicit Wvcg(WeightFn weights, BoostFn boost = {}, Model model = {})
        : weights_(std::move(weights)), boost_(std::move(boost)), model_(std::move(model)) {}

    const Model& model() const { return model_; }
    bool has_boost() const { return static_cast<bool>(boost_); }

    /// Weights from the constructor's callable (1 when none).
    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        validate(a);
        detail::require_ordinary(a, "WVCG");
        const Index n = a.num_candidates();
        ws.weights.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) ws.weights[static_cast<std::size_t>(i)] = weights_ ? weights_(a, i) : T(1);
        run_checked(a, ws.weights, out, ws);
    }

    /// Explicit per-candidate weights (N entries, finite, > 0).
    void run(const AuctionView<T>& a, std::span<const T> weights, Outcome<T>& out, Workspace& ws) const {
        validate(a);
        detail::require_ordinary(a, "WVCG");
        if (static_cast<Index>(weights.size()) != a.num_candidates())
            throw input_error("weights", kNone,
                              "has " + std::to_string(weights.size()) + " entries but the auction has " +
                                  std::to_string(a.num_candidates()) + " candidates");
        run_checked(a, weights, out, ws);
    }

private:
    void run_checked(const AuctionView<T>& a, std::span<const T> w, Outcome<T>& out, Workspace& ws) const {
        for (std::size_t i = 0; i < w.size(); ++i)
            detail::require_in_range(w[i], SupportedRange<T>::min_rate, SupportedRange<T>::max_amount, "weights",
                                     static_cast<Index>(i));
        if constexpr (std::is_same_v<Model, SeparableCtr>) {
            if (!boost_) {
                closed_form(a, w, out, ws);
                return;
            }
        }
        if (boost_)
            detail::affine_maximiser_run(a, model_, w, boost_, ClarkePivot::zero_bid, out, ws.affine);
        else
            detail::affine_maximiser_run(a, model_, w, detail::ZeroBoost{}, ClarkePivot::zero_bid, out, ws.affine);
    }

    static void closed_form(const AuctionView<T>& a, std::span<const T> w, Outcome<T>& out, Workspace& ws) {
        const Index n = a.num_candidates(), k = a.num_slots();
        ws.score.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i)
            ws.score[static_cast<std::size_t>(i)] = w[static_cast<std::size_t>(i)] * a.bids[i] * a.ctr[i];
        detail::rank_by_score<T>(ws.score, ws.order);
        out.reset(k, n);
        for (Index s = 0; s < std::min(k, n); ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            const T click = a.slot_ctr[s] * a.ctr[i];
            const T pay = detail::separable_vcg_payment<T>(a.slot_ctr, ws.score, ws.order, s);
            out.slots[static_cast<std::size_t>(s)] = i;
            out.click_prob[static_cast<std::size_t>(i)] = click;
            // pay <= beta_s * w_i b_i ctr_i, so the price is <= b_i up to rounding,
            // which min() absorbs.
            out.price[static_cast<std::size_t>(i)] = std::min(pay / w[static_cast<std::size_t>(i)] / click, a.bids[i]);
        }
    }

    WeightFn weights_;
    BoostFn boost_;
    [[no_unique_address]] Model model_{};
};

}  // namespace diffauction
