#include <catch2/catch.hpp>

#include <diffauction/mechanisms/baselines/joint_vcg.hpp>

#include "support/mechanism_properties.hpp"

using namespace diffauction;

static_assert(Mechanism<JointVcg<float>> && Mechanism<JointVcg<double>>);

namespace {
// Brands 0, 1 and stores 2, 3. Bundles B0 = (0,2), B1 = (0,3), B2 = (1,2).
// Bids 0.5, 0.3, 0.4, 0.1 -> bundle bids 0.9, 0.6, 0.7; ctr 0.1 -> scores 0.09, 0.06, 0.07.
Auction<double> brands_and_stores(Index k) {
    Auction<double> a;
    a.bids = Eigen::Vector4d(0.5, 0.3, 0.4, 0.1);
    a.owners = {{0, 2}, {0, 3}, {1, 2}};
    a.ctr = Eigen::Vector3d(0.1, 0.1, 0.1);
    a.slot_ctr = k == 1 ? Eigen::VectorXd::Constant(1, 1.0) : Eigen::VectorXd(Eigen::Vector2d(1.0, 0.5));
    return a;
}
}  // namespace

TEST_CASE("JointVcg: hand-worked one slot", "[joint_vcg]") {
    const auto a = brands_and_stores(1);
    const auto out = run(JointVcg<double>(ClarkePivot::without_bidder), a);
    REQUIRE(out.slots == std::vector<Index>{0});  // B0 = (brand 0, store 2), score 0.09
    // Brand 0: without its bundles only B2 is left, W = 0.07; store 2 gets 0.4 * 0.1 = 0.04
    // at l*: payment 0.03, clicks 0.1 -> 0.3.
    CHECK(out.price[0] == Approx(0.3));
    CHECK(out.click_prob[0] == Approx(0.1));
    // Store 2: without its bundles only B1, W = 0.06; brand 0 gets 0.05 -> 0.01 / 0.1 = 0.1.
    CHECK(out.price[2] == Approx(0.1));
    CHECK(out.click_prob[2] == Approx(0.1));
    CHECK(out.click_prob[1] == 0.0);
    CHECK(out.click_prob[3] == 0.0);
    CHECK(out.revenue() == Approx(0.04));
    // With one slot both pivots agree here: the others' best shares are B2 (0.07) for
    // brand 0 and B1 (0.06) for store 2 either way.
    const auto zb = run(JointVcg<double>(ClarkePivot::zero_bid), a);
    CHECK(zb.price[0] == Approx(0.3));
    CHECK(zb.price[2] == Approx(0.1));
}

TEST_CASE("JointVcg: hand-worked two slots; a store in two shown bundles (choice); both pivots", "[joint_vcg]") {
    const auto a = brands_and_stores(2);
    const auto out = run(JointVcg<double>(ClarkePivot::without_bidder), a);
    // l* = [B0, B2]: W = 0.09 + 0.5 * 0.07 = 0.125. Store 2 appears in both bundles.
    REQUIRE(out.slots == std::vector<Index>{0, 2});
    CHECK(out.click_prob[0] == Approx(0.1));
    CHECK(out.click_prob[1] == Approx(0.05));
    CHECK(out.click_prob[2] == Approx(0.15));  // 0.1 + 0.5 * 0.1
    CHECK(out.click_prob[3] == 0.0);
    // Default pivot (without the bidder's bundles):
    // brand 0: without B0, B1 -> [B2] = 0.07; others at l*: 0.4*0.1 + 0.7*0.05 = 0.075
    //   -> payment -0.005, price -0.05 (VCG pays it: store 2 gains more from B0).
    CHECK(out.price[0] == Approx(-0.05));
    // brand 1: without B2 -> [B0, B1] = 0.09 + 0.03 = 0.12; others: 0.09 + 0.4*0.05 = 0.11
    //   -> 0.01 / 0.05 = 0.2.
    CHECK(out.price[1] == Approx(0.2));
    // store 2: without B0, B2 -> [B1] = 0.06; others: 0.5*0.1 + 0.3*0.05 = 0.065
    //   -> -0.005 / 0.15 = -1/30.
    CHECK(out.price[2] == Approx(-1.0 / 30.0));
    CHECK(out.revenue() == Approx(0.0).margin(1e-15));
    // zero_bid pivot: the others' best over all lists with the bidder's share zeroed.
    // brand 0: shares B0 0.04, B1 0.01, B2 0.07 -> 0.07 + 0.5*0.04 = 0.09 -> 0.015 / 0.1 = 0.15.
    // brand 1: shares B0 0.09, B1 0.06, B2 0.04 -> 0.09 + 0.03 = 0.12 -> 0.2 as before.
    // store 2: shares B0 0.05, B1 0.06, B2 0.03 -> 0.06 + 0.025 = 0.085 -> 0.02 / 0.15 = 2/15.
    const auto zb = run(JointVcg<double>(ClarkePivot::zero_bid), a);
    REQUIRE(zb.slots == out.slots);
    CHECK(zb.price[0] == Approx(0.15));
    CHECK(zb.price[1] == Approx(0.2));
    CHECK(zb.price[2] == Approx(2.0 / 15.0));
    CHECK(zb.revenue() == Approx(0.015 + 0.01 + 0.02));
}

