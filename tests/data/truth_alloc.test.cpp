// Counts heap allocations to check that MarketTruth::list_ctr allocates nothing.
// The replacement operator new/delete below apply to the whole test_data program;
// they only count and forward to malloc/free.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include <diffauction/data/synthetic_market.hpp>

namespace {
std::atomic<long> g_allocations{0};
}

// The replacements pair malloc with free; GCC 12 cannot see that through the
// replaceable operators and reports a false -Wmismatched-new-delete where they inline.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
void* counted_malloc(std::size_t size) noexcept {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(size == 0 ? 1 : size);
}
}  // namespace

// Every plain and nothrow form is replaced, so that (under ASan too) each allocation
// made through them is released by the matching free().
void* operator new(std::size_t size) {
    if (void* p = counted_malloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    if (void* p = counted_malloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace diffauction;

TEMPLATE_TEST_CASE("truth: list_ctr, pointwise_ctr and cvr do not allocate", "[data][truth][alloc]", float, double) {
    const SyntheticMarket<TestType> market;
    const MarketTruth truth = market.truth_model();
    const auto data = market.generate(20, 6);
    std::vector<TestType> out(3);
    std::vector<Index> list(3);
    TestType sink = 0;
    const long before = g_allocations.load();
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
    const long after = g_allocations.load();
    // The counter works: a direct call of the replaced operator new is seen.
    void* q = ::operator new(64);
    const long after_probe = g_allocations.load();
    ::operator delete(q);
    CHECK(after == before);
    CHECK(after_probe == after + 1);
    CHECK(sink > 0);
}
