// diffauction/mechanisms/baselines/gsp.hpp - generalized second price with squashing
// (Lahaie & Pennock 2007), SPEC §3.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "diffauction/mechanisms/mechanism.hpp"

namespace diffauction {

/// GSP with squashing exponent sigma: rank by b_i * ctr_i^sigma; the ad in slot k
/// pays score_{k+1} / ctr_i^sigma per click (0 when nobody is ranked below it).
/// sigma = 1 is classic eCPM GSP, sigma = 0 ranks by bid alone. (choice) sigma is
/// limited to [0, 2] (input_error "sigma"): then ctr^sigma >= min_rate^2 stays a normal
/// number over the whole SupportedRange and no price divides by an underflowed zero. Click probability
/// of the ad in slot k is slot_ctr[k] * ctr_i. Ordinary auctions only.
/// K > N: only N slots are filled.
template <Scalar T>
class Gsp {
public:
    using scalar_type = T;
    struct Workspace {
        std::vector<T> score;
        std::vector<Index> order;
    };

    explicit Gsp(T sigma = T(1)) : sigma_(sigma) {
        detail::require(sigma >= T(0) && sigma <= T(2), "sigma", kNone, "must be in [0, 2]");
    }
    T sigma() const { return sigma_; }

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        validate(a);
        detail::require(!a.joint(), "owners", kNone, "GSP takes ordinary auctions, not joint ones");
        const Index n = a.num_candidates(), k = a.num_slots();
        ws.score.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) ws.score[static_cast<std::size_t>(i)] = a.bids[i] * squash(a.ctr[i]);
        // Slots and prices read only the first K + 1 ranks.
        detail::rank_by_score<T>(ws.score, ws.order, static_cast<std::size_t>(k) + 1);
        out.reset(k, n);
        const Index shown = std::min(k, n);
        for (Index s = 0; s < shown; ++s) {
            const Index i = ws.order[static_cast<std::size_t>(s)];
            const T next = s + 1 < n ? ws.score[static_cast<std::size_t>(ws.order[static_cast<std::size_t>(s + 1)])] : T(0);
            out.slots[static_cast<std::size_t>(s)] = i;
            // next <= own score, so next / ctr^sigma <= bid; min() only absorbs the
            // last-ulp rounding of (b * c) / c, it never binds by more than one ulp.
            out.price[static_cast<std::size_t>(i)] = std::min(next / squash(a.ctr[i]), a.bids[i]);
            out.click_prob[static_cast<std::size_t>(i)] = a.slot_ctr[s] * a.ctr[i];
        }
    }

private:
    T squash(T ctr) const { return sigma_ == T(1) ? ctr : std::pow(ctr, sigma_); }
    T sigma_;
};

}  // namespace diffauction
