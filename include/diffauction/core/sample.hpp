// diffauction/core/sample.hpp - an auction together with what only a simulator
// or a log knows: true values and conversion rates, and the logged outcome.
// The synthetic market produces these; metrics and trainers consume them.
#pragma once

#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/error.hpp"

namespace diffauction {

/// Ground truth of one auction (never visible to a mechanism).
template <Scalar T>
struct Truth {
    VectorX<T> values;  ///< M true per-click values (truthful bids equal these)
    VectorX<T> cvr;     ///< N true conversion rates (empty when unknown)
};

/// What a logging mechanism showed and what happened (empty when not logged).
template <Scalar T>
struct Log {
    std::vector<Index> list;   ///< the shown list, slot by slot
    VectorX<T> clicks;         ///< per slot: realised clicks (0/1)
    VectorX<T> conversions;    ///< per slot: realised conversions (0/1)
    VectorX<T> gmv;            ///< per slot: realised GMV
    VectorX<T> click_prob;     ///< per slot: true expected clicks of the shown list
    MatrixX<T> metrics;        ///< N x L per-candidate metric values (training targets)
};

template <Scalar T>
struct Sample {
    Auction<T> auction;
    Truth<T> truth;
    Log<T> log;
};

namespace detail {
/// `count` samples, element t = make(t): the loop behind every indexed generator.
template <class Make>
auto generate_indexed(Index count, Make&& make) {
    require(count >= 0, "count", kNone, "must be >= 0");
    std::vector<decltype(make(Index{0}))> out;
    out.reserve(static_cast<std::size_t>(count));
    for (Index t = 0; t < count; ++t) out.push_back(make(t));
    return out;
}
}  // namespace detail

}  // namespace diffauction
