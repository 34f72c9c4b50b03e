#include <catch2/catch.hpp>

#include <diffauction/mechanisms/baselines/gsp.hpp>
#include <diffauction/mechanisms/baselines/vcg.hpp>

#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/toy_click_model.hpp"

using namespace diffauction;

static_assert(Mechanism<Vcg<float>> && Mechanism<Vcg<double, test::ToyCategoryCtr>>);


TEST_CASE("VCG: hand-worked separable auction, three bidders, two slots", "[vcg]") {
    Auction<double> a;
    a.bids = Eigen::Vector3d(2.0, 3.0, 1.0);
    a.ctr = Eigen::Vector3d(0.10, 0.05, 0.20);  // scores b*ctr = 0.20, 0.15, 0.20
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    const auto out = run(Vcg<double>(), a);
    // Ties 0.20 / 0.20 go to the lower index: order 0, 2, 1.
    REQUIRE(out.slots == std::vector<Index>{0, 2});
    // Ad 0 (slot 1): (1 - 0.5) * 0.20 + (0.5 - 0) * 0.15 = 0.175; click 1 * 0.10 -> 1.75.
    // Check by Clarke: without ad 0 the others get 0.20 + 0.5 * 0.15 = 0.275, with it
    // ad 2 gets 0.5 * 0.20 = 0.10; 0.275 - 0.10 = 0.175.
    CHECK(out.price[0] == Approx(1.75));
    CHECK(out.click_prob[0] == Approx(0.10));
    // Ad 2 (slot 2): 0.5 * 0.15 = 0.075; click 0.5 * 0.20 = 0.10 -> 0.75.
    CHECK(out.price[2] == Approx(0.75));
    CHECK(out.click_prob[2] == Approx(0.10));
    CHECK(out.price[1] == 0.0);
    CHECK(out.click_prob[1] == 0.0);
    CHECK(out.revenue() == Approx(0.175 + 0.075));
}

TEST_CASE("VCG: K > N fills N slots; the last ad pays 0", "[vcg]") {
    Auction<float> a;
    a.bids = Eigen::Vector2f(1.0f, 2.0f);
    a.ctr = Eigen::Vector2f(0.1f, 0.1f);  // scores 0.1, 0.2
    a.slot_ctr = Eigen::Vector3f(1.0f, 0.8f, 0.6f);
    const auto out = run(Vcg<float>(), a);
    REQUIRE(out.slots == std::vector<Index>{1, 0, kNone});
    // Ad 1 (slot 1): (1 - 0.8) * 0.1 + (0.8 - 0.6) * 0 = 0.02; click 0.1 -> 0.2.
    CHECK(out.price[1] == Approx(0.2f));
    // Ad 0 (slot 2): nobody below -> 0.
    CHECK(out.price[0] == 0.0f);
    CHECK(out.click_prob[0] == Approx(0.08f));
}

TEST_CASE("VCG: hand-worked auction under the toy externality model (choice: lists of length 0..K)", "[vcg][externalities]") {
    const auto a = test::toy_category_auction();
    // SW with factor 0.7 for a same-category ad above:
    //   [0,1] 0.1 + 0.5*0.1*0.6*0.7 = 0.121   [0,2] 0.1 + 0.5*0.1*0.5 = 0.125
    //   [1,0] 0.06 + 0.5*0.1*1*0.7 = 0.095    [1,2] 0.06 + 0.025 = 0.085
    //   [2,0] 0.05 + 0.05 = 0.100             [2,1] 0.05 + 0.03 = 0.080
    // The separable ranking would show [0,1]; the externality makes [0,2] best.
    const auto out = run(Vcg<double, test::ToyCategoryCtr>(), a);
    REQUIRE(out.slots == std::vector<Index>{0, 2});
    // Ad 0: best without it 0.085 ([1,2]); the others at l* get 0.025 -> 0.06 / 0.1 = 0.6.
    CHECK(out.price[0] == Approx(0.6));
    CHECK(out.click_prob[0] == Approx(0.1));
    // Ad 2: best without it 0.121 ([0,1]); the others at l* get 0.1 -> 0.021 / 0.05 = 0.42.
    CHECK(out.price[2] == Approx(0.42));
    CHECK(out.click_prob[2] == Approx(0.05));
    CHECK(out.price[1] == 0.0);
    // The closed form on the same auction (no externalities) shows [0,1] instead.
    CHECK(run(Vcg<double>(), a).slots == std::vector<Index>{0, 1});
}

