// The main job: every mechanism of the library on held-out auctions of the
// built-in synthetic market (SPEC §6), one comparison table; then the joint-auction
// baselines on settings A-D (SPEC §4.4).
//
//   compare [--auctions N] [--ic-auctions N] [--seed S] [--dna-steps N] [--edgenet-steps N]
//
// Business metrics use the market's ground-truth list-wise click model (with
// externalities); IC metrics rerun each mechanism with misreports (SPEC §5).
// "oracle" mechanisms rank with the ground-truth click model itself: an upper
// reference for what a perfect list-wise CTR model would allow. DNA (SPEC §4.1) is
// trained first, on the revenue objective, on auctions distinct from the held-out
// ones (seed + 1); examples/train_dna.cpp explores its fronts and training choices.
// EdgeNet (SPEC §4.2) is trained on the same auctions with the augmented-Lagrangian
// regret trainer (in float, then served in double); examples/train_edgenet.cpp
// compares it with DNA, GSP and uGSP at more steps.
#include <diffauction/diffauction.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace diffauction;

namespace {

struct Args {
    Index auctions = 2000;
    Index ic_auctions = 300;
    std::uint64_t seed = 2026;
    std::int64_t dna_steps = 1500;
    std::int64_t edgenet_steps = 300;
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string_view k = argv[i];
        auto value = [&]() -> long long {
            if (i + 1 >= argc) {
                fmt::print(stderr, "compare: {} needs a value\n", k);
                std::exit(2);
            }
            return std::atoll(argv[++i]);
        };
        if (k == "--auctions") a.auctions = value();
        else if (k == "--ic-auctions") a.ic_auctions = value();
        else if (k == "--seed") a.seed = static_cast<std::uint64_t>(value());
        else if (k == "--dna-steps") a.dna_steps = value();
        else if (k == "--edgenet-steps") a.edgenet_steps = value();
        else {
            fmt::print(stderr, "usage: compare [--auctions N] [--ic-auctions N] [--seed S] [--dna-steps N] "
                                "[--edgenet-steps N]\n");
            std::exit(2);
        }
    }
    if (a.auctions < 1 || a.ic_auctions < 0 || a.dna_steps < 1 || a.edgenet_steps < 1) {
        fmt::print(stderr, "compare: --auctions, --dna-steps and --edgenet-steps must be >= 1, --ic-auctions >= 0\n");
        std::exit(2);
    }
    return a;
}

std::string num(double x, int prec = 3) {
    if (std::isnan(x)) return "-";
    if (std::isinf(x)) return "inf";
    return fmt::format("{:.{}f}", x, prec);
}

void header() {
    fmt::print("{:<26} {:>15} {:>7} {:>6} {:>8} {:>8} {:>6} {:>8} {:>7} {:>7} {:>8} {:>7}\n", "mechanism",
               "RPM (+-se)", "CTR", "CVR", "GPM", "SWPM", "SWMR", "IC-R", "Psi_v", "Psi_p", "regret", "sec");
}

void row(const std::string& name, const Report& r, double seconds) {
    const auto& b = r.business;
    const IcMetrics ic = r.ic.value_or(IcMetrics{});
    fmt::print("{:<26} {:>15} {:>7} {:>6} {:>8} {:>8} {:>6} {:>8} {:>7} {:>7} {:>8} {:>7}\n", name,
               num(b.rpm, 1) + " +-" + num(b.rpm_se, 1), num(b.ctr, 4), num(b.cvr, 3), num(b.gpm, 0),
               num(b.swpm, 1), num(b.swmr ? *b.swmr : NAN, 3), num(ic.ic_r, 4), num(ic.psi_v, 4),
               num(ic.psi_p, 4), num(ic.regret_mean, 5), num(seconds, 1));
}

