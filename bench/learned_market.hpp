// bench/learned_market.hpp - what the learned mechanisms' benchmarks share: the
// issues' market (N = 30 candidates, 8 categories and 3 latent features, so D = 14
// plus ctr and cvr = 16 inputs per candidate, K = 3) and the one-auction-per-call
// serving loop.
#pragma once

#include <benchmark/benchmark.h>

#include <diffauction/core/outcome.hpp>
#include <diffauction/data/synthetic_market.hpp>
#include <diffauction/mechanisms/mechanism.hpp>

#include <vector>

namespace diffauction::bench {

inline SyntheticMarket<float> learned_market() {
    MarketConfig c;
    c.min_candidates = 30;
    c.max_candidates = 30;
    c.num_categories = 8;
    c.embed_dim = 3;
    return SyntheticMarket<float>(c);
}

/// One auction per iteration, cycling through `data` (Workspace and Outcome reused:
/// no allocation after the first pass); items_per_second = auctions/s.
template <Mechanism M>
void serve_single(benchmark::State& state, const M& mech, const std::vector<Sample<float>>& data) {
    std::vector<AuctionView<float>> views;
    for (const auto& s : data) views.emplace_back(s.auction);
    typename M::Workspace ws;
    Outcome<float> out;
    std::size_t t = 0;
    for (auto _ : state) {
        mech.run(views[t], out, ws);
        benchmark::DoNotOptimize(out.price.data());
        t = (t + 1) % views.size();
    }
    state.SetItemsProcessed(state.iterations());
}

}  // namespace diffauction::bench
