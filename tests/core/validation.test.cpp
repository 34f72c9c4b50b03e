// One test per validation rule of core/auction.hpp: each bad input throws
// input_error naming the field and the index; nothing is clamped.
#include <catch2/catch.hpp>

#include <diffauction/core/batch.hpp>

#include <cmath>
#include <limits>

#include "support/random_auction.hpp"

using namespace diffauction;

namespace {
Auction<double> good() {
    Rng rng(3);
    return test::random_auction<double>(rng, 4, 2, 3);
}
void expect_error(const Auction<double>& a, const std::string& field, Index index) {
    try {
        validate<double>(a);
        FAIL("validate accepted a bad auction (expected an error on " << field << ")");
    } catch (const input_error& e) {
        CHECK(e.field() == field);
        CHECK(e.index() == index);
        CHECK(std::string(e.what()).find(field) != std::string::npos);
        if (index != kNone)
            CHECK(std::string(e.what()).find(std::string("[").append(std::to_string(index)).append("]")) !=
                  std::string::npos);
    }
}
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("validate: a good auction passes, and input_error is an invalid_argument", "[validate]") {
    REQUIRE_NOTHROW(validate<double>(good()));
    STATIC_REQUIRE(std::is_base_of_v<std::invalid_argument, input_error>);
}

TEST_CASE("validate: NaN, infinite and negative bids", "[validate]") {
    auto a = good();
    a.bids[2] = kNan;
    expect_error(a, "bids", 2);
    a = good();
    a.bids[1] = kInf;
    expect_error(a, "bids", 1);
    a = good();
    a.bids[3] = -0.5;
    expect_error(a, "bids", 3);
}

TEST_CASE("validate: an empty auction", "[validate]") {
    Auction<double> a;
    a.slot_ctr = Eigen::Vector2d(1.0, 0.5);
    expect_error(a, "ctr", kNone);
}

TEST_CASE("validate: bids and candidates disagree in an ordinary auction", "[validate]") {
    auto a = good();
    a.bids.conservativeResize(3);
    expect_error(a, "bids", kNone);
}

TEST_CASE("validate: ctr outside (0, 1]", "[validate]") {
    auto a = good();
    a.ctr[1] = 0.0;
    expect_error(a, "ctr", 1);
    a = good();
    a.ctr[0] = 1.5;
    expect_error(a, "ctr", 0);
    a = good();
    a.ctr[2] = kNan;
    expect_error(a, "ctr", 2);
}

TEST_CASE("validate: cvr outside [0, 1] or mis-sized", "[validate]") {
    auto a = good();
    a.cvr[3] = -0.1;
    expect_error(a, "cvr", 3);
    a = good();
    a.cvr.conservativeResize(2);
    expect_error(a, "cvr", kNone);
}

TEST_CASE("validate: negative or non-finite item price, mis-sized", "[validate]") {
    auto a = good();
    a.price[1] = -3.0;
    expect_error(a, "price", 1);
    a = good();
    a.price.conservativeResize(5);
    a.price[4] = 1.0;
    expect_error(a, "price", kNone);
}

TEST_CASE("validate: features with the wrong row count or non-finite", "[validate]") {
    auto a = good();
    a.features.conservativeResize(3, 3);
    expect_error(a, "features", kNone);
    a = good();
    a.features(2, 1) = kInf;
    expect_error(a, "features", 2);
}

TEST_CASE("validate: non-finite context", "[validate]") {
    auto a = good();
    a.context = Eigen::Vector2d(0.0, kNan);
    expect_error(a, "context", 1);
}

TEST_CASE("validate: slot CTRs must be present, positive, finite and non-increasing", "[validate]") {
    auto a = good();
    a.slot_ctr.resize(0);
    expect_error(a, "slot_ctr", kNone);
    a = good();
    a.slot_ctr[1] = 0.0;
    expect_error(a, "slot_ctr", 1);
    a = good();
    a.slot_ctr[0] = kInf;
    expect_error(a, "slot_ctr", 0);
    a = good();
    a.slot_ctr = Eigen::Vector3d(0.5, 0.6, 0.1);
    expect_error(a, "slot_ctr", 1);
}

TEST_CASE("validate: K > N is allowed (fewer winners)", "[validate]") {
    auto a = good();
    a.slot_ctr = Eigen::VectorXd::LinSpaced(9, 1.0, 0.2);
    REQUIRE_NOTHROW(validate<double>(a));
}

TEST_CASE("validate: joint-auction owners out of range, duplicated or mis-sized", "[validate]") {
    Auction<double> a;
    a.bids = Eigen::Vector3d(0.5, 0.2, 0.4);  // bidders 0, 1 (brands), 2 (store)
    a.ctr = Eigen::Vector2d(0.1, 0.1);
    a.slot_ctr = Eigen::VectorXd::Ones(1);
    a.owners = {{0, 2}, {1, 2}};
    REQUIRE_NOTHROW(validate<double>(a));
    CHECK(a.view().candidate_bid(1) == Approx(0.6));
    auto b = a;
    b.owners[1].second = 3;
    expect_error(b, "owners", 1);
    b = a;
    b.owners[0].first = -2;
    expect_error(b, "owners", 0);
    b = a;
    b.owners[0] = {2, 2};
    expect_error(b, "owners", 0);
    b = a;
    b.owners.pop_back();
    expect_error(b, "owners", kNone);
}

TEST_CASE("validate: priors mis-sized or invalid", "[validate]") {
    auto a = good();
    a.priors.assign(4, ValueDist<double>::uniform(0.0, 1.0));
    REQUIRE_NOTHROW(validate<double>(a));
    a.priors[2] = ValueDist<double>::uniform(1.0, 1.0);
    expect_error(a, "priors", 2);
    a.priors[2] = ValueDist<double>::exponential(-1.0);
    expect_error(a, "priors", 2);
    a.priors.pop_back();
    expect_error(a, "priors", kNone);
}

TEST_CASE("Batch: errors name the auction within the batch", "[validate][batch]") {
    Batch<double> batch;
    batch.push_back(good());
    auto bad = good();
    bad.bids[1] = -1.0;
    try {
        batch.push_back(bad);
        FAIL("Batch accepted a bad auction");
    } catch (const input_error& e) {
        CHECK(e.auction() == 1);
        CHECK(e.field() == "bids");
        CHECK(e.index() == 1);
        CHECK(std::string(e.what()).find("auction 1") != std::string::npos);
    }
    Rng rng(5);
    auto wide = test::random_auction<double>(rng, 3, 2, 5);
    CHECK_THROWS_AS(batch.push_back(wide), input_error);
    CHECK_THROWS_AS(batch.auction(7), input_error);
    CHECK(batch.size() == 1);
}

TEMPLATE_TEST_CASE("validate: the supported range (SupportedRange) is enforced on every field, at its edges",
                   "[validate][range]", float, double) {
    using T = TestType;
    using R = SupportedRange<T>;
    using L = std::numeric_limits<T>;
    STATIC_REQUIRE(R::max_amount == (sizeof(T) == 4 ? T(4294967296.0) : T(1.157920892373162e77)));
    STATIC_REQUIRE(R::min_rate == (sizeof(T) == 4 ? T(4.656612873077393e-10) : T(1.727233711018889e-77)));
    Rng rng(17);
    const auto good_t = [&] { return test::random_auction<T>(rng, 4, 2, 3); };
    const auto rejects = [](const Auction<T>& a, const std::string& field, Index index) {
        try {
            validate<T>(a);
            FAIL("validate accepted a value outside the supported range on " << field);
        } catch (const input_error& e) {
            CHECK(e.field() == field);
            CHECK(e.index() == index);
            CHECK(std::string(e.what()).find("supported range") != std::string::npos);
        }
    };
    const T above = R::max_amount * (1 + L::epsilon());
    auto a = good_t();
    a.bids[1] = R::max_amount;  // the edges themselves are supported
    a.ctr[2] = R::min_rate;
    a.slot_ctr << 1, R::min_rate;
    a.price[0] = R::max_amount;
    a.features(3, 2) = -R::max_amount;
    a.context = VectorX<T>::Constant(2, R::max_amount);
    a.priors.assign(4, ValueDist<T>::uniform(0, R::max_amount));
    REQUIRE_NOTHROW(validate<T>(a));

    a = good_t();
    a.bids[2] = above;
    rejects(a, "bids", 2);
    a = good_t();
    a.bids[0] = L::max();
    rejects(a, "bids", 0);
    a = good_t();
    a.ctr[3] = R::min_rate * (1 - L::epsilon());
    rejects(a, "ctr", 3);
    a = good_t();
    a.ctr[1] = L::denorm_min();
    rejects(a, "ctr", 1);
    a = good_t();
    a.slot_ctr[0] = 1 + L::epsilon();
    rejects(a, "slot_ctr", 0);
    a = good_t();
    a.slot_ctr[1] = L::denorm_min();
    rejects(a, "slot_ctr", 1);
    a = good_t();
    a.price[2] = above;
    rejects(a, "price", 2);
    a = good_t();
    a.features(1, 0) = -above;
    rejects(a, "features", 1);
    a = good_t();
    a.context = VectorX<T>::Constant(3, T(1));
    a.context[2] = L::max();
    rejects(a, "context", 2);
    a = good_t();
    a.priors.assign(4, ValueDist<T>::uniform(0, 1));
    a.priors[3] = ValueDist<T>::exponential(above);
    rejects(a, "priors", 3);
}
