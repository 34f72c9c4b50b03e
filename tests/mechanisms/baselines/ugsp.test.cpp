#include <catch2/catch.hpp>

#include <diffauction/mechanisms/baselines/ugsp.hpp>

#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"

using namespace diffauction;

static_assert(Mechanism<Ugsp<float>> && Mechanism<Ugfp<double>>);

namespace {
Auction<double> three_ads() {
    Auction<double> a;
    a.bids = Eigen::Vector3d(2.0, 3.0, 1.0);
    a.ctr = Eigen::Vector3d(0.10, 0.05, 0.20);
    a.cvr = Eigen::Vector3d(0.10, 0.00, 0.05);
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    return a;
}
}  // namespace

TEST_CASE("uGSP/uGFP: hand-worked three ads, two slots, lambda = (1, 0.5, 2)", "[ugsp]") {
    const auto a = three_ads();
    // o = 0.5*ctr + 2*cvr: o0 = 0.05 + 0.20 = 0.25, o1 = 0.025 + 0 = 0.025, o2 = 0.10 + 0.10 = 0.20.
    // s = b*ctr + o: s0 = 0.20 + 0.25 = 0.45, s1 = 0.15 + 0.025 = 0.175, s2 = 0.20 + 0.20 = 0.40.
    // Order 0, 2, 1.
    const auto out = run(Ugsp<double>(1.0, 0.5, 2.0), a);
    REQUIRE(out.slots == std::vector<Index>{0, 2});
    // Ad 0: (s2 - o0) / (1 * ctr0) = (0.40 - 0.25) / 0.10 = 1.5.
    CHECK(out.price[0] == Approx(1.5));
    // Ad 2: (s1 - o2) / (1 * ctr2) = (0.175 - 0.20) / 0.20 = -0.125 -> clamped to 0
    // (its bid-free part alone beats the next score).
    CHECK(out.price[2] == 0.0);
    CHECK(out.price[1] == 0.0);
    CHECK(out.click_prob[0] == Approx(0.10));
    CHECK(out.click_prob[2] == Approx(0.5 * 0.20));
    // uGFP: same slots, every shown ad pays its bid.
    const auto fp = run(Ugfp<double>(1.0, 0.5, 2.0), a);
    REQUIRE(fp.slots == out.slots);
    CHECK(fp.price[0] == 2.0);
    CHECK(fp.price[2] == 1.0);
    CHECK(fp.price[1] == 0.0);
    CHECK(fp.click_prob == out.click_prob);
    CHECK(fp.revenue() == Approx(2.0 * 0.10 + 1.0 * 0.10));
}

TEST_CASE("uGSP/uGFP: lambda1 = 2 and no cvr; a score tie goes to the lower index", "[ugsp]") {
    Auction<float> a;
    a.bids = Eigen::Vector3f(1.0f, 0.5f, 0.8f);
    a.ctr = Eigen::Vector3f(0.1f, 0.2f, 0.1f);  // 2*b*ctr = 0.2, 0.2, 0.16
    a.slot_ctr = Eigen::VectorXf::Constant(1, 1.0f);
    const auto out = run(Ugsp<float>(2.0f, 0.0f, 0.0f), a);
    REQUIRE(out.slots == std::vector<Index>{0});
    // Ad 0 pays (0.2 - 0) / (2 * 0.1) = 1.0: with a tied score its critical bid is its bid.
    CHECK(out.price[0] == Approx(1.0f));
    CHECK(out.click_prob[0] == Approx(0.1f));
    const auto fp = run(Ugfp<float>(2.0f, 0.0f, 0.0f), a);
    CHECK(fp.slots == out.slots);
    CHECK(fp.price[0] == 1.0f);
}

TEST_CASE("uGSP: nobody below pays 0 (choice: next score 0), K > N", "[ugsp]") {
    Auction<double> a;
    a.bids = Eigen::Vector2d(0.5, 0.4);
    a.ctr = Eigen::Vector2d(0.1, 0.3);
    a.slot_ctr = Eigen::Vector3d(1.0, 0.6, 0.3);
    // lambda = (1, 1, 0): s0 = 0.05 + 0.1 = 0.15, s1 = 0.12 + 0.3 = 0.42 -> order 1, 0.
    const auto out = run(Ugsp<double>(1.0, 1.0, 0.0), a);
    REQUIRE(out.slots == std::vector<Index>{1, 0, kNone});
    // Ad 1: (0.15 - 0.3) / 0.3 < 0 -> 0. Ad 0: nobody below, (0 - 0.1) / 0.1 < 0 -> 0.
    CHECK(out.price[1] == 0.0);
    CHECK(out.price[0] == 0.0);
    // With lambda2 = 0 the offsets vanish: ad 1 ranks first on 0.12 vs 0.05 and pays
    // 0.05 / 0.3 = 1/6; ad 0, with nobody below, pays 0.
    const auto plain = run(Ugsp<double>(1.0, 0.0, 0.0), a);
    REQUIRE(plain.slots == std::vector<Index>{1, 0, kNone});
    CHECK(plain.price[1] == Approx(1.0 / 6.0));
    CHECK(plain.price[0] == 0.0);
    CHECK(plain.click_prob[0] == Approx(0.6 * 0.1));
}

