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
