#include <catch2/catch.hpp>

#include <diffauction/mechanisms/baselines/vcg.hpp>
#include <diffauction/mechanisms/baselines/wvcg.hpp>

#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/toy_click_model.hpp"

using namespace diffauction;

static_assert(Mechanism<Wvcg<float>> && Mechanism<Wvcg<double, test::ToyCategoryCtr>>);

namespace {
// Bid-free weights from the features: w_i = 1 + |x_i0| (> 0).
double feature_weight(const AuctionView<double>& a, Index i) { return 1.0 + std::abs(a.features(i, 0)); }

// A bid-free boost: +0.01 per ad of category >= 0.5 in the list (random features are normal).
double feature_boost(const AuctionView<double>& a, std::span<const Index> l) {
    double b = 0;
    for (Index i : l) b += a.features(i, 0) >= 0.5 ? 0.01 : 0.0;
    return b;
}
}  // namespace

TEST_CASE("WVCG: hand-worked weighted separable auction (closed form)", "[wvcg]") {
    Auction<double> a;
    a.bids = Eigen::Vector3d(2.0, 3.0, 1.0);
    a.ctr = Eigen::Vector3d(0.10, 0.05, 0.20);
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    const std::vector<double> w{1.0, 2.0, 0.5};
    // Weighted scores w*b*ctr: 0.20, 2*0.15 = 0.30, 0.5*0.20 = 0.10 -> order 1, 0, 2.
    Wvcg<double> wvcg;
    Wvcg<double>::Workspace ws;
    Outcome<double> out;
    wvcg.run(a, w, out, ws);
    REQUIRE(out.slots == std::vector<Index>{1, 0});
    // Ad 1: (1 - 0.5) * 0.20 + 0.5 * 0.10 = 0.15, over w * click = 2 * 0.05 -> 1.5.
    // By the formula: max R without ad 1 = [0,2] = 0.20 + 0.5 * 0.10 = 0.25,
    // R_{-1}(l*) = 0.5 * 0.20 = 0.10 -> (0.25 - 0.10) / (2 * 0.05) = 1.5.
    CHECK(out.price[1] == Approx(1.5));
    CHECK(out.click_prob[1] == Approx(0.05));
    // Ad 0: 0.5 * 0.10 = 0.05 over 1 * 0.5 * 0.10 -> 1.0.
    CHECK(out.price[0] == Approx(1.0));
    CHECK(out.click_prob[0] == Approx(0.05));
    CHECK(out.price[2] == 0.0);
    // The same weights from a callable give the same outcome.
    Wvcg<double> by_fn([w](const AuctionView<double>&, Index i) { return w[static_cast<std::size_t>(i)]; });
    const auto out2 = run(by_fn, a);
    CHECK(out2.slots == out.slots);
    CHECK(out2.price == out.price);
}

TEST_CASE("WVCG: hand-worked list boost (enumeration)", "[wvcg]") {
    Auction<double> a;
    a.bids = Eigen::Vector2d(1.0, 0.8);
    a.ctr = Eigen::Vector2d(0.1, 0.1);
    a.slot_ctr = Eigen::VectorXd::Constant(1, 1.0);
    // beta = 0.03 for the list [1], else 0: R([0]) = 0.1, R([1]) = 0.08 + 0.03 = 0.11, R([]) = 0.
    const Wvcg<double> wvcg({}, [](const AuctionView<double>&, std::span<const Index> l) {
        return l.size() == 1 && l[0] == 1 ? 0.03 : 0.0;
    });
    REQUIRE(wvcg.has_boost());
    const auto out = run(wvcg, a);
    REQUIRE(out.slots == std::vector<Index>{1});
    // Ad 1: max R without it = R([0]) = 0.1; R_{-1}(l*) = the boost 0.03 -> 0.07 / 0.1 = 0.7.
    CHECK(out.price[1] == Approx(0.7));
    CHECK(out.click_prob[1] == Approx(0.1));
    CHECK(out.price[0] == 0.0);
    CHECK(out.click_prob[0] == 0.0);
}

