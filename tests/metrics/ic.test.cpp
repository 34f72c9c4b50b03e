#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

#include <diffauction/mechanisms/baselines/gsp.hpp>
#include <diffauction/metrics/ic.hpp>

#include "metrics/metrics_support.hpp"
#include "support/alloc_counter.hpp"

using namespace diffauction;


namespace {
std::span<const double> values_of(const Sample<double>& s) {
    return {s.truth.values.data(), static_cast<std::size_t>(s.truth.values.size())};
}
template <class M>
IcMetrics ic_one(const M& mech, const Sample<double>& s, const IcOptions& opt) {
    return ic_metrics(mech, std::span<const Sample<double>>(&s, 1), opt);
}
}  // namespace

TEST_CASE("IC-R and regret: hand-worked GSP, three bidders, two slots", "[metrics][ic]") {
    // Values = bids (4, 3, 1), ctr 1, slot CTRs (1, 0.5). Truthful GSP: ad 0 in slot 0
    // pays 3, ad 1 in slot 1 pays 1, ad 2 loses. u = (4-3)*1 = 1, (3-1)*0.5 = 1, 0: sum 2.
    // Grid {0, 0.5, 1, 1.5, 2}:
    //  bidder 0: c=0 -> no slot, u 0; c=0.5 (bid 2) -> slot 1 paying 1, u = 3*0.5 = 1.5
    //            (gain 0.5); c >= 1 -> unchanged. Regret 0.5.
    //  bidder 1: c=0 -> no slot; c=0.5 (1.5 > 1) -> slot 1 paying 1, u 1; c=1.5, 2 ->
    //            slot 0 paying 4, u = -1. Regret 0.
    //  bidder 2: bids up to 2 < 3 never win. Regret 0.
    // IC-R = 0.5 / 2 = 0.25; mean regret 0.5 / 3; max 0.5.
    const auto s = test::three_bidders_two_slots();
    IcOptions opt;
    opt.misreport_grid = {0.0, 0.5, 1.0, 1.5, 2.0};
    opt.psi_perturbations = 4;
    const IcMetrics r = ic_one(Gsp<double>(), s, opt);
    CHECK(r.auctions == 1);
    CHECK(r.bidders == 3);
    CHECK(r.winners == 2);
    CHECK(r.utility_total == Approx(2.0));
    CHECK(r.gain_total == Approx(0.5));
    CHECK(r.ic_r == Approx(0.25));
    CHECK(r.regret_mean == Approx(0.5 / 3.0));
    CHECK(r.regret_max == Approx(0.5));
    // Psi with c in {0.5, 1, 1.5, 2}: GSP prices do not depend on the own bid at a
    // given slot and moving up costs more than the value, so both are 0.
    CHECK(r.psi_v == 0.0);
    CHECK(r.psi_p == 0.0);
    // The default grid {0, 0.1, ..., 2} finds the same best deviation: bidder 0 gets
    // slot 1 at price 1 for any bid in (1, 3); nobody else gains.
    const IcMetrics d = ic_one(Gsp<double>(), s, IcOptions{});
    CHECK(d.ic_r == Approx(0.25));
    CHECK(d.regret_max == Approx(0.5));
}

TEST_CASE("Psi_v: hand-worked discounted second price", "[metrics][ic][psi]") {
    // Rank by bid, pay half the next bid. Values (4, 3, 1), slot CTRs (1, 0.5).
    // Truthful: ad 0 slot 0 pays 1.5; ad 1 slot 1 pays 0.5. Perturbations c in {0.5, 1, 1.5, 2}:
    //  bidder 0 (beta 1): c = 0.5 (bid 2) drops to slot 1: (0.5 - 1) < 0; otherwise 0 -> term 0.
    //  bidder 1 (beta 0.5): c = 1.5 (bid 4.5) takes slot 0 paying 0.5 * 4 = 2 < 3:
    //    (1 - 0.5) * 1 = 0.5, divided by beta_{k_1} = 0.5 -> term 1.
    // Psi_v = (0 + 1) / 2 = 0.5. Psi_p: at an unchanged slot the price (half the next bid)
    // does not move, so 0.
    const auto s = test::three_bidders_two_slots();
    IcOptions opt;
    opt.psi_perturbations = 4;
    opt.regret = false;
    const IcMetrics r = ic_one(test::ToyAuction<double>(0.5, 0.0), s, opt);
    CHECK(r.winners == 2);
    CHECK(r.psi_v == Approx(0.5));
    CHECK(r.psi_p == 0.0);
    CHECK(std::isnan(r.ic_r));  // regret off
    // With the default 100-point grid, any bid above 4 (c > 4/3) gives the same gain: 0.5.
    opt.psi_perturbations = 100;
    CHECK(ic_one(test::ToyAuction<double>(0.5, 0.0), s, opt).psi_v == Approx(0.5));
}

