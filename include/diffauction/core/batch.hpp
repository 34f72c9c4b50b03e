// diffauction/core/batch.hpp - a ragged batch: the candidates of many auctions
// stacked row-wise with per-auction offsets (SPEC §1), so auctions of different
// N share one batch without padding. Dense layers run once over `features()`;
// set operations run per auction on the row range [begin(b), end(b)).
#pragma once

#include <new>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/auction.hpp"

namespace diffauction {

namespace detail {
/// Checks segment offsets of a ragged batch: B + 1 entries, starting at 0,
/// non-decreasing, ending at `total` rows. Shared by every set operation.
inline void check_segment_offsets(std::span<const Index> offsets, Index total) {
    require(!offsets.empty(), "offsets", kNone, "needs B + 1 entries (at least {0})");
    require(offsets.front() == 0, "offsets", 0, "must start at 0");
    for (std::size_t b = 1; b < offsets.size(); ++b)
        require(offsets[b] >= offsets[b - 1], "offsets", static_cast<Index>(b), "must be non-decreasing");
    require(offsets.back() == total, "offsets", static_cast<Index>(offsets.size()) - 1,
            "must end at the number of rows");
}

/// A ragged column: the entries of every auction stacked, with offsets[b]..offsets[b+1].
template <class V>
struct Stacked {
    std::vector<V> data;
    std::vector<Index> offsets{0};

    template <class Range>
    void append(const Range& r) {
        for (Index i = 0; i < static_cast<Index>(r.size()); ++i) data.push_back(r[static_cast<std::size_t>(i)]);
        offsets.push_back(static_cast<Index>(data.size()));
    }
    /// Appends entry b of `from` (another Stacked).
    void append_from(const Stacked& from, Index b) {
        data.insert(data.end(), from.at(b), from.at(b) + from.len(b));
        offsets.push_back(static_cast<Index>(data.size()));
    }
    /// Empties the column, keeping its capacity.
    void clear() {
        data.clear();
        offsets.assign(1, 0);
    }
    const V* at(Index b) const { return data.data() + offsets[static_cast<std::size_t>(b)]; }
    Index len(Index b) const {
        return offsets[static_cast<std::size_t>(b) + 1] - offsets[static_cast<std::size_t>(b)];
    }
};
}  // namespace detail

template <Scalar T>
class Batch {
public:
    Batch() = default;
    /// Stacks `auctions` (each validated); all must share the feature width D.
    explicit Batch(std::span<const Auction<T>> auctions) {
        for (const auto& a : auctions) push_back(a);
    }

    /// Number of auctions.
    Index size() const { return static_cast<Index>(ctr_.offsets.size()) - 1; }
    bool empty() const { return size() == 0; }
    Index total_candidates() const { return ctr_.offsets.back(); }
    /// Row range [begin(b), end(b)) of auction b in the stacked candidate matrices.
    Index begin(Index b) const { return ctr_.offsets[static_cast<std::size_t>(b)]; }
    Index end(Index b) const { return ctr_.offsets[static_cast<std::size_t>(b) + 1]; }
    /// The candidate-row offsets (size() + 1 entries): what set operations
    /// (DeepSet, NeuralSort, attention) take to find each auction's rows.
    std::span<const Index> offsets() const { return ctr_.offsets; }
    /// Feature columns D, shared by every auction of the batch.
    Index feature_dim() const { return dim_; }
    /// All candidates' features stacked (total_candidates x D), a view of the batch's storage.
    MatrixMap<T> features() const { return MatrixMap<T>(features_.data(), total_candidates(), dim_); }

    /// Validates and appends one auction; errors name the auction's index in the batch.
    void push_back(const AuctionView<T>& a) {
        validate(a, size());
        if (size() > 0)
            detail::require(a.features.cols() == dim_, "features", kNone, [&] {
                return "has " + std::to_string(a.features.cols()) + " columns but the batch has " +
                       std::to_string(dim_);
            }, size());
        dim_ = a.features.cols();
        // Row-major rows are contiguous: append them to amortised (vector) storage
        // instead of reallocating and copying the whole matrix on every push.
        features_.insert(features_.end(), a.features.data(), a.features.data() + a.features.size());
        bids_.append(a.bids);
        ctr_.append(a.ctr);
        cvr_.append(a.cvr);
        price_.append(a.price);
        slot_ctr_.append(a.slot_ctr);
        context_.append(a.context);
        owners_.append(a.owners);
        priors_.append(a.priors);
    }

    /// Empties the batch, keeping its storage (refilling it allocates nothing once
    /// it has held as much).
    void clear() {
        features_.clear();
        dim_ = 0;
        for (auto* s : {&bids_, &ctr_, &cvr_, &price_, &slot_ctr_, &context_}) s->clear();
        owners_.clear();
        priors_.clear();
    }

    /// Makes this batch the auctions `items` of `from`, in that order (repeats
    /// allowed), reusing this batch's storage. The auctions are copied without being
    /// validated again: `from` validated them when they were pushed. Throws
    /// input_error ("items") for an index outside [0, from.size()); `from` must not
    /// be this batch.
    void assign(const Batch& from, std::span<const Index> items) {
        detail::require(&from != this, "batch", kNone, "cannot be assigned from itself");
        for (std::size_t q = 0; q < items.size(); ++q)
            detail::require(items[q] >= 0 && items[q] < from.size(), "items", static_cast<Index>(q),
                            "is out of range");
        clear();
        dim_ = from.dim_;
        for (const Index b : items) {
            features_.insert(features_.end(), from.features_.data() + from.begin(b) * dim_,
                             from.features_.data() + from.end(b) * dim_);
            bids_.append_from(from.bids_, b);
            ctr_.append_from(from.ctr_, b);
            cvr_.append_from(from.cvr_, b);
            price_.append_from(from.price_, b);
            slot_ctr_.append_from(from.slot_ctr_, b);
            context_.append_from(from.context_, b);
            owners_.append_from(from.owners_, b);
            priors_.append_from(from.priors_, b);
        }
    }

    /// View of auction b, without copying. Bidder indices are local to the auction.
    AuctionView<T> auction(Index b) const {
        detail::require(b >= 0 && b < size(), "batch", b, "auction index is out of range");
        AuctionView<T> v;
        // Eigen::Map is re-seated with placement new (the documented idiom).
        new (&v.bids) VectorMap<T>(bids_.at(b), bids_.len(b));
        new (&v.ctr) VectorMap<T>(ctr_.at(b), ctr_.len(b));
        new (&v.cvr) VectorMap<T>(cvr_.at(b), cvr_.len(b));
        new (&v.price) VectorMap<T>(price_.at(b), price_.len(b));
        new (&v.slot_ctr) VectorMap<T>(slot_ctr_.at(b), slot_ctr_.len(b));
        new (&v.context) VectorMap<T>(context_.at(b), context_.len(b));
        const Index d = dim_;
        new (&v.features) MatrixMap<T>(features_.data() + begin(b) * d, d == 0 ? 0 : end(b) - begin(b), d);
        v.owners = std::span<const Owners>(owners_.at(b), static_cast<std::size_t>(owners_.len(b)));
        v.priors = std::span<const ValueDist<T>>(priors_.at(b), static_cast<std::size_t>(priors_.len(b)));
        return v;
    }

private:
    std::vector<T> features_;  ///< every auction's row-major N x D block, back to back
    Index dim_ = 0;
    detail::Stacked<T> bids_, ctr_, cvr_, price_, slot_ctr_, context_;
    detail::Stacked<Owners> owners_;
    detail::Stacked<ValueDist<T>> priors_;
};

}  // namespace diffauction
