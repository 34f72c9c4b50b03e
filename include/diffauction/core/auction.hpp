// diffauction/core/auction.hpp - one auction (SPEC §1): the owning `Auction`, the
// non-owning `AuctionView` every mechanism reads, value priors, and `validate`.
#pragma once

#include <cmath>
#include <cstdio>
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

/// The magnitudes every mechanism supports, one range per scalar type ((choice),
/// SPEC §1; `validate` enforces it). Amounts (bids, item prices, prior parameters,
/// features, context, and the mechanisms' own weights and boosts) lie in
/// [-max_amount, max_amount] (bids, prices and priors >= 0); rates (ctr, slot_ctr)
/// lie in [min_rate, 1]:
///
///     float:  max_amount = 2^32  ~ 4.3e9,   min_rate = 2^-31  ~ 4.7e-10
///     double: max_amount = 2^256 ~ 1.2e77,  min_rate = 2^-255 ~ 1.7e-77
///
/// i.e. 2^(max_exponent / 4) and 2^(min_exponent / 4). Why: every mechanism forms
/// products of at most four such factors (weight x bid x ctr x slot_ctr) and sums of
/// a few thousand of them, and divides by at most three rates (a weight, a ctr, a
/// slot factor); inside this range none of these overflows and no divisor underflows,
/// so no price can become Inf or NaN (Inf - Inf, 0 / 0). Small amounts need no lower
/// bound: a product that underflows rounds towards 0, and every price is kept in
/// [0, bid] against rounding. Values outside the range are rejected with input_error
/// naming the field, the index and the range; nothing is clamped. A slot factor above 1
/// is rejected too: slot_ctr x ctr is a click probability.
template <Scalar T>
struct SupportedRange {
    static constexpr T pow2(int e) {
        T x = 1;
        for (; e > 0; --e) x *= T(2);
        for (; e < 0; ++e) x /= T(2);
        return x;
    }
    static constexpr T max_amount = pow2(std::numeric_limits<T>::max_exponent / 4);
    static constexpr T min_rate = pow2(std::numeric_limits<T>::min_exponent / 4);
};

namespace detail {
/// True when every entry is finite. x * 0 is NaN exactly when x is Inf or NaN, so
/// one summing pass (which Eigen vectorises, unlike the early-exit allFinite())
/// decides it.
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& x) {
    using T = typename Derived::Scalar;
    return (x.derived().array() * T(0)).sum() == T(0);
}
/// `v` in %g notation ("4.29497e+09"), for messages.
inline std::string shortest(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}
/// "is 5e+10, outside the supported range [0, 4.29497e+09] of float (SupportedRange ...)".
template <Scalar T>
std::string outside_range(T v, T lo, T hi) {
    std::string s = "is ";
    s.append(shortest(v)).append(", outside the supported range [").append(shortest(lo));
    s.append(", ").append(shortest(hi)).append("] of ").append(sizeof(T) == 4 ? "float" : "double");
    return s.append(" (SupportedRange in core/auction.hpp)");
}
/// Throws input_error naming `field`, `index` and the range unless lo <= v <= hi (NaN fails).
template <Scalar T>
void require_in_range(T v, T lo, T hi, const char* field, Index index, Index auction = kNone) {
    require(std::isfinite(v), field, index, [&] { return "is not finite (" + shortest(v) + ")"; }, auction);
    require(v >= lo && v <= hi, field, index, [&] { return outside_range(v, lo, hi); }, auction);
}
/// True when every entry of `x` is finite and in [lo, hi], in one vectorised summing
/// pass: each entry adds max(lo - x, 0) + max(x - hi, 0) (> 0 outside the range) and
/// x * 0 (NaN for NaN and Inf, whatever max() does with a NaN), so the sum is 0 exactly
/// when every entry passes. (choice) Not min/maxCoeff: three passes (or, with
/// PropagateNaN, packet ops GCC 12 does not inline) made validation 25-35 % slower.
template <class Derived>
bool all_within(const Eigen::DenseBase<Derived>& x, typename Derived::Scalar lo, typename Derived::Scalar hi) {
    using T = typename Derived::Scalar;
    const auto v = x.derived().array();
    if (lo == -hi) return ((v.abs() - hi).max(T(0)) + v * T(0)).sum() == T(0);
    return ((lo - v).max(T(0)) + (v - hi).max(T(0)) + v * T(0)).sum() == T(0);
}
// Each check runs one vectorised pass over the field; only when it fails does a
// second loop find the first offending index for the message.
/// Every entry finite and in [lo, hi].
template <class Derived>
void require_all_in_range(const Eigen::DenseBase<Derived>& v, typename Derived::Scalar lo,
                          typename Derived::Scalar hi, const char* field, Index auction) {
    if (all_within(v, lo, hi)) [[likely]]
        return;
    const auto& m = v.derived();
    for (Index i = 0; i < m.rows(); ++i)
        for (Index j = 0; j < m.cols(); ++j) require_in_range(m(i, j), lo, hi, field, i, auction);
}
/// Amounts: finite, |v| <= max_amount (and >= 0 when `non_negative`).
template <Scalar T>
void require_amounts(const VectorMap<T>& v, const char* field, Index auction, bool non_negative) {
    constexpr T hi = SupportedRange<T>::max_amount;
    require_all_in_range(v, non_negative ? T(0) : -hi, hi, field, auction);
}
/// Probabilities in [0, 1] (cvr).
template <Scalar T>
void require_probabilities(const VectorMap<T>& v, const char* field, Index auction) {
    if (all_within(v, T(0), T(1))) [[likely]]
        return;
    for (Index i = 0; i < v.size(); ++i) {
        require(std::isfinite(v[i]), field, i, "is not finite", auction);
        require(v[i] >= T(0), field, i, "is negative", auction);
        require(v[i] <= T(1), field, i, "exceeds 1", auction);
    }
}
/// Rates (ctr, slot_ctr): in [min_rate, 1]; a positive rate below min_rate names the range.
template <Scalar T>
void require_rates(const VectorMap<T>& v, const char* field, Index auction) {
    if (all_within(v, SupportedRange<T>::min_rate, T(1))) [[likely]]
        return;
    for (Index i = 0; i < v.size(); ++i) {
        require(std::isfinite(v[i]), field, i, "is not finite", auction);
        require(v[i] > T(0), field, i, "is not positive", auction);
        require_in_range(v[i], SupportedRange<T>::min_rate, T(1), field, i, auction);
    }
}
}  // namespace detail

