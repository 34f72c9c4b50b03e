// Exact baselines per auction (SPEC §3) on the synthetic market, in double on one
// thread. Names carry N and K so runs can be filtered, e.g.
//   diffauction_bench --benchmark_filter='Gsp|Ugsp|Myerson|VcgExternalities'
// Each iteration runs one auction, cycling through a pool of 256 pre-generated
// auctions (so branch prediction does not memorise one auction); the mechanism,
// workspace and outcome are reused, as in an ad server after warm-up.
#include <benchmark/benchmark.h>

#include <diffauction/data/synthetic_market.hpp>
#include <diffauction/mechanisms/baselines/gsp.hpp>
#include <diffauction/mechanisms/baselines/myerson.hpp>
#include <diffauction/mechanisms/baselines/ugsp.hpp>
#include <diffauction/mechanisms/baselines/vcg.hpp>

#include <vector>

using namespace diffauction;

namespace {

constexpr Index kPool = 256;

/// A market with exactly n candidates and K = 3 slots.
SyntheticMarket<double> market_with(Index n) {
    MarketConfig c;
    c.min_candidates = n;
    c.max_candidates = n;
    return SyntheticMarket<double>(c);
}

std::vector<Sample<double>> pool(const SyntheticMarket<double>& m) { return m.generate(kPool, 99); }

template <class M>
void run_pool(benchmark::State& state, const M& mech, const std::vector<Sample<double>>& data) {
    std::vector<AuctionView<double>> views;
    for (const auto& s : data) views.emplace_back(s.auction);
    typename M::Workspace ws;
    Outcome<double> out;
    std::size_t t = 0;
    for (auto _ : state) {
        mech.run(views[t], out, ws);
        benchmark::DoNotOptimize(out.price.data());
        benchmark::ClobberMemory();
        t = (t + 1) % data.size();
    }
    state.SetItemsProcessed(state.iterations());
}

const std::vector<Sample<double>>& pool30() {
    static const std::vector<Sample<double>> data = pool(market_with(30));
    return data;
}

/// Input validation alone (every mechanism's run starts with it): N = 30, D = 15.
void BM_ValidatePerAuction_N30(benchmark::State& state) {
    const auto& data = pool30();
    std::size_t t = 0;
    for (auto _ : state) {
        validate<double>(data[t].auction);
        t = (t + 1) % data.size();
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_GspPerAuction_N30_K3(benchmark::State& state) { run_pool(state, Gsp<double>(1.0), pool30()); }
void BM_UgspPerAuction_N30_K3(benchmark::State& state) {
    run_pool(state, Ugsp<double>(1.0, 0.5, 0.5), pool30());
}
void BM_MyersonPerAuction_N30_K3(benchmark::State& state) { run_pool(state, Myerson<double>(), pool30()); }

/// VCG with externalities: enumerates every ordered list of length <= 3 under the
/// market's ground-truth list-wise click model; cost grows like N^3.
void BM_VcgExternalities_K3(benchmark::State& state) {
    const Index n = state.range(0);
    const SyntheticMarket<double> m = market_with(n);
    const auto truth = m.truth_model();
    const Vcg<double, decltype(truth)> vcg(truth);
    run_pool(state, vcg, pool(m));
    state.counters["N"] = static_cast<double>(n);
}

}  // namespace

BENCHMARK(BM_ValidatePerAuction_N30);
BENCHMARK(BM_GspPerAuction_N30_K3);
BENCHMARK(BM_UgspPerAuction_N30_K3);
BENCHMARK(BM_MyersonPerAuction_N30_K3);
BENCHMARK(BM_VcgExternalities_K3)->DenseRange(4, 12, 2)->Unit(benchmark::kMicrosecond);
