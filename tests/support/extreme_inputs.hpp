// tests/support/extreme_inputs.hpp - the extreme-but-finite input table of issue 15,
// shared by tests/mechanisms/extreme_inputs.test.cpp (the baselines) and the learned
// mechanisms' own suites (which already compile their models): every run must either
// throw a typed input_error naming a field, or return a sound outcome (every price
// finite, >= 0 and <= its bidder's bid; click probabilities finite, in [0, 1] (joint
// auctions: a bidder's expected clicks over its bundles, in [0, K]); slots distinct
// candidates, filled from the top). Inputs inside SupportedRange (core/auction.hpp)
// must be accepted, inputs outside it rejected.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <diffauction/core/auction.hpp>
#include <diffauction/core/error.hpp>
#include <diffauction/core/outcome.hpp>
#include <diffauction/core/rng.hpp>
#include <diffauction/mechanisms/mechanism.hpp>

#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"

namespace diffauction::test {

/// A base auction of either kind, small enough for the enumerating mechanisms:
/// N <= 6 (ordinary) or up to 3 brands x 3 stores (joint), K <= 2 (EdgeNet's limit),
/// 3 feature columns (the learned models' width; column 0 holds categories), cvr and
/// U[0, 1] priors.
template <Scalar T>
Auction<T> extreme_base_auction(Rng& rng, bool joint, bool ties) {
    Auction<T> a = joint ? random_joint_auction<T>(rng, 1 + rng.uniform_int(3), 1 + rng.uniform_int(3),
                                                         1 + rng.uniform_int(2), 0.6, 0.1, ties)
                         : random_auction<T>(rng, 1 + rng.uniform_int(6), 1 + rng.uniform_int(2), 3, ties);
    if (joint) {
        a.features.resize(a.num_candidates(), 3);
        for (Index i = 0; i < a.num_candidates(); ++i)
            a.features.row(i) << T(rng.uniform_int(3)), T(rng.normal()), T(rng.normal());
        a.cvr = VectorX<T>::Constant(a.num_candidates(), T(0.1));
    }
    set_categories(a, rng, 3);
    a.priors.assign(static_cast<std::size_t>(a.num_bidders()), ValueDist<T>::uniform(0, 1));
    return a;
}

template <Scalar T>
struct Case {
    std::string name;
    std::function<void(Auction<T>&, Rng&)> apply;
    /// Inside SupportedRange: must be accepted (no input_error) by every mechanism
    /// that accepts the base auction.
    bool in_range;
};

template <Scalar T>
std::vector<Case<T>> extreme_cases() {
    using L = std::numeric_limits<T>;
    constexpr T big = SupportedRange<T>::max_amount, rate = SupportedRange<T>::min_rate;
    const auto all = [](VectorX<T>& v, T x) { v.setConstant(x); };
    std::vector<Case<T>> c;
    c.push_back({"bids at the float/double maximum", [&](Auction<T>& a, Rng&) { all(a.bids, L::max()); }, false});
    c.push_back({"one bid at the maximum", [](Auction<T>& a, Rng&) { a.bids[0] = L::max(); }, false});
    c.push_back({"bids at max / 4, ctr 1, slot_ctr 1", [&](Auction<T>& a, Rng&) {
                     all(a.bids, L::max() / 4);
                     all(a.ctr, T(1));
                     all(a.slot_ctr, T(1));
                 }, false});
    c.push_back({"bids just above max_amount", [&](Auction<T>& a, Rng&) { a.bids[0] = big * (1 + L::epsilon()); }, false});
    c.push_back({"bids at max_amount", [&](Auction<T>& a, Rng&) { all(a.bids, big); }, true});
    c.push_back({"bids at max_amount, ctr 1, slot_ctr 1, one bid 0", [&](Auction<T>& a, Rng&) {
                     all(a.bids, big);
                     a.bids[a.num_bidders() - 1] = 0;
                     all(a.ctr, T(1));
                     all(a.slot_ctr, T(1));
                 }, true});
    c.push_back({"random bids up to max_amount", [&](Auction<T>& a, Rng& rng) {
                     for (Index j = 0; j < a.num_bidders(); ++j) a.bids[j] = big * T(rng.uniform());
                 }, true});
    c.push_back({"bids denormal", [](Auction<T>& a, Rng&) {
                     for (Index j = 0; j < a.num_bidders(); ++j) a.bids[j] = L::denorm_min() * T(j + 1);
                 }, true});
    c.push_back({"bids all zero", [&](Auction<T>& a, Rng&) { all(a.bids, T(0)); }, true});
    c.push_back({"bids tiny, ctr and slot_ctr at min_rate", [&](Auction<T>& a, Rng& rng) {
                     for (Index j = 0; j < a.num_bidders(); ++j) a.bids[j] = L::min() * T(rng.uniform());
                     all(a.ctr, rate);
                     all(a.slot_ctr, rate);
                 }, true});
    c.push_back({"bids at max_amount, ctr and slot_ctr at min_rate", [&](Auction<T>& a, Rng& rng) {
                     for (Index j = 0; j < a.num_bidders(); ++j) a.bids[j] = big * T(rng.uniform());
                     for (Index i = 0; i < a.num_candidates(); ++i) a.ctr[i] = rng.bernoulli(0.5) ? rate : T(1);
                     all(a.slot_ctr, rate);
                 }, true});
    c.push_back({"ctr all 1", [&](Auction<T>& a, Rng&) { all(a.ctr, T(1)); }, true});
    c.push_back({"ctr denormal", [&](Auction<T>& a, Rng&) { all(a.ctr, L::denorm_min()); }, false});
    c.push_back({"one ctr at the smallest normal", [](Auction<T>& a, Rng&) { a.ctr[0] = L::min(); }, false});
    c.push_back({"ctr just below min_rate", [&](Auction<T>& a, Rng&) { a.ctr[0] = rate * (1 - L::epsilon()); }, false});
    c.push_back({"ctr at min_rate", [&](Auction<T>& a, Rng&) { all(a.ctr, rate); }, true});
    c.push_back({"slot_ctr at the maximum", [&](Auction<T>& a, Rng&) { all(a.slot_ctr, L::max()); }, false});
    c.push_back({"slot_ctr huge", [&](Auction<T>& a, Rng&) { all(a.slot_ctr, T(1e30)); }, false});
    c.push_back({"slot_ctr just above 1", [&](Auction<T>& a, Rng&) { a.slot_ctr[0] = 1 + L::epsilon(); }, false});
    c.push_back({"slot_ctr denormal", [&](Auction<T>& a, Rng&) { all(a.slot_ctr, L::denorm_min()); }, false});
    c.push_back({"slot_ctr at min_rate", [&](Auction<T>& a, Rng&) { all(a.slot_ctr, rate); }, true});
    c.push_back({"exact ties in bid, ctr and slot_ctr", [&](Auction<T>& a, Rng&) {
                     all(a.bids, T(0.3));
                     all(a.ctr, T(0.1));
                     all(a.slot_ctr, T(0.5));
                 }, true});
    c.push_back({"exact ties at max_amount", [&](Auction<T>& a, Rng&) {
                     all(a.bids, big);
                     all(a.ctr, T(1));
                     all(a.slot_ctr, T(1));
                     a.cvr.setZero();
                 }, true});
    c.push_back({"features at the maximum", [](Auction<T>& a, Rng&) { a.features.col(2).setConstant(L::max()); }, false});
    c.push_back({"features at +-max_amount", [&](Auction<T>& a, Rng& rng) {
                     for (Index i = 0; i < a.num_candidates(); ++i) {
                         a.features(i, 1) = rng.bernoulli(0.5) ? big : -big;
                         a.features(i, 2) = big;
                     }
                 }, true});
    c.push_back({"context at the maximum", [](Auction<T>& a, Rng&) { a.context = VectorX<T>::Constant(2, L::max()); }, false});
    c.push_back({"item price at the maximum", [&](Auction<T>& a, Rng&) {
                     a.price = VectorX<T>::Constant(a.num_candidates(), L::max());
                 }, false});
    c.push_back({"priors at the maximum", [&](Auction<T>& a, Rng&) {
                     a.priors.assign(a.priors.size(), ValueDist<T>::uniform(0, L::max()));
                 }, false});
    c.push_back({"priors and bids at max_amount", [&](Auction<T>& a, Rng& rng) {
                     for (Index j = 0; j < a.num_bidders(); ++j) a.bids[j] = big * T(rng.uniform());
                     a.priors.assign(a.priors.size(), ValueDist<T>::uniform(0, big));
                 }, true});
    c.push_back({"exponential priors, bids huge", [&](Auction<T>& a, Rng& rng) {
                     for (Index j = 0; j < a.num_bidders(); ++j) a.bids[j] = big * T(rng.uniform());
                     a.priors.assign(a.priors.size(), ValueDist<T>::exponential(big / 2));
                 }, true});
    c.push_back({"cvr denormal", [&](Auction<T>& a, Rng&) { all(a.cvr, L::denorm_min()); }, true});
    return c;
}

/// "" when `out` is a sound outcome of `a`, else what is wrong.
template <Scalar T>
std::string unsound(const AuctionView<T>& a, const Outcome<T>& out, bool allow_negative) {
    std::ostringstream s;
    s.precision(9);
    if (out.num_slots() != a.num_slots()) s << "slots has " << out.num_slots() << " entries; ";
    if (out.num_bidders() != a.num_bidders()) s << "price has " << out.num_bidders() << " entries; ";
    std::vector<char> seen(static_cast<std::size_t>(a.num_candidates()), 0);
    bool empty_above = false;
    for (Index k = 0; k < out.num_slots(); ++k) {
        const Index i = out.slots[static_cast<std::size_t>(k)];
        if (i == kNone) {
            empty_above = true;
            continue;
        }
        if (empty_above) s << "slot " << k << " filled below an empty slot; ";
        if (i < 0 || i >= a.num_candidates() || seen[static_cast<std::size_t>(i)]++)
            s << "slot " << k << " holds " << i << "; ";
    }
    for (Index j = 0; j < std::min(out.num_bidders(), a.num_bidders()); ++j) {
        const T p = out.price[static_cast<std::size_t>(j)], q = out.click_prob[static_cast<std::size_t>(j)];
        if (!std::isfinite(p)) s << "price[" << j << "] = " << p << "; ";
        if (p < T(0) && !allow_negative) s << "price[" << j << "] = " << p << " < 0; ";
        if (p > a.bids[j]) s << "price[" << j << "] = " << p << " > bid " << a.bids[j] << "; ";
        const T most = a.joint() ? T(a.num_slots()) : T(1);
        if (!(q >= T(0) && q <= most)) s << "click_prob[" << j << "] = " << q << "; ";
    }
    return s.str();
}

/// Runs one mechanism over `per_case` random auctions of every case (ordinary or
/// joint ones as `joint` says) and returns what went wrong ("" lines: none), with
/// counts in `sound` and `rejected`. `allow_negative`: the mechanism documents
/// negative prices (the opt-in ClarkePivot::without_bidder of joint auctions).
template <Scalar T, class Run>
std::vector<std::string> extreme_input_failures(const std::string& name, bool joint, const Run& run, int per_case,
                                                int& sound, int& rejected, bool allow_negative = false) {
    std::vector<std::string> bad;
    sound = rejected = 0;
    Rng rng(sizeof(T) == 4 ? 1515 : 1516);
    for (const auto& c : extreme_cases<T>())
        for (int t = 0; t < per_case; ++t) {
            Auction<T> a = extreme_base_auction<T>(rng, joint, t % 4 == 0);
            c.apply(a, rng);
            const std::string where = name + " on '" + c.name + "' #" + std::to_string(t);
            Outcome<T> out;
            try {
                run(AuctionView<T>(a), out);
            } catch (const input_error& e) {
                if (e.field().empty()) bad.push_back(where + ": an input_error names no field");
                if (c.in_range) bad.push_back(where + ": rejected an input inside SupportedRange: " + e.what());
                ++rejected;
                continue;
            } catch (const std::exception& e) {
                bad.push_back(where + ": untyped error: " + e.what());
                continue;
            }
            if (!c.in_range) {
                bad.push_back(where + ": accepted an input outside SupportedRange");
                continue;
            }
            const std::string why = unsound<T>(a, out, allow_negative);
            if (why.empty())
                ++sound;
            else
                bad.push_back(where + ": " + why);
        }
    return bad;
}

/// The Catch2 check of one mechanism over the table: no failure, and both sound
/// outcomes and rejections seen. One workspace serves every auction, as in serving.
template <Mechanism M>
void check_extreme_inputs(const std::string& name, const M& m, bool joint, bool allow_negative = false,
                          int per_case = 40) {
    using T = typename M::scalar_type;
    typename M::Workspace ws;
    int sound = 0, rejected = 0;
    const auto bad = extreme_input_failures<T>(
        name, joint, [&](const AuctionView<T>& a, Outcome<T>& out) { m.run(a, out, ws); }, per_case, sound,
        rejected, allow_negative);
    INFO(name << " (" << (sizeof(T) == 4 ? "float" : "double") << "): " << sound << " sound, " << rejected
              << " rejected, " << bad.size() << " bad");
    for (std::size_t i = 0; i < std::min<std::size_t>(bad.size(), 5); ++i) UNSCOPED_INFO(bad[i]);
    CHECK(bad.empty());
    CHECK(sound > 2 * per_case);
    CHECK(rejected > 2 * per_case);
}

}  // namespace diffauction::test
