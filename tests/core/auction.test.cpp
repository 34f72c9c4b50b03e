#include <catch2/catch.hpp>

#include <diffauction/core/batch.hpp>

#include "support/random_auction.hpp"

using namespace diffauction;

TEST_CASE("Batch stacks auctions and views them without copying", "[batch]") {
    Rng rng(1);
    std::vector<Auction<double>> as;
    for (int b = 0; b < 5; ++b) as.push_back(test::random_auction<double>(rng, 2 + b, 3, 4));
    Batch<double> batch(as);
    REQUIRE(batch.size() == 5);
    REQUIRE(batch.total_candidates() == 2 + 3 + 4 + 5 + 6);
    for (Index b = 0; b < 5; ++b) {
        const auto v = batch.auction(b);
        const auto& a = as[static_cast<std::size_t>(b)];
        CHECK(v.bids == a.bids);
        CHECK(v.ctr == a.ctr);
        CHECK(v.cvr == a.cvr);
        CHECK(v.slot_ctr == a.slot_ctr);
        CHECK(v.features == a.features);
        CHECK(v.features.data() == batch.features().data() + batch.begin(b) * 4);
    }
}

TEST_CASE("Batch::assign copies chosen auctions (repeats allowed) into reused storage", "[batch]") {
    Rng rng(2);
    std::vector<Auction<double>> as;
    for (int b = 0; b < 5; ++b) as.push_back(test::random_auction<double>(rng, 1 + b, 1 + b % 3, 3));
    as[2].cvr.resize(0);  // an optional field left empty
    const Batch<double> all(as);
    Batch<double> part;
    const std::vector<Index> items{3, 0, 3, 2};
    part.assign(all, items);
    REQUIRE(part.size() == 4);
    REQUIRE(part.feature_dim() == 3);
    REQUIRE(part.total_candidates() == 4 + 1 + 4 + 3);
    for (Index q = 0; q < part.size(); ++q) {
        const auto v = part.auction(q);
        const auto& a = as[static_cast<std::size_t>(items[static_cast<std::size_t>(q)])];
        CHECK(v.bids == a.bids);
        CHECK(v.ctr == a.ctr);
        CHECK(v.cvr == a.cvr);
        CHECK(v.price == a.price);
        CHECK(v.slot_ctr == a.slot_ctr);
        CHECK(v.features == a.features);
    }
    // Reassigning a smaller selection reuses the storage.
    const double* features = part.features().data();
    const std::vector<Index> one{1};
    part.assign(all, one);
    CHECK(part.size() == 1);
    CHECK(part.features().data() == features);
    CHECK(part.auction(0).ctr == as[1].ctr);
    part.clear();
    CHECK(part.empty());
    CHECK(part.total_candidates() == 0);
    const std::vector<Index> bad{5};
    CHECK_THROWS_AS(part.assign(all, bad), input_error);
}
