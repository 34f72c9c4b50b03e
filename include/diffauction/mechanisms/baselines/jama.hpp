// diffauction/mechanisms/baselines/jama.hpp - JAMA, the joint-auction affine maximiser with
// per-bidder weights and a list boost (SPEC §3, §4.4).
#pragma once

#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "diffauction/click_models/click_model.hpp"
#include "diffauction/mechanisms/baselines/affine_maximiser.hpp"
#include "diffauction/mechanisms/mechanism.hpp"

namespace diffauction {

/// JAMA (SPEC §3, §4.4): an affine maximiser over lists of bundles. Joint auctions
/// only (input_error "owners" for an ordinary one). It shows
///     l* = argmax_l R(l),  R(l) = sum_k c_k(l) * sum_{owners j of l_k} mu_j b_j + boost(l),
/// c_k(l) from `Model` (SeparableCtr: slot_ctr[k] * ctr of the bundle), over every
/// ordered list of distinct bundles of length 0..min(K, N); a brand or store may
/// appear in several shown bundles (the same (choice) as joint_vcg.hpp). Bidder j pays
/// per click
///     p_j = [max_{l without j's bundles} R(l) - R_{-j}(l*)] / (mu_j * clicks_j),
/// clicks_j = sum of c_k(l*) over the bundles j owns, with ClarkePivot::without_bidder;
/// the default (choice) is ClarkePivot::zero_bid, where the max runs over all lists of
/// R_{-j} (payments >= 0; see joint_vcg.hpp and affine_maximiser.hpp). Weights mu_j > 0 and the boost
/// must be bid-free; then JAMA is dominant-strategy IC and IR. mu = 1 and no boost
/// give joint VCG (joint_vcg.hpp). Always enumerates: meant for the small joint
/// settings (N bundles up to ~16, K <= 3).
///
/// Weights: a callable `(const AuctionView<T>&, Index bidder) -> T` given to the
/// constructor, or a span of M per-bidder weights per call (takes precedence).
/// Errors: input_error "mu" (size, or outside [min_rate, max_amount] of SupportedRange),
/// "boost" (non-finite or |boost| > max_amount), "owners", "list_ctr"; size_limit_error
/// past kMaxEnumeratedLists lists (sort/lists.hpp: N = 16, K = 3 is 3 601 lists).
template <Scalar T, ListCtrModel<T> Model = SeparableCtr>
class Jama {
public:
    using scalar_type = T;
    using model_type = Model;
    /// Bid-free weight of bidder j (finite, > 0).
    using WeightFn = std::function<T(const AuctionView<T>&, Index)>;
    /// Bid-free boost of an ordered list of bundles (finite).
    using BoostFn = std::function<T(const AuctionView<T>&, std::span<const Index>)>;

    struct Workspace {
        std::vector<T> mu;
        detail::AffineWorkspace<T> affine;
    };

    /// mu = 1, boost = 0: joint VCG.
    Jama() = default;
    /// mu = 1, boost = 0 and the given pivot: joint VCG with that pivot.
    explicit Jama(ClarkePivot pivot) : pivot_(pivot) {}
    /// `mu` empty means mu = 1; `boost` empty means boost = 0; `pivot`: see ClarkePivot.
    explicit Jama(WeightFn mu, BoostFn boost = {}, Model model = {},
                  ClarkePivot pivot = ClarkePivot::zero_bid)
        : mu_(std::move(mu)), boost_(std::move(boost)), model_(std::move(model)), pivot_(pivot) {}

    const Model& model() const { return model_; }
    ClarkePivot pivot() const { return pivot_; }

    /// Weights from the constructor's callable (1 when none).
    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        check(a);
        const Index m = a.num_bidders();
        ws.mu.resize(static_cast<std::size_t>(m));
        for (Index j = 0; j < m; ++j) ws.mu[static_cast<std::size_t>(j)] = mu_ ? mu_(a, j) : T(1);
        run_checked(a, ws.mu, out, ws);
    }

    /// Explicit per-bidder weights (M entries, finite, > 0).
    void run(const AuctionView<T>& a, std::span<const T> mu, Outcome<T>& out, Workspace& ws) const {
        check(a);
        if (static_cast<Index>(mu.size()) != a.num_bidders())
            throw input_error("mu", kNone,
                              "has " + std::to_string(mu.size()) + " entries but the auction has " +
                                  std::to_string(a.num_bidders()) + " bidders");
        run_checked(a, mu, out, ws);
    }

private:
    static void check(const AuctionView<T>& a) {
        validate(a);
        if (!a.joint())
            throw input_error("owners", kNone, "JAMA takes joint auctions: owners must name each bundle's bidders");
    }

    void run_checked(const AuctionView<T>& a, std::span<const T> mu, Outcome<T>& out, Workspace& ws) const {
        for (std::size_t j = 0; j < mu.size(); ++j)
            detail::require_in_range(mu[j], SupportedRange<T>::min_rate, SupportedRange<T>::max_amount, "mu",
                                     static_cast<Index>(j));
        if (boost_)
            detail::affine_maximiser_run(a, model_, mu, boost_, pivot_, out, ws.affine);
        else
            detail::affine_maximiser_run(a, model_, mu, detail::ZeroBoost{}, pivot_, out, ws.affine);
    }

    WeightFn mu_;
    BoostFn boost_;
    [[no_unique_address]] Model model_{};
    ClarkePivot pivot_ = ClarkePivot::zero_bid;
};

}  // namespace diffauction