TEST_CASE("VCG (choice: lists of length 0..K): an ad that hurts the others stays out of a free slot", "[vcg][externalities]") {
    // A model where any two same-category ads in the list halve each other's clicks.
    struct PairPenalty {
        void list_ctr(const AuctionView<double>& a, std::span<const Index> list, std::span<double> out) const {
            for (std::size_t k = 0; k < list.size(); ++k) {
                out[k] = a.slot_ctr[static_cast<Index>(k)] * a.ctr[list[k]];
                for (std::size_t j = 0; j < list.size(); ++j)
                    if (j != k && a.features(list[j], 0) == a.features(list[k], 0)) {
                        out[k] *= 0.5;
                        break;
                    }
            }
        }
    };
    Auction<double> a;
    a.bids = Eigen::Vector2d(1.0, 0.1);
    a.ctr = Eigen::Vector2d(0.1, 0.1);
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    a.features = Eigen::MatrixXd::Zero(2, 1);  // one category
    // SW: [0,1] 0.1*0.5 + 0.5*0.1*0.1*0.5 = 0.0525, [1,0] 0.005 + 0.025 = 0.03,
    //     [0] 0.1, [1] 0.01. Best: [0], leaving slot 2 empty.
    const auto out = run(Vcg<double, PairPenalty>(), a);
    REQUIRE(out.slots == std::vector<Index>{0, kNone});
    // Ad 0: best without it 0.01 ([1]); the others get 0 at l* -> 0.01 / 0.1 = 0.1.
    CHECK(out.price[0] == Approx(0.1));
    // Had only full lists been feasible, l* = [0,1] and ad 1 would pay
    // (0.1 - 0.05) / 0.0025 = 20 per click on a bid of 0.1: IR would fail.
    CHECK(out.price[1] == 0.0);
    CHECK(out.click_prob[1] == 0.0);
}

TEST_CASE("VCG: the enumeration path equals the closed form on random auctions", "[vcg][externalities]") {
    Rng rng(11);
    Vcg<double> closed;
    Vcg<double, test::EnumeratedSeparableCtr> enumerated;
    Vcg<double>::Workspace w1;
    Vcg<double, test::EnumeratedSeparableCtr>::Workspace w2;
    Outcome<double> o1, o2;
    for (int t = 0; t < 2000; ++t) {
        const auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 0);
        closed.run(a, o1, w1);
        enumerated.run(a, o2, w2);
        REQUIRE(o1.slots == o2.slots);
        for (Index j = 0; j < a.num_bidders(); ++j) {
            REQUIRE(o1.click_prob[j] == Approx(o2.click_prob[j]).epsilon(1e-12));
            REQUIRE(o1.price[j] == Approx(o2.price[j]).epsilon(1e-9).margin(1e-12));
        }
    }
}

TEMPLATE_TEST_CASE("VCG: IR on 10 000 random auctions", "[vcg][ir]", float, double) {
    Rng rng(21);
    Vcg<TestType> closed;
    Vcg<TestType, test::ToyCategoryCtr> toy;
    typename Vcg<TestType>::Workspace w1;
    typename Vcg<TestType, test::ToyCategoryCtr>::Workspace w2;
    Outcome<TestType> out;
    for (int t = 0; t < 10000; ++t) {
        const bool ties = t % 2 == 0;
        const auto a = test::random_auction<TestType>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 0, ties);
        closed.run(a, out, w1);
        REQUIRE(test::first_ir_violation<TestType>(a, out) == kNone);
        auto b = test::random_auction<TestType>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 0, ties);
        test::set_categories(b, rng, 3);
        toy.run(b, out, w2);
        REQUIRE(test::first_ir_violation<TestType>(b, out) == kNone);
        for (Index j = 0; j < b.num_bidders(); ++j) REQUIRE(out.price[j] >= TestType(-1e-6));  // no deficit here
    }
}

