// diffauction/metrics/business.hpp - business metrics of SPEC §5: the expected
// clicks, conversions, GMV, revenue and social welfare of one outcome under a
// ground-truth click model, and their accumulation over a data set into RPM, CTR,
// CVR, GPM, SWPM and SWMR (with standard errors for Monte-Carlo checks).
//
// (choice) An *impression* is a page view, i.e. one auction, whatever the number
// of ads it shows: RPM = 1000 * revenue / auctions, CTR = expected clicks per
// page view, GPM and SWPM likewise per thousand page views. `ads_shown` is
// reported too, so per-ad rates are one division away.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/click_models/click_model.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/core/sample.hpp"

namespace diffauction {

/// Expected per-auction quantities of one outcome under the ground truth.
template <Scalar T>
struct AuctionMetrics {
    T clicks = 0;       ///< sum of the true click probabilities of the shown list
    T conversions = 0;  ///< sum over shown ads of true clicks * cvr
    T gmv = 0;          ///< sum over shown ads of true clicks * cvr * item price
    T revenue = 0;      ///< sum_j price_j * true clicks of bidder j's ads
    T welfare = 0;      ///< sum_j truth.values_j * true clicks of bidder j's ads
    Index shown = 0;    ///< number of ads shown
    bool has_cvr = true;         ///< false: neither truth.cvr nor auction.cvr was given
    bool has_item_price = true;  ///< false: auction.price was empty
};

/// Scratch memory of `auction_metrics`, reused across auctions (no allocation
/// once it has seen the largest auction).
template <Scalar T>
struct BusinessWorkspace {
    std::vector<Index> list;         ///< the shown list, slot by slot
    std::vector<T> list_clicks;      ///< true click probability per shown slot
    std::vector<T> bidder_clicks;    ///< true clicks per bidder
};

/// Checks a sample's ground truth against its auction: `truth.values` has one
/// finite, non-negative entry per bidder; `truth.cvr` is empty or has one entry in
/// [0, 1] per candidate. Errors name the field ("truth.values", "truth.cvr") and
/// carry `sample` as the auction index.
template <Scalar T>
void validate_truth(const AuctionView<T>& a, const Truth<T>& truth, Index sample = kNone) {
    using detail::require;
    const Index m = a.num_bidders(), n = a.num_candidates();
    require(truth.values.size() == m, "truth.values", kNone, [&] {
        return "has " + std::to_string(truth.values.size()) + " entries but the auction has " +
               std::to_string(m) + " bidders";
    }, sample);
    for (Index j = 0; j < m; ++j) {
        require(std::isfinite(truth.values[j]), "truth.values", j, "is not finite", sample);
        require(truth.values[j] >= T(0), "truth.values", j, "is negative", sample);
    }
    if (truth.cvr.size() != 0) {
        require(truth.cvr.size() == n, "truth.cvr", kNone, [&] {
            return "has " + std::to_string(truth.cvr.size()) + " entries but the auction has " +
                   std::to_string(n) + " candidates (it must be empty or have one per candidate)";
        }, sample);
        for (Index i = 0; i < n; ++i)
            require(std::isfinite(truth.cvr[i]) && truth.cvr[i] >= T(0) && truth.cvr[i] <= T(1),
                    "truth.cvr", i, "is not in [0, 1]", sample);
    }
}

/// Validates a whole sample: its auction (`validate`) and its ground truth.
template <Scalar T>
void validate_sample(const Sample<T>& s, Index sample = kNone) {
    validate(s.auction.view(), sample);
    validate_truth(s.auction.view(), s.truth, sample);
}

/// Expected business quantities of outcome `out` of auction `a`. True clicks come
/// from `click_model` (the ground-truth list-wise model; `SeparableCtr` when no
/// other truth exists) applied to the shown list, never from the mechanism's own
/// `click_prob`. In a joint auction a bundle's clicks count for both owners.
/// Conversion rates: `truth.cvr`, or (choice) the auction's predicted cvr when
/// truth.cvr is empty; with neither, conversions and GMV are 0 and `has_cvr` is
/// false (the accumulator counts such auctions). The outcome must fill its slots
/// from the top (no shown ad below an empty slot). Allocation-free after warm-up.
template <Scalar T, ListCtrModel<T> Model>
AuctionMetrics<T> auction_metrics(const AuctionView<T>& a, const Truth<T>& truth,
                                  const Outcome<T>& out, const Model& click_model,
                                  BusinessWorkspace<T>& ws, Index sample = kNone) {
    // Checks written as `if (...) throw` so that nothing is built (allocated) when they pass.
    const Index n = a.num_candidates(), m = a.num_bidders(), k = a.num_slots();
    if (truth.values.size() != m)
        throw input_error("truth.values", kNone,
                          "has " + std::to_string(truth.values.size()) + " entries but the auction has " +
                              std::to_string(m) + " bidders",
                          sample);
    if (out.num_slots() != k)
        throw input_error("outcome.slots", kNone, "does not have one entry per slot", sample);
    if (out.num_bidders() != m || static_cast<Index>(out.click_prob.size()) != m)
        throw input_error("outcome.price", kNone, "does not have one entry per bidder", sample);

    ws.list.clear();
    for (Index s = 0; s < k; ++s) {
        const Index i = out.slots[static_cast<std::size_t>(s)];
        if (i == kNone) continue;
        if (i < 0 || i >= n) throw input_error("outcome.slots", s, "is not a candidate index", sample);
        if (static_cast<Index>(ws.list.size()) != s)
            throw input_error("outcome.slots", s, "follows an empty slot (slots must be filled from the top)",
                              sample);
        ws.list.push_back(i);
    }
    const std::size_t shown = ws.list.size();
    ws.list_clicks.assign(shown, T(0));
    click_model.list_ctr(a, std::span<const Index>(ws.list), std::span<T>(ws.list_clicks));

    const bool truth_cvr = truth.cvr.size() == n;
    AuctionMetrics<T> r;
    r.shown = static_cast<Index>(shown);
    r.has_cvr = truth_cvr || a.cvr.size() == n;
    r.has_item_price = a.price.size() == n;
    ws.bidder_clicks.assign(static_cast<std::size_t>(m), T(0));
    for (std::size_t s = 0; s < shown; ++s) {
        const Index i = ws.list[s];
        const T c = ws.list_clicks[s];
        if (!(std::isfinite(c) && c >= T(0) && c <= T(1)))
            throw input_error("click_model", static_cast<Index>(s),
                              "returned a click probability outside [0, 1]", sample);
        r.clicks += c;
        if (r.has_cvr) {
            const T conv = c * (truth_cvr ? truth.cvr[i] : a.cvr[i]);
            r.conversions += conv;
            if (r.has_item_price) r.gmv += conv * a.price[i];
        }
        ws.bidder_clicks[static_cast<std::size_t>(a.owner(i))] += c;
        if (const Index co = a.co_owner(i); co != kNone) ws.bidder_clicks[static_cast<std::size_t>(co)] += c;
    }
    for (Index j = 0; j < m; ++j) {
        const T c = ws.bidder_clicks[static_cast<std::size_t>(j)];
        r.revenue += out.price[static_cast<std::size_t>(j)] * c;
        r.welfare += truth.values[j] * c;
    }
    return r;
}

/// Convenience overload taking a `Sample`.
template <Scalar T, ListCtrModel<T> Model>
AuctionMetrics<T> auction_metrics(const Sample<T>& s, const Outcome<T>& out, const Model& click_model,
                                  BusinessWorkspace<T>& ws, Index sample = kNone) {
    return auction_metrics(s.auction.view(), s.truth, out, click_model, ws, sample);
}

/// Data-set business metrics. Rates are per impression = per auction (see the top
/// of this header). Standard errors are those of the mean over auctions (sample
/// standard deviation / sqrt(n)); NaN with fewer than two auctions.
struct BusinessMetrics {
    Index impressions = 0;                  ///< auctions (page views)
    Index ads_shown = 0;                    ///< total ads shown
    Index auctions_without_cvr = 0;         ///< auctions that had no cvr at all (0 conversions)
    Index auctions_without_item_price = 0;  ///< auctions that had no item price (0 GMV)
    double revenue = 0, clicks = 0, conversions = 0, gmv = 0, welfare = 0;  ///< totals
    double rpm = 0;   ///< 1000 * revenue / impressions
    double ctr = 0;   ///< clicks / impressions
    double cvr = 0;   ///< conversions / clicks (NaN when there were no clicks)
    double gpm = 0;   ///< 1000 * GMV / impressions
    double swpm = 0;  ///< 1000 * social welfare / impressions
    std::optional<double> swmr;  ///< swpm / reference SWPM (VCG's), when one was given
    double revenue_mean = 0;     ///< mean expected revenue per auction
    double revenue_se = 0;       ///< its standard error
    double rpm_se = 0, ctr_se = 0, gpm_se = 0, swpm_se = 0;
};

namespace detail {
/// Welford's running mean and variance.
struct RunningMean {
    Index n = 0;
    double mean = 0;
    double m2 = 0;
    void add(double x) {
        ++n;
        const double d = x - mean;
        mean += d / static_cast<double>(n);
        m2 += d * (x - mean);
    }
    /// Standard error of the mean; NaN for n < 2.
    double se() const {
        if (n < 2) return std::numeric_limits<double>::quiet_NaN();
        return std::sqrt(m2 / static_cast<double>(n - 1) / static_cast<double>(n));
    }
};
}  // namespace detail

/// Accumulates `AuctionMetrics` over a data set (in double whatever T is).
class BusinessAccumulator {
public:
    template <Scalar T>
    void add(const AuctionMetrics<T>& m) {
        revenue_.add(static_cast<double>(m.revenue));
        clicks_.add(static_cast<double>(m.clicks));
        gmv_.add(static_cast<double>(m.gmv));
        welfare_.add(static_cast<double>(m.welfare));
        totals_[0] += static_cast<double>(m.revenue);
        totals_[1] += static_cast<double>(m.clicks);
        totals_[2] += static_cast<double>(m.conversions);
        totals_[3] += static_cast<double>(m.gmv);
        totals_[4] += static_cast<double>(m.welfare);
        shown_ += m.shown;
        no_cvr_ += !m.has_cvr;
        no_price_ += !m.has_item_price;
    }
    Index size() const { return revenue_.n; }

