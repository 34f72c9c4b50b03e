#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <diffauction/mechanisms/baselines/gsp.hpp>
#include <diffauction/metrics/business.hpp>
#include <diffauction/metrics/evaluate.hpp>

#include "metrics/metrics_support.hpp"

using namespace diffauction;

namespace {

template <Scalar T>
VectorX<T> vec(std::initializer_list<double> xs) {
    VectorX<T> v(static_cast<Index>(xs.size()));
    Index i = 0;
    for (double x : xs) v[i++] = static_cast<T>(x);
    return v;
}

// The hand-worked two-auction data set.
//  A: bids (2, 3, 1), ctr (0.1, 0.05, 0.2), slot CTRs (1, 0.5), cvr (0.1, 0.2, 0.5),
//     item prices (10, 20, 4); truth: values (2.5, 3, 1), cvr (0.2, 0.1, 0.25).
//  B: bids (1, 2), ctr (0.1, 0.1), slot CTRs (1, 0.8, 0.6) (K > N), cvr (0.5, 0.25),
//     item prices (8, 12); truth: values = bids, no truth.cvr (predicted cvr stands in).
template <Scalar T>
std::vector<Sample<T>> two_auctions() {
    std::vector<Sample<T>> d(2);
    auto& a = d[0];
    a.auction.bids = vec<T>({2, 3, 1});
    a.auction.ctr = vec<T>({0.1, 0.05, 0.2});
    a.auction.slot_ctr = vec<T>({1, 0.5});
    a.auction.cvr = vec<T>({0.1, 0.2, 0.5});
    a.auction.price = vec<T>({10, 20, 4});
    a.truth.values = vec<T>({2.5, 3, 1});
    a.truth.cvr = vec<T>({0.2, 0.1, 0.25});
    auto& b = d[1];
    b.auction.bids = vec<T>({1, 2});
    b.auction.ctr = vec<T>({0.1, 0.1});
    b.auction.slot_ctr = vec<T>({1, 0.8, 0.6});
    b.auction.cvr = vec<T>({0.5, 0.25});
    b.auction.price = vec<T>({8, 12});
    b.truth.values = b.auction.bids;
    return d;
}

}  // namespace

TEMPLATE_TEST_CASE("business: hand-worked auction A under GSP and the decaying truth model", "[metrics][business]",
                   float, double) {
    using T = TestType;
    const auto data = two_auctions<T>();
    // GSP (eCPM scores 0.2, 0.15, 0.2; the tie goes to ad 0): slots {0, 2},
    // prices p0 = 0.2 / 0.1 = 2, p2 = 0.15 / 0.2 = 0.75, p1 = 0.
    const auto out = run(Gsp<T>(), data[0].auction.view());
    REQUIRE(out.slots == std::vector<Index>{0, 2});
    BusinessWorkspace<T> ws;
    const auto m = auction_metrics(data[0], out, test::DecayCtr{}, ws);
    // True clicks (DecayCtr: slot_ctr[k] * ctr * (1 - 0.2 k)):
    //   slot 0, ad 0: 1 * 0.1 * 1 = 0.1;   slot 1, ad 2: 0.5 * 0.2 * 0.8 = 0.08.
    CHECK(m.shown == 2);
    CHECK(m.clicks == Approx(0.18));
    // conversions = 0.1 * 0.2 + 0.08 * 0.25 = 0.02 + 0.02 (truth.cvr, not the predicted cvr)
    CHECK(m.conversions == Approx(0.04));
    // GMV = 0.02 * 10 + 0.02 * 4 = 0.2 + 0.08
    CHECK(m.gmv == Approx(0.28));
    // revenue = 2 * 0.1 + 0.75 * 0.08 = 0.26 (GSP's own click_prob would give 0.275)
    CHECK(m.revenue == Approx(0.26));
    // welfare uses truth.values: 2.5 * 0.1 + 1 * 0.08 = 0.33
    CHECK(m.welfare == Approx(0.33));
    CHECK(m.has_cvr);
    CHECK(m.has_item_price);
}

