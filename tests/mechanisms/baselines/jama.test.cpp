#include <catch2/catch.hpp>

#include <algorithm>

#include <diffauction/mechanisms/baselines/jama.hpp>
#include <diffauction/mechanisms/baselines/joint_vcg.hpp>

#include "support/mechanism_properties.hpp"
#include "support/toy_click_model.hpp"

using namespace diffauction;

static_assert(Mechanism<Jama<float>> && Mechanism<Jama<double, test::ToyCategoryCtr>>);

namespace {
// Brands 0, 1 and stores 2, 3. Bundles B0 = (0,2), B1 = (0,3), B2 = (1,2); one slot.
// Bids 0.5, 0.3, 0.4, 0.1 -> bundle bids 0.9, 0.6, 0.7; ctr 0.1.
Auction<double> brands_and_stores() {
    Auction<double> a;
    a.bids = Eigen::Vector4d(0.5, 0.3, 0.4, 0.1);
    a.owners = {{0, 2}, {0, 3}, {1, 2}};
    a.ctr = Eigen::Vector3d(0.1, 0.1, 0.1);
    a.slot_ctr = Eigen::VectorXd::Constant(1, 1.0);
    a.features.resize(3, 1);
    a.features << 0, 1, 1;
    return a;
}

// Bid-free bidder weights and a bid-free boost (category 1 bundles get +0.005 each).
double bidder_weight(const AuctionView<double>&, Index j) { return 1.0 + 0.25 * static_cast<double>(j % 3); }
double category_boost(const AuctionView<double>& a, std::span<const Index> l) {
    double b = 0;
    for (Index i : l) b += a.features(i, 0) == 1.0 ? 0.005 : 0.0;
    return b;
}
}  // namespace

TEST_CASE("JAMA: hand-worked bidder weights", "[jama]") {
    const auto a = brands_and_stores();
    const std::vector<double> mu{2.0, 1.0, 1.0, 1.0};
    // R(B0) = 0.1 * (2*0.5 + 0.4) = 0.14, R(B1) = 0.1 * (2*0.5 + 0.1) = 0.11,
    // R(B2) = 0.1 * (0.3 + 0.4) = 0.07 -> l* = [B0].
    Jama<double> jama;
    Jama<double>::Workspace ws;
    Outcome<double> out;
    jama.run(a, mu, out, ws);
    REQUIRE(out.slots == std::vector<Index>{0});
    // Brand 0: max R without its bundles = R(B2) = 0.07; R_{-0}(l*) = 0.04
    //   -> (0.07 - 0.04) / mu0 = 0.015, over clicks 0.1 -> 0.15.
    CHECK(out.price[0] == Approx(0.15));
    // Store 2: without B0, B2: R(B1) = 0.11; R_{-2}(l*) = 0.1 -> 0.01 / 1 / 0.1 = 0.1.
    CHECK(out.price[2] == Approx(0.1));
    CHECK(out.click_prob[0] == Approx(0.1));
    CHECK(out.click_prob[2] == Approx(0.1));
    CHECK(out.click_prob[1] == 0.0);
}

TEST_CASE("JAMA: hand-worked list boost", "[jama]") {
    const auto a = brands_and_stores();
    // Boost 0.025 for any list holding B2: R(B0) = 0.09, R(B1) = 0.06, R(B2) = 0.07 + 0.025
    // = 0.095, R([]) = 0 -> l* = [B2] (brand 1, store 2).
    const Jama<double> jama({}, [](const AuctionView<double>&, std::span<const Index> l) {
        return std::find(l.begin(), l.end(), Index(2)) != l.end() ? 0.025 : 0.0;
    });
    const auto out = run(jama, a);
    REQUIRE(out.slots == std::vector<Index>{2});
    // Brand 1: without B2 the best is R(B0) = 0.09; R_{-1}(l*) = 0.4*0.1 + 0.025 = 0.065
    //   -> 0.025 / 0.1 = 0.25.
    CHECK(out.price[1] == Approx(0.25));
    // Store 2: without B0, B2 only R(B1) = 0.06; R_{-2}(l*) = 0.3*0.1 + 0.025 = 0.055
    //   -> 0.005 / 0.1 = 0.05.
    CHECK(out.price[2] == Approx(0.05));
    CHECK(out.price[0] == 0.0);
    CHECK(out.click_prob[1] == Approx(0.1));
    CHECK(out.click_prob[2] == Approx(0.1));
}

TEST_CASE("JAMA: mu = 1 and no boost equals joint VCG (both pivots)", "[jama]") {
    Rng rng(15);
    Outcome<double> o1, o2;
    Jama<double>::Workspace w1;
    JointVcg<double>::Workspace w2;
    for (int t = 0; t < 2000; ++t) {
        const auto a = test::random_joint_auction<double>(rng, 1 + rng.uniform_int(3), 1 + rng.uniform_int(4),
                                                          1 + rng.uniform_int(3));
        const auto pivot = t % 2 == 0 ? ClarkePivot::without_bidder : ClarkePivot::zero_bid;
        Jama<double>(pivot).run(a, o1, w1);
        JointVcg<double>(pivot).run(a, o2, w2);
        REQUIRE(o1.slots == o2.slots);
        for (Index j = 0; j < a.num_bidders(); ++j) {
            REQUIRE(o1.click_prob[j] == Approx(o2.click_prob[j]).epsilon(1e-12));
            REQUIRE(o1.price[j] == Approx(o2.price[j]).epsilon(1e-9).margin(1e-12));
        }
    }
}

