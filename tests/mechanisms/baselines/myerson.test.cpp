#include <catch2/catch.hpp>

#include <diffauction/mechanisms/baselines/myerson.hpp>

#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/toy_click_model.hpp"

using namespace diffauction;

static_assert(Mechanism<Myerson<float>> && Mechanism<Myerson<double, test::ToyCategoryCtr>>);

namespace {
using Toy = Myerson<double, test::ToyCategoryCtr>;

Auction<double> uniform_three() {
    Auction<double> a;
    a.bids = Eigen::Vector3d(0.9, 0.7, 0.4);
    a.ctr = Eigen::Vector3d(0.1, 0.1, 0.1);
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    a.priors.assign(3, ValueDist<double>::uniform(0, 1));
    return a;
}

Auction<double> toy_auction() {
    // Ads 0 and 1 share category 0, ad 2 is category 1; all U[0,1], ctr 0.1.
    Auction<double> a = uniform_three();
    a.bids = Eigen::Vector3d(1.0, 0.8, 0.75);
    a.features.resize(3, 1);
    a.features << 0, 0, 1;
    return a;
}
}  // namespace

TEST_CASE("Myerson: hand-worked U[0,1] auction with a reserve", "[myerson]") {
    const auto a = uniform_three();
    // phi = 2b - 1 = 0.8, 0.4, -0.2: ad 2 is not eligible. Scores phi*ctr: 0.08, 0.04.
    const auto out = run(Myerson<double>(), a);
    REQUIRE(out.slots == std::vector<Index>{0, 1});
    // Ad 0 (slot 1): keeping slot 1 needs phi*0.1 >= 0.04 -> phi >= 0.4 -> b >= 0.7;
    // slot 2 needs phi >= 0 -> b >= 0.5 (reserve). Price (0.5 * 0.7 + 0.5 * 0.5) / 1 = 0.6.
    CHECK(out.price[0] == Approx(0.6));
    CHECK(out.click_prob[0] == Approx(0.1));
    // Ad 1 (slot 2): only the reserve: 0.5 * 0.5 / 0.5 = 0.5.
    CHECK(out.price[1] == Approx(0.5));
    CHECK(out.click_prob[1] == Approx(0.05));
    CHECK(out.price[2] == 0.0);
    CHECK(out.click_prob[2] == 0.0);
}

TEST_CASE("Myerson: hand-worked asymmetric priors pick the lower eCPM", "[myerson]") {
    Auction<double> a;
    a.bids = Eigen::Vector2d(1.5, 1.6);
    a.ctr = Eigen::Vector2d(0.2, 0.1);  // eCPM 0.30 vs 0.16: VCG would show ad 0
    a.slot_ctr = Eigen::VectorXd::Constant(1, 1.0);
    a.priors = {ValueDist<double>::exponential(1.0), ValueDist<double>::uniform(0, 2)};
    // phi0 = 1.5 - 1 = 0.5 -> score 0.10; phi1 = 2 * 1.6 - 2 = 1.2 -> score 0.12.
    const auto out = run(Myerson<double>(), a);
    REQUIRE(out.slots == std::vector<Index>{1});
    // Threshold: phi1(z) * 0.1 >= 0.10 -> 2z - 2 >= 1 -> z = 1.5.
    CHECK(out.price[1] == Approx(1.5));
    CHECK(out.click_prob[1] == Approx(0.1));
    CHECK(out.price[0] == 0.0);
    // Nobody eligible: both bids below the reserves (1 and 1) -> nothing shown.
    a.bids = Eigen::Vector2d(0.9, 0.99);
    const auto none = run(Myerson<double>(), a);
    CHECK(none.slots == std::vector<Index>{kNone});
    CHECK(none.revenue() == 0.0);
}

TEST_CASE("Myerson: hand-worked toy externality auction (bisection path; choice: eligible lists of length 0..K)", "[myerson][externalities]") {
    const auto a = toy_auction();
    // phi = 2b - 1 = 1.0, 0.6, 0.5. Virtual welfare, factor 0.7 below a same-category ad:
    //   [0,1] 0.1 + 0.5*0.1*0.6*0.7 = 0.121   [0,2] 0.1 + 0.5*0.1*0.5 = 0.125
    //   [1,0] 0.06 + 0.035 = 0.095  [1,2] 0.085  [2,0] 0.100  [2,1] 0.080
    const auto out = run(Toy(), a);
    REQUIRE(out.slots == std::vector<Index>{0, 2});
    // Ad 2 with virtual value x: [0,2] = 0.1 + 0.05x beats [0,1] = 0.121 iff x > 0.42,
    // and [2,0] = 0.05 + 0.1x never beats [0,2] for x <= 1. One jump at x = 0.42,
    // z = (0.42 + 1) / 2 = 0.71: price 0.71 per click.
    CHECK(out.price[2] == Approx(0.71).epsilon(1e-9));
    CHECK(out.click_prob[2] == Approx(0.05));
    // Ad 0 with virtual value y: [0,2] = 0.1y + 0.025 beats the best list without it,
    // [1,2] = 0.085, iff y > 0.6 (and [2,0], [1,0] need y > 0.7 / 0.714 to beat 0.085).
    // One jump at y = 0.6, z = 0.8: price 0.8.
    CHECK(out.price[0] == Approx(0.8).epsilon(1e-9));
    CHECK(out.click_prob[0] == Approx(0.1));
    CHECK(out.revenue() == Approx(0.8 * 0.1 + 0.71 * 0.05).epsilon(1e-9));
}