TEST_CASE("Psi_p, IC-R and regret: hand-worked first price; Psi grid c = 2t/P (choice); IC-R = inf at zero utility (choice)", "[metrics][ic][psi]") {
    // Rank by bid, pay own bid. Values (4, 3, 1), slot CTRs (1, 0.5).
    // Truthful: ad 0 slot 0 pays 4; ad 1 slot 1 pays 3; every utility is 0.
    // Psi_p with c in {0.5, 1, 1.5, 2}:
    //  bidder 0: c = 0.5 (bid 2) loses slot 0; c = 1.5, 2 pay more -> term 0.
    //  bidder 1: c = 0.5 (bid 1.5 > 1) keeps slot 1 paying 1.5:
    //    (0.5 * 3 - 0.5 * 1.5) / (0.5 * 3) = 0.5.
    // Psi_p = (0 + 0.5) / 2 = 0.25. Psi_v = 0: moving up means bidding (and paying) above the value.
    const auto s = test::three_bidders_two_slots();
    const test::ToyAuction<double> gfp(1.0, 1.0);
    IcOptions opt;
    opt.psi_perturbations = 4;
    IcMetrics r = ic_one(gfp, s, opt);
    CHECK(r.psi_p == Approx(0.25));
    CHECK(r.psi_v == 0.0);
    // Default grid c = 2t/100 (choice): the lowest bid keeping the slot wins.
    //  bidder 0 needs bid >= 3 (ties go to the lower index): c = 0.76, bid 3.04 -> (4 - 3.04) / 4 = 0.24.
    //  bidder 1 needs bid >= 1 (it beats ad 2 on a tie): c = 0.34, bid 1.02 ->
    //    (1.5 - 0.5 * 1.02) / 1.5 = 0.66.
    // Psi_p = (0.24 + 0.66) / 2 = 0.45.
    // IC-R over {0, 0.1, ..., 2}: truthful utilities are all 0 and gains positive -> +inf (choice).
    //  bidder 0: slot 1 needs a bid in (1, 3): c = 0.3, bid 1.2, u = (4 - 1.2) * 0.5 = 1.4;
    //            slot 0 needs c >= 0.75: c = 0.8, u = 4 - 3.2 = 0.8. Regret 1.4.
    //  bidder 1: slot 1 needs bid >= 1: c = 0.4, bid 1.2, u = (3 - 1.2) * 0.5 = 0.9. Regret 0.9.
    //  bidder 2: slot 1 needs a bid above 3 > value. Regret 0.
    r = ic_one(gfp, s, IcOptions{});
    CHECK(r.psi_p == Approx(0.45));
    CHECK(r.utility_total == 0.0);
    CHECK(std::isinf(r.ic_r));
    CHECK(r.gain_total == Approx(2.3));
    CHECK(r.regret_mean == Approx(2.3 / 3.0));
    CHECK(r.regret_max == Approx(1.4));
}

TEST_CASE("Psi: a winner paying 0 has a Psi_p term of 0 (choice), not NaN", "[metrics][ic][psi]") {
    // Two bidders, three slots: the ad in the last filled slot pays 0 under GSP.
    Sample<double> s;
    s.auction.bids = Eigen::Vector2d(1.0, 2.0);
    s.auction.ctr = Eigen::Vector2d(0.1, 0.1);
    s.auction.slot_ctr = Eigen::Vector3d(1.0, 0.8, 0.6);
    s.truth.values = s.auction.bids;
    const IcMetrics r = ic_one(Gsp<double>(), s, IcOptions{});
    CHECK(r.winners == 2);
    CHECK(r.psi_p == 0.0);
    CHECK(r.psi_v == 0.0);
}

