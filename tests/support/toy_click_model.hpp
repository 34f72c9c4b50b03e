// tests/support/toy_click_model.hpp - a small hand-checkable list-wise click model
// with externalities, for the enumeration paths of VCG / WVCG / Myerson / JAMA.
#pragma once

#include <span>

#include <diffauction/core/auction.hpp>
#include <diffauction/click_models/click_model.hpp>

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

/// Three ads, two slots (bids 1.0, 0.6, 0.5; ctr 0.1 each; slot CTRs 1, 0.5); ads 0
/// and 1 share category 0 (features column 0), ad 2 is category 1.
inline Auction<double> toy_category_auction() {
    Auction<double> a;
    a.bids = Eigen::Vector3d(1.0, 0.6, 0.5);
    a.ctr = Eigen::Vector3d(0.1, 0.1, 0.1);
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    a.features.resize(3, 1);
    a.features << 0, 0, 1;
    return a;
}

static_assert(ListCtrModel<ToyCategoryCtr, float> && ListCtrModel<ToyCategoryCtr, double>);
static_assert(ListCtrModel<EnumeratedSeparableCtr, float> && ListCtrModel<EnumeratedSeparableCtr, double>);

}  // namespace diffauction::test
