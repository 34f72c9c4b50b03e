// tests/support/serving.hpp - the serving contract every mechanism meets
// (mechanisms/mechanism.hpp): after warm-up a reused Workspace and Outcome make
// `run` allocate nothing, whatever the auction size; a mechanism is immutable, so
// threads share it, each with its own workspace, and get exactly the single-thread
// outcomes.
#pragma once

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include <diffauction/core/auction.hpp>
#include <diffauction/core/outcome.hpp>
#include <diffauction/mechanisms/mechanism.hpp>

#include "support/alloc_counter.hpp"

namespace diffauction::test {

/// Runs `mech` over `pool`: one warm-up pass, then a pass that must allocate nothing
/// (when allocations are counted), then two threads sharing `mech` over the pool
/// `repetitions` times each, whose last pass must equal fresh single runs bit for bit.
template <Mechanism M>
void check_serving(const char* name, const M& mech, const std::vector<Auction<typename M::scalar_type>>& pool,
                   int repetitions = 3) {
    using T = typename M::scalar_type;
    INFO(name);
    typename M::Workspace ws;
    Outcome<T> out;
    // Warm-up: one pass over the pool grows every buffer to its largest size.
    for (const auto& a : pool) mech.run(a, out, ws);
    std::vector<Outcome<T>> expected;
    for (const auto& a : pool) expected.push_back(run(mech, a));

    if (allocation_counting()) {
        const long before = allocations();
        for (const auto& a : pool) mech.run(a, out, ws);
        CHECK(allocations() - before == 0);
    }

    std::vector<std::vector<Outcome<T>>> got(2);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 2; ++t)
        threads.emplace_back([&, t] {
            typename M::Workspace tws;
            Outcome<T> tout;
            for (int rep = 0; rep < repetitions; ++rep)
                for (const auto& a : pool) {
                    mech.run(a, tout, tws);
                    if (rep == repetitions - 1) got[t].push_back(tout);
                }
        });
    for (auto& th : threads) th.join();
    for (std::size_t t = 0; t < 2; ++t) {
        REQUIRE(got[t].size() == pool.size());
        for (std::size_t i = 0; i < pool.size(); ++i) {
            REQUIRE(got[t][i].slots == expected[i].slots);
            REQUIRE(got[t][i].price == expected[i].price);
            REQUIRE(got[t][i].click_prob == expected[i].click_prob);
        }
    }
}

}  // namespace diffauction::test
