// The augmented-Lagrangian regret objective (train/objectives/regret_loss.hpp) driven
// by RelaxedTrainable (train/relaxed_trainable.hpp) and the Trainer: the gradient in
// θ at fixed misreports against central differences (RegretNetAdditive; a ragged toy),
// the terms rebuilt from train/misreport.hpp's utilities, the hand-worked λ / ρ
// schedule (also over two train() calls), determinism for a fixed seed, training
// raising revenue, and bad input.
#include <catch2/catch.hpp>

#include <diffauction/core/batch.hpp>
#include <diffauction/mechanisms/learned/regret_net.hpp>
#include <diffauction/mechanisms/relaxed.hpp>
#include <diffauction/train/misreport.hpp>
#include <diffauction/train/objectives/regret_loss.hpp>
#include <diffauction/train/relaxed_trainable.hpp>
#include <diffauction/train/schedule.hpp>
#include <diffauction/train/trainer.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "support/gradcheck.hpp"
#include "support/mechanism_properties.hpp"
#include "support/soft_first_price.hpp"

using namespace diffauction;
using test::field_of;
using test::kGradTol;
using test::SoftFirstPrice;

namespace {

using Samples = std::vector<Sample<double>>;
using Net = RegretNetAdditive<double>;
using NetLoss = RegretLoss<Net>;
using NetTrain = RelaxedTrainable<Net, NetLoss>;

/// One bidder who always gets the item and pays half its bid: u(v; b') = v − b'/2,
/// so the best misreport is b' = 0 and the regret is v/2; revenue v/2. Its
/// parameter (one, unused) gets a zero gradient, so Adam never moves it. Takes
/// auctions of one candidate (check_auction, which RelaxedTrainable calls).
struct HalfPrice {
    using scalar_type = double;
    struct RelaxedCache {
        Index rows = 0;
    };
    Eigen::VectorXd theta_ = Eigen::VectorXd::Zero(1);
    Eigen::VectorXd& theta() { return theta_; }
    const Eigen::VectorXd& theta() const { return theta_; }
    void check_auction(const AuctionView<double>& a, Index index) const {
        detail::require(a.num_candidates() == 1, "candidates", kNone, "must be 1", index);
    }
    void relaxed_forward(const Batch<double>& batch, const Eigen::Ref<const Eigen::VectorXd>& bids, double tau,
                         RelaxedCache& c, RelaxedOutcome<double>& out, std::span<const Index> focus = {}) const {
        const Index profiles = detail::check_relaxed_args(batch, bids, tau, focus);
        for (Index b = 0; b < batch.size(); ++b) check_auction(batch.auction(b), b);
        out.reset(profiles, batch.total_candidates(), 1);
        out.alloc.setOnes();
        out.click.setOnes();
        out.price = 0.5 * bids;
        out.payment = 0.5 * bids;
        c.rows = out.rows();
    }
    void relaxed_backward(RelaxedCache& c, const RelaxedGradient<double>& d, Eigen::VectorXd&,
                          Eigen::VectorXd* d_bids) const {
        if (d_bids == nullptr) return;
        d_bids->setZero(c.rows);
        if (d.d_payment.size() != 0) *d_bids = 0.5 * d.d_payment;
    }
};
static_assert(RelaxedModel<HalfPrice>);


static_assert(RelaxedObjective<NetLoss, double>);
static_assert(RelaxedObjective<RegretLoss<RegretNetAdditive<float>>, float>);
static_assert(TrainableModel<NetTrain, double>);
static_assert(TrainableModel<RelaxedTrainable<RegretNetAdditive<float>, RegretLoss<RegretNetAdditive<float>>>, float>);
static_assert(TrainableModel<RelaxedTrainable<HalfPrice, RegretLoss<HalfPrice>>, double>);

MatrixX<double> uniform_matrix(Rng& rng, Index rows, Index cols) {
    MatrixX<double> m(rows, cols);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform();
    return m;
}

Batch<double> batch_of(const Samples& samples, std::span<const Index> items) {
    Batch<double> b;
    for (const Index i : items) b.push_back(samples[static_cast<std::size_t>(i)].auction);
    return b;
}

/// The loss terms of a batch rebuilt from misreport.hpp's utilities: the batch of
/// `items`, its values, the objective's warm starts (the fixed misreports) mapped to
/// the batch's rows.
struct Rebuilt {
    double revenue = 0;
    Eigen::VectorXd regret;  ///< per position
    Eigen::VectorXd gain;    ///< per batch row: u(misreport) − u(truthful)
};
template <RelaxedModel M>
Rebuilt rebuild(const M& model, const Samples& samples, std::span<const Index> items, const Batch<double>& data,
                const Eigen::VectorXd& warm, Index positions, double tau) {
    const Batch<double> batch = batch_of(samples, items);
    Samples picked;
    for (const Index i : items) picked.push_back(samples[static_cast<std::size_t>(i)]);
    Eigen::VectorXd values, mis(batch.total_candidates()), u_truth, u_mis;
    truthful_values(std::span<const Sample<double>>(picked), values);
    for (Index q = 0; q < batch.size(); ++q) {
        const Index b = items[static_cast<std::size_t>(q)], n = data.end(b) - data.begin(b);
        mis.segment(batch.begin(q), n) = warm.segment(data.begin(b), n);
    }
    MisreportWorkspace<M> ws;
    const double inv_b = 1.0 / static_cast<double>(items.size());
    Rebuilt r;
    r.revenue = truthful_utilities(model, batch, values, tau, u_truth, ws) * inv_b;
    misreport_utilities(model, batch, values, tau, mis, u_mis, ws);
    r.gain = u_mis - u_truth;
    r.regret.setZero(positions);
    for (Index b = 0; b < batch.size(); ++b)
        for (Index i = batch.begin(b), j = 0; i < batch.end(b); ++i, ++j) r.regret[j] += std::max(r.gain[i], 0.0);
    r.regret *= inv_b;
    return r;
}

/// Options without a search: the misreports are the warm starts drawn in [0, 1],
/// fixed from call to call, so the loss is a function of θ alone.
RegretLossOptions<double> fixed_misreports(double lambda0, double rho0) {
    RegretLossOptions<double> o;
    o.lambda0 = lambda0;
    o.rho0 = rho0;
    o.misreport.grid = false;
    o.misreport.ascent.steps = 0;
    return o;
}

RegretLossOptions<double> small_net_loss(std::uint64_t seed) {
    RegretLossOptions<double> o;
    o.misreport.ascent.steps = 3;
    o.lambda_period = 2;
    o.rho_period = 3;
    o.seed = seed;
    return o;
}
TrainerOptions<double> small_net_trainer(std::uint64_t seed) {
    TrainerOptions<double> o;
    o.epochs = 3;
    o.batch_size = 16;
    o.seed = seed;
    o.adam.learning_rate = 0.01;
    o.progress = ProgressMode::never;
    return o;
}
RegretNetConfig<double> small_net() {
    RegretNetConfig<double> cfg;
    cfg.hidden = 6;
    return cfg;
}

template <class Train>
struct Record {
    std::vector<double> lambda, rho, loss;
    std::vector<std::vector<Metric>> metrics;
    const Train* train = nullptr;
    void on_step(const StepInfo<double>& s) {
        lambda.push_back(train->objective().lambda()[0]);
        rho.push_back(train->objective().rho());
        loss.push_back(s.loss);
        metrics.emplace_back(s.metrics.begin(), s.metrics.end());
    }
};

}  // namespace