TEST_CASE("WVCG: hand-worked weights under the toy externality model", "[wvcg][externalities]") {
    const auto a = test::toy_category_auction();
    const std::vector<double> w{1.0, 2.0, 1.0};
    // R with w = (1, 2, 1), factor 0.7 for a same-category ad above:
    //   [0,1] 0.1 + 2*0.021 = 0.142   [0,2] 0.125   [1,0] 2*0.06 + 0.035 = 0.155
    //   [1,2] 0.12 + 0.025 = 0.145    [2,0] 0.100   [2,1] 0.05 + 2*0.03 = 0.110
    Wvcg<double, test::ToyCategoryCtr> wvcg;
    Wvcg<double, test::ToyCategoryCtr>::Workspace ws;
    Outcome<double> out;
    wvcg.run(a, w, out, ws);
    REQUIRE(out.slots == std::vector<Index>{1, 0});
    // Ad 1: max without it 0.125 ([0,2]); R_{-1}(l*) = 0.035 -> 0.09 / (2 * 0.1) = 0.45.
    CHECK(out.price[1] == Approx(0.45));
    CHECK(out.click_prob[1] == Approx(0.1));
    // Ad 0: max without it 0.145 ([1,2]); R_{-0}(l*) = 0.12 -> 0.025 / (1 * 0.035) = 5/7.
    CHECK(out.price[0] == Approx(5.0 / 7.0));
    CHECK(out.click_prob[0] == Approx(0.035));
}

TEST_CASE("WVCG: w = 1 and no boost equals VCG, both paths", "[wvcg]") {
    Rng rng(12);
    Wvcg<double> w_sep;
    Vcg<double> v_sep;
    Wvcg<double, test::ToyCategoryCtr> w_toy;
    Vcg<double, test::ToyCategoryCtr> v_toy;
    // The enumeration path of WVCG on the separable model, against VCG's closed form.
    Wvcg<double, test::EnumeratedSeparableCtr> w_enum;
    Outcome<double> o1, o2;
    for (int t = 0; t < 1000; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 0);
        test::set_categories(a, rng, 2);
        o1 = run(w_sep, a);
        o2 = run(v_sep, a);
        REQUIRE(o1.slots == o2.slots);
        REQUIRE(o1.price == o2.price);  // same closed form, same arithmetic
        const auto o3 = run(w_enum, a);
        REQUIRE(o3.slots == o2.slots);
        for (Index j = 0; j < a.num_bidders(); ++j)
            REQUIRE(o3.price[j] == Approx(o2.price[j]).epsilon(1e-9).margin(1e-12));
        o1 = run(w_toy, a);
        o2 = run(v_toy, a);
        REQUIRE(o1.slots == o2.slots);
        for (Index j = 0; j < a.num_bidders(); ++j) {
            REQUIRE(o1.price[j] == Approx(o2.price[j]).epsilon(1e-12).margin(1e-15));
            REQUIRE(o1.click_prob[j] == o2.click_prob[j]);
        }
    }
}

TEST_CASE("WVCG: weighted closed form equals weighted enumeration", "[wvcg]") {
    Rng rng(13);
    Wvcg<double> closed(feature_weight);
    Wvcg<double, test::EnumeratedSeparableCtr> enumerated(feature_weight);
    for (int t = 0; t < 1000; ++t) {
        const auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 2);
        const auto o1 = run(closed, a), o2 = run(enumerated, a);
        REQUIRE(o1.slots == o2.slots);
        for (Index j = 0; j < a.num_bidders(); ++j)
            REQUIRE(o1.price[j] == Approx(o2.price[j]).epsilon(1e-9).margin(1e-12));
    }
}

