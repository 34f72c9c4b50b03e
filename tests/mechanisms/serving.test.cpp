// Serving contract of every baseline (mechanisms/mechanism.hpp): after warm-up a
// reused Workspace and Outcome make `run` allocate nothing, whatever the auction
// size; a mechanism is immutable, so threads share it, each with its own workspace,
// and get exactly the single-thread outcomes.
#include <catch2/catch.hpp>

#include <diffauction/mechanisms/gsp.hpp>
#include <diffauction/mechanisms/jama.hpp>
#include <diffauction/mechanisms/joint_vcg.hpp>
#include <diffauction/mechanisms/myerson.hpp>
#include <diffauction/mechanisms/ugsp.hpp>
#include <diffauction/mechanisms/vcg.hpp>
#include <diffauction/mechanisms/wvcg.hpp>

#include <thread>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/toy_click_model.hpp"

using namespace diffauction;

namespace {

/// 60 ordinary auctions with N in 1..max_n, K in 1..4, priors U[0, 1].
std::vector<Auction<double>> ordinary_pool(Index max_n) {
    Rng rng(404);
    std::vector<Auction<double>> pool;
    for (int t = 0; t < 60; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(max_n), 1 + rng.uniform_int(4), 2, t % 3 == 0);
        for (Index i = 0; i < a.num_candidates(); ++i) a.features(i, 0) = static_cast<double>(rng.uniform_int(3));
        a.priors.assign(static_cast<std::size_t>(a.num_bidders()), ValueDist<double>::uniform(0, 1));
        pool.push_back(std::move(a));
    }
    return pool;
}

std::vector<Auction<double>> joint_pool() {
    Rng rng(405);
    std::vector<Auction<double>> pool;
    for (int t = 0; t < 60; ++t)
        pool.push_back(test::random_joint_auction<double>(rng, 1 + rng.uniform_int(4), 1 + rng.uniform_int(4),
                                                          1 + rng.uniform_int(3)));
    return pool;
}

template <class M>
void check_serving(const char* name, const M& mech, const std::vector<Auction<double>>& pool) {
    INFO(name);
    typename M::Workspace ws;
    Outcome<double> out;
    // Warm-up: one pass over the pool grows every buffer to its largest size.
    for (const auto& a : pool) mech.run(a, out, ws);
    std::vector<Outcome<double>> expected;
    for (const auto& a : pool) expected.push_back(run(mech, a));

    if (test::allocation_counting()) {
        const long before = test::allocations();
        for (const auto& a : pool) mech.run(a, out, ws);
        CHECK(test::allocations() - before == 0);
    }

    // Two threads share `mech`, each with its own workspace, over the pool 5 times.
    std::vector<std::vector<Outcome<double>>> got(2);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 2; ++t)
        threads.emplace_back([&, t] {
            typename M::Workspace tws;
            Outcome<double> tout;
            for (int rep = 0; rep < 5; ++rep)
                for (const auto& a : pool) {
                    mech.run(a, tout, tws);
                    if (rep == 4) got[t].push_back(tout);
                }
        });
    for (auto& th : threads) th.join();
    for (std::size_t t = 0; t < 2; ++t)
        for (std::size_t i = 0; i < pool.size(); ++i) {
            REQUIRE(got[t][i].slots == expected[i].slots);
            REQUIRE(got[t][i].price == expected[i].price);
            REQUIRE(got[t][i].click_prob == expected[i].click_prob);
        }
}

}  // namespace

TEST_CASE("Serving: baselines allocate nothing after warm-up and are shareable across threads",
          "[serving][alloc][threads]") {
    const auto big = ordinary_pool(30);
    const auto small = ordinary_pool(7);  // enumerating mechanisms
    check_serving("GSP", Gsp<double>(0.8), big);
    check_serving("uGSP", Ugsp<double>(1.0, 0.3, 0.2), big);
    check_serving("uGFP", Ugfp<double>(1.0, 0.3, 0.2), big);
    check_serving("VCG", Vcg<double>(), big);
    check_serving("WVCG", Wvcg<double>([](const AuctionView<double>& a, Index i) { return 1.0 + a.cvr[i]; }), small);
    check_serving("Myerson", Myerson<double>(), big);
    check_serving("VCG, externalities", Vcg<double, test::ToyCategoryCtr>(), small);
    check_serving("Myerson, externalities", Myerson<double, test::ToyCategoryCtr>(), small);
    const auto joint = joint_pool();
    check_serving("joint VCG", JointVcg<double>(), joint);
    check_serving("JAMA", Jama<double>([](const AuctionView<double>&, Index j) { return j % 2 ? 1.0 : 1.5; }), joint);
}
