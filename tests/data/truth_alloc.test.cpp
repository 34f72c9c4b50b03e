// MarketTruth::list_ctr, pointwise_ctr and cvr allocate nothing (counted by
// support/alloc_counter, which sees operator new and malloc alike).
#include <catch2/catch.hpp>

#include <vector>

#include <diffauction/data/synthetic_market.hpp>

#include "support/alloc_counter.hpp"

using namespace diffauction;

TEMPLATE_TEST_CASE("truth: list_ctr, pointwise_ctr and cvr do not allocate", "[data][truth][alloc]", float, double) {
    const SyntheticMarket<TestType> market;
    const MarketTruth truth = market.truth_model();
    const auto data = market.generate(20, 6);
    std::vector<TestType> out(3);
    std::vector<Index> list(3);
    TestType sink = 0;
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    const long before = test::allocations();
    for (const auto& s : data) {
        const AuctionView<TestType> a(s.auction);
        for (Index i = 0; i + 2 < a.num_candidates(); ++i) {
            list[0] = i;
            list[1] = i + 1;
            list[2] = i + 2;
            truth.list_ctr<TestType>(a, list, out);
            sink += out[0] + out[1] + out[2] + truth.pointwise_ctr(a, i) + truth.cvr(a, i);
        }
    }
    const long after = test::allocations();
    // The counter works: a direct call of operator new is seen.
    void* q = ::operator new(64);
    const long after_probe = test::allocations();
    ::operator delete(q);
    CHECK(after == before);
    CHECK(after_probe == after + 1);
    CHECK(sink > 0);
}