/// Checks every rule of SPEC §1 and throws `input_error` naming the field and index:
/// at least one candidate; bids finite and in [0, max_amount], one per candidate in an
/// ordinary auction; ctr in [min_rate, 1]; cvr in [0, 1]; prices in [0, max_amount];
/// features and context finite with |x| <= max_amount; optional fields either empty or
/// sized N; slot CTRs in [min_rate, 1] and non-increasing, K >= 1; owners in range and
/// distinct; priors valid with parameters <= max_amount (SupportedRange above).
/// K > N is allowed: only N slots are filled and the rest stay empty (kNone).
/// `auction` is the index within a batch, reported in the message.
template <Scalar T>
void validate(const AuctionView<T>& a, Index auction = kNone) {
    using detail::require;
    const Index n = a.num_candidates();
    const Index m = a.num_bidders();
    require(n > 0, "ctr", kNone, "the auction has no candidates", auction);
    detail::require_rates(a.ctr, "ctr", auction);
    if (!a.joint())
        require(m == n, "bids", kNone, [&] {
            return "has " + std::to_string(m) + " entries but the auction has " + std::to_string(n) +
                   " candidates (one bidder per candidate in an ordinary auction)";
        }, auction);
    require(m > 0, "bids", kNone, "is empty", auction);
    detail::require_amounts(a.bids, "bids", auction, /*non_negative=*/true);
    if (a.cvr.size() != 0) {
        require(a.cvr.size() == n, "cvr", kNone, "must be empty or have one entry per candidate", auction);
        detail::require_probabilities(a.cvr, "cvr", auction);
    }
    if (a.price.size() != 0) {
        require(a.price.size() == n, "price", kNone, "must be empty or have one entry per candidate", auction);
        detail::require_amounts(a.price, "price", auction, /*non_negative=*/true);
    }
    if (a.features.size() != 0) {
        require(a.features.rows() == n, "features", kNone, [&] {
            return "has " + std::to_string(a.features.rows()) + " rows but the auction has " +
                   std::to_string(n) + " candidates";
        }, auction);
        constexpr T hi = SupportedRange<T>::max_amount;
        detail::require_all_in_range(a.features, -hi, hi, "features", auction);  // index: the row
    }
    detail::require_amounts(a.context, "context", auction, /*non_negative=*/false);
    const Index k = a.num_slots();
    require(k > 0, "slot_ctr", kNone, "is empty (at least one slot is needed)", auction);
    detail::require_rates(a.slot_ctr, "slot_ctr", auction);
    for (Index s = 1; s < k; ++s)
        require(a.slot_ctr[s] <= a.slot_ctr[s - 1], "slot_ctr", s,
                "is larger than the slot above it (slot CTRs must be non-increasing)", auction);
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
            const T top = d.family == ValueFamily::uniform ? d.hi : d.mean;
            require(top <= SupportedRange<T>::max_amount, "priors", j, [&] {
                return "has a parameter that " + detail::outside_range(top, T(0), SupportedRange<T>::max_amount);
            }, auction);
        }
    }
}

}  // namespace diffauction