/// DNA trained on the revenue objective (λ = 1, α = 0.1) for `steps` Adam steps of
/// 128 auctions (lr 1e-3, β₂ 0.99, the library's τ schedule and α; the choices of
/// examples/train_dna.cpp).
Dna<double> train_revenue_dna(const SyntheticMarket<double>& market, std::vector<Sample<double>> train,
                              std::uint64_t seed, std::int64_t steps) {
    DnaConfig cfg;
    cfg.feature_dim = market.feature_dim();
    Dna<double> model(cfg);
    model.init(seed);
    RankObjective<double> obj;  // revenue only
    obj.alpha = 0.1;
    const Index items = static_cast<Index>(train.size());
    RelaxedTrainable<Dna<double>, RankLoss<double>> trainable(model, train,
                                                              RankLoss<double>(normalise_objective<double>(obj, train)));
    TrainerOptions<double> opt;
    opt.batch_size = 128;
    opt.max_steps = steps;
    opt.seed = seed + 1;
    opt.adam.learning_rate = 1e-3;
    opt.adam.beta2 = 0.99;  // DNA's Adam (SPEC §4.1)
    opt.clip_norm = 10;
    opt.progress = ProgressMode::never;
    Trainer<double> trainer(opt);
    trainer.train(trainable, items);
    return model;
}

/// EdgeNet trained with train_edgenet's defaults (augmented Lagrangian on −revenue,
/// batch 64, Adam 1e-3, τ 1 → 0.05) in float for `steps` steps, returned in double
/// (the same weights, widened) to serve the double held-out auctions.
EdgeNet<double> train_edgenet_model(const MarketConfig& config, Index count, std::uint64_t data_seed,
                                    std::uint64_t seed, std::int64_t steps) {
    const SyntheticMarket<float> market(config);
    const std::vector<Sample<float>> train = market.generate(count, data_seed, 2);
    EdgeNetConfig cfg;
    cfg.feature_dim = market.feature_dim();
    cfg.max_slots = market.num_slots();
    cfg.bid_scale = mean_bid_ctr<float>(train);
    EdgeNet<float> model(cfg);
    model.init(seed);
    EdgeNetTrainOptions<float> opt;
    opt.steps = steps;
    opt.trainer.seed = opt.regret.seed = seed + 1;
    opt.trainer.progress = ProgressMode::never;
    train_edgenet(model, std::span<const Sample<float>>(train), opt);
    EdgeNet<double> wide(cfg);
    wide.theta() = model.theta().cast<double>();
    return wide;
}

