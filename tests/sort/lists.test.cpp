#include <catch2/catch.hpp>

#include <diffauction/sort/lists.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

using namespace diffauction;

namespace {
std::vector<std::vector<Index>> collect(Index n, Index len) {
    ListScratch s;
    std::vector<std::vector<Index>> out;
    for_each_list(n, len, s, [&](std::span<const Index> l) { out.emplace_back(l.begin(), l.end()); });
    return out;
}
}  // namespace

TEST_CASE("lists: count n!/(n-L)! and every list distinct, in lexicographic order", "[lists]") {
    ListScratch s;
    for (Index n = 0; n <= 7; ++n) {
        for (Index len = 0; len <= n + 1; ++len) {
            std::set<std::vector<Index>> seen;
            std::vector<Index> prev;
            std::uint64_t count = 0;
            for_each_list(n, len, s, [&](std::span<const Index> l) {
                std::vector<Index> v(l.begin(), l.end());
                REQUIRE(static_cast<Index>(v.size()) == len);
                for (Index x : v) REQUIRE((x >= 0 && x < n));
                std::vector<Index> sorted = v;
                std::sort(sorted.begin(), sorted.end());
                REQUIRE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());  // distinct
                if (count > 0) REQUIRE(prev < v);  // strictly increasing: lexicographic, no repeats
                prev = v;
                seen.insert(v);
                ++count;
            });
            // n!/(n-L)!: e.g. n = 5, L = 3 -> 5*4*3 = 60; L > n -> 0; L = 0 -> 1 (the empty list).
            std::uint64_t expect = len > n ? 0 : 1;
            for (Index t = 0; t < len && len <= n; ++t) expect *= static_cast<std::uint64_t>(n - t);
            CHECK(count == expect);
            CHECK(seen.size() == expect);
            CHECK(count_lists(n, len) == expect);
        }
    }
    CHECK(count_lists(5, 3) == 60);
    CHECK(count_lists(7, 4) == 840);
    CHECK(count_lists(30, 0) == 1);
    CHECK(count_lists(100, 50) == std::numeric_limits<std::uint64_t>::max());  // saturates
}

TEST_CASE("lists: the exact lists for n = 3, L = 2", "[lists]") {
    const auto l = collect(3, 2);
    const std::vector<std::vector<Index>> expect{{0, 1}, {0, 2}, {1, 0}, {1, 2}, {2, 0}, {2, 1}};
    CHECK(l == expect);
}

TEST_CASE("lists: pools enumerate their own entries in pool order", "[lists]") {
    ListScratch s;
    const std::vector<Index> pool{4, 1, 9};
    std::vector<std::vector<Index>> got;
    for_each_list(std::span<const Index>(pool), 2, s, [&](std::span<const Index> l) { got.emplace_back(l.begin(), l.end()); });
    const std::vector<std::vector<Index>> expect{{4, 1}, {4, 9}, {1, 4}, {1, 9}, {9, 4}, {9, 1}};
    CHECK(got == expect);
}

TEST_CASE("lists: up_to visits longest lists first and the empty list last", "[lists]") {
    ListScratch s;
    std::vector<std::vector<Index>> got;
    for_each_list_up_to(3, 2, s, [&](std::span<const Index> l) { got.emplace_back(l.begin(), l.end()); });
    // 3*2 = 6 lists of length 2, then 3 of length 1, then the empty list: 10.
    REQUIRE(got.size() == 10);
    CHECK(count_lists_up_to(3, 2) == 10);
    CHECK(got.front() == std::vector<Index>{0, 1});
    CHECK(got[6] == std::vector<Index>{0});
    CHECK(got.back().empty());
    // max_length > n is capped at n: 1 + 2 + 2 = 5 lists for n = 2.
    std::uint64_t c = 0;
    for_each_list_up_to(2, 4, s, [&](std::span<const Index>) { ++c; });
    CHECK(c == 5);
    CHECK(count_lists_up_to(2, 4) == 5);
    const std::vector<Index> pool{7, 3};
    got.clear();
    for_each_list_up_to(std::span<const Index>(pool), 1, s, [&](std::span<const Index> l) { got.emplace_back(l.begin(), l.end()); });
    CHECK(got == std::vector<std::vector<Index>>{{7}, {3}, {}});
}

TEST_CASE("lists: a callback returning false stops the enumeration", "[lists]") {
    ListScratch s;
    int calls = 0;
    const bool done = for_each_list(6, 3, s, [&](std::span<const Index>) { return ++calls < 5; });
    CHECK_FALSE(done);
    CHECK(calls == 5);
    CHECK(for_each_list(3, 1, s, [](std::span<const Index>) { return true; }));
    // The scratch is reusable after an early stop: 4*3 = 12 lists.
    CHECK(collect(4, 2).size() == 12);
    int n = 0;
    for_each_list(4, 2, s, [&](std::span<const Index>) { ++n; });
    CHECK(n == 12);
}

TEST_CASE("lists: invalid arguments throw input_error", "[lists][validation]") {
    ListScratch s;
    const auto f = [](std::span<const Index>) {};
    CHECK_THROWS_AS(for_each_list(-1, 2, s, f), input_error);
    CHECK_THROWS_AS(for_each_list(3, -1, s, f), input_error);
    CHECK_THROWS_AS(for_each_list_up_to(3, -1, s, f), input_error);
    const std::vector<Index> dup{1, 2, 1}, neg{0, -3};
    try {
        for_each_list(std::span<const Index>(dup), 2, s, f);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "pool");
        CHECK(e.index() == 2);
    }
    CHECK_THROWS_AS(for_each_list(std::span<const Index>(neg), 1, s, f), input_error);
    CHECK_THROWS_AS(count_lists(-2, 1), input_error);
}

TEST_CASE("require_enumerable: the documented limit, a typed error past it", "[lists][size]") {
    CHECK(kMaxEnumeratedLists == std::uint64_t{1} << 20);
    CHECK_NOTHROW(require_enumerable(30, 4, "test"));  // 682 981 lists
    CHECK_NOTHROW(require_enumerable(1000, 1, "test"));
    CHECK_NOTHROW(require_enumerable(5, 3, "test", count_lists_up_to(5, 3)));  // exactly at a limit
    CHECK_THROWS_AS(require_enumerable(5, 3, "test", count_lists_up_to(5, 3) - 1), size_limit_error);
    try {
        require_enumerable(60, 6, "JAMA");
        FAIL("60 x 6 passed");
    } catch (const size_limit_error& e) {
        CHECK(e.count() == count_lists_up_to(60, 6));
        CHECK(e.limit() == kMaxEnumeratedLists);
        CHECK(e.field() == "ctr");
        CHECK(std::string(e.what()).find("JAMA enumerates every list of up to K = 6 of N = 60 candidates") !=
              std::string::npos);
    }
    try {
        require_enumerable(200, 60, "VCG");  // more than 2^64 lists: the count saturates
        FAIL("200 x 60 passed");
    } catch (const size_limit_error& e) {
        CHECK(e.count() == std::numeric_limits<std::uint64_t>::max());
        CHECK(std::string(e.what()).find("2^64 or more") != std::string::npos);
    }
}
