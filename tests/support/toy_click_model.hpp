// tests/support/toy_click_model.hpp - a small hand-checkable list-wise click model
// with externalities, for the enumeration paths of VCG / WVCG / Myerson / JAMA.
#pragma once

#include <span>

#include <diffauction/core/auction.hpp>
#include <diffauction/core/click_model.hpp>

namespace diffauction::test {

/// Click probability of list[k] = slot_ctr[k] * ctr[list[k]] * factor^m, where m is
/// the number of ads above it in the list with the same category; the category is
/// features(i, 0), compared exactly (store small integers). Auctions without a
/// feature column have no categories (no externalities).
struct ToyCategoryCtr {
    double factor = 0.7;

    template <Scalar T>
    void list_ctr(const AuctionView<T>& a, std::span<const Index> list, std::span<T> out) const {
        const bool has_cat = a.features.cols() > 0;
        for (std::size_t k = 0; k < list.size(); ++k) {
            T p = a.slot_ctr[static_cast<Index>(k)] * a.ctr[list[k]];
            if (has_cat)
                for (std::size_t j = 0; j < k; ++j)
                    if (a.features(list[j], 0) == a.features(list[k], 0)) p *= static_cast<T>(factor);
            out[k] = p;
        }
    }
};

/// SeparableCtr under another name: forces the enumeration paths on the separable
/// model, so they can be compared with the closed forms.
struct EnumeratedSeparableCtr {
    template <Scalar T>
    void list_ctr(const AuctionView<T>& a, std::span<const Index> list, std::span<T> out) const {
        SeparableCtr{}.list_ctr(a, list, out);
    }
};

static_assert(ListCtrModel<ToyCategoryCtr, float> && ListCtrModel<ToyCategoryCtr, double>);
static_assert(ListCtrModel<EnumeratedSeparableCtr, float> && ListCtrModel<EnumeratedSeparableCtr, double>);

}  // namespace diffauction::test
