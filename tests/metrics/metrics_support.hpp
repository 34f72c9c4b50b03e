// tests/metrics/metrics_support.hpp - helpers shared by the metrics tests: random
// samples with truthful bids, a toy ground-truth click model, and a toy family of
// rank-by-bid mechanisms whose IC metrics can be worked out by hand.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include <diffauction/core/sample.hpp>
#include <diffauction/mechanisms/mechanism.hpp>

#include "support/random_auction.hpp"

namespace diffauction::test {

/// `count` random ordinary auctions (N in [1, max_n], K in [min_k, max_k], no
/// features) as Samples with truth.values = bids (truthful) and no truth.cvr.
template <Scalar T>
std::vector<Sample<T>> random_samples(std::uint64_t seed, int count, Index max_n, Index min_k, Index max_k) {
    Rng rng(seed);
    std::vector<Sample<T>> data(static_cast<std::size_t>(count));
    for (auto& s : data) {
        const Index n = 1 + rng.uniform_int(max_n);
        const Index k = min_k + rng.uniform_int(max_k - min_k + 1);
        s.auction = random_auction<T>(rng, n, k, 0);
        s.truth.values = s.auction.bids;
    }
    return data;
}

/// A ground truth that differs from the separable model: the ad in slot k gets
/// slot_ctr[k] * ctr[i] * (1 - 0.2 k) clicks.
struct DecayCtr {
    template <Scalar T>
    void list_ctr(const AuctionView<T>& a, std::span<const Index> list, std::span<T> out) const {
        for (std::size_t k = 0; k < list.size(); ++k)
            out[k] = a.slot_ctr[static_cast<Index>(k)] * a.ctr[list[k]] * (T(1) - T(0.2) * static_cast<T>(k));
    }
};

/// A click model that returns an impossible probability (for validation tests).
struct BrokenCtr {
    template <Scalar T>
    void list_ctr(const AuctionView<T>&, std::span<const Index> list, std::span<T> out) const {
        for (std::size_t k = 0; k < list.size(); ++k) out[k] = T(1.5);
    }
};

/// Rank by bid alone (ties to the lower index); the ad in slot k pays
/// d * next + f * (own bid - next) per click, next = the bid ranked below (0 if
/// none). d = 1, f = 0: GSP by bid; d = 1, f = 1: first price; d < 1, f = 0: a
/// discounted second price that is not IC for value maximisers.
template <Scalar T>
class ToyAuction {
public:
    using scalar_type = T;
    struct Workspace {
        std::vector<T> score;
        std::vector<Index> order;
    };
    ToyAuction(T d, T f) : d_(d), f_(f) {}

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        validate(a);
        const Index n = a.num_candidates(), k = a.num_slots();
        ws.score.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) ws.score[static_cast<std::size_t>(i)] = a.bids[i];
        detail::rank_by_score<T>(ws.score, ws.order);
        out.reset(k, n);
        for (Index s = 0; s < std::min(k, n); ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            const T next = s + 1 < n ? a.bids[ws.order[static_cast<std::size_t>(s + 1)]] : T(0);
            out.slots[static_cast<std::size_t>(s)] = i;
            out.price[static_cast<std::size_t>(i)] = d_ * next + f_ * (a.bids[i] - next);
            out.click_prob[static_cast<std::size_t>(i)] = a.slot_ctr[s] * a.ctr[i];
        }
    }

private:
    T d_, f_;
};

/// A joint-auction first-price toy: rank candidates by their bid (the sum of their
/// owners' bids, ties to the lower index); every owner of a shown candidate pays its
/// own bid per click, and its click probability sums slot_ctr * ctr over its shown
/// candidates.
template <Scalar T>
class JointFirstPrice {
public:
    using scalar_type = T;
    struct Workspace {
        std::vector<T> score;
        std::vector<Index> order;
    };

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        validate(a);
        const Index n = a.num_candidates(), k = a.num_slots();
        ws.score.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) ws.score[static_cast<std::size_t>(i)] = a.candidate_bid(i);
        detail::rank_by_score<T>(ws.score, ws.order);
        out.reset(k, a.num_bidders());
        for (Index s = 0; s < std::min(k, n); ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            out.slots[static_cast<std::size_t>(s)] = i;
            for (const Index j : {a.owner(i), a.co_owner(i)}) {
                if (j == kNone) continue;
                out.price[static_cast<std::size_t>(j)] = a.bids[j];
                out.click_prob[static_cast<std::size_t>(j)] += a.slot_ctr[s] * a.ctr[i];
            }
        }
    }
};

/// Values (4, 3, 1), ctr 1, slot CTRs (1, 0.5): the hand-worked IC example.
inline Sample<double> three_bidders_two_slots() {
    Sample<double> s;
    s.auction.bids = Eigen::Vector3d(4.0, 3.0, 1.0);
    s.auction.ctr = Eigen::Vector3d(1.0, 1.0, 1.0);
    s.auction.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    s.truth.values = s.auction.bids;
    return s;
}

}  // namespace diffauction::test
