// EdgeNet (SPEC §4.2) at the EdgeNet issue's sizes: N = 30, K = 3, embedding 32,
// 2 encoder blocks of 4 heads (FFN 64), GRU 32, pointer width 32, payment MLP {32},
// per-candidate input 16 (as the DNA benchmarks: D = 14, plus ctr and cvr), float,
// one thread.
//   diffauction_bench --benchmark_filter=EdgeNet
// EdgeNetServeSingle: one auction per call (Workspace reused, no allocation).
// EdgeNetTrainStep_Relaxed: forward + backward of the relaxed outcome (τ = 0.5) of
// 128 auctions at truthful bids, and an Adam step (the part comparable to DNA's step).
// EdgeNetTrainStep_Regret: one step of the augmented-Lagrangian trainer on 64
// auctions as train_edgenet runs it by default (grid of 9 multipliers + 5 ascent
// steps over the N deviations, then the loss over N + 1 profiles, backward, Adam).
#include <benchmark/benchmark.h>

#include <diffauction/data/synthetic_market.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>
#include <diffauction/train/edgenet_training.hpp>
#include <diffauction/train/adam.hpp>

#include "learned_market.hpp"

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
    EdgeNetRegret<float> mech(m, 30, 3, 0.5f);
    MatrixX<float> context, values, alloc, payment;
    mech.pack(data, context, values);
    EdgeNetRegret<float>::Cache cache;
    const MatrixX<float> d_alloc = MatrixX<float>::Zero(128, 30);
    const MatrixX<float> d_payment = MatrixX<float>::Constant(128, 30, -1.0f / 128);  // −revenue
    VectorX<float> grad = VectorX<float>::Zero(m.theta().size());
    Adam<float> adam;
    for (auto _ : state) {
        grad.setZero();
        mech.forward(m.theta(), context, values, cache, alloc, payment);
        mech.backward(m.theta(), cache, d_alloc, d_payment, grad, nullptr);
        adam.step(m.theta(), grad);
        benchmark::DoNotOptimize(grad.data());
    }
    state.SetItemsProcessed(state.iterations() * 128);
}

void BM_EdgeNetTrainStep_Regret_B64_N30_K3(benchmark::State& state) {
    const auto market = bench::learned_market();
    const auto data = market.generate(64, 5);
    EdgeNet<float> m = edgenet_model(market.feature_dim(), data);
    EdgeNetRegret<float> mech(m, 30, 3, 0.5f);
    MatrixX<float> context, values;
    mech.pack(data, context, values);
    const EdgeNetTrainOptions<float> defaults;
    MisreportOptions<float> search = defaults.regret.misreport;
    search.ascent.hi = 2 * values.maxCoeff();
    MisreportWorkspace<EdgeNetRegret<float>> sws;
    AugLagrangianWorkspace<EdgeNetRegret<float>> lws;
    AugLagrangianTerms<float> terms;
    MatrixX<float> mis = values, best;
    const VectorX<float> lambda = VectorX<float>::Constant(30, 5.0f);
    VectorX<float> grad = VectorX<float>::Zero(m.theta().size());
    Adam<float> adam;
    for (auto _ : state) {
        search_misreports(mech, m.theta(), context, values, mis, best, search, sws);
        grad.setZero();
        augmented_lagrangian_loss(mech, m.theta(), context, values, mis, lambda, 1.0f, terms, lws, &grad);
        adam.step(m.theta(), grad);
        benchmark::DoNotOptimize(grad.data());
    }
    state.SetItemsProcessed(state.iterations() * 64);
}

}  // namespace

BENCHMARK(BM_EdgeNetServeSingle_N30_K3);
BENCHMARK(BM_EdgeNetTrainStep_Relaxed_B128_N30_K3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EdgeNetTrainStep_Regret_B64_N30_K3)->Unit(benchmark::kMillisecond)->Iterations(3);
