#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <diffauction/mechanisms/learned/regret_net.hpp>
#include <diffauction/train/aug_lagrangian.hpp>

#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {

/// One bidder who always gets the item and pays half its bid: u(v; b') = v − b'/2,
/// so the best misreport is b' = 0 and the regret is v/2; revenue v/2. Its
/// parameter (one, unused) gets a zero gradient, so Adam never moves it.
struct HalfPrice {
    using scalar_type = double;
    struct Cache {
        Index rows = 0;
    };
    Eigen::VectorXd theta_ = Eigen::VectorXd::Zero(1);
    Eigen::VectorXd& theta() { return theta_; }
    Index num_bidders() const { return 1; }
    Index context_dim() const { return 0; }
    void forward(const Eigen::VectorXd&, const Eigen::Ref<const MatrixX<double>>&,
                 const Eigen::Ref<const MatrixX<double>>& bids, Cache& c, MatrixX<double>& alloc,
                 MatrixX<double>& payment) const {
        c.rows = bids.rows();
        alloc.setOnes(bids.rows(), 1);
        payment = 0.5 * bids;
    }
    void backward(const Eigen::VectorXd&, Cache&, const Eigen::Ref<const MatrixX<double>>&,
                  const Eigen::Ref<const MatrixX<double>>& d_payment, Eigen::VectorXd&,
                  MatrixX<double>* d_bids) const {
        if (d_bids != nullptr) *d_bids = 0.5 * d_payment;
    }
};
static_assert(RegretMechanism<HalfPrice>);

MatrixX<double> uniform_matrix(Rng& rng, Index rows, Index cols) {
    MatrixX<double> m(rows, cols);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform();
    return m;
}
MatrixX<double> no_context(Index rows) { return MatrixX<double>(rows, 0); }

struct Record {
    std::vector<double> lambda, rho, loss;
    const AugLagrangianTrainer<HalfPrice>* trainer = nullptr;
    void on_step(const StepInfo<double>& s) {
        lambda.push_back(trainer->lambda()[0]);
        rho.push_back(trainer->rho());
        loss.push_back(s.loss);
    }
};

AugLagrangianOptions<double> small_net_options(std::uint64_t seed) {
    AugLagrangianOptions<double> o;
    o.trainer.epochs = 3;
    o.trainer.batch_size = 16;
    o.trainer.seed = seed;
    o.trainer.adam.learning_rate = 0.01;
    o.trainer.progress = ProgressMode::never;
    o.misreport.ascent.steps = 3;
    o.lambda_period = 2;
    o.rho_period = 3;
    return o;
}
RegretNetConfig<double> small_net() {
    RegretNetConfig<double> cfg;
    cfg.hidden = 6;
    return cfg;
}

}  // namespace