TEST_CASE("Psi in a joint auction: position weight and the same set of slots (choice)", "[metrics][ic][psi]") {
    // Bidders 0, 1, 2 with values (1, 0.9, 0.2); bundles c0 = (0, 1), c1 = (0, 2),
    // c2 = (1 alone); ctr 1; slot CTRs (1, 0.5). Joint first price (each owner pays its bid).
    // Bundle bids: c0 = 1.9, c1 = 1.2, c2 = 0.9 -> slots {c0, c1}.
    // Position weights: bidder 0 owns both shown bundles -> 1 + 0.5 = 1.5; bidder 1 -> 1; bidder 2 -> 0.5.
    // Perturbations c in {0.5, 1, 1.5, 2}:
    //  bidder 0: c = 0.5 (bid 0.5): c0 = 1.4, c1 = 0.7 < c2 = 0.9 -> slots {c0, c2}: its slot
    //    set changed, so no Psi_p term (a "top slot only" rule would count (1.5 - 1 * 0.5) / 1.5);
    //    its weight fell, so no Psi_v term. c = 1.5, 2 pay more. Terms 0, 0.
    //  bidder 1: c = 0.5 (bid 0.45): c0 = 1.45, c2 = 0.45 -> same slots, (0.9 - 0.45) / 0.9 = 0.5.
    //    c = 1.5 (bid 1.35): c2 = 1.35 > c1 -> slots {c0, c2}, weight 1.5 > 1 but the price
    //    1.35 is not below the value 0.9 -> no Psi_v term. Terms 0, 0.5.
    //  bidder 2: c = 0.5 (bid 0.1): c1 = 1.1 > 0.9 -> same slots, (0.2 - 0.1) / 0.2 = 0.5. Terms 0, 0.5.
    // Psi_v = 0, Psi_p = (0 + 0.5 + 0.5) / 3 = 1/3.
    Sample<double> s;
    s.auction.bids = Eigen::Vector3d(1.0, 0.9, 0.2);
    s.auction.ctr = Eigen::Vector3d(1.0, 1.0, 1.0);
    s.auction.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    s.auction.owners = {{0, 1}, {0, 2}, {1, kNone}};
    s.truth.values = s.auction.bids;
    IcOptions opt;
    opt.psi_perturbations = 4;
    opt.regret = false;
    const IcMetrics r = ic_one(test::JointFirstPrice<double>(), s, opt);
    CHECK(r.winners == 3);
    CHECK(r.psi_v == 0.0);
    CHECK(r.psi_p == Approx(1.0 / 3.0));
}

TEST_CASE("IC metrics are measured at bids = truth.values (choice)", "[metrics][ic]") {
    // The sample's bids are shaded; the metrics must not depend on them.
    auto s = test::three_bidders_two_slots();
    const IcMetrics truthful = ic_one(Gsp<double>(), s, IcOptions{});
    s.auction.bids = Eigen::Vector3d(0.5, 2.9, 0.9);
    const IcMetrics shaded = ic_one(Gsp<double>(), s, IcOptions{});
    CHECK(shaded.ic_r == truthful.ic_r);
    CHECK(shaded.utility_total == truthful.utility_total);
}

TEST_CASE("Psi_v = Psi_p = 0 for GSP on 1 000 random auctions", "[metrics][ic][psi]") {
    IcOptions opt;
    opt.regret = false;
    const auto data = test::random_samples<double>(11, 1000, 8, 1, 3);
    const IcMetrics r = ic_metrics(Gsp<double>(), std::span<const Sample<double>>(data), opt);
    CHECK(r.auctions == 1000);
    CHECK(r.winners > 1000);
    CHECK(std::abs(r.psi_v) <= 1e-12);
    CHECK(std::abs(r.psi_p) <= 1e-12);
    // Squashed GSP (sigma = 0.5) is just as exact; 200 auctions.
    const IcMetrics q = ic_metrics(Gsp<double>(0.5), std::span<const Sample<double>>(data).first(200), opt);
    CHECK(q.auctions == 200);
    CHECK(std::abs(q.psi_v) <= 1e-12);
    CHECK(std::abs(q.psi_p) <= 1e-12);
}

TEST_CASE("IC-R > 0 for GSP with >= 2 slots; regret max >= mean > 0", "[metrics][ic]") {
    const auto data = test::random_samples<double>(12, 300, 8, 2, 4);
    IcOptions opt;
    opt.psi = false;
    const IcMetrics r = ic_metrics(Gsp<double>(), std::span<const Sample<double>>(data), opt);
    CHECK(std::isnan(r.psi_v));
    CHECK(r.ic_r > 1e-3);
    CHECK(std::isfinite(r.ic_r));
    CHECK(r.regret_mean > 0.0);
    CHECK(r.regret_max >= r.regret_mean);
}