TEST_CASE("JointVcg: single-owner candidates and K > N", "[joint_vcg]") {
    Auction<double> a;
    a.bids = Eigen::Vector3d(0.2, 0.5, 0.6);
    a.owners = {{0, 1}, {2, kNone}};  // a bundle of bidders 0 and 1, and bidder 2 alone
    a.ctr = Eigen::Vector2d(0.2, 0.1);  // scores 0.7*0.2 = 0.14, 0.6*0.1 = 0.06
    a.slot_ctr = Eigen::Vector3d(1.0, 0.5, 0.25);
    const auto out = run(JointVcg<double>(ClarkePivot::without_bidder), a);
    REQUIRE(out.slots == std::vector<Index>{0, 1, kNone});
    // Bidder 0: without it [1] in slot 1 = 0.06; others at l*: 0.5*0.2 + 0.6*0.05 = 0.13
    //   -> -0.07 / 0.2 = -0.35.
    CHECK(out.price[0] == Approx(-0.35));
    // Bidder 2: without it [0] = 0.14; others at l*: 0.7*0.2 = 0.14 -> 0.
    CHECK(out.price[2] == Approx(0.0).margin(1e-15));
    CHECK(out.click_prob[2] == Approx(0.05));
    // zero_bid: bidder 0's others' best: shares 0.5*0.2 = 0.10 and 0.06 -> 0.10 + 0.03 = 0.13
    //   -> 0; bidder 1: shares 0.04, 0.06 -> 0.06 + 0.02 = 0.08; others 0.2*0.2 + 0.6*0.05 = 0.07
    //   -> 0.01 / 0.2 = 0.05.
    const auto zb = run(JointVcg<double>(ClarkePivot::zero_bid), a);
    CHECK(zb.price[0] == Approx(0.0).margin(1e-15));
    CHECK(zb.price[1] == Approx(0.05));
}

TEMPLATE_TEST_CASE("JointVcg: IR on 10 000 random joint auctions", "[joint_vcg][ir]", float, double) {
    using T = TestType;
    Rng rng(25);
    Outcome<T> out;
    typename JointVcg<T>::Workspace ws;
    for (int t = 0; t < 10000; ++t) {
        const auto a = test::random_joint_auction<T>(rng, 1 + rng.uniform_int(4), 1 + rng.uniform_int(4),
                                                     1 + rng.uniform_int(4), 0.6, 0.1, t % 2 == 0);
        JointVcg<T>(t % 3 == 0 ? ClarkePivot::zero_bid : ClarkePivot::without_bidder).run(a, out, ws);
        REQUIRE(test::first_ir_violation<T>(a, out) == kNone);
        if (t % 3 == 0)
            for (Index j = 0; j < a.num_bidders(); ++j) REQUIRE(out.price[j] >= T(-1e-6));  // no deficit
    }
}

TEST_CASE("JointVcg: a bidder's click probability is monotone in its bid", "[joint_vcg][monotone]") {
    Rng rng(35);
    JointVcg<double>::Workspace ws;
    for (int t = 0; t < 2000; ++t) {
        const auto a = test::random_joint_auction<double>(rng, 1 + rng.uniform_int(4), 1 + rng.uniform_int(4),
                                                          1 + rng.uniform_int(3), 0.6, 0.1, t % 2 == 0);
        REQUIRE(test::monotone_in_own_bid(JointVcg<double>(), a, rng.uniform_int(a.num_bidders()),
                                          {1.1, 1.5, 2.0, 4.0}, ws));
    }
}

TEST_CASE("JointVcg: dominant-strategy IC on 1000 random joint auctions, both pivots", "[joint_vcg][ic]") {
    Rng rng(45);
    JointVcg<double>::Workspace ws;
    for (int t = 0; t < 1000; ++t) {
        const auto a = test::random_joint_auction<double>(rng, 1 + rng.uniform_int(3), 1 + rng.uniform_int(3),
                                                          1 + rng.uniform_int(3), 0.6, 0.1, t % 3 == 0);
        REQUIRE(test::max_ic_gain(JointVcg<double>(), a, ws) <= 1e-9);
        REQUIRE(test::max_ic_gain(JointVcg<double>(ClarkePivot::zero_bid), a, ws) <= 1e-9);
    }
}

TEST_CASE("JointVcg: an ordinary auction is rejected with field owners", "[joint_vcg][validation]") {
    Auction<double> a;
    a.bids = Eigen::Vector2d(1.0, 0.5);
    a.ctr = Eigen::Vector2d(0.1, 0.1);
    a.slot_ctr = Eigen::VectorXd::Constant(1, 1.0);
    try {
        (void)run(JointVcg<double>(), a);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "owners");
    }
}