TEMPLATE_TEST_CASE("JAMA: IR on 10 000 random joint auctions", "[jama][ir]", float, double) {
    using T = TestType;
    Rng rng(26);
    const auto mu = [](const AuctionView<T>&, Index j) { return T(1) + T(0.25) * static_cast<T>(j % 3); };
    const auto boost = [](const AuctionView<T>& a, std::span<const Index> l) {
        T b = 0;
        for (Index i : l) b += a.features(i, 0) == T(1) ? T(0.005) : T(0);
        return b;
    };
    const Jama<T> sep(mu, boost);
    const Jama<T, test::ToyCategoryCtr> toy(mu, boost, {}, ClarkePivot::zero_bid);
    typename Jama<T>::Workspace w1;
    typename Jama<T, test::ToyCategoryCtr>::Workspace w2;
    Outcome<T> out;
    for (int t = 0; t < 10000; ++t) {
        const auto a = test::random_joint_auction<T>(rng, 1 + rng.uniform_int(3), 1 + rng.uniform_int(3),
                                                     1 + rng.uniform_int(3), 0.6, 0.1, t % 2 == 0);
        if (t % 2 == 0)
            sep.run(a, out, w1);
        else
            toy.run(a, out, w2);
        REQUIRE(test::first_ir_violation<T>(a, out) == kNone);
    }
}

TEST_CASE("JAMA: a bidder's click probability is monotone in its bid", "[jama][monotone]") {
    Rng rng(36);
    const Jama<double> sep(bidder_weight, category_boost);
    const Jama<double, test::ToyCategoryCtr> toy(bidder_weight, category_boost);
    Jama<double>::Workspace w1;
    Jama<double, test::ToyCategoryCtr>::Workspace w2;
    for (int t = 0; t < 1000; ++t) {
        const auto a = test::random_joint_auction<double>(rng, 1 + rng.uniform_int(3), 1 + rng.uniform_int(3),
                                                          1 + rng.uniform_int(3), 0.6, 0.1, t % 2 == 0);
        const Index j = rng.uniform_int(a.num_bidders());
        REQUIRE(test::monotone_in_own_bid(sep, a, j, {1.1, 1.5, 2.0, 4.0}, w1));
        REQUIRE(test::monotone_in_own_bid(toy, a, j, {1.1, 1.5, 2.0, 4.0}, w2));
    }
}

TEST_CASE("JAMA: dominant-strategy IC on 1000 random joint auctions", "[jama][ic]") {
    Rng rng(46);
    const Jama<double> sep(bidder_weight, category_boost);
    const Jama<double, test::ToyCategoryCtr> toy(bidder_weight, category_boost, {}, ClarkePivot::zero_bid);
    Jama<double>::Workspace w1;
    Jama<double, test::ToyCategoryCtr>::Workspace w2;
    for (int t = 0; t < 1000; ++t) {
        const auto a = test::random_joint_auction<double>(rng, 1 + rng.uniform_int(3), 1 + rng.uniform_int(3),
                                                          1 + rng.uniform_int(3), 0.5, 0.1, t % 3 == 0);
        if (t % 2 == 0)
            REQUIRE(test::max_ic_gain(sep, a, w1) <= 1e-9);
        else
            REQUIRE(test::max_ic_gain(toy, a, w2) <= 1e-9);
    }
}

TEST_CASE("JAMA: bad weights, a bad boost and ordinary auctions are rejected", "[jama][validation]") {
    const auto a = brands_and_stores();
    const auto field_of = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const input_error& e) {
            return e.field() + "[" + std::to_string(e.index()) + "]";
        }
        return "no throw";
    };
    Jama<double> jama;
    Jama<double>::Workspace ws;
    Outcome<double> out;
    const std::vector<double> zero{1.0, 1.0, 0.0, 1.0}, inf{std::numeric_limits<double>::infinity(), 1.0, 1.0, 1.0},
        short_mu{1.0, 1.0, 1.0};
    CHECK(field_of([&] { jama.run(a, zero, out, ws); }) == "mu[2]");
    CHECK(field_of([&] { jama.run(a, inf, out, ws); }) == "mu[0]");
    CHECK(field_of([&] { jama.run(a, short_mu, out, ws); }) == "mu[-1]");
    const Jama<double> negative([](const AuctionView<double>&, Index j) { return j == 3 ? -2.0 : 1.0; });
    CHECK(field_of([&] { (void)run(negative, a); }) == "mu[3]");
    const Jama<double> nan_boost({}, [](const AuctionView<double>&, std::span<const Index>) { return std::nan(""); });
    CHECK(field_of([&] { (void)run(nan_boost, a); }) == "boost[-1]");
    Auction<double> ordinary;
    ordinary.bids = Eigen::Vector2d(1.0, 0.5);
    ordinary.ctr = Eigen::Vector2d(0.1, 0.1);
    ordinary.slot_ctr = Eigen::VectorXd::Constant(1, 1.0);
    CHECK(field_of([&] { (void)run(jama, ordinary); }) == "owners[-1]");
}
