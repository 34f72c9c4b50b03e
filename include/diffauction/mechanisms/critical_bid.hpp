// diffauction/mechanisms/critical_bid.hpp - critical-bid (threshold) pricing over
// any mechanism's allocation: each shown ad pays, per click, the least bid at which
// it would still be shown as high as it is, the other bids fixed.
//
// For a mechanism whose allocation is monotone in the own bid this is the payment
// rule of Myerson's lemma per slot (the GSP price for rank-by-score mechanisms, DNA's
// price from its inverse). `CriticalBid` finds it by bisection on the wrapped
// mechanism's own serving outcome, so it prices any such allocation: EdgeNet's hard
// decoder, whose learned payment network it replaces (issue 4: "EdgeNet allocation,
// critical-bid prices" separates the quality of the allocation from what the payment
// network learned).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <new>
#include <utility>
#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/mechanisms/mechanism.hpp"

namespace diffauction {

/// Critical-bid pricing around mechanism `M` (ordinary auctions: bidder j owns
/// candidate j). Slots and click probabilities are M's at the submitted bids; the ad
/// in slot k pays the least bid b with which it is still in one of slots 0..k, the
/// other bids fixed.
///
/// Precondition (the wrapped mechanism's): "shown in slot k or higher" is monotone
/// in the own bid. It holds for rank-by-score mechanisms (GSP, uGSP, DNA) and for
/// EdgeNet's hard decoder (a higher bid never lowers an ad's logit at any step and
/// leaves the others' unchanged, so the earlier picks stay the same until the ad is
/// picked). Without it the result is still a bid at which the ad keeps its slot, so
/// IR holds, but not necessarily the least one.
///
/// (choice) Bisection on [0, b]: first b = 0 is tried (an ad shown whatever it bids
/// pays 0, exactly); otherwise the interval is halved until its width is at most
/// b · 2^-digits (at most `digits` + 1 reruns per shown ad, digits = 24 for float,
/// 53 for double) and the upper end, a bid at which the ad keeps its slot, is the
/// price: price <= bid exactly, and price - threshold <= b · 2^-digits. Each shown
/// ad costs that many runs of M, so this is an analysis and baseline tool, not a
/// serving path for large models. Allocation-free after warm-up when M is.
template <Mechanism M>
class CriticalBid {
public:
    using scalar_type = typename M::scalar_type;
    using T = scalar_type;
    struct Workspace {
        typename M::Workspace inner;
        Outcome<T> probe;
        std::vector<T> bids;
    };

    explicit CriticalBid(M mech) : mech_(std::move(mech)) {}
    const M& mechanism() const { return mech_; }

    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        mech_.run(a, out, ws.inner);  // validates the auction
        detail::require(!a.joint(), "owners", kNone, "critical-bid pricing takes ordinary auctions, not joint ones");
        const Index m = a.num_bidders();
        ws.bids.assign(a.bids.data(), a.bids.data() + m);
        AuctionView<T> v = a;
        new (&v.bids) VectorMap<T>(ws.bids.data(), m);  // re-seat the Eigen::Map (documented idiom)
        const T tol = std::ldexp(T(1), -std::numeric_limits<T>::digits);
        for (Index k = 0; k < out.num_slots(); ++k) {
            const Index j = out.slots[static_cast<std::size_t>(k)];
            if (j == kNone) continue;
            const auto ju = static_cast<std::size_t>(j);
            const T bid = a.bids[j];
            T price = 0;
            ws.bids[ju] = T(0);
            if (!keeps(v, j, k, ws)) {
                T lo = 0, hi = bid;  // loses at lo, keeps its slot at hi
                while (hi - lo > tol * bid) {
                    const T mid = lo + (hi - lo) / T(2);
                    if (mid <= lo || mid >= hi) break;  // no representable point between them
                    ws.bids[ju] = mid;
                    (keeps(v, j, k, ws) ? hi : lo) = mid;
                }
                price = hi;
            }
            ws.bids[ju] = bid;
            out.price[ju] = price;
        }
    }

private:
    // Whether bidder j is in one of slots 0..k when M runs on `v` (bids in ws.bids).
    bool keeps(const AuctionView<T>& v, Index j, Index k, Workspace& ws) const {
        mech_.run(v, ws.probe, ws.inner);
        for (Index s = 0; s <= k && s < ws.probe.num_slots(); ++s)
            if (ws.probe.slots[static_cast<std::size_t>(s)] == j) return true;
        return false;
    }
    M mech_;
};

}  // namespace diffauction
