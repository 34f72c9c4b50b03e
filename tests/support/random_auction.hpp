// tests/support/random_auction.hpp - random auctions for property tests.
#pragma once

#include <diffauction/core/auction.hpp>
#include <diffauction/core/rng.hpp>

namespace diffauction::test {

/// A random ordinary auction: n candidates, k slots, bids U[0, 1) (with ties when
/// `ties`), ctr U[0.01, 0.2], cvr U[0, 0.3], price U[1, 100], d feature columns,
/// strictly decreasing slot CTRs starting at 1.
template <Scalar T>
Auction<T> random_auction(Rng& rng, Index n, Index k, Index d = 4, bool ties = false) {
    Auction<T> a;
    a.bids.resize(n);
    a.ctr.resize(n);
    a.cvr.resize(n);
    a.price.resize(n);
    a.features.resize(n, d);
    for (Index i = 0; i < n; ++i) {
        a.bids[i] = static_cast<T>(ties ? std::floor(rng.uniform() * 4) / 4 : rng.uniform());
        a.ctr[i] = static_cast<T>(rng.uniform(0.01, 0.2));
        a.cvr[i] = static_cast<T>(rng.uniform(0.0, 0.3));
        a.price[i] = static_cast<T>(rng.uniform(1.0, 100.0));
        for (Index j = 0; j < d; ++j) a.features(i, j) = static_cast<T>(rng.normal());
    }
    a.slot_ctr.resize(k);
    T beta = 1;
    for (Index s = 0; s < k; ++s) {
        a.slot_ctr[s] = beta;
        beta *= static_cast<T>(rng.uniform(0.5, 0.95));
    }
    return a;
}

}  // namespace diffauction::test
