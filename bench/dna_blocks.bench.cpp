// The DNA building blocks at the DNA issue's sizes (N = 30, D = 16, φ₁ = 128→32,
// φ₂ = 16, Q = 5, Z = 20, K = 3), float, one thread, forward only, over a ragged
// batch of 128 auctions; items_per_second = auctions/s. Filter with
//   diffauction_bench --benchmark_filter=DnaBlock
#include <benchmark/benchmark.h>

#include <diffauction/nn/deep_set.hpp>
#include <diffauction/nn/minmax.hpp>
#include <diffauction/sort/neural_sort.hpp>

#include <vector>

using namespace diffauction;

namespace {
constexpr Index kB = 128, kN = 30, kD = 16, kK = 3;

struct Inputs {
    MatrixX<float> x{kB * kN, kD};
    VectorX<float> bids{kB * kN};
    std::vector<Index> offsets;
    Inputs() {
        Rng rng(5);
        for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal());
        for (Index i = 0; i < bids.size(); ++i) bids[i] = static_cast<float>(rng.uniform());
        for (Index b = 0; b <= kB; ++b) offsets.push_back(b * kN);
    }
};

void BM_DnaBlockDeepSet_B128_N30(benchmark::State& state) {
    const Inputs in;
    ParamLayout layout;
    const Index phi1[] = {128, 32}, phi2[] = {16};
    const DeepSet<float> ds(layout, "set", kD, phi1, phi2);
    VectorX<float> theta(layout.size());
    Rng rng(1);
    ds.init(theta, rng);
    DeepSet<float>::Cache cache;
    for (auto _ : state) benchmark::DoNotOptimize(ds.forward(theta, in.x, in.offsets, cache).data());
    state.SetItemsProcessed(state.iterations() * kB);
}

void BM_DnaBlockMinMax_B128_N30(benchmark::State& state) {
    const Inputs in;
    MatrixX<float> xp(kB * kN, kD + 16);  // x' = [x, h']
    xp.leftCols(kD) = in.x;
    xp.rightCols(16).setConstant(0.5f);
    ParamLayout layout;
    const MinMaxScorer<float> mm(layout, "rank", 5, 20, kD + 16);
    VectorX<float> theta(layout.size()), r;
    Rng rng(2);
    mm.init(theta, rng);
    MinMaxScorer<float>::Cache cache;
    for (auto _ : state) {
        mm.forward(theta, in.bids, xp, r, cache);
        benchmark::DoNotOptimize(r.data());
    }
    state.SetItemsProcessed(state.iterations() * kB);
}

void BM_DnaBlockNeuralSort_B128_N30_K3(benchmark::State& state) {
    const Inputs in;
    NeuralSortCache<float> cache;
    for (auto _ : state) {
        neural_sort<float>(in.bids, in.offsets, kK, 0.1f, cache);
        benchmark::DoNotOptimize(cache.p.values().data());
    }
    state.SetItemsProcessed(state.iterations() * kB);
}
}  // namespace

BENCHMARK(BM_DnaBlockDeepSet_B128_N30)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DnaBlockMinMax_B128_N30)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DnaBlockNeuralSort_B128_N30_K3)->Unit(benchmark::kMicrosecond);
