// First translation unit of the link test (see two_tu.hpp): the same templates run
// here and in two_tu_b.test.cpp and must agree; an exception thrown there is caught here.
#include <catch2/catch.hpp>

#include <diffauction/diffauction.hpp>

#include <initializer_list>
#include <vector>

#include "headers/two_tu.hpp"

using namespace diffauction;

namespace {
// Built through a Map: GCC 12 reports a false -Warray-bounds on Eigen::Vector2f(x, y).
VectorX<float> vec(std::initializer_list<float> v) {
    return Eigen::Map<const VectorX<float>>(v.begin(), static_cast<Index>(v.size()));
}
}  // namespace

TEST_CASE("Two TUs: GSP<double> instantiated in both agrees on a hand-worked auction", "[headers][two_tu]") {
    Auction<double> a;
    a.bids = Eigen::Vector3d(2.0, 3.0, 1.0);
    a.ctr = Eigen::Vector3d(0.10, 0.05, 0.20);  // scores b*ctr = 0.20, 0.15, 0.20
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    const Outcome<double> here = run(Gsp<double>(), a);
    const Outcome<double> there = two_tu::gsp_in_b(a);
    // The tie at 0.20 goes to the lower index: ad 0, then ad 2. Ad 0 pays the next
    // score over its ctr, 0.20 / 0.10 = 2.0; ad 2 pays 0.15 / 0.20 = 0.75.
    for (const Outcome<double>* out : {&here, &there}) {
        REQUIRE(out->slots == std::vector<Index>{0, 2});
        CHECK(out->price[0] == Approx(2.0));
        CHECK(out->price[2] == Approx(0.75));
        CHECK(out->price[1] == 0.0);
    }
    CHECK(here.price == there.price);
    CHECK(here.click_prob == there.click_prob);
}

TEST_CASE("Two TUs: a Batch<float> built here runs through GSP there", "[headers][two_tu]") {
    std::vector<Auction<float>> auctions(2);
    auctions[0].bids = vec({1.0f, 1.0f});
    auctions[0].ctr = vec({0.2f, 0.2f});
    auctions[0].slot_ctr = vec({1.0f, 0.5f});
    auctions[1].bids = vec({1.0f, 4.0f, 2.0f});
    auctions[1].ctr = vec({0.5f, 0.1f, 0.5f});  // scores 0.5, 0.4, 1.0
    auctions[1].slot_ctr = vec({1.0f, 0.5f});
    const Batch<float> batch{std::span<const Auction<float>>(auctions)};
    const Outcome<float> here = run(Gsp<float>(), batch.auction(1));
    const Outcome<float> there = two_tu::gsp_batch_in_b(batch, 1);
    // Ad 2 (1.0) then ad 0 (0.5): ad 2 pays 0.5 / 0.5 = 1.0, ad 0 pays 0.4 / 0.5 = 0.8;
    // click probs 1.0 * 0.5 and 0.5 * 0.5.
    for (const Outcome<float>* out : {&here, &there}) {
        REQUIRE(out->slots == std::vector<Index>{2, 0});
        CHECK(out->price[2] == Approx(1.0f));
        CHECK(out->price[0] == Approx(0.8f));
        CHECK(out->click_prob[2] == Approx(0.5f));
        CHECK(out->click_prob[0] == Approx(0.25f));
    }
    CHECK(here.price == there.price);
}

TEST_CASE("Two TUs: input_error thrown there is caught here by type", "[headers][two_tu]") {
    Auction<double> a;
    a.bids = Eigen::Vector2d(1.0, 1.0);
    a.ctr = Eigen::Vector2d(0.1, 0.0);  // ctr must be in (0, 1]
    a.slot_ctr = Eigen::VectorXd::Ones(1);
    try {
        two_tu::validate_in_b(a);
        FAIL("validate accepted ctr[1] = 0");
    } catch (const input_error& e) {
        CHECK(e.field() == "ctr");
        CHECK(e.index() == 1);
    }
}
