// Serving contract of every baseline (mechanisms/mechanism.hpp): after warm-up a
// reused Workspace and Outcome make `run` allocate nothing, whatever the auction
// size; a mechanism is immutable, so threads share it, each with its own workspace,
// and get exactly the single-thread outcomes (tests/support/serving.hpp).
#include <catch2/catch.hpp>

#include <diffauction/mechanisms/baselines/gsp.hpp>
#include <diffauction/mechanisms/baselines/jama.hpp>
#include <diffauction/mechanisms/baselines/joint_vcg.hpp>
#include <diffauction/mechanisms/baselines/myerson.hpp>
#include <diffauction/mechanisms/baselines/ugsp.hpp>
#include <diffauction/mechanisms/baselines/vcg.hpp>
#include <diffauction/mechanisms/baselines/wvcg.hpp>

#include <vector>

#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/serving.hpp"
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

}  // namespace

TEST_CASE("Serving: baselines allocate nothing after warm-up and are shareable across threads",
          "[serving][alloc][threads]") {
    const auto big = ordinary_pool(30);
    const auto small = ordinary_pool(7);  // enumerating mechanisms
    test::check_serving("GSP", Gsp<double>(0.8), big, 5);
    test::check_serving("uGSP", Ugsp<double>(1.0, 0.3, 0.2), big, 5);
    test::check_serving("uGFP", Ugfp<double>(1.0, 0.3, 0.2), big, 5);
    test::check_serving("VCG", Vcg<double>(), big, 5);
    const auto cvr_weight = [](const AuctionView<double>& a, Index i) { return 1.0 + a.cvr[i]; };
    test::check_serving("WVCG", Wvcg<double>(cvr_weight), small, 5);
    test::check_serving("Myerson", Myerson<double>(), big, 5);
    test::check_serving("VCG, externalities", Vcg<double, test::ToyCategoryCtr>(), small, 5);
    test::check_serving("Myerson, externalities", Myerson<double, test::ToyCategoryCtr>(), small, 5);
    const auto joint = joint_pool();
    test::check_serving("joint VCG", JointVcg<double>(), joint, 5);
    const auto alternating = [](const AuctionView<double>&, Index j) { return j % 2 ? 1.0 : 1.5; };
    test::check_serving("JAMA", Jama<double>(alternating), joint, 5);
}