TEMPLATE_TEST_CASE("business: hand-worked two-auction data set, per page view (choice), predicted cvr when truth.cvr is empty (choice)", "[metrics][business]",
                   float, double) {
    using T = TestType;
    const auto data = two_auctions<T>();
    // Auction A: see the previous test: clicks 0.18, conv 0.04, GMV 0.28, rev 0.26, SW 0.33.
    // Auction B under GSP: scores 0.1, 0.2 -> slots {1, 0, none}; p1 = 0.1 / 0.1 = 1,
    //   p0 = 0 (nobody below). True clicks: slot 0, ad 1: 1 * 0.1 = 0.1;
    //   slot 1, ad 0: 0.8 * 0.1 * 0.8 = 0.064 -> clicks 0.164.
    //   conv (predicted cvr, no truth.cvr) = 0.1 * 0.25 + 0.064 * 0.5 = 0.025 + 0.032 = 0.057
    //   GMV = 0.025 * 12 + 0.032 * 8 = 0.3 + 0.256 = 0.556
    //   rev = 1 * 0.1 + 0 * 0.064 = 0.1;  SW = 2 * 0.1 + 1 * 0.064 = 0.264.
    // Impression = page view (one auction), so 2 impressions.
    const Report r = evaluate(Gsp<T>(), std::span<const Sample<T>>(data), test::DecayCtr{},
                              EvalOptions{.reference_swpm = 330.0});
    const BusinessMetrics& b = r.business;
    CHECK_FALSE(r.ic.has_value());
    CHECK(b.impressions == 2);
    CHECK(b.ads_shown == 4);
    CHECK(b.auctions_without_cvr == 0);
    CHECK(b.revenue == Approx(0.36));
    CHECK(b.rpm == Approx(180.0));           // 1000 * (0.26 + 0.1) / 2
    CHECK(b.ctr == Approx(0.172));           // (0.18 + 0.164) / 2
    CHECK(b.cvr == Approx(0.097 / 0.344));   // (0.04 + 0.057) / (0.18 + 0.164)
    CHECK(b.gpm == Approx(418.0));           // 1000 * (0.28 + 0.556) / 2
    CHECK(b.swpm == Approx(297.0));          // 1000 * (0.33 + 0.264) / 2
    REQUIRE(b.swmr.has_value());
    CHECK(*b.swmr == Approx(0.9));           // 297 / 330
    // Standard errors with two auctions: sd = |x1 - x2| / sqrt(2), se = sd / sqrt(2) = |x1 - x2| / 2.
    CHECK(b.revenue_mean == Approx(0.18));
    CHECK(b.revenue_se == Approx(0.08));     // |0.26 - 0.1| / 2
    CHECK(b.rpm_se == Approx(80.0));
    CHECK(b.ctr_se == Approx(0.008));        // |0.18 - 0.164| / 2
    CHECK(b.gpm_se == Approx(138.0));        // 1000 * |0.28 - 0.556| / 2
    CHECK(b.swpm_se == Approx(33.0));        // 1000 * |0.33 - 0.264| / 2
}

TEST_CASE("business: the separable truth is the default model", "[metrics][business]") {
    const auto data = two_auctions<double>();
    // Separable truth for A: clicks 0.1 + 0.5 * 0.2 = 0.2, rev = 2 * 0.1 + 0.75 * 0.1 = 0.275;
    // for B: clicks 0.1 + 0.8 * 0.1 = 0.18, rev = 1 * 0.1 = 0.1. RPM = 1000 * 0.375 / 2.
    const BusinessMetrics b = business_metrics(Gsp<double>(), std::span<const Sample<double>>(data));
    CHECK(b.rpm == Approx(187.5));
    CHECK(b.ctr == Approx(0.19));
    CHECK_FALSE(b.swmr.has_value());
}

