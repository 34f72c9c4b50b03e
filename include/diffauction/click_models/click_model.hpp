// diffauction/click_models/click_model.hpp - list-wise CTR models: the click probability
// of every ad of an ordered list, given the whole list (externalities).
#pragma once

#include <concepts>
#include <span>

#include "diffauction/core/auction.hpp"

namespace diffauction {

/// A list-wise CTR model: `list_ctr(a, list, out)` writes into out[k] the click
/// probability of candidate list[k] shown in slot k, given every ad of the list.
/// list.size() <= a.num_slots(); implementations must not allocate.
template <class M, class T>
concept ListCtrModel = Scalar<T> && requires(const M& m, const AuctionView<T>& a,
                                             std::span<const Index> list, std::span<T> out) {
    { m.list_ctr(a, list, out) } -> std::same_as<void>;
};

/// The separable model: click probability = slot_ctr[k] * ctr[i], no externalities.
struct SeparableCtr {
    template <Scalar T>
    void list_ctr(const AuctionView<T>& a, std::span<const Index> list, std::span<T> out) const {
        for (std::size_t k = 0; k < list.size(); ++k)
            out[k] = a.slot_ctr[static_cast<Index>(k)] * a.ctr[list[k]];
    }
};

}  // namespace diffauction
