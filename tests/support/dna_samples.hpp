// tests/support/dna_samples.hpp - what the DNA tests share: the small gradient-check
// configuration and random samples with metric columns.
#pragma once

#include <diffauction/core/batch.hpp>
#include <diffauction/core/rng.hpp>
#include <diffauction/core/sample.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>

#include <vector>

#include "support/random_auction.hpp"

namespace diffauction::test {

/// The gradient-check sizes of the brief: D = 3, φ₁ {6, 4}, φ₂ {3}, Q = 2, Z = 3.
inline DnaConfig small_dna_config() {
    DnaConfig c;
    c.feature_dim = 3;
    c.phi1 = {6, 4};
    c.phi2 = {3};
    c.groups = 2;
    c.units = 3;
    return c;
}

/// A sample around test::random_auction: truthful values = bids, bids scaled by
/// `bid_scale`, and N x 4 positive metric columns.
template <Scalar T>
Sample<T> random_sample(Rng& rng, Index n, Index k, Index d, double bid_scale = 1.0) {
    Sample<T> s;
    s.auction = random_auction<T>(rng, n, k, d);
    s.auction.bids *= static_cast<T>(bid_scale);
    s.truth.values = s.auction.bids;
    s.log.metrics.resize(n, 4);
    for (Index i = 0; i < s.log.metrics.size(); ++i) s.log.metrics.data()[i] = static_cast<T>(rng.uniform(0.01, 1.0));
    return s;
}

/// The auctions `items` of `samples` as a Batch.
template <Scalar T>
Batch<T> batch_of(const std::vector<Sample<T>>& samples, const std::vector<Index>& items) {
    Batch<T> b;
    for (const Index i : items) b.push_back(samples[static_cast<std::size_t>(i)].auction);
    return b;
}

}  // namespace diffauction::test