TEST_CASE("RegretLoss ∘ RegretNet: gradient in θ at fixed misreports matches central differences; terms add up",
          "[train][objectives][regret_loss][grad]") {
    Rng rng(51);
    RegretNetConfig<double> cfg;
    cfg.bidders = 3;
    cfg.hidden = 5;
    cfg.logit_scale = 2.0;
    Net net(cfg, 7);
    net.theta() += test::random_vector(rng, net.theta().size(), 0.3);
    const Samples samples = single_item_samples<double>(uniform_matrix(rng, 7, 3));
    const std::vector<Index> items{4, 1, 6, 0, 2, 5};  // out of order, auction 3 left out
    RegretLossOptions<double> ro = fixed_misreports(5.0, 2.5);
    ro.lambda_period = 1;
    ro.seed = 12;
    NetTrain t(net, samples, NetLoss(ro), ConstantSchedule<double>(1.0));
    REQUIRE(t.objective().lambda().size() == 0);  // sized by the first step

    // A first step sets λ = λ₀ and records rgt; begin_step(1) then makes λ_j = λ₀ + ρ·rgt_j,
    // different per position.
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(net.theta().size());
    t.loss_and_grad(items, grad);
    REQUIRE(t.objective().lambda().size() == 3);
    CHECK((t.objective().lambda().array() == 5.0).all());
    const Eigen::VectorXd warm = t.objective().misreports();
    REQUIRE(warm.size() == 21);
    CHECK(warm.minCoeff() >= 0.0);
    CHECK(warm.maxCoeff() <= 1.0);
    const Eigen::VectorXd rgt0 = t.objective().last_regret();
    t.begin_step(1);
    const Eigen::VectorXd lambda = t.objective().lambda();
    CHECK((lambda - (Eigen::VectorXd::Constant(3, 5.0) + 2.5 * rgt0)).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK(t.objective().rho() == 2.5);
    CHECK(lambda.maxCoeff() > lambda.minCoeff());

    grad.setZero();
    const double loss = t.loss_and_grad(items, grad);
    CHECK(t.objective().misreports() == warm);  // no search: the warm starts did not move
    CHECK(t.outcome().profiles == 4);            // truthful + one deviation profile per position

    // The terms, rebuilt from the truthful and misreport utilities of misreport.hpp.
    const Rebuilt r = rebuild(net, samples, items, t.batch(), warm, 3, 1.0);
    CHECK(t.objective().last_revenue() == Approx(r.revenue).margin(1e-14));
    CHECK((t.objective().last_regret() - r.regret).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK(loss == Approx(-r.revenue + lambda.dot(r.regret) + 2.5 / 2 * r.regret.squaredNorm()).margin(1e-13));
    REQUIRE(t.metrics().size() == 5);
    CHECK(std::string(t.metrics()[1].name) == "rev");
    CHECK(std::string(t.metrics()[2].name) == "rgt");
    CHECK(std::string(t.metrics()[3].name) == "lambda");
    CHECK(std::string(t.metrics()[4].name) == "rho");
    CHECK(t.metrics()[1].value == Approx(r.revenue).margin(1e-14));
    CHECK(t.metrics()[2].value == Approx(r.regret.mean()).margin(1e-14));
    CHECK(t.metrics()[3].value == Approx(lambda.mean()).margin(1e-14));
    CHECK(t.metrics()[4].value == 2.5);
    // Both relu branches are exercised, away from the kink.
    const Index active = (r.gain.array() > 0).count();
    CHECK(active > 0);
    CHECK(active < r.gain.size());
    CHECK(r.gain.cwiseAbs().minCoeff() > 1e-4);

    const Eigen::VectorXd numeric = test::numeric_gradient_in_place(net.theta(), [&] { return t.loss(items); });
    CHECK(test::relative_error(grad, numeric) < kGradTol);
    CHECK(grad.norm() > 0);
    CHECK((t.objective().lambda() - lambda).norm() == 0.0);  // loss() left the schedule alone

    // The loss is the mean over the batch's auctions whatever the chunk size (RegretLoss
    // is whole-batch: the setting is ignored), and loss() equals loss_and_grad's value.
    t.set_chunk_auctions(2);
    Eigen::VectorXd g2 = Eigen::VectorXd::Zero(net.theta().size());
    CHECK(t.loss_and_grad(items, g2) == loss);
    CHECK((g2 - grad).norm() == 0.0);
    CHECK(t.loss(items) == loss);

    // λ = 0, ρ = 0: the loss is −revenue.
    NetTrain zero(net, samples, NetLoss(fixed_misreports(0.0, 0.0)), ConstantSchedule<double>(1.0));
    CHECK(zero.loss(items) == Approx(-r.revenue).margin(1e-14));
}

TEST_CASE("RegretLoss over a ragged batch: terms per position over the auctions that have one; gradient",
          "[train][objectives][regret_loss][grad][ragged]") {
    Rng rng(55);
    Samples samples;
    for (const Index n : {2, 4, 1, 3, 4, 2}) {
        MatrixX<double> v(1, n);
        for (Index i = 0; i < n; ++i) v(0, i) = rng.uniform(0.1, 1.0);
        samples.push_back(single_item_samples<double>(v)[0]);
    }
    SoftFirstPrice m;
    m.theta_[0] = 2.0;
    RegretLossOptions<double> ro = fixed_misreports(3.0, 1.5);
    ro.seed = 21;
    RelaxedTrainable<SoftFirstPrice, RegretLoss<SoftFirstPrice>> t(m, samples, RegretLoss<SoftFirstPrice>(ro),
                                                                    ConstantSchedule<double>(1.0));
    const std::vector<Index> items{5, 1, 3, 2, 4};  // N = 2, 4, 3, 1, 4
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(1);
    const double loss = t.loss_and_grad(items, grad);
    REQUIRE(t.objective().lambda().size() == 4);  // positions: the training data's largest N
    CHECK(t.outcome().profiles == 5);             // truthful + 4 deviation profiles
    const Eigen::VectorXd warm = t.objective().misreports();
    REQUIRE(warm.size() == 16);  // the training data's rows, not the batch's
    const Rebuilt r = rebuild(m, samples, items, t.batch(), warm, 4, 1.0);
    CHECK(std::isfinite(loss));  // no NaN row (outside the focus) was read
    CHECK(t.objective().last_revenue() == Approx(r.revenue).margin(1e-14));
    CHECK((t.objective().last_regret() - r.regret).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK(loss == Approx(-r.revenue + 3.0 * r.regret.sum() + 1.5 / 2 * r.regret.squaredNorm()).margin(1e-13));
    CHECK(r.regret.minCoeff() > 0);  // every position takes part (the 4th through two auctions)
    CHECK(r.gain.cwiseAbs().minCoeff() > 1e-4);
    const Eigen::VectorXd numeric = test::numeric_gradient_in_place(m.theta(), [&] { return t.loss(items); });
    CHECK(test::relative_error(grad, numeric) < kGradTol);
    CHECK(grad.norm() > 0);

    // The first warm starts: drawn position by position, then auction by auction,
    // from the seed, so the same options repeat them; another seed does not.
    RelaxedTrainable<SoftFirstPrice, RegretLoss<SoftFirstPrice>> again(m, samples, RegretLoss<SoftFirstPrice>(ro));
    ro.seed = 22;
    RelaxedTrainable<SoftFirstPrice, RegretLoss<SoftFirstPrice>> other(m, samples, RegretLoss<SoftFirstPrice>(ro));
    again.loss(items);
    other.loss(items);
    CHECK(again.objective().misreports() == warm);
    CHECK((other.objective().misreports() - warm).norm() > 0);
}

TEST_CASE("RegretLoss: λ and ρ follow the hand-worked schedule, also over two train() calls",
          "[train][objectives][regret_loss]") {
    // Four auctions, v = 0.4, one step per epoch. The grid {0, 0.5, 1} finds b' = 0:
    // regret v/2 = 0.2, revenue 0.2, loss = −0.2 + 0.2 λ + (ρ/2)·0.04.
    RegretLossOptions<double> o;
    o.lambda0 = 5;
    o.rho0 = 1;
    o.lambda_period = 2;
    o.rho_increment = 5;
    o.rho_period = 3;
    o.misreport.grid = true;
    o.misreport.multipliers = {0.0, 0.5, 1.0};
    o.misreport.ascent.steps = 0;
    TrainerOptions<double> to;
    to.epochs = 9;
    to.batch_size = 4;
    to.progress = ProgressMode::never;
    HalfPrice mech;
    const Samples samples = single_item_samples<double>(MatrixX<double>::Constant(4, 1, 0.4));
    using Train = RelaxedTrainable<HalfPrice, RegretLoss<HalfPrice>>;
    Train train(mech, samples, RegretLoss<HalfPrice>(o));
    Trainer<double> trainer(to);
    Record<Train> rec;
    rec.train = &train;
    const TrainResult<double> r = trainer.train(train, train.num_items(), rec);
    CHECK(r.steps == 9);
    // Updates before 0-based step s: λ when s % 2 == 0, then ρ when s % 3 == 0 (s > 0).
    //  step k (1-based):  1    2    3    4    5    6    7    8    9
    //  λ:                 5    5    5.2  5.2  6.4  6.4  7.6  7.6  9.8
    //  ρ:                 1    1    1    6    6    6    11   11   11
    // (k = 3: 5 + 1·0.2; k = 5: 5.2 + 6·0.2; k = 7: 6.4 + 6·0.2 then ρ = 11; k = 9: 7.6 + 11·0.2.)
    const std::vector<double> lambda{5, 5, 5.2, 5.2, 6.4, 6.4, 7.6, 7.6, 9.8};
    const std::vector<double> rho{1, 1, 1, 6, 6, 6, 11, 11, 11};
    REQUIRE(rec.lambda.size() == 9);
    for (std::size_t k = 0; k < 9; ++k) {
        INFO("step " << k + 1);
        CHECK(rec.lambda[k] == Approx(lambda[k]).margin(1e-12));
        CHECK(rec.rho[k] == rho[k]);
        CHECK(rec.loss[k] == Approx(-0.2 + 0.2 * lambda[k] + rho[k] / 2 * 0.04).margin(1e-12));
        // The progress figures: τ, then rev, rgt (mean over positions), λ (mean), ρ.
        REQUIRE(rec.metrics[k].size() == 5);
        CHECK(std::string(rec.metrics[k][0].name) == "tau");
        CHECK(std::string(rec.metrics[k][1].name) == "rev");
        CHECK(rec.metrics[k][1].value == Approx(0.2).margin(1e-15));
        CHECK(rec.metrics[k][2].value == Approx(0.2).margin(1e-15));
        CHECK(rec.metrics[k][3].value == Approx(lambda[k]).margin(1e-12));
        CHECK(rec.metrics[k][4].value == rho[k]);
    }
    CHECK(train.objective().last_regret()[0] == Approx(0.2).margin(1e-15));
    CHECK(train.objective().last_revenue() == Approx(0.2).margin(1e-15));
    REQUIRE(train.objective().misreports().size() == 4);
    CHECK((train.objective().misreports().array() == 0.0).all());
    CHECK(mech.theta_[0] == 0.0);

    // A second call continues the schedule: before s = 9 only ρ = 16; before s = 10,
    // λ = 9.8 + 16·0.2 = 13.
    rec = Record<Train>{};
    rec.train = &train;
    trainer.train(train, train.num_items(), rec);
    REQUIRE(rec.lambda.size() == 9);
    CHECK(rec.lambda[0] == Approx(9.8).margin(1e-12));
    CHECK(rec.rho[0] == 16.0);
    CHECK(rec.lambda[1] == Approx(13.0).margin(1e-12));
    CHECK(trainer.steps() == 18);
}

TEST_CASE("RegretLoss: deterministic for a fixed seed, also over two train() calls",
          "[train][objectives][regret_loss]") {
    Rng rng(52);
    const Samples samples = single_item_samples<double>(uniform_matrix(rng, 40, 2));
    const auto run = [&](std::uint64_t seed, int calls) {
        Net net(small_net(), 3);
        NetTrain train(net, samples, NetLoss(small_net_loss(seed)));
        TrainerOptions<double> to = small_net_trainer(seed);
        to.epochs = 4 / calls;
        Trainer<double> trainer(to);
        for (int c = 0; c < calls; ++c) trainer.train(train, train.num_items());
        CHECK(trainer.steps() == 12);  // 3 mini-batches (16, 16, 8) x 4 epochs
        return std::make_pair(Eigen::VectorXd(net.theta()), Eigen::VectorXd(train.objective().lambda()));
    };
    const auto a = run(7, 1), b = run(7, 1), c = run(7, 2), c2 = run(7, 2), d = run(8, 1);
    CHECK((a.first - b.first).norm() == 0.0);
    CHECK((a.second - b.second).norm() == 0.0);
    // (Trainer::train restarts its item order at each call, so two calls of 2 epochs
    // see other batches than one call of 4; each is reproducible.)
    CHECK((c.first - c2.first).norm() == 0.0);
    CHECK((c.second - c2.second).norm() == 0.0);
    CHECK((a.first - d.first).norm() > 0.0);
    // λ moved (T_λ = 2) and only upwards (regret >= 0).
    REQUIRE(a.second.size() == 2);
    CHECK((a.second.array() >= 5.0).all());
    CHECK((a.second.array() > 5.0).any());
}

TEST_CASE("RegretLoss: a few steps raise revenue from a random start", "[train][objectives][regret_loss]") {
    Rng rng(53);
    const Samples samples = single_item_samples<double>(uniform_matrix(rng, 256, 2));
    Net net(small_net(), 4);
    MisreportOptions<double> eval;
    eval.ascent.steps = 0;
    const double before = evaluate_regret(net, samples, 1.0, eval).revenue;
    NetTrain train(net, samples, NetLoss(small_net_loss(1)));
    TrainerOptions<double> to = small_net_trainer(1);
    to.epochs = 5;
    to.batch_size = 64;
    Trainer<double> trainer(to);
    trainer.train(train, train.num_items());
    const double after = evaluate_regret(net, samples, 1.0, eval).revenue;
    CHECK(after > before);
    CHECK(train.objective().misreports().size() == 512);
    CHECK(train.objective().misreports().minCoeff() >= 0.0);
    CHECK(train.objective().misreports().maxCoeff() <= 1.0);
}

TEST_CASE("RegretLoss: bad input is an input_error naming the field", "[train][objectives][regret_loss][validate]") {
    using Opt = RegretLossOptions<double>;
    const auto field = [](auto edit) {
        Opt o;
        edit(o);
        return field_of([&] { RegretLoss<HalfPrice> l(o); });
    };
    CHECK(field([](Opt&) {}) == "(no error)");
    CHECK(field([](Opt& o) { o.rho0 = -1; }) == "rho0");
    CHECK(field([](Opt& o) { o.rho0 = std::nan(""); }) == "rho0");
    CHECK(field([](Opt& o) { o.rho_increment = -0.5; }) == "rho_increment");
    CHECK(field([](Opt& o) { o.lambda_period = 0; }) == "lambda_period");
    CHECK(field([](Opt& o) { o.rho_period = 0; }) == "rho_period");
    CHECK(field([](Opt& o) { o.lambda0 = std::nan(""); }) == "lambda0");
    CHECK(field([](Opt& o) {
              o.misreport.grid = true;
              o.misreport.multipliers.clear();
          }) == "multipliers");
    CHECK(field([](Opt& o) { o.misreport.ascent.learning_rate = 0; }) == "ascent.learning_rate");
    CHECK(field([](Opt& o) { o.misreport.ascent.steps = -1; }) == "ascent.steps");
    TrainerOptions<double> to;
    to.batch_size = 0;
    CHECK(field_of([&] { Trainer<double> t(to); }) == "batch_size");

    // The training samples: one finite value per candidate, ordinary auctions, the
    // model's own checks.
    HalfPrice mech;
    const Samples good = single_item_samples<double>(MatrixX<double>::Constant(3, 1, 0.5));
    using Train = RelaxedTrainable<HalfPrice, RegretLoss<HalfPrice>>;
    CHECK(field_of([&] { Train t(mech, good, RegretLoss<HalfPrice>()); }) == "(no error)");
    CHECK(field_of([&] { Train t(mech, Samples{}, RegretLoss<HalfPrice>()); }) == "samples");
    const Samples two = single_item_samples<double>(MatrixX<double>::Constant(3, 2, 0.5));
    CHECK(field_of([&] { Train t(mech, two, RegretLoss<HalfPrice>()); }) == "candidates");  // the model takes N = 1
    Samples bad = good;
    bad[2].truth.values[0] = std::nan("");
    try {
        Train t(mech, bad, RegretLoss<HalfPrice>());
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "truth.values");
        CHECK(e.auction() == 2);
    }
    bad = good;
    bad[1].truth.values.setConstant(2, 0.5);  // two values for one candidate
    CHECK(field_of([&] { Train t(mech, bad, RegretLoss<HalfPrice>()); }) == "truth.values");
    bad = good;  // a joint auction: one bidder owning the single candidate
    bad[0].auction.owners = {{0, kNone}};
    CHECK(field_of([&] { Train t(mech, bad, RegretLoss<HalfPrice>()); }) == "owners");
    SoftFirstPrice soft;
    Samples joint = single_item_samples<double>(MatrixX<double>::Constant(2, 2, 0.5));
    joint[1].auction.owners = {{0, kNone}, {1, kNone}};
    CHECK(field_of([&] {
              RelaxedTrainable<SoftFirstPrice, RegretLoss<SoftFirstPrice>> t(soft, joint, RegretLoss<SoftFirstPrice>());
          }) == "owners");
    Net net(small_net(), 1);
    const Samples three = single_item_samples<double>(MatrixX<double>::Constant(2, 3, 0.5));
    CHECK(field_of([&] { NetTrain t(net, three, NetLoss()); }) == "candidates");  // 3 bidders, the network has 2

    // evaluate() on its own: only after profiles() on the batch, with its outcome and columns.
    Train t(mech, good, RegretLoss<HalfPrice>());
    const std::vector<Index> items{0, 1, 2};
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(1);
    RegretLoss<HalfPrice> fresh;
    std::array<double, 4> parts{};
    t.loss_and_grad(items, grad);  // t's outcome: 2 profiles of 3 rows
    CHECK(field_of([&] { fresh.evaluate(t.last_chunk(), t.columns(), t.outcome(), 1.0, parts, nullptr); }) == "batch");
    RelaxedOutcome<double> one = t.outcome();
    one.profiles = 1;
    CHECK(field_of([&] { t.objective().evaluate(t.last_chunk(), t.columns(), one, 1.0, parts, nullptr); }) ==
          "outcome");
    const MatrixX<double> wrong = MatrixX<double>::Zero(3, 2);
    CHECK(field_of([&] { t.objective().evaluate(t.last_chunk(), wrong, t.outcome(), 1.0, parts, nullptr); }) ==
          "columns");
    const std::vector<Index> out_of_range{3};
    CHECK(field_of([&] { t.loss_and_grad(out_of_range, grad); }) == "items");
}