TEST_CASE("Myerson: the bisection path equals the closed form on random auctions", "[myerson][externalities]") {
    Rng rng(14);
    Myerson<double> closed;
    Myerson<double, test::EnumeratedSeparableCtr> bisect;
    Myerson<double>::Workspace w1;
    Myerson<double, test::EnumeratedSeparableCtr>::Workspace w2;
    Outcome<double> o1, o2;
    for (int t = 0; t < 2000; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 0);
        test::set_mixed_priors(a, rng);
        closed.run(a, o1, w1);
        bisect.run(a, o2, w2);
        REQUIRE(o1.slots == o2.slots);
        for (Index j = 0; j < a.num_bidders(); ++j) {
            REQUIRE(o1.click_prob[j] == Approx(o2.click_prob[j]).epsilon(1e-12));
            REQUIRE(o1.price[j] == Approx(o2.price[j]).epsilon(1e-9).margin(1e-12));
        }
    }
}

TEMPLATE_TEST_CASE("Myerson: IR on 10 000 random auctions", "[myerson][ir]", float, double) {
    using T = TestType;
    Rng rng(24);
    Myerson<T> closed;
    Myerson<T, test::ToyCategoryCtr> toy;
    typename Myerson<T>::Workspace w1;
    typename Myerson<T, test::ToyCategoryCtr>::Workspace w2;
    Outcome<T> out;
    for (int t = 0; t < 10000; ++t) {
        const bool ties = t % 2 == 0;
        auto a = test::random_auction<T>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 0, ties);
        test::set_mixed_priors(a, rng);
        closed.run(a, out, w1);
        REQUIRE(test::first_ir_violation<T>(a, out) == kNone);
        auto b = test::random_auction<T>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 0, ties);
        test::set_mixed_priors(b, rng);
        test::set_categories(b, rng, 3);
        toy.run(b, out, w2);
        REQUIRE(test::first_ir_violation<T>(b, out) == kNone);
        for (Index j = 0; j < b.num_bidders(); ++j) REQUIRE(out.price[j] >= T(0));
    }
}

TEST_CASE("Myerson: allocation is monotone in the own bid", "[myerson][monotone]") {
    Rng rng(34);
    Myerson<double> closed;
    Toy toy;
    Myerson<double>::Workspace w1;
    Toy::Workspace w2;
    for (int t = 0; t < 2000; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(7), 1 + rng.uniform_int(4), 0, t % 2 == 0);
        test::set_mixed_priors(a, rng);
        test::set_categories(a, rng, 2);
        const Index j = rng.uniform_int(a.num_bidders());
        REQUIRE(test::monotone_in_own_bid(closed, a, j, {1.1, 1.5, 2.0, 4.0}, w1));
        REQUIRE(test::monotone_in_own_bid(toy, a, j, {1.1, 1.5, 2.0, 4.0}, w2));
    }
}

TEST_CASE("Myerson: dominant-strategy IC (values = bids) on 1000 random auctions", "[myerson][ic]") {
    Rng rng(44);
    Myerson<double> closed;
    Toy toy;
    Myerson<double>::Workspace w1;
    Toy::Workspace w2;
    for (int t = 0; t < 1000; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(6), 1 + rng.uniform_int(4), 0, t % 3 == 0);
        test::set_mixed_priors(a, rng);
        REQUIRE(test::max_ic_gain(closed, a, w1) <= 1e-9);
        auto b = test::random_auction<double>(rng, 1 + rng.uniform_int(5), 1 + rng.uniform_int(3), 0, t % 3 == 0);
        test::set_mixed_priors(b, rng);
        test::set_categories(b, rng, 2);
        REQUIRE(test::max_ic_gain(toy, b, w2) <= 1e-9);
    }
}

TEST_CASE("Myerson: missing priors, joint auctions and a bad tolerance are rejected", "[myerson][validation]") {
    const auto field_of = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const input_error& e) {
            return e.field();
        }
        return "no throw";
    };
    auto a = uniform_three();
    a.priors.clear();
    CHECK(field_of([&] { (void)run(Myerson<double>(), a); }) == "priors");
    CHECK(field_of([&] { (void)run(Toy(), a); }) == "priors");
    auto joint = uniform_three();
    joint.owners = {{0, kNone}, {1, kNone}, {2, kNone}};
    CHECK(field_of([&] { (void)run(Myerson<double>(), joint); }) == "owners");
    CHECK(field_of([] { Toy(test::ToyCategoryCtr{}, 0.0); }) == "bisection_tol");
    CHECK(field_of([] { Toy(test::ToyCategoryCtr{}, 1.5); }) == "bisection_tol");
    CHECK(field_of([] { Toy(test::ToyCategoryCtr{}, 1e-10); }) == "no throw");
}