TEMPLATE_TEST_CASE("uGSP/uGFP: IR on 10 000 random auctions", "[ugsp][ir]", float, double) {
    using T = TestType;
    Rng rng(23);
    Outcome<T> out;
    for (int t = 0; t < 10000; ++t) {
        const T l1 = static_cast<T>(rng.uniform(0.1, 3.0)), l2 = static_cast<T>(rng.uniform(0.0, 1.0)),
                l3 = static_cast<T>(rng.uniform(0.0, 1.0));
        const auto a = test::random_auction<T>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 0, t % 2 == 0);
        Ugsp<T> u(l1, l2, l3);
        typename Ugsp<T>::Workspace ws;
        u.run(a, out, ws);
        REQUIRE(test::first_ir_violation<T>(a, out) == kNone);
        for (Index j = 0; j < a.num_bidders(); ++j) REQUIRE(out.price[j] >= T(0));
        Ugfp<T>(l1, l2, l3).run(a, out, ws);
        REQUIRE(test::first_ir_violation<T>(a, out) == kNone);
    }
}

TEST_CASE("uGSP/uGFP: allocation is monotone in the own bid", "[ugsp][monotone]") {
    Rng rng(33);
    const Ugsp<double> u(1.0, 0.3, 0.7);
    const Ugfp<double> f(1.0, 0.3, 0.7);
    Ugsp<double>::Workspace ws;
    for (int t = 0; t < 2000; ++t) {
        const auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 0, t % 2 == 0);
        const Index j = rng.uniform_int(a.num_bidders());
        REQUIRE(test::monotone_in_own_bid(u, a, j, {1.1, 1.5, 2.0, 4.0}, ws));
        REQUIRE(test::monotone_in_own_bid(f, a, j, {1.1, 1.5, 2.0, 4.0}, ws));
    }
}

TEST_CASE("uGSP: the price is the critical bid (one slot: truthful bidding is optimal)", "[ugsp][ic]") {
    // With one slot uGSP is a second-price auction on the utility score, so it is IC.
    Rng rng(43);
    const Ugsp<double> u(1.0, 0.4, 0.6);
    Ugsp<double>::Workspace ws;
    for (int t = 0; t < 300; ++t) {
        const auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(6), 1, 0, t % 2 == 0);
        REQUIRE(test::max_ic_gain(u, a, ws) <= 1e-9);
    }
}

TEST_CASE("uGSP/uGFP: parameter and input validation (choice: lambda2, lambda3 >= 0)", "[ugsp][validation]") {
    const auto field_of = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const input_error& e) {
            return e.field();
        }
        return "no throw";
    };
    CHECK(field_of([] { Ugsp<double>(0.0, 0.0, 0.0); }) == "lambda1");
    CHECK(field_of([] { Ugsp<double>(-1.0, 0.0, 0.0); }) == "lambda1");
    CHECK(field_of([] { Ugfp<double>(std::nan(""), 0.0, 0.0); }) == "lambda1");
    CHECK(field_of([] { Ugsp<double>(1.0, -0.1, 0.0); }) == "lambda2");
    CHECK(field_of([] { Ugsp<double>(1.0, 0.0, -0.1); }) == "lambda3");
    CHECK(field_of([] { Ugfp<double>(1.0, 0.0, std::numeric_limits<double>::infinity()); }) == "lambda3");
    auto a = three_ads();
    a.cvr.resize(0);  // no cvr: fine while lambda3 == 0, an error otherwise
    CHECK(field_of([&] { (void)run(Ugsp<double>(1.0, 0.5, 0.0), a); }) == "no throw");
    CHECK(field_of([&] { (void)run(Ugsp<double>(1.0, 0.5, 2.0), a); }) == "cvr");
    CHECK(field_of([&] { (void)run(Ugfp<double>(1.0, 0.5, 2.0), a); }) == "cvr");
    auto joint = three_ads();
    joint.owners = {{0, kNone}, {1, kNone}, {2, kNone}};
    CHECK(field_of([&] { (void)run(Ugsp<double>(1.0, 0.5, 2.0), joint); }) == "owners");
    CHECK(field_of([&] { (void)run(Ugfp<double>(1.0, 0.5, 2.0), joint); }) == "owners");
}
