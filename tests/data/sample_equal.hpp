// tests/data/sample_equal.hpp - exact (bit-for-bit) comparison of two Samples.
#pragma once

#include <cstring>

#include <diffauction/core/sample.hpp>

namespace diffauction::test {

template <class M>
bool same_bits(const M& x, const M& y) {
    return x.rows() == y.rows() && x.cols() == y.cols() &&
           (x.size() == 0 ||
            std::memcmp(x.data(), y.data(), static_cast<std::size_t>(x.size()) * sizeof(*x.data())) == 0);
}

/// True when every field of the two samples is identical, bit for bit.
template <Scalar T>
bool same_sample(const Sample<T>& x, const Sample<T>& y) {
    const Auction<T>& a = x.auction;
    const Auction<T>& b = y.auction;
    bool ok = same_bits(a.bids, b.bids) && same_bits(a.features, b.features) && same_bits(a.context, b.context) &&
              same_bits(a.ctr, b.ctr) && same_bits(a.cvr, b.cvr) && same_bits(a.price, b.price) &&
              same_bits(a.slot_ctr, b.slot_ctr) && a.owners.size() == b.owners.size() &&
              a.priors.size() == b.priors.size();
    for (std::size_t i = 0; ok && i < a.owners.size(); ++i)
        ok = a.owners[i].first == b.owners[i].first && a.owners[i].second == b.owners[i].second;
    for (std::size_t i = 0; ok && i < a.priors.size(); ++i)
        ok = a.priors[i].family == b.priors[i].family && a.priors[i].lo == b.priors[i].lo &&
             a.priors[i].hi == b.priors[i].hi && a.priors[i].mean == b.priors[i].mean;
    return ok && same_bits(x.truth.values, y.truth.values) && same_bits(x.truth.cvr, y.truth.cvr) &&
           x.log.list == y.log.list && same_bits(x.log.clicks, y.log.clicks) &&
           same_bits(x.log.conversions, y.log.conversions) && same_bits(x.log.gmv, y.log.gmv) &&
           same_bits(x.log.click_prob, y.log.click_prob) && same_bits(x.log.metrics, y.log.metrics);
}

}  // namespace diffauction::test