TEST_CASE("Augmented-Lagrangian loss: gradient wrt theta matches central differences; terms add up",
          "[train][aug_lagrangian][grad]") {
    Rng rng(51);
    RegretNetConfig<double> cfg;
    cfg.bidders = 3;
    cfg.hidden = 5;
    cfg.logit_scale = 2.0;
    RegretNetAdditive<double> net(cfg, 7);
    const Eigen::VectorXd theta = net.theta() + test::random_vector(rng, net.theta().size(), 0.3);
    const MatrixX<double> values = uniform_matrix(rng, 6, 3), mis = uniform_matrix(rng, 6, 3);
    Eigen::VectorXd lambda(3);
    lambda << 5.0, 3.0, 0.5;
    const double rho = 2.5;

    AugLagrangianWorkspace<RegretNetAdditive<double>> ws;
    AugLagrangianTerms<double> terms;
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    const double loss = augmented_lagrangian_loss(net, theta, no_context(6), values, mis, lambda, rho, terms, ws, &grad);

    // The terms, rebuilt from the truthful and misreport utilities of misreport.hpp.
    MisreportWorkspace<RegretNetAdditive<double>> mws;
    MatrixX<double> u_truth, u_mis;
    const double revenue = truthful_utilities(net, theta, no_context(6), values, u_truth, mws) / 6;
    misreport_utilities(net, theta, no_context(6), values, mis, u_mis, mws);
    const MatrixX<double> gain = u_mis - u_truth;
    Eigen::VectorXd rgt(3);
    for (Index j = 0; j < 3; ++j) rgt[j] = gain.col(j).cwiseMax(0.0).sum() / 6;
    CHECK(terms.revenue == Approx(revenue).margin(1e-14));
    CHECK((terms.regret - rgt).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK(loss == Approx(-revenue + lambda.dot(rgt) + rho / 2 * rgt.squaredNorm()).margin(1e-13));
    // Both relu branches are exercised, away from the kink.
    const Index active = (gain.array() > 0).count();
    CHECK(active > 0);
    CHECK(active < gain.size());
    CHECK(gain.cwiseAbs().minCoeff() > 1e-4);

    const auto numeric = test::numeric_gradient(
        [&](const Eigen::VectorXd& t) {
            AugLagrangianWorkspace<RegretNetAdditive<double>> w;
            AugLagrangianTerms<double> tt;
            return augmented_lagrangian_loss(net, t, no_context(6), values, mis, lambda, rho, tt, w);
        },
        theta);
    CHECK(test::relative_error(grad, numeric) < kGradTol);

    // λ = 0, ρ = 0: the loss is −revenue.
    const Eigen::VectorXd zero = Eigen::VectorXd::Zero(3);
    CHECK(augmented_lagrangian_loss(net, theta, no_context(6), values, mis, zero, 0.0, terms, ws) ==
          Approx(-revenue).margin(1e-14));
}

TEST_CASE("Augmented-Lagrangian trainer: lambda and rho follow the hand-worked schedule", "[train][aug_lagrangian]") {
    // Four auctions, v = 0.4, one step per epoch. The grid {0, 0.5, 1} finds b' = 0:
    // regret v/2 = 0.2, revenue 0.2, loss = −0.2 + 0.2 λ + (ρ/2)·0.04.
    AugLagrangianOptions<double> o;
    o.lambda0 = 5;
    o.rho0 = 1;
    o.lambda_period = 2;
    o.rho_increment = 5;
    o.rho_period = 3;
    o.misreport.grid = true;
    o.misreport.multipliers = {0.0, 0.5, 1.0};
    o.misreport.ascent.steps = 0;
    o.trainer.epochs = 9;
    o.trainer.batch_size = 4;
    o.trainer.progress = ProgressMode::never;
    AugLagrangianTrainer<HalfPrice> trainer(o);
    HalfPrice mech;
    const MatrixX<double> values = MatrixX<double>::Constant(4, 1, 0.4);
    Record rec;
    rec.trainer = &trainer;
    const TrainResult<double> r = trainer.train(mech, values, rec);
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
    }
    CHECK(trainer.last_terms().regret[0] == Approx(0.2).margin(1e-15));
    CHECK((trainer.misreports().array() == 0.0).all());
    CHECK(mech.theta_[0] == 0.0);

    // A second call continues the schedule: before s = 9 only ρ = 16; before s = 10,
    // λ = 9.8 + 16·0.2 = 13.
    rec.lambda.clear();
    rec.rho.clear();
    trainer.train(mech, values, rec);
    REQUIRE(rec.lambda.size() == 9);
    CHECK(rec.lambda[0] == Approx(9.8).margin(1e-12));
    CHECK(rec.rho[0] == 16.0);
    CHECK(rec.lambda[1] == Approx(13.0).margin(1e-12));
}

