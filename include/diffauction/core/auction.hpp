// diffauction/core/auction.hpp - one auction (SPEC §1): the owning `Auction`, the
// non-owning `AuctionView` every mechanism reads, value priors, and `validate`.
#pragma once

#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// Which bidders own a candidate. Ordinary auctions leave `Auction::owners`
/// empty: candidate i is then owned by bidder i alone. In a joint auction a
/// candidate is a bundle owned by `first` (e.g. the brand) and `second` (the
/// store, or kNone for a single owner); its bid is the sum of its owners' bids.
struct Owners {
    Index first = kNone;
    Index second = kNone;
};

enum class ValueFamily { none, uniform, exponential };

/// A bidder's per-click value distribution, as the mechanism designer knows it
/// (common prior). Used by Myerson and by the market generators.
template <Scalar T>
struct ValueDist {
    ValueFamily family = ValueFamily::none;
    T lo = 0;    ///< uniform lower bound
    T hi = 1;    ///< uniform upper bound
    T mean = 1;  ///< exponential mean

    static ValueDist uniform(T a, T b) { return {ValueFamily::uniform, a, b, (a + b) / 2}; }
    static ValueDist exponential(T mu) { return {ValueFamily::exponential, 0, 0, mu}; }

    /// Myerson virtual value phi(v) = v - (1 - F(v)) / f(v): U[a,b] -> 2v - b, Exp(mu) -> v - mu.
    T virtual_value(T v) const {
        return family == ValueFamily::uniform ? T(2) * v - hi : v - mean;
    }
    /// The value whose virtual value is `phi` (phi is strictly increasing in both families).
    T inverse_virtual_value(T phi) const {
        return family == ValueFamily::uniform ? (phi + hi) / T(2) : phi + mean;
    }
    /// Monopoly reserve: the value where phi = 0.
    T reserve() const { return inverse_virtual_value(T(0)); }
};

template <Scalar T> struct AuctionView;

/// One page-view request (owning). Sizes: N candidates, M bidders, K slots, D features.
/// Optional fields may be left empty (size 0): features, context, cvr, price, owners, priors.
template <Scalar T>
struct Auction {
    VectorX<T> bids;       ///< M per-click bids, finite and >= 0
    MatrixX<T> features;   ///< N x D bid-free candidate features (D may be 0)
    VectorX<T> context;    ///< user / request features (may be empty)
    VectorX<T> ctr;        ///< N point-wise predicted CTRs in (0, 1]; defines N
    VectorX<T> cvr;        ///< N predicted CVRs in [0, 1] (optional)
    VectorX<T> price;      ///< N item prices >= 0 (optional)
    VectorX<T> slot_ctr;   ///< K position factors: positive, finite, non-increasing
    std::vector<Owners> owners;        ///< empty (ordinary) or N entries (joint)
    std::vector<ValueDist<T>> priors;  ///< empty or M value distributions

    Index num_candidates() const { return ctr.size(); }
    Index num_bidders() const { return bids.size(); }
    Index num_slots() const { return slot_ctr.size(); }

    AuctionView<T> view() const;
};

/// A non-owning view of one auction: what every mechanism takes. It is built from
/// an `Auction` (implicitly) or from one auction of a `Batch`, without copying.
template <Scalar T>
struct AuctionView {
    VectorMap<T> bids{nullptr, 0};
    MatrixMap<T> features{nullptr, 0, 0};
    VectorMap<T> context{nullptr, 0};
    VectorMap<T> ctr{nullptr, 0};
    VectorMap<T> cvr{nullptr, 0};
    VectorMap<T> price{nullptr, 0};
    VectorMap<T> slot_ctr{nullptr, 0};
    std::span<const Owners> owners;
    std::span<const ValueDist<T>> priors;

    AuctionView() = default;
    AuctionView(const Auction<T>& a)  // NOLINT(google-explicit-constructor): views convert freely
        : bids(a.bids.data(), a.bids.size()),
          features(a.features.data(), a.features.rows(), a.features.cols()),
          context(a.context.data(), a.context.size()),
          ctr(a.ctr.data(), a.ctr.size()),
          cvr(a.cvr.data(), a.cvr.size()),
          price(a.price.data(), a.price.size()),
          slot_ctr(a.slot_ctr.data(), a.slot_ctr.size()),
          owners(a.owners),
          priors(a.priors) {}

    Index num_candidates() const { return ctr.size(); }
    Index num_bidders() const { return bids.size(); }
    Index num_slots() const { return slot_ctr.size(); }
    bool joint() const { return !owners.empty(); }

    /// Bidder that owns candidate i first (i itself in an ordinary auction).
    Index owner(Index i) const { return joint() ? owners[static_cast<std::size_t>(i)].first : i; }
    /// Second owner of candidate i (kNone in an ordinary auction or a single-owner bundle).
    Index co_owner(Index i) const {
        return joint() ? owners[static_cast<std::size_t>(i)].second : kNone;
    }
    bool owns(Index bidder, Index i) const { return owner(i) == bidder || co_owner(i) == bidder; }
    /// Bid of candidate i: its owner's bid, or the sum of both owners' bids for a bundle.
    T candidate_bid(Index i) const {
        if (!joint()) return bids[i];
        const Owners& o = owners[static_cast<std::size_t>(i)];
        return bids[o.first] + (o.second == kNone ? T(0) : bids[o.second]);
    }
};

template <Scalar T>
AuctionView<T> Auction<T>::view() const { return AuctionView<T>(*this); }