template <Mechanism M, class Model>
void evaluate_row(const std::string& name, const M& mech, std::span<const Sample<double>> data,
                  const Model& truth, EvalOptions opt) {
    const auto t0 = std::chrono::steady_clock::now();
    const Report r = evaluate(mech, data, truth, opt);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row(name, r, s);
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    const MarketConfig config{};
    const SyntheticMarket<double> market(config);
    const auto truth = market.truth_model();
    const std::vector<Sample<double>> data = market.generate(args.auctions, args.seed, 2);
    const std::span<const Sample<double>> held_out(data);

    fmt::print("diffauction: synthetic market (seed {}), {} held-out auctions, {}..{} candidates, K = {}\n",
               config.seed, args.auctions, config.min_candidates, config.max_candidates, market.num_slots());
    fmt::print("metrics per 1000 page views under the ground-truth click model; IC metrics on the first {} "
               "auctions\n",
               args.ic_auctions);

    // DNA: trained on its own auctions (seed + 1), never on the held-out ones.
    const Index dna_train = 10000;
    const auto t_dna = std::chrono::steady_clock::now();
    const Dna<double> dna = train_revenue_dna(market, market.generate(dna_train, args.seed + 1, 2), args.seed + 2,
                                              args.dna_steps);
    fmt::print("DNA: revenue objective (lambda = 1, alpha = 0.1), {} Adam steps x 128 auctions (lr 1e-3) on {} "
               "training auctions (seed {}), trained in {:.1f} s\n",
               args.dna_steps, dna_train, args.seed + 1,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t_dna).count());

    const auto t_edge = std::chrono::steady_clock::now();
    const EdgeNet<double> edgenet =
        train_edgenet_model(config, dna_train, args.seed + 1, args.seed + 3, args.edgenet_steps);
    fmt::print("EdgeNet: augmented Lagrangian on -revenue with ex-post regret, {} steps x 64 auctions on the same "
               "training auctions, trained in {:.1f} s\n\n",
               args.edgenet_steps, std::chrono::duration<double>(std::chrono::steady_clock::now() - t_edge).count());

    EvalOptions opt;
    opt.ic = args.ic_auctions > 0;
    opt.ic_auctions = std::max<Index>(args.ic_auctions, 1);
    opt.reference_swpm = business_metrics(Vcg<double>(), held_out, truth).swpm;

    // uGSP weights: o_i = lambda2 * ctr_i + lambda3 * cvr_i added to lambda1 * b_i * ctr_i.
    const double l1 = 1.0, l2 = 0.5, l3 = 0.5;
    // WVCG: bid-free weight favouring conversions, w_i = 1 + 5 cvr_i.
    const auto cvr_weight = [](const AuctionView<double>& a, Index i) { return 1.0 + 5.0 * a.cvr[i]; };

    header();
    evaluate_row("GSP sigma=1", Gsp<double>(1.0), held_out, truth, opt);
    evaluate_row("GSP sigma=0.5", Gsp<double>(0.5), held_out, truth, opt);
    evaluate_row("uGSP (1, .5, .5)", Ugsp<double>(l1, l2, l3), held_out, truth, opt);
    evaluate_row("uGFP (1, .5, .5)", Ugfp<double>(l1, l2, l3), held_out, truth, opt);
    evaluate_row("VCG", Vcg<double>(), held_out, truth, opt);
    evaluate_row("WVCG w=1+5cvr", Wvcg<double>(cvr_weight), held_out, truth, opt);
    evaluate_row("Myerson", Myerson<double>(), held_out, truth, opt);
    evaluate_row(fmt::format("DNA revenue, {} steps", args.dna_steps), dna, held_out, truth, opt);
    evaluate_row(fmt::format("EdgeNet, {} steps", args.edgenet_steps), edgenet, held_out, truth, opt);

    // Enumerating mechanisms with the oracle click model cost N!/(N-K)! lists per run
    // (about 4 ms at N = 20, K = 3), so their IC metrics use a thirtieth of the auctions.
    EvalOptions oracle_opt = opt;
    oracle_opt.ic_auctions = std::max<Index>(1, args.ic_auctions / 30);
    evaluate_row("VCG (oracle list CTR)", Vcg<double, decltype(truth)>(truth), held_out, truth, oracle_opt);
    evaluate_row("Myerson (oracle list CTR)", Myerson<double, decltype(truth)>(truth), held_out, truth, oracle_opt);

    fmt::print("\nJoint auctions (brand + store bundles), values U[0,1], {} auctions per setting\n\n",
               args.auctions);
    fmt::print("{:<32} {:<22} {:>9} {:>9} {:>8} {:>9}\n", "setting", "mechanism", "revenue", "welfare",
               "IC-R", "regret");
    for (JointKind kind : {JointKind::A, JointKind::B, JointKind::C, JointKind::D}) {
        const JointSetting setting = joint_setting(kind);
        const auto joint = generate<double>(setting, args.auctions, args.seed);
        const std::span<const Sample<double>> jd(joint);
        auto joint_row = [&](const std::string& name, const auto& mech) {
            const Report r = evaluate(mech, jd, SeparableCtr{}, opt);
            const IcMetrics ic = r.ic.value_or(IcMetrics{});
            fmt::print("{:<32} {:<22} {:>9} {:>9} {:>8} {:>9}\n", setting.name, name,
                       num(r.business.revenue_mean, 4), num(r.business.welfare / double(r.business.impressions), 4),
                       num(ic.ic_r, 4), num(ic.regret_mean, 5));
        };
        joint_row("joint VCG", JointVcg<double>());
        // JAMA: brands weighted 1.2, stores 1.0 (a platform favouring brand advertisers).
        joint_row("JAMA mu=(1.2 brand)", Jama<double>([m = setting.brands](const AuctionView<double>&, Index j) {
                      return j < m ? 1.2 : 1.0;
                  }));
    }
    return 0;
}
