// DNA (SPEC §4.1) trained on the synthetic market (SPEC §6): a few hundred Adam
// steps on the revenue objective must raise the served (τ = 0) expected revenue on
// held-out auctions above the untrained model's. Prints the numbers (and GSP's for
// scale). Slow group (ctest label "slow").
#include <catch2/catch.hpp>

#include <diffauction/data/synthetic_market.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/train/objectives/rank_loss.hpp>
#include <diffauction/train/relaxed_trainable.hpp>
#include <diffauction/mechanisms/baselines/gsp.hpp>
#include <diffauction/train/trainer.hpp>

#include <cstdio>
#include <vector>

using namespace diffauction;

namespace {
/// Mean expected revenue per auction (Σ price·click_prob of the mechanism's outcome).
template <class M>
double mean_revenue(const M& mech, const std::vector<Sample<double>>& data) {
    typename M::Workspace ws;
    Outcome<double> out;
    double sum = 0;
    for (const auto& s : data) {
        mech.run(s.auction, out, ws);
        sum += out.revenue();
    }
    return sum / static_cast<double>(data.size());
}
}  // namespace

TEST_CASE("DNA: training on the synthetic market raises held-out revenue", "[slow][dna]") {
    const SyntheticMarket<double> market;
    const std::uint64_t seed = 20261123;
    std::printf("DNA training: market seed %llu, train seed %llu, held-out seed %llu\n",
                static_cast<unsigned long long>(market.config().seed), static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(seed + 1));
    std::vector<Sample<double>> train = market.generate(2048, seed);
    const std::vector<Sample<double>> held_out = market.generate(1000, seed + 1);

    DnaConfig cfg;
    cfg.feature_dim = market.feature_dim();
    Dna<double> model(cfg);
    model.init(7);
    const double before = mean_revenue(model, held_out);
    const double gsp = mean_revenue(Gsp<double>(1.0), held_out);

    RankObjective<double> obj;  // revenue only (α = 0.1, the default)
    RelaxedTrainable<Dna<double>, RankLoss<double>> trainable(model, train,
                                                              RankLoss<double>(normalise_objective<double>(obj, train)),
                                                              ExponentialSchedule<double>(1.0, 0.99, 1, 0.05));
    TrainerOptions<double> opt;
    opt.epochs = 10;  // 16 steps per epoch: 160 steps
    opt.batch_size = 128;
    opt.adam.learning_rate = 3e-3;
    opt.adam.beta2 = 0.99;  // DNA's Adam (SPEC §4.1)
    opt.progress = ProgressMode::never;
    Trainer<double> trainer(opt);
    const auto result = trainer.train(trainable, trainable.num_items());
    const double after = mean_revenue(model, held_out);
    std::printf("DNA held-out revenue per auction: untrained %.5f, trained %.5f (%lld steps, last epoch loss %.4f); "
                "GSP %.5f\n",
                before, after, static_cast<long long>(result.steps), result.last_epoch_loss, gsp);
    CHECK(after > before);
}