namespace detail {
/// True when every entry is finite. x * 0 is NaN exactly when x is Inf or NaN, so
/// one summing pass (which Eigen vectorises, unlike the early-exit allFinite())
/// decides it.
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& x) {
    using T = typename Derived::Scalar;
    return (x.derived().array() * T(0)).sum() == T(0);
}
// Each check runs one vectorised pass over the field; only when it fails does a
// second pass find the first offending index for the message.
template <Scalar T>
void require_finite(const VectorMap<T>& v, const char* field, Index auction, bool non_negative) {
    const bool ok = v.size() == 0 || (all_finite(v) && (!non_negative || v.minCoeff() >= T(0)));
    if (ok) [[likely]]
        return;
    for (Index i = 0; i < v.size(); ++i) {
        require(std::isfinite(v[i]), field, i, [&] { return "is not finite (" + std::to_string(v[i]) + ")"; },
                auction);
        if (non_negative)
            require(v[i] >= T(0), field, i, [&] { return "is negative (" + std::to_string(v[i]) + ")"; },
                    auction);
    }
}
template <Scalar T>
void require_probabilities(const VectorMap<T>& v, const char* field, Index auction, bool allow_zero) {
    const bool ok = v.size() == 0 || (all_finite(v) && (allow_zero ? v.minCoeff() >= T(0) : v.minCoeff() > T(0)) &&
                                      v.maxCoeff() <= T(1));
    if (ok) [[likely]]
        return;
    for (Index i = 0; i < v.size(); ++i) {
        require(std::isfinite(v[i]), field, i, "is not finite", auction);
        require(allow_zero ? v[i] >= T(0) : v[i] > T(0), field, i, allow_zero ? "is negative" : "is not positive",
                auction);
        require(v[i] <= T(1), field, i, "exceeds 1", auction);
    }
}
}  // namespace detail

/// Checks every rule of SPEC §1 and throws `input_error` naming the field and index:
/// at least one candidate; bids finite and >= 0, one per candidate in an ordinary
/// auction; ctr in (0,1]; cvr in [0,1]; prices, features and context finite
/// (prices >= 0); optional fields either empty or sized N; slot CTRs positive,
/// finite and non-increasing, K >= 1; owners in range and distinct; priors valid.
/// K > N is allowed: only N slots are filled and the rest stay empty (kNone).
/// `auction` is the index within a batch, reported in the message.
template <Scalar T>
void validate(const AuctionView<T>& a, Index auction = kNone) {
    using detail::require;
    const Index n = a.num_candidates();
    const Index m = a.num_bidders();
    require(n > 0, "ctr", kNone, "the auction has no candidates", auction);
    detail::require_probabilities(a.ctr, "ctr", auction, /*allow_zero=*/false);
    if (!a.joint())
        require(m == n, "bids", kNone, [&] {
            return "has " + std::to_string(m) + " entries but the auction has " + std::to_string(n) +
                   " candidates (one bidder per candidate in an ordinary auction)";
        }, auction);
    require(m > 0, "bids", kNone, "is empty", auction);
    detail::require_finite(a.bids, "bids", auction, /*non_negative=*/true);
    if (a.cvr.size() != 0) {
        require(a.cvr.size() == n, "cvr", kNone, "must be empty or have one entry per candidate", auction);
        detail::require_probabilities(a.cvr, "cvr", auction, /*allow_zero=*/true);
    }
    if (a.price.size() != 0) {
        require(a.price.size() == n, "price", kNone, "must be empty or have one entry per candidate", auction);
        detail::require_finite(a.price, "price", auction, /*non_negative=*/true);
    }
    if (a.features.size() != 0) {
        require(a.features.rows() == n, "features", kNone, [&] {
            return "has " + std::to_string(a.features.rows()) + " rows but the auction has " +
                   std::to_string(n) + " candidates";
        }, auction);
        if (!detail::all_finite(a.features)) [[unlikely]]
            for (Index i = 0; i < a.features.rows(); ++i)
                require(a.features.row(i).allFinite(), "features", i, "row is not finite", auction);
    }
    detail::require_finite(a.context, "context", auction, /*non_negative=*/false);
    const Index k = a.num_slots();
    require(k > 0, "slot_ctr", kNone, "is empty (at least one slot is needed)", auction);
    for (Index s = 0; s < k; ++s) {
        require(std::isfinite(a.slot_ctr[s]), "slot_ctr", s, "is not finite", auction);
        require(a.slot_ctr[s] > T(0), "slot_ctr", s, "is not positive", auction);
        if (s > 0)
            require(a.slot_ctr[s] <= a.slot_ctr[s - 1], "slot_ctr", s,
                    "is larger than the slot above it (slot CTRs must be non-increasing)", auction);
    }
    if (a.joint()) {
        require(static_cast<Index>(a.owners.size()) == n, "owners", kNone,
                "must be empty or have one entry per candidate", auction);
        for (Index i = 0; i < n; ++i) {
            const Owners& o = a.owners[static_cast<std::size_t>(i)];
            require(o.first >= 0 && o.first < m, "owners", i, "first owner is out of range", auction);
            require(o.second == kNone || (o.second >= 0 && o.second < m), "owners", i,
                    "second owner is out of range", auction);
            require(o.second != o.first, "owners", i, "both owners are the same bidder", auction);
        }
    }
    if (!a.priors.empty()) {
        require(static_cast<Index>(a.priors.size()) == m, "priors", kNone,
                "must be empty or have one entry per bidder", auction);
        for (Index j = 0; j < m; ++j) {
            const ValueDist<T>& d = a.priors[static_cast<std::size_t>(j)];
            const bool ok = (d.family == ValueFamily::uniform && std::isfinite(d.lo) &&
                             std::isfinite(d.hi) && d.lo >= T(0) && d.hi > d.lo) ||
                            (d.family == ValueFamily::exponential && std::isfinite(d.mean) &&
                             d.mean > T(0));
            require(ok, "priors", j, "is not a valid uniform or exponential distribution", auction);
        }
    }
}

}  // namespace diffauction