TEMPLATE_TEST_CASE("WVCG: IR on 10 000 random auctions", "[wvcg][ir]", float, double) {
    using T = TestType;
    Rng rng(22);
    const auto weight = [](const AuctionView<T>& a, Index i) { return T(1) + std::abs(a.features(i, 1)); };
    const auto boost = [](const AuctionView<T>& a, std::span<const Index> l) {
        T b = 0;
        for (Index i : l) b += a.features(i, 1) > T(0) ? T(0.005) : T(0);
        return b;
    };
    Wvcg<T> closed(weight);
    Wvcg<T, test::ToyCategoryCtr> toy(weight, boost);
    typename Wvcg<T>::Workspace w1;
    typename Wvcg<T, test::ToyCategoryCtr>::Workspace w2;
    Outcome<T> out;
    for (int t = 0; t < 10000; ++t) {
        const bool ties = t % 2 == 0;
        const auto a = test::random_auction<T>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 2, ties);
        closed.run(a, out, w1);
        REQUIRE(test::first_ir_violation<T>(a, out) == kNone);
        auto b = test::random_auction<T>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 2, ties);
        test::set_categories(b, rng, 3);
        toy.run(b, out, w2);
        REQUIRE(test::first_ir_violation<T>(b, out) == kNone);
    }
}

TEST_CASE("WVCG: allocation is monotone in the own bid", "[wvcg][monotone]") {
    Rng rng(32);
    Wvcg<double> closed(feature_weight);
    Wvcg<double, test::ToyCategoryCtr> toy(feature_weight, feature_boost);
    Wvcg<double>::Workspace w1;
    Wvcg<double, test::ToyCategoryCtr>::Workspace w2;
    for (int t = 0; t < 2000; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 2, t % 2 == 0);
        const Index j = rng.uniform_int(a.num_bidders());
        REQUIRE(test::monotone_in_own_bid(closed, a, j, {1.1, 1.5, 2.0, 4.0}, w1));
        // Categories in column 0 as small integers; weights then read 1 + category.
        test::set_categories(a, rng, 2);
        REQUIRE(test::monotone_in_own_bid(toy, a, j, {1.1, 1.5, 2.0, 4.0}, w2));
    }
}

TEST_CASE("WVCG: dominant-strategy IC on 1000 random auctions", "[wvcg][ic]") {
    Rng rng(42);
    Wvcg<double> closed(feature_weight);
    Wvcg<double, test::ToyCategoryCtr> toy(feature_weight, feature_boost);
    Wvcg<double>::Workspace w1;
    Wvcg<double, test::ToyCategoryCtr>::Workspace w2;
    for (int t = 0; t < 1000; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(8), 1 + rng.uniform_int(4), 2, t % 3 == 0);
        REQUIRE(test::max_ic_gain(closed, a, w1) <= 1e-9);
        auto b = test::random_auction<double>(rng, 1 + rng.uniform_int(5), 1 + rng.uniform_int(3), 2, t % 3 == 0);
        test::set_categories(b, rng, 2);
        REQUIRE(test::max_ic_gain(toy, b, w2) <= 1e-9);
    }
}

TEST_CASE("WVCG: bad weights, a bad boost and joint auctions are rejected", "[wvcg][validation]") {
    const auto a = test::toy_category_auction();
    const auto field_of = [&](auto&& f) -> std::string {
        try {
            f();
        } catch (const input_error& e) {
            return e.field() + "[" + std::to_string(e.index()) + "]";
        }
        return "no throw";
    };
    Wvcg<double> wvcg;
    Wvcg<double>::Workspace ws;
    Outcome<double> out;
    const std::vector<double> zero{1.0, 0.0, 1.0}, nan{1.0, 1.0, std::nan("")}, short_w{1.0, 1.0};
    CHECK(field_of([&] { wvcg.run(a, zero, out, ws); }) == "weights[1]");
    CHECK(field_of([&] { wvcg.run(a, nan, out, ws); }) == "weights[2]");
    CHECK(field_of([&] { wvcg.run(a, short_w, out, ws); }) == "weights[-1]");
    const Wvcg<double> negative_fn([](const AuctionView<double>&, Index i) { return i == 0 ? -1.0 : 1.0; });
    CHECK(field_of([&] { (void)run(negative_fn, a); }) == "weights[0]");
    const Wvcg<double> bad_boost({}, [](const AuctionView<double>&, std::span<const Index>) {
        return std::numeric_limits<double>::infinity();
    });
    CHECK(field_of([&] { (void)run(bad_boost, a); }) == "boost[-1]");
    auto joint = a;
    joint.owners = {{0, kNone}, {1, kNone}, {2, kNone}};
    CHECK(field_of([&] { (void)run(wvcg, joint); }) == "owners[-1]");
}
