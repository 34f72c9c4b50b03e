// diffauction/core/outcome.hpp - what every mechanism returns (SPEC §1).
#pragma once

#include <vector>

#include "diffauction/core/auction.hpp"

namespace diffauction {

/// The result of one auction, the library's one shared interface.
/// Fields are std::vectors so that a reused Outcome never reallocates once its
/// capacity covers the largest auction seen (serving allocates nothing per auction).
template <Scalar T>
struct Outcome {
    std::vector<Index> slots;  ///< K entries: the candidate in slot k, or kNone
    std::vector<T> price;      ///< per bidder: price per click (0 if not shown)
    std::vector<T> click_prob; ///< per bidder: click probability of what it was given

    /// Clears to an empty outcome sized for K slots and M bidders.
    void reset(Index num_slots, Index num_bidders) {
        slots.assign(static_cast<std::size_t>(num_slots), kNone);
        price.assign(static_cast<std::size_t>(num_bidders), T(0));
        click_prob.assign(static_cast<std::size_t>(num_bidders), T(0));
    }
    Index num_slots() const { return static_cast<Index>(slots.size()); }
    Index num_bidders() const { return static_cast<Index>(price.size()); }
    /// Number of filled slots (slots are filled from the top).
    Index num_shown() const {
        Index n = 0;
        for (Index s : slots) n += (s != kNone);
        return n;
    }
    /// Expected revenue: sum_j price[j] * click_prob[j].
    T revenue() const {
        T r = 0;
        for (std::size_t j = 0; j < price.size(); ++j) r += price[j] * click_prob[j];
        return r;
    }
    /// Expected payment of bidder j.
    T payment(Index j) const {
        return price[static_cast<std::size_t>(j)] * click_prob[static_cast<std::size_t>(j)];
    }
};

}  // namespace diffauction
