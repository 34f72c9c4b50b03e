// DNA (SPEC §4.1) at the DNA issue's sizes: N = 30, per-candidate input 16
// (synthetic market with 8 categories and 3 latent features: D = 14, plus ctr and
// cvr), K = 3, Q = 5, Z = 20, φ₁ = 128→32, φ₂ = 16, float, one thread.
//   diffauction_bench --benchmark_filter=Dna
// DnaServeSingle: one auction per call (Workspace reused, no allocation).
// DnaServeBatch: 1 024 auctions per call through run_batch (BatchWorkspace reused);
// items_per_second = auctions/s.
// DnaTrainStep: one training step on a batch of 128 auctions (relaxed forward,
// backward, Adam).
#include <benchmark/benchmark.h>

#include <diffauction/data/synthetic_market.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/train/objectives/rank_loss.hpp>
#include <diffauction/train/relaxed_trainable.hpp>
#include <diffauction/train/adam.hpp>

#include "learned_market.hpp"

#include <numeric>
#include <vector>

using namespace diffauction;

namespace {

Dna<float> dna_model(Index feature_dim) {
    DnaConfig cfg;
    cfg.feature_dim = feature_dim;  // phi1 {128, 32}, phi2 {16}, Q = 5, Z = 20 by default
    Dna<float> dna(cfg);
    dna.init(7);
    return dna;
}

void BM_DnaServeSingle_N30_K3(benchmark::State& state) {
    const auto market = bench::learned_market();
    bench::serve_single(state, dna_model(market.feature_dim()), market.generate(64, 3));
}

void BM_DnaServeBatch_N30_K3(benchmark::State& state) {
    const auto market = bench::learned_market();
    const auto data = market.generate(1024, 3);
    const Dna<float> dna = dna_model(market.feature_dim());
    std::vector<AuctionView<float>> views;
    for (const auto& s : data) views.emplace_back(s.auction);
    std::vector<Outcome<float>> outs(views.size());
    Dna<float>::BatchWorkspace ws;
    for (auto _ : state) {
        dna.run_batch(views, outs, ws);
        benchmark::DoNotOptimize(outs.back().price.data());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(views.size()));
}

// state.range(0): RelaxedTrainable's chunk size in auctions (0: the library default).
void BM_DnaTrainStep_B128_N30_K3(benchmark::State& state) {
    const auto market = bench::learned_market();
    Dna<float> dna = dna_model(market.feature_dim());
    const std::vector<Sample<float>> data = market.generate(128, 4);
    RelaxedTrainable<Dna<float>, RankLoss<float>> trainable(dna, data,
                                                            RankLoss<float>(normalise_objective<float>({}, data)));
    if (state.range(0) > 0) trainable.set_chunk_auctions(state.range(0));
    std::vector<Index> items(128);
    std::iota(items.begin(), items.end(), Index{0});
    VectorX<float> grad = VectorX<float>::Zero(dna.theta().size());
    Adam<float> adam;
    for (auto _ : state) {
        grad.setZero();
        benchmark::DoNotOptimize(trainable.loss_and_grad(items, grad));
        adam.step(trainable.theta(), grad);
    }
    state.SetItemsProcessed(state.iterations() * 128);
}

}  // namespace

BENCHMARK(BM_DnaServeSingle_N30_K3);
BENCHMARK(BM_DnaServeBatch_N30_K3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DnaTrainStep_B128_N30_K3)->Arg(0)->Unit(benchmark::kMillisecond);
// The chunk sizes behind the default (BENCHMARKS.md); filter with 'DnaTrainStepChunk'.
BENCHMARK(BM_DnaTrainStep_B128_N30_K3)->Name("BM_DnaTrainStepChunk_B128_N30_K3")->Arg(4)->Arg(8)->Arg(16)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond);