TEST_CASE("VCG: allocation is monotone in the own bid", "[vcg][monotone]") {
    Rng rng(31);
    Vcg<double> closed;
    Vcg<double, test::ToyCategoryCtr> toy;
    Vcg<double>::Workspace w1;
    Vcg<double, test::ToyCategoryCtr>::Workspace w2;
    for (int t = 0; t < 2000; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(8), 1 + rng.uniform_int(4), 0, t % 2 == 0);
        test::set_categories(a, rng, 2);
        const Index j = rng.uniform_int(a.num_bidders());
        REQUIRE(test::monotone_in_own_bid(closed, a, j, {1.1, 1.5, 2.0, 4.0}, w1));
        REQUIRE(test::monotone_in_own_bid(toy, a, j, {1.1, 1.5, 2.0, 4.0}, w2));
    }
}

TEST_CASE("VCG: dominant-strategy IC on 1000 random auctions", "[vcg][ic]") {
    Rng rng(41);
    Vcg<double> closed;
    Vcg<double, test::ToyCategoryCtr> toy;
    Vcg<double>::Workspace w1;
    Vcg<double, test::ToyCategoryCtr>::Workspace w2;
    for (int t = 0; t < 1000; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(8), 1 + rng.uniform_int(4), 0, t % 3 == 0);
        REQUIRE(test::max_ic_gain(closed, a, w1) <= 1e-9);
        auto b = test::random_auction<double>(rng, 1 + rng.uniform_int(5), 1 + rng.uniform_int(3), 0, t % 3 == 0);
        test::set_categories(b, rng, 2);
        REQUIRE(test::max_ic_gain(toy, b, w2) <= 1e-9);
    }
}

TEST_CASE("VCG: the IC check does detect a profitable misreport (GSP)", "[vcg][ic]") {
    // GSP, two slots, equal ctr: bids 1.0, 0.9, 0.1. Truthful, bidder 0 takes slot 1
    // and pays 0.9: u = (1 - 0.9) * 1 = 0.1. Bidding 0.5 it takes slot 2 at price 0.1:
    // u = (1 - 0.1) * 0.5 = 0.45 -> a gain of 0.35 (relative to v * beta_1 = 1).
    Auction<double> a;
    a.bids = Eigen::Vector3d(1.0, 0.9, 0.1);
    a.ctr = Eigen::Vector3d(1.0, 1.0, 1.0);
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    Gsp<double>::Workspace ws;
    CHECK(test::max_ic_gain(Gsp<double>(), a, ws) == Approx(0.35));
    Vcg<double>::Workspace wv;
    CHECK(test::max_ic_gain(Vcg<double>(), a, wv) <= 1e-12);
}

TEST_CASE("VCG: a joint auction is rejected with field owners", "[vcg][validation]") {
    auto a = test::toy_category_auction();
    a.owners = {{0, kNone}, {1, kNone}, {2, kNone}};
    for (int path = 0; path < 2; ++path) {
        try {
            if (path == 0)
                (void)run(Vcg<double>(), a);
            else
                (void)run(Vcg<double, test::ToyCategoryCtr>(), a);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "owners");
        }
    }
}

TEST_CASE("VCG: a click model returning a negative probability is rejected", "[vcg][validation]") {
    struct Broken {
        void list_ctr(const AuctionView<double>&, std::span<const Index> list, std::span<double> out) const {
            for (std::size_t k = 0; k < list.size(); ++k) out[k] = -0.1;
        }
    };
    try {
        (void)run(Vcg<double, Broken>(), test::toy_category_auction());
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "list_ctr");
    }
}