    /// The metrics so far. `reference_swpm` (the SWPM of VCG on the same data), when
    /// given, must be finite and > 0; it yields SWMR = swpm / reference_swpm.
    BusinessMetrics result(std::optional<double> reference_swpm = std::nullopt) const {
        detail::require(revenue_.n > 0, "data", kNone, "is empty (no auction was accumulated)");
        if (reference_swpm)
            detail::require(std::isfinite(*reference_swpm) && *reference_swpm > 0.0, "reference_swpm",
                            kNone, "must be finite and > 0");
        BusinessMetrics r;
        r.impressions = revenue_.n;
        r.ads_shown = shown_;
        r.auctions_without_cvr = no_cvr_;
        r.auctions_without_item_price = no_price_;
        r.revenue = totals_[0];
        r.clicks = totals_[1];
        r.conversions = totals_[2];
        r.gmv = totals_[3];
        r.welfare = totals_[4];
        const double imp = static_cast<double>(r.impressions);
        r.rpm = 1000.0 * r.revenue / imp;
        r.ctr = r.clicks / imp;
        r.cvr = r.clicks > 0.0 ? r.conversions / r.clicks : std::numeric_limits<double>::quiet_NaN();
        r.gpm = 1000.0 * r.gmv / imp;
        r.swpm = 1000.0 * r.welfare / imp;
        if (reference_swpm) r.swmr = r.swpm / *reference_swpm;
        r.revenue_mean = r.revenue / imp;
        r.revenue_se = revenue_.se();
        r.rpm_se = 1000.0 * revenue_.se();
        r.ctr_se = clicks_.se();
        r.gpm_se = 1000.0 * gmv_.se();
        r.swpm_se = 1000.0 * welfare_.se();
        return r;
    }

private:
    detail::RunningMean revenue_, clicks_, gmv_, welfare_;
    double totals_[5] = {0, 0, 0, 0, 0};
    Index shown_ = 0, no_cvr_ = 0, no_price_ = 0;
};

}  // namespace diffauction
