// tests/support/mechanism_properties.hpp - shared property checks for mechanism
// tests (IR, monotone allocation, dominant-strategy IC) and random auctions with
// categories, priors and joint ownership.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include <diffauction/core/auction.hpp>
#include <diffauction/core/error.hpp>
#include <diffauction/core/rng.hpp>
#include <diffauction/mechanisms/mechanism.hpp>

#include "support/random_auction.hpp"

namespace diffauction::test {

/// Overwrites feature column 0 with integer categories 0..num_categories-1
/// (adds the column when the auction has none).
template <Scalar T>
void set_categories(Auction<T>& a, Rng& rng, Index num_categories) {
    if (a.features.cols() == 0) a.features.setZero(a.num_candidates(), 1);
    for (Index i = 0; i < a.num_candidates(); ++i)
        a.features(i, 0) = static_cast<T>(rng.uniform_int(num_categories));
}

/// One prior per bidder, mixing U[0,1], U[0.2,1.5] and Exp(mean 0.5).
template <Scalar T>
void set_mixed_priors(Auction<T>& a, Rng& rng) {
    a.priors.clear();
    for (Index j = 0; j < a.num_bidders(); ++j) {
        const Index f = rng.uniform_int(3);
        a.priors.push_back(f == 0   ? ValueDist<T>::uniform(0, 1)
                           : f == 1 ? ValueDist<T>::uniform(T(0.2), T(1.5))
                                    : ValueDist<T>::exponential(T(0.5)));
    }
}

/// A random joint auction: `brands` brand bidders 0..brands-1 and `stores` store
/// bidders after them; each (brand, store) pair is related with probability
/// `density` (at least one pair always is) and forms a bundle; with probability
/// `single` a bidder also gets a single-owner candidate. Bids U[0,1) (quarters when
/// `ties`), ctr U[0.01, 0.2], one category column (3 categories), slot CTRs
/// decreasing from 1.
template <Scalar T>
Auction<T> random_joint_auction(Rng& rng, Index brands, Index stores, Index k, double density = 0.6,
                                double single = 0.1, bool ties = false) {
    Auction<T> a;
    const Index m = brands + stores;
    a.bids.resize(m);
    for (Index j = 0; j < m; ++j)
        a.bids[j] = static_cast<T>(ties ? std::floor(rng.uniform() * 4) / 4 : rng.uniform());
    for (Index b = 0; b < brands; ++b)
        for (Index s = 0; s < stores; ++s)
            if (rng.bernoulli(density)) a.owners.push_back({b, brands + s});
    if (a.owners.empty()) a.owners.push_back({rng.uniform_int(brands), brands + rng.uniform_int(stores)});
    for (Index j = 0; j < m; ++j)
        if (rng.bernoulli(single)) a.owners.push_back({j, kNone});
    const auto n = static_cast<Index>(a.owners.size());
    a.ctr.resize(n);
    a.features.resize(n, 1);
    for (Index i = 0; i < n; ++i) {
        a.ctr[i] = static_cast<T>(rng.uniform(0.01, 0.2));
        a.features(i, 0) = static_cast<T>(rng.uniform_int(3));
    }
    a.slot_ctr.resize(k);
    T beta = 1;
    for (Index s = 0; s < k; ++s) {
        a.slot_ctr[s] = beta;
        beta *= static_cast<T>(rng.uniform(0.5, 0.95));
    }
    return a;
}

/// The field named by the input_error that `f` throws, or "(no error)".
inline std::string field_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const input_error& e) {
        return e.field();
    }
    return "(no error)";
}

/// The slot bidder j's candidate is shown in, or num_slots() when it is not shown
/// (below every slot).
template <Scalar T>
Index slot_of(const Outcome<T>& out, Index j) {
    for (Index s = 0; s < out.num_slots(); ++s)
        if (out.slots[static_cast<std::size_t>(s)] == j) return s;
    return out.num_slots();
}

/// IR: every bidder's price per click is at most its bid. Returns the first
/// violating bidder or kNone.
template <Scalar T>
Index first_ir_violation(const AuctionView<T>& a, const Outcome<T>& out) {
    for (Index j = 0; j < a.num_bidders(); ++j)
        if (!(out.price[static_cast<std::size_t>(j)] <= a.bids[j])) return j;
    return kNone;
}

/// Largest relative utility gain any bidder gets from a misreport c * b_j,
/// c in {0, 0.1, ..., 2.0}, when its value is its bid. Utility u = (v - price) *
/// click_prob; the gain is divided by max(v * slot_ctr[0], 1e-300), the largest
/// utility the bidder could have per unit ctr.
template <Mechanism M>
double max_ic_gain(const M& mech, const Auction<typename M::scalar_type>& truthful,
                   typename M::Workspace& ws) {
    using T = typename M::scalar_type;
    Outcome<T> out, dev;
    mech.run(truthful, out, ws);
    Auction<T> a = truthful;
    double worst = 0;
    for (Index j = 0; j < truthful.num_bidders(); ++j) {
        const double v = static_cast<double>(truthful.bids[j]);
        const double u = (v - out.price[static_cast<std::size_t>(j)]) * out.click_prob[static_cast<std::size_t>(j)];
        for (int c = 0; c <= 20; ++c) {
            a.bids[j] = static_cast<T>(v * c / 10.0);
            mech.run(a, dev, ws);
            const double ud = (v - dev.price[static_cast<std::size_t>(j)]) * dev.click_prob[static_cast<std::size_t>(j)];
            worst = std::max(worst, (ud - u) / std::max(v * static_cast<double>(truthful.slot_ctr[0]), 1e-300));
        }
        a.bids[j] = truthful.bids[j];
    }
    return worst;
}

/// Monotone allocation: raising bidder j's bid to each of `raised` (> b_j) never
/// lowers its click probability. Returns false on a violation.
template <Mechanism M>
bool monotone_in_own_bid(const M& mech, const Auction<typename M::scalar_type>& truthful, Index j,
                         std::initializer_list<double> factors, typename M::Workspace& ws) {
    using T = typename M::scalar_type;
    Outcome<T> out;
    Auction<T> a = truthful;
    mech.run(a, out, ws);
    T prev = out.click_prob[static_cast<std::size_t>(j)];
    const double b = static_cast<double>(truthful.bids[j]);
    for (const double f : factors) {
        a.bids[j] = static_cast<T>(b * f + (f - 1) * 0.05);  // also moves a zero bid up
        mech.run(a, out, ws);
        const T now = out.click_prob[static_cast<std::size_t>(j)];
        if (now < prev) return false;
        prev = now;
    }
    return true;
}

}  // namespace diffauction::test
