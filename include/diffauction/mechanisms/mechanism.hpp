// diffauction/mechanisms/mechanism.hpp - the one allocation/payment interface.
//
// A mechanism `M` over scalar `T` has a `Workspace` (scratch memory, reused
// across auctions by one thread) and a const `run(auction, outcome, workspace)`
// that validates the auction and writes the deterministic (serving) outcome.
// Mechanisms are immutable while serving: threads share one, each with its own
// Workspace and Outcome. After warm-up, `run` allocates nothing.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <limits>
#include <span>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/outcome.hpp"

namespace diffauction {

template <class M>
concept Mechanism = requires(const M& m, const AuctionView<typename M::scalar_type>& a,
                             Outcome<typename M::scalar_type>& out, typename M::Workspace& ws) {
    typename M::scalar_type;
    requires Scalar<typename M::scalar_type>;
    { m.run(a, out, ws) } -> std::same_as<void>;
};

/// Convenience: runs `m` once with a fresh workspace and returns the outcome.
template <Mechanism M>
Outcome<typename M::scalar_type> run(const M& m, const AuctionView<typename M::scalar_type>& a) {
    typename M::Workspace ws;
    Outcome<typename M::scalar_type> out;
    m.run(a, out, ws);
    return out;
}

namespace detail {
/// Fills `order` with candidate indices sorted by descending score; ties are
/// broken by the lower index, so outcomes are deterministic. With `top` < n only
/// the first `top` entries are sorted (a partial sort, O(n log top)); the rest
/// follow in unspecified order.
template <class T>
void rank_by_score(std::span<const T> score, std::vector<Index>& order,
                   std::size_t top = std::numeric_limits<std::size_t>::max()) {
    order.resize(score.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Index>(i);
    const auto before = [&](Index x, Index y) {
        const T sx = score[static_cast<std::size_t>(x)], sy = score[static_cast<std::size_t>(y)];
        return sx > sy || (sx == sy && x < y);
    };
    if (top < order.size())
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(), before);
    else
        std::sort(order.begin(), order.end(), before);
}
}  // namespace detail

}  // namespace diffauction