TEST_CASE("IC-R = 0 for GSP with one slot (it is VCG there)", "[metrics][ic]") {
    const auto data = test::random_samples<double>(13, 150, 8, 1, 1);
    const IcMetrics r = ic_metrics(Gsp<double>(), std::span<const Sample<double>>(data), IcOptions{});
    CHECK(r.ic_r <= 1e-12);
    CHECK(r.regret_max <= 1e-12);
}

TEST_CASE("IC metrics in float agree with double on the hand-worked GSP example", "[metrics][ic]") {
    Sample<float> s;
    // Built from std::initializer_list: GCC 12 reports a false -Warray-bounds when a
    // fixed-size Vector3f/Vector2f temporary is assigned to a dynamic vector here.
    s.auction.bids = VectorX<float>{{4.0f, 3.0f, 1.0f}};
    s.auction.ctr = VectorX<float>::Ones(3);
    s.auction.slot_ctr = VectorX<float>{{1.0f, 0.5f}};
    s.truth.values = s.auction.bids;
    const IcMetrics r = ic_metrics(Gsp<float>(), std::span<const Sample<float>>(&s, 1), IcOptions{});
    CHECK(r.ic_r == Approx(0.25));
    CHECK(r.psi_v == 0.0);
    CHECK(r.psi_p == 0.0);
}

TEST_CASE("IC reruns allocate nothing once warm", "[metrics][ic][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    const auto data = test::random_samples<double>(14, 2, 8, 3, 3);
    const Sample<double>& s = data[1];
    const Gsp<double> gsp;
    IcOptions opt;
    IcWorkspace<Gsp<double>> ws;
    IcAccumulator acc;
    accumulate_ic(gsp, s.auction.view(), values_of(s), opt, ws, acc);  // warm-up
    const long before = test::allocations();
    accumulate_ic(gsp, s.auction.view(), values_of(s), opt, ws, acc);
    CHECK(test::allocations() == before);
    // The counter works: one vector of the size of the misreport grid is one allocation.
    std::vector<double> probe(opt.misreport_grid.size());
    CHECK(test::allocations() == before + 1);
}

TEST_CASE("IC metrics: validation", "[metrics][ic][validation]") {
    auto data = test::random_samples<double>(15, 3, 5, 1, 2);
    const std::span<const Sample<double>> all(data);
    SECTION("empty data set") {
        try {
            ic_metrics(Gsp<double>(), std::span<const Sample<double>>(), IcOptions{});
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "data");
        }
    }
    SECTION("truth.values sized for another auction names the sample") {
        data[2].truth.values = Eigen::VectorXd::Ones(data[2].auction.bids.size() + 1);
        try {
            ic_metrics(Gsp<double>(), all, IcOptions{});
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "truth.values");
            CHECK(e.auction() == 2);
        }
    }
    SECTION("bad misreport grid") {
        IcOptions opt;
        opt.misreport_grid = {};
        CHECK_THROWS_AS(ic_metrics(Gsp<double>(), all, opt), input_error);
        opt.misreport_grid = {0.5, -0.1};
        try {
            ic_metrics(Gsp<double>(), all, opt);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "misreport_grid");
            CHECK(e.index() == 1);
        }
        opt.misreport_grid = {std::nan("")};
        CHECK_THROWS_AS(validate_ic_options(opt), input_error);
    }
    SECTION("no Psi perturbations") {
        IcOptions opt;
        opt.psi_perturbations = 0;
        try {
            ic_metrics(Gsp<double>(), all, opt);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "psi_perturbations");
        }
    }
    SECTION("accumulate_ic checks the value vector") {
        IcWorkspace<Gsp<double>> ws;
        IcAccumulator acc;
        const std::vector<double> short_values(1, 0.5);
        Sample<double> s = data[0];
        s.auction.bids = Eigen::Vector2d(0.5, 0.4);
        s.auction.ctr = Eigen::Vector2d(0.1, 0.1);
        CHECK_THROWS_AS(accumulate_ic(Gsp<double>(), s.auction.view(), std::span<const double>(short_values),
                                      IcOptions{}, ws, acc),
                        input_error);
        const std::vector<double> negative{0.5, -1.0};
        CHECK_THROWS_AS(accumulate_ic(Gsp<double>(), s.auction.view(), std::span<const double>(negative),
                                      IcOptions{}, ws, acc),
                        input_error);
    }
}
