// diffauction/data/analytic.hpp - the analytic settings of SPEC §3: small
// auctions with i.i.d. values whose optimal and second-price revenues are known
// in closed form, used to check every baseline by Monte Carlo.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/data/values.hpp"

namespace diffauction {

/// The four analytic settings of SPEC §3.
enum class AnalyticKind {
    uniform_2_one_slot,      ///< 2 bidders U[0,1], one slot
    uniform_3_one_slot,      ///< 3 bidders U[0,1], one slot
    uniform_5_three_slots,   ///< 5 bidders U[0,1], slot CTRs [0.5, 0.3, 0.15]
    exponential_3_one_slot,  ///< 3 bidders Exp(mean 3), one slot
};

/// One analytic setting: n i.i.d. bidders with value prior `prior`, slot CTRs
/// `slot_ctr`, every candidate's ctr = 1. The reference revenues are exact
/// expectations (derivations in `analytic_setting`).
struct AnalyticSetting {
    AnalyticKind kind = AnalyticKind::uniform_2_one_slot;
    std::string name;
    Index bidders = 0;
    std::vector<double> slot_ctr;
    ValueDist<double> prior;
    /// Expected revenue of VCG (= second price with one slot) under truthful bids.
    double vcg_revenue = 0;
    /// Expected revenue of Myerson's optimal auction.
    double myerson_revenue = 0;
};

/// The setting of `kind`. Reference revenues (v_(k) = k-th highest of n values):
///  - 2 x U[0,1], 1 slot: VCG E[v_(2)] = 1/3; Myerson E[(2 v_(1) - 1)^+]
///    = int_{1/2}^1 (2x - 1) 2x dx = 5/12.
///  - 3 x U[0,1], 1 slot: VCG E[v_(2)] = 2/4 = 1/2; Myerson int_{1/2}^1 (2x - 1) 3x^2 dx = 17/32.
///  - 5 x U[0,1], beta = [0.5, 0.3, 0.15]: VCG sum_k (beta_k - beta_{k+1}) k E[v_(k+1)]
///    = 0.2*1*(4/6) + 0.15*2*(3/6) + 0.15*3*(2/6) = 2/15 + 3/20 + 3/20 = 13/30 ~ 0.43333;
///    Myerson sum_k beta_k E[(2 v_(k) - 1)^+] with v_(k) ~ Beta(6-k, k):
///    0.5*43/64 + 0.3*3/8 + 0.15*5/32 = 151/320 = 0.471875.
///  - 3 x Exp(3), 1 slot: VCG E[v_(2)] = 3 (1/3 + 1/2) = 2.5; Myerson (reserve 3)
///    E[(v_(1) - 3)^+] = 3 int_1^inf 1 - (1 - e^-y)^3 dy = 9/e - 4.5/e^2 + 1/e^3 ~ 2.751693.
inline AnalyticSetting analytic_setting(AnalyticKind kind) {
    AnalyticSetting s;
    switch (kind) {
        case AnalyticKind::uniform_2_one_slot:
            s = {kind, "2 bidders U[0,1], 1 slot", 2, {1.0}, ValueDist<double>::uniform(0, 1), 1.0 / 3.0, 5.0 / 12.0};
            break;
        case AnalyticKind::uniform_3_one_slot:
            s = {kind, "3 bidders U[0,1], 1 slot", 3, {1.0}, ValueDist<double>::uniform(0, 1), 0.5, 17.0 / 32.0};
            break;
        case AnalyticKind::uniform_5_three_slots:
            s = {kind, "5 bidders U[0,1], slot CTRs [0.5, 0.3, 0.15]", 5, {0.5, 0.3, 0.15},
                 ValueDist<double>::uniform(0, 1), 13.0 / 30.0, 151.0 / 320.0};
            break;
        case AnalyticKind::exponential_3_one_slot: {
            const double e1 = std::exp(-1.0);
            s = {kind, "3 bidders Exp(mean 3), 1 slot", 3, {1.0}, ValueDist<double>::exponential(3),
                 2.5, 9 * e1 - 4.5 * e1 * e1 + e1 * e1 * e1};
            break;
        }
        default:
            throw input_error("kind", kNone, "is not an AnalyticKind");
    }
    return s;
}

/// All four analytic settings, in the order of AnalyticKind.
inline std::array<AnalyticSetting, 4> analytic_settings() {
    return {analytic_setting(AnalyticKind::uniform_2_one_slot), analytic_setting(AnalyticKind::uniform_3_one_slot),
            analytic_setting(AnalyticKind::uniform_5_three_slots),
            analytic_setting(AnalyticKind::exponential_3_one_slot)};
}

/// Throws input_error unless the setting has >= 1 bidder, a valid prior and slot
/// CTRs that are non-empty, positive, finite and non-increasing.
inline void validate_analytic_setting(const AnalyticSetting& s) {
    using detail::require;
    require(s.bidders >= 1, "bidders", kNone, "must be >= 1");
    validate_value_dist(s.prior, "prior");
    require(!s.slot_ctr.empty(), "slot_ctr", kNone, "is empty (at least one slot is needed)");
    for (std::size_t k = 0; k < s.slot_ctr.size(); ++k) {
        require(std::isfinite(s.slot_ctr[k]) && s.slot_ctr[k] > 0, "slot_ctr", static_cast<Index>(k),
                "must be finite and > 0");
        if (k > 0)
            require(s.slot_ctr[k] <= s.slot_ctr[k - 1], "slot_ctr", static_cast<Index>(k),
                    "is larger than the slot above it (slot CTRs must be non-increasing)");
    }
}

/// Auction t of a data set of `setting` with seed `seed`: an ordinary auction with
/// one candidate per bidder, ctr = 1, slot_ctr = setting.slot_ctr, priors = the
/// setting's prior for every bidder, truth.values drawn i.i.d. from it, bids = values.
/// No features, context, cvr, item prices or log (truth.cvr is empty).
template <Scalar T>
Sample<T> analytic_sample(const AnalyticSetting& setting, std::uint64_t seed, Index t) {
    validate_analytic_setting(setting);
    detail::require(t >= 0, "t", t, "must be >= 0");
    ValueDist<T> prior;
    prior.family = setting.prior.family;
    prior.lo = static_cast<T>(setting.prior.lo);
    prior.hi = static_cast<T>(setting.prior.hi);
    prior.mean = static_cast<T>(setting.prior.mean);

    Rng rng = Rng(seed).fork(static_cast<std::uint64_t>(t));
    const Index n = setting.bidders;
    Sample<T> s;
    Auction<T>& a = s.auction;
    a.ctr = VectorX<T>::Ones(n);
    a.slot_ctr.resize(static_cast<Index>(setting.slot_ctr.size()));
    for (Index k = 0; k < a.slot_ctr.size(); ++k) a.slot_ctr[k] = static_cast<T>(setting.slot_ctr[static_cast<std::size_t>(k)]);
    a.priors.assign(static_cast<std::size_t>(n), prior);
    s.truth.values.resize(n);
    for (Index i = 0; i < n; ++i) s.truth.values[i] = sample_value(prior, rng);
    a.bids = s.truth.values;
    return s;
}

/// `count` samples of `setting`: element t is `analytic_sample(setting, seed, t)`.
template <Scalar T>
std::vector<Sample<T>> generate(const AnalyticSetting& setting, Index count, std::uint64_t seed) {
    validate_analytic_setting(setting);
    return detail::generate_indexed(count, [&](Index t) { return analytic_sample<T>(setting, seed, t); });
}

}  // namespace diffauction