TEST_CASE("Augmented-Lagrangian trainer: deterministic for a fixed seed, also over two train() calls",
          "[train][aug_lagrangian]") {
    Rng rng(52);
    const MatrixX<double> values = uniform_matrix(rng, 40, 2);
    const auto run = [&](std::uint64_t seed, int calls) {
        RegretNetAdditive<double> net(small_net(), 3);
        AugLagrangianOptions<double> o = small_net_options(seed);
        o.trainer.epochs = 4 / calls;
        AugLagrangianTrainer<RegretNetAdditive<double>> t(o);
        for (int c = 0; c < calls; ++c) t.train(net, values);
        CHECK(t.steps() == 12);  // 3 mini-batches (16, 16, 8) x 4 epochs
        return std::make_pair(Eigen::VectorXd(net.theta()), Eigen::VectorXd(t.lambda()));
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
    CHECK((a.second.array() >= 5.0).all());
    CHECK((a.second.array() > 5.0).any());
}

TEST_CASE("Augmented-Lagrangian trainer: a few steps raise revenue from a random start", "[train][aug_lagrangian]") {
    Rng rng(53);
    const MatrixX<double> values = uniform_matrix(rng, 256, 2);
    RegretNetAdditive<double> net(small_net(), 4);
    MisreportOptions<double> eval;
    eval.ascent.steps = 0;
    const double before = evaluate_regret(net, net.theta(), no_context(256), values, eval).revenue;
    AugLagrangianOptions<double> o = small_net_options(1);
    o.trainer.epochs = 5;
    o.trainer.batch_size = 64;
    AugLagrangianTrainer<RegretNetAdditive<double>> t(o);
    t.train(net, values);
    const double after = evaluate_regret(net, net.theta(), no_context(256), values, eval).revenue;
    CHECK(after > before);
    CHECK(t.misreports().rows() == 256);
    CHECK(t.misreports().minCoeff() >= 0.0);
    CHECK(t.misreports().maxCoeff() <= 1.0);
}

TEST_CASE("Augmented-Lagrangian: bad input is an input_error", "[train][aug_lagrangian][validate]") {
    using Opt = AugLagrangianOptions<double>;
    const auto bad = [](auto edit) {
        Opt o;
        edit(o);
        return o;
    };
    using ALT = AugLagrangianTrainer<HalfPrice>;
    CHECK_THROWS_AS(ALT(bad([](Opt& o) { o.rho0 = -1; })), input_error);
    CHECK_THROWS_AS(ALT(bad([](Opt& o) { o.rho_increment = -0.5; })), input_error);
    CHECK_THROWS_AS(ALT(bad([](Opt& o) { o.lambda_period = 0; })), input_error);
    CHECK_THROWS_AS(ALT(bad([](Opt& o) { o.rho_period = 0; })), input_error);
    CHECK_THROWS_AS(ALT(bad([](Opt& o) { o.lambda0 = std::nan(""); })), input_error);
    CHECK_THROWS_AS(ALT(bad([](Opt& o) {
                        o.misreport.grid = true;
                        o.misreport.multipliers.clear();
                    })),
                    input_error);
    CHECK_THROWS_AS(ALT(bad([](Opt& o) { o.trainer.batch_size = 0; })), input_error);

    HalfPrice mech;
    AugLagrangianWorkspace<HalfPrice> ws;
    AugLagrangianTerms<double> terms;
    const MatrixX<double> values = MatrixX<double>::Constant(3, 1, 0.5);
    const Eigen::VectorXd lambda = Eigen::VectorXd::Constant(1, 5.0);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(1);
    CHECK_THROWS_AS(augmented_lagrangian_loss(mech, mech.theta_, no_context(3), values, values, lambda, -1.0, terms, ws),
                    input_error);
    CHECK_THROWS_AS(augmented_lagrangian_loss(mech, mech.theta_, no_context(3), values, values,
                                              Eigen::VectorXd::Constant(2, 5.0), 1.0, terms, ws),
                    input_error);
    CHECK_THROWS_AS(augmented_lagrangian_loss(mech, mech.theta_, no_context(3), values,
                                              MatrixX<double>::Zero(2, 1), lambda, 1.0, terms, ws),
                    input_error);
    Eigen::VectorXd wrong_grad = Eigen::VectorXd::Zero(2);
    CHECK_THROWS_AS(augmented_lagrangian_loss(mech, mech.theta_, no_context(3), values, values, lambda, 1.0, terms, ws,
                                              &wrong_grad),
                    input_error);
    CHECK_NOTHROW(augmented_lagrangian_loss(mech, mech.theta_, no_context(3), values, values, lambda, 1.0, terms, ws,
                                            &grad));

    ALT t(bad([](Opt& o) { o.trainer.progress = ProgressMode::never; }));
    CHECK_THROWS_AS(t.train(mech, MatrixX<double>::Constant(3, 2, 0.5)), input_error);  // 2 bidders, mechanism has 1
    MatrixX<double> nan_values = values;
    nan_values(2, 0) = std::nan("");
    CHECK_THROWS_AS(t.train(mech, nan_values), input_error);
    CHECK_THROWS_AS(t.train(mech, values, MatrixX<double>::Zero(3, 2)), input_error);  // context_dim is 0
}
