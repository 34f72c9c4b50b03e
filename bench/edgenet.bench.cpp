// EdgeNet (SPEC §4.2) at the EdgeNet issue's sizes: N = 30, K = 3, embedding 32,
// 2 encoder blocks of 4 heads (FFN 64), GRU 32, pointer width 32, payment MLP {32},
// per-candidate input 16 (as the DNA benchmarks: D = 14, plus ctr and cvr), float,
// one thread.
//   diffauction_bench --benchmark_filter=EdgeNet
// EdgeNetServeSingle: one auction per call (Workspace reused, no allocation).
// EdgeNetTrainStep_Relaxed: forward + backward of the relaxed outcome (τ = 0.5) of
// 128 auctions at truthful bids, and an Adam step (the part comparable to DNA's step).
// EdgeNetTrainStep_Regret: one step of the augmented-Lagrangian regret objective on 64
// auctions as train_edgenet runs it by default (grid of 9 multipliers + 5 ascent
// steps over the N deviation profiles, then the loss over N + 1 profiles, backward,
// Adam), through RelaxedTrainable.
#include <benchmark/benchmark.h>

#include <diffauction/data/synthetic_market.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>
#include <diffauction/train/adam.hpp>
#include <diffauction/train/recipes/edgenet.hpp>
#include <diffauction/train/misreport.hpp>

#include "learned_market.hpp"

#include <algorithm>
#include <span>
#include <vector>

using namespace diffauction;

namespace {

EdgeNet<float> edgenet_model(Index feature_dim, const std::vector<Sample<float>>& data) {
    EdgeNetConfig cfg;  // E 32, 2 blocks x 4 heads, FFN 64, pointer 32, payment {32}, 3 slots
    cfg.feature_dim = feature_dim;
    cfg.bid_scale = mean_bid_ctr<float>(data);
    EdgeNet<float> m(cfg);
    m.init(7);
    return m;
}

void BM_EdgeNetServeSingle_N30_K3(benchmark::State& state) {
    const auto market = bench::learned_market();
    const auto data = market.generate(64, 3);
    bench::serve_single(state, edgenet_model(market.feature_dim(), data), data);
}

void BM_EdgeNetTrainStep_Relaxed_B128_N30_K3(benchmark::State& state) {
    const auto market = bench::learned_market();
    const auto data = market.generate(128, 4);
    EdgeNet<float> m = edgenet_model(market.feature_dim(), data);
    Batch<float> batch;
    for (const Sample<float>& s : data) batch.push_back(s.auction);
    VectorX<float> values;
    truthful_values(std::span<const Sample<float>>(data), values);
    EdgeNet<float>::RelaxedCache cache;
    RelaxedOutcome<float> out;
    RelaxedGradient<float> d;
    d.d_payment = VectorX<float>::Constant(values.size(), -1.0f / 128);  // −revenue
    VectorX<float> grad = VectorX<float>::Zero(m.theta().size());
    Adam<float> adam;
    for (auto _ : state) {
        grad.setZero();
        m.relaxed_forward(batch, values, 0.5f, cache, out);
        m.relaxed_backward(cache, d, grad, nullptr);
        adam.step(m.theta(), grad);
        benchmark::DoNotOptimize(grad.data());
    }
    state.SetItemsProcessed(state.iterations() * 128);
}

void BM_EdgeNetTrainStep_Regret_B64_N30_K3(benchmark::State& state) {
    const auto market = bench::learned_market();
    const auto data = market.generate(64, 5);
    EdgeNet<float> m = edgenet_model(market.feature_dim(), data);
    EdgeNetTrainOptions<float> defaults;
    float vmax = 0;
    for (const Sample<float>& s : data) vmax = std::max(vmax, s.truth.values.maxCoeff());
    defaults.regret.misreport.ascent.hi = 2 * vmax;
    RelaxedTrainable<EdgeNet<float>, RegretLoss<EdgeNet<float>>> step(m, std::span<const Sample<float>>(data),
                                                                      RegretLoss<EdgeNet<float>>(defaults.regret));
    step.set_tau(0.5f);
    std::vector<Index> items(64);
    for (Index i = 0; i < 64; ++i) items[static_cast<std::size_t>(i)] = i;
    VectorX<float> grad = VectorX<float>::Zero(m.theta().size());
    Adam<float> adam;
    for (auto _ : state) {
        grad.setZero();
        step.loss_and_grad(items, grad);
        adam.step(m.theta(), grad);
        benchmark::DoNotOptimize(grad.data());
    }
    state.SetItemsProcessed(state.iterations() * 64);
}

}  // namespace

BENCHMARK(BM_EdgeNetServeSingle_N30_K3);
BENCHMARK(BM_EdgeNetTrainStep_Relaxed_B128_N30_K3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EdgeNetTrainStep_Regret_B64_N30_K3)->Unit(benchmark::kMillisecond)->Iterations(3);
