#include <catch2/catch.hpp>

#include <diffauction/mechanisms/baselines/gsp.hpp>

#include "support/random_auction.hpp"

using namespace diffauction;

TEST_CASE("GSP: hand-worked three bidders, two slots", "[gsp]") {
    Auction<double> a;
    a.bids = Eigen::Vector3d(2.0, 3.0, 1.0);
    a.ctr = Eigen::Vector3d(0.10, 0.05, 0.20);  // eCPM scores 0.20, 0.15, 0.20
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    const auto out = run(Gsp<double>(1.0), a);
    // Ties (0.20, 0.20) go to the lower index: slot 0 = ad 0, slot 1 = ad 2.
    REQUIRE(out.slots == std::vector<Index>{0, 2});
    CHECK(out.price[0] == Approx(0.20 / 0.10));  // next score 0.20 -> pays its own bid
    CHECK(out.price[2] == Approx(0.15 / 0.20));
    CHECK(out.price[1] == 0.0);
    CHECK(out.click_prob[0] == Approx(0.10));
    CHECK(out.click_prob[2] == Approx(0.5 * 0.20));
    CHECK(out.revenue() == Approx(2.0 * 0.10 + 0.75 * 0.10));
}

TEST_CASE("GSP: squashing sigma = 0 ranks by bid", "[gsp]") {
    Auction<double> a;
    a.bids = Eigen::Vector3d(2.0, 3.0, 1.0);
    a.ctr = Eigen::Vector3d(0.10, 0.05, 0.20);
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    const auto out = run(Gsp<double>(0.0), a);
    REQUIRE(out.slots == std::vector<Index>{1, 0});
    CHECK(out.price[1] == Approx(2.0));
    CHECK(out.price[0] == Approx(1.0));
}

TEST_CASE("GSP: K > N fills only N slots; the last ad pays 0", "[gsp]") {
    Auction<float> a;
    a.bids = Eigen::Vector2f(1.0f, 2.0f);
    a.ctr = Eigen::Vector2f(0.1f, 0.1f);
    a.slot_ctr = Eigen::Vector3f(1.0f, 0.8f, 0.6f);
    const auto out = run(Gsp<float>(), a);
    REQUIRE(out.slots == std::vector<Index>{1, 0, kNone});
    CHECK(out.price[0] == 0.0f);
    CHECK(out.price[1] == Approx(1.0f));
}

TEMPLATE_TEST_CASE("GSP: IR on 10 000 random auctions", "[gsp][ir]", float, double) {
    Rng rng(7);
    Gsp<TestType> gsp(TestType(0.7));
    typename Gsp<TestType>::Workspace ws;
    Outcome<TestType> out;
    for (int t = 0; t < 10000; ++t) {
        const auto a = test::random_auction<TestType>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 0, t % 2 == 0);
        gsp.run(a, out, ws);
        for (Index j = 0; j < a.num_bidders(); ++j) REQUIRE(out.price[j] <= a.bids[j]);
    }
}