TEST_CASE("business: a joint bundle's clicks count for both owners", "[metrics][business]") {
    // Bidders 0 (brand), 1 and 2 (stores); bundle 0 = (0, 1), bundle 1 = (0, 2).
    Sample<double> s;
    s.auction.bids = Eigen::Vector3d(1.0, 0.6, 0.4);
    s.auction.ctr = Eigen::Vector2d(0.2, 0.4);
    s.auction.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    s.auction.owners = {{0, 1}, {0, 2}};
    s.truth.values = Eigen::Vector3d(1.0, 0.6, 0.4);
    validate_sample(s);
    Outcome<double> out;
    out.reset(2, 3);
    out.slots = {1, 0};
    out.price = {0.5, 0.3, 0.2};
    out.click_prob = {0.9, 0.9, 0.9};  // deliberately wrong: metrics use the truth model
    BusinessWorkspace<double> ws;
    const auto m = auction_metrics(s, out, SeparableCtr{}, ws);
    // True clicks: slot 0, bundle 1: 1 * 0.4 = 0.4; slot 1, bundle 0: 0.5 * 0.2 = 0.1.
    // Per bidder: brand 0 owns both -> 0.5; store 1 -> 0.1; store 2 -> 0.4.
    CHECK(m.clicks == Approx(0.5));                   // the list's clicks, not double counted
    CHECK(m.revenue == Approx(0.5 * 0.5 + 0.3 * 0.1 + 0.2 * 0.4));  // 0.36
    CHECK(m.welfare == Approx(1.0 * 0.5 + 0.6 * 0.1 + 0.4 * 0.4));  // 0.72
    // No cvr anywhere: conversions and GMV are 0 and the auction is flagged.
    CHECK_FALSE(m.has_cvr);
    CHECK(m.conversions == 0.0);
    CHECK(m.gmv == 0.0);
    BusinessAccumulator acc;
    acc.add(m);
    const auto b = acc.result();
    CHECK(b.auctions_without_cvr == 1);
    CHECK(b.auctions_without_item_price == 1);
    CHECK(std::isnan(b.cvr) == false);  // clicks > 0, conversions 0 -> CVR 0
    CHECK(b.cvr == 0.0);
    CHECK(std::isnan(b.revenue_se));    // one auction: no standard error
}

TEST_CASE("business: validation of truth, outcome and click model", "[metrics][business][validation]") {
    auto data = two_auctions<double>();
    const auto out = run(Gsp<double>(), data[0].auction.view());
    BusinessWorkspace<double> ws;

    SECTION("truth.values of the wrong size") {
        data[0].truth.values = Eigen::Vector2d(1.0, 1.0);
        try {
            validate_sample(data[0], 7);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "truth.values");
            CHECK(e.auction() == 7);
        }
        CHECK_THROWS_AS(auction_metrics(data[0], out, SeparableCtr{}, ws), input_error);
    }
    SECTION("negative or non-finite truth.values") {
        data[0].truth.values[1] = -1.0;
        try {
            validate_sample(data[0]);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "truth.values");
            CHECK(e.index() == 1);
        }
        data[0].truth.values[1] = std::nan("");
        CHECK_THROWS_AS(validate_sample(data[0]), input_error);
    }
    SECTION("truth.cvr of the wrong size or outside [0, 1]") {
        data[0].truth.cvr = Eigen::Vector2d(0.1, 0.1);
        try {
            validate_sample(data[0], 3);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "truth.cvr");
            CHECK(e.auction() == 3);
        }
        data[0].truth.cvr = Eigen::Vector3d(0.1, 1.5, 0.1);
        try {
            validate_sample(data[0]);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "truth.cvr");
            CHECK(e.index() == 1);
        }
    }
    SECTION("outcome with a gap above a shown ad") {
        Outcome<double> bad = out;
        bad.slots = {kNone, 0};
        try {
            auction_metrics(data[0], bad, SeparableCtr{}, ws);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "outcome.slots");
            CHECK(e.index() == 1);
        }
    }
    SECTION("outcome sized for another auction") {
        Outcome<double> bad;
        bad.reset(3, 3);
        CHECK_THROWS_AS(auction_metrics(data[0], bad, SeparableCtr{}, ws), input_error);
        bad.reset(2, 2);
        CHECK_THROWS_AS(auction_metrics(data[0], bad, SeparableCtr{}, ws), input_error);
        bad.reset(2, 3);
        bad.slots = {5, kNone};
        CHECK_THROWS_AS(auction_metrics(data[0], bad, SeparableCtr{}, ws), input_error);
    }
    SECTION("a click model returning a probability above 1") {
        try {
            auction_metrics(data[0], out, test::BrokenCtr{}, ws);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "click_model");
        }
    }
    SECTION("empty accumulator and bad reference SWPM") {
        BusinessAccumulator acc;
        CHECK_THROWS_AS(acc.result(), input_error);
        acc.add(auction_metrics(data[0], out, SeparableCtr{}, ws));
        CHECK_THROWS_AS(acc.result(0.0), input_error);
        CHECK_THROWS_AS(acc.result(std::nan("")), input_error);
        CHECK(acc.result(1.0).swmr.has_value());
    }
}
