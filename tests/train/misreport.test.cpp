#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <diffauction/mechanisms/learned/regret_net.hpp>
#include <diffauction/nn/dense.hpp>
#include <diffauction/train/misreport.hpp>

#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {

/// Hard single-item auctions for hand-worked grid searches (forward only; their
/// backward is zero: the grid never calls it). The highest bid wins, ties to the
/// lower index; the winner pays the second-highest bid (second price) or its own
/// bid (first price).
struct HardAuction {
    using scalar_type = double;
    struct Cache {};
    bool first_price = false;
    Eigen::VectorXd theta_ = Eigen::VectorXd::Zero(1);
    Index n = 2;
    Eigen::VectorXd& theta() { return theta_; }
    Index num_bidders() const { return n; }
    Index context_dim() const { return 0; }
    void forward(const Eigen::VectorXd&, const Eigen::Ref<const MatrixX<double>>&,
                 const Eigen::Ref<const MatrixX<double>>& bids, Cache&, MatrixX<double>& alloc,
                 MatrixX<double>& payment) const {
        alloc.setZero(bids.rows(), n);
        payment.setZero(bids.rows(), n);
        for (Index i = 0; i < bids.rows(); ++i) {
            Index w = 0;
            for (Index j = 1; j < n; ++j)
                if (bids(i, j) > bids(i, w)) w = j;
            double second = 0;
            for (Index j = 0; j < n; ++j)
                if (j != w) second = std::max(second, bids(i, j));
            alloc(i, w) = 1;
            payment(i, w) = first_price ? bids(i, w) : second;
        }
    }
    void backward(const Eigen::VectorXd&, Cache&, const Eigen::Ref<const MatrixX<double>>& d_alloc,
                  const Eigen::Ref<const MatrixX<double>>&, Eigen::VectorXd&, MatrixX<double>* d_bids) const {
        if (d_bids != nullptr) d_bids->setZero(d_alloc.rows(), d_alloc.cols());
    }
};

/// Smooth toy with a known best response: alloc_j = b_j, payment_j = a_j b_j² with
/// a = theta, so u_j(b) = v_j b − a_j b², maximised at b = v_j / (2 a_j) with
/// u* = v_j² / (4 a_j); the truthful utility is v_j²(1 − a_j).
struct Quadratic {
    using scalar_type = double;
    struct Cache {
        MatrixX<double> bids;
    };
    Eigen::VectorXd theta_;
    explicit Quadratic(Eigen::VectorXd a) : theta_(std::move(a)) {}
    Eigen::VectorXd& theta() { return theta_; }
    Index num_bidders() const { return theta_.size(); }
    Index context_dim() const { return 0; }
    void forward(const Eigen::VectorXd& theta, const Eigen::Ref<const MatrixX<double>>&,
                 const Eigen::Ref<const MatrixX<double>>& bids, Cache& c, MatrixX<double>& alloc,
                 MatrixX<double>& payment) const {
        c.bids = bids;
        alloc = bids;
        payment.resize(bids.rows(), bids.cols());
        for (Index i = 0; i < bids.rows(); ++i)
            for (Index j = 0; j < bids.cols(); ++j) payment(i, j) = theta[j] * bids(i, j) * bids(i, j);
    }
    void backward(const Eigen::VectorXd& theta, Cache& c, const Eigen::Ref<const MatrixX<double>>& d_alloc,
                  const Eigen::Ref<const MatrixX<double>>& d_payment, Eigen::VectorXd& grad,
                  MatrixX<double>* d_bids) const {
        for (Index i = 0; i < c.bids.rows(); ++i)
            for (Index j = 0; j < c.bids.cols(); ++j) grad[j] += d_payment(i, j) * c.bids(i, j) * c.bids(i, j);
        if (d_bids != nullptr) {
            d_bids->resize(c.bids.rows(), c.bids.cols());
            for (Index i = 0; i < c.bids.rows(); ++i)
                for (Index j = 0; j < c.bids.cols(); ++j)
                    (*d_bids)(i, j) = d_alloc(i, j) + d_payment(i, j) * 2 * theta[j] * c.bids(i, j);
        }
    }
};

static_assert(RegretMechanism<RegretNetAdditive<double>>);
static_assert(RegretMechanism<RegretNetAdditive<float>>);
static_assert(RegretMechanism<HardAuction>);
static_assert(RegretMechanism<Quadratic>);
static_assert(!RegretMechanism<Dense<double>>);
static_assert(!RegretMechanism<int>);

MatrixX<double> uniform_matrix(Rng& rng, Index rows, Index cols, double lo = 0, double hi = 1) {
    MatrixX<double> m(rows, cols);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(lo, hi);
    return m;
}
MatrixX<double> no_context(Index rows) { return MatrixX<double>(rows, 0); }

/// L = Σ R_a ⊙ alloc + Σ R_p ⊙ payment of RegretNetAdditive.
struct NetProbe {
    RegretNetAdditive<double> net;
    MatrixX<double> ra, rp;
    NetProbe(RegretNetConfig<double> cfg, Rng& rng, Index b)
        : net(cfg, 5), ra(test::random_matrix(rng, b, cfg.bidders)), rp(test::random_matrix(rng, b, cfg.bidders)) {}
    double loss(const Eigen::VectorXd& theta, const MatrixX<double>& bids) const {
        RegretNetAdditive<double>::Cache c;
        MatrixX<double> a, p;
        net.forward(theta, no_context(bids.rows()), bids, c, a, p);
        return (a.array() * ra.array()).sum() + (p.array() * rp.array()).sum();
    }
};

}  // namespace

TEST_CASE("RegretNetAdditive: gradients wrt theta and bids match central differences", "[train][misreport][grad]") {
    for (const Activation f : {Activation::tanh, Activation::elu}) {
        Rng rng(41);
        RegretNetConfig<double> cfg;
        cfg.bidders = 3;
        cfg.hidden = 5;
        cfg.hidden_layers = 2;
        cfg.activation = f;
        cfg.logit_scale = 2.0;
        NetProbe p(cfg, rng, 4);
        Eigen::VectorXd theta = p.net.theta() + test::random_vector(rng, p.net.theta().size(), 0.2);
        const MatrixX<double> bids = uniform_matrix(rng, 4, 3);

        RegretNetAdditive<double>::Cache c;
        MatrixX<double> a, pay, d_bids;
        p.net.forward(theta, no_context(4), bids, c, a, pay);
        Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
        p.net.backward(theta, c, p.ra, p.rp, grad, &d_bids);
        const auto num_theta =
            test::numeric_gradient([&](const Eigen::VectorXd& t) { return p.loss(t, bids); }, theta);
        CHECK(test::relative_error(grad, num_theta) < kGradTol);
        const auto num_bids = test::numeric_gradient(
            [&](const Eigen::VectorXd& v) { return p.loss(theta, test::unflatten(v, 4, 3)); }, test::flatten(bids));
        CHECK(test::relative_error(test::flatten(d_bids), num_bids) < kGradTol);

        // Accumulation: a second backward doubles the parameter gradient; d_bids is overwritten.
        Eigen::VectorXd twice = grad;
        MatrixX<double> d_bids2;
        p.net.backward(theta, c, p.ra, p.rp, twice, &d_bids2);
        CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
        CHECK((d_bids2 - d_bids).norm() == 0.0);
    }
}

TEST_CASE("RegretNetAdditive: feasible, IR by construction, rows independent, re-entrant", "[train][misreport]") {
    Rng rng(42);
    RegretNetConfig<double> cfg;
    cfg.bidders = 3;
    cfg.hidden = 6;
    RegretNetAdditive<double> net(cfg, 9);
    const Eigen::VectorXd theta = net.theta() + test::random_vector(rng, net.theta().size(), 0.5);
    const MatrixX<double> x = uniform_matrix(rng, 7, 3), y = uniform_matrix(rng, 2, 3);
    RegretNetAdditive<double>::Cache cx, cy, cxy;
    MatrixX<double> ax, px, ay, py, axy, pxy;
    net.forward(theta, no_context(7), x, cx, ax, px);
    for (Index i = 0; i < 7; ++i) {
        CHECK(ax.row(i).minCoeff() >= 0.0);
        CHECK(ax.row(i).sum() < 1.0);  // the dummy keeps some probability
        for (Index j = 0; j < 3; ++j) {
            CHECK(px(i, j) >= 0.0);
            CHECK(px(i, j) <= ax(i, j) * x(i, j));  // u_j = v_j a_j − p_j >= 0 at truthful bids
        }
    }
    // Interleaved caches: y's forward does not disturb x's backward.
    net.forward(theta, no_context(2), y, cy, ay, py);
    MatrixX<double> xy(9, 3);
    xy << x, y;
    net.forward(theta, no_context(9), xy, cxy, axy, pxy);
    CHECK((axy.topRows(7) - ax).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((pxy.bottomRows(2) - py).cwiseAbs().maxCoeff() <= 1e-15);
    const MatrixX<double> dax = test::random_matrix(rng, 7, 3), dpx = test::random_matrix(rng, 7, 3);
    const MatrixX<double> day = test::random_matrix(rng, 2, 3), dpy = test::random_matrix(rng, 2, 3);
    MatrixX<double> daxy(9, 3), dpxy(9, 3);
    daxy << dax, day;
    dpxy << dpx, dpy;
    Eigen::VectorXd g1 = Eigen::VectorXd::Zero(theta.size()), g2 = g1;
    MatrixX<double> dbx, dby, dbxy;
    net.backward(theta, cx, dax, dpx, g1, &dbx);
    net.backward(theta, cy, day, dpy, g1, &dby);
    net.backward(theta, cxy, daxy, dpxy, g2, &dbxy);
    CHECK((g1 - g2).norm() <= 1e-12 * g2.norm());
    CHECK((dbxy.topRows(7) - dbx).cwiseAbs().maxCoeff() <= 1e-12);
    CHECK((dbxy.bottomRows(2) - dby).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("Grid search: second price has zero regret; first price has the hand-worked best misreports",
          "[train][misreport]") {
    MatrixX<double> values(2, 2);
    values << 0.3, 0.7,  //
        0.9, 0.2;
    const std::vector<double> grid = default_misreport_grid();  // {0, 0.1, ..., 2}
    MisreportWorkspace<HardAuction> ws;
    MatrixX<double> best_bid, best_u, truthful;

    HardAuction second;
    truthful_utilities(second, second.theta_, no_context(2), values, truthful, ws);
    // Truthful: auction 0, bidder 1 wins at 0.3 (u = 0.4); auction 1, bidder 0 wins at 0.2 (u = 0.7).
    CHECK(truthful(0, 0) == 0.0);
    CHECK(truthful(0, 1) == Approx(0.4).margin(1e-15));
    CHECK(truthful(1, 0) == Approx(0.7).margin(1e-15));
    CHECK(truthful(1, 1) == 0.0);
    grid_search_misreports(second, second.theta_, no_context(2), values, grid, best_bid, best_u, ws);
    CHECK((best_u - truthful).cwiseAbs().maxCoeff() <= 1e-15);  // regret 0
    // Ties keep the first multiplier: bidder 1 of auction 0 first wins at c = 0.5 (0.35 > 0.3).
    CHECK(best_bid(0, 1) == Approx(0.35).margin(1e-15));
    CHECK(best_bid(0, 0) == 0.0);  // a loser gains nothing: c = 0 is the first of the ties

    HardAuction first;
    first.first_price = true;
    truthful_utilities(first, first.theta_, no_context(2), values, truthful, ws);
    CHECK(truthful.cwiseAbs().maxCoeff() == 0.0);  // pay-your-bid: zero utility when truthful
    grid_search_misreports(first, first.theta_, no_context(2), values, grid, best_bid, best_u, ws);
    // Auction 0: bidder 1 (v = 0.7) shades to the first grid bid above 0.3: c = 0.5, b' = 0.35, u = 0.35.
    CHECK(best_bid(0, 1) == Approx(0.35).margin(1e-15));
    CHECK(best_u(0, 1) == Approx(0.35).margin(1e-15));
    // Auction 1: bidder 0 (v = 0.9) needs c·0.9 > 0.2: c = 0.3, b' = 0.27, u = 0.63.
    CHECK(best_bid(1, 0) == Approx(0.27).margin(1e-15));
    CHECK(best_u(1, 0) == Approx(0.63).margin(1e-15));
    // The low bidders cannot win within c <= 2 (0.6 < 0.7, 0.4 < 0.9): regret 0.
    CHECK(best_u(0, 0) == 0.0);
    CHECK(best_u(1, 1) == 0.0);

    // evaluate_regret agrees: mean regret (0.35 + 0.63) / 4; revenue = mean winning bid.
    MisreportOptions<double> grid_only;
    grid_only.ascent.steps = 0;
    const RegretEvaluation r = evaluate_regret(first, first.theta_, no_context(2), values, grid_only, 1);
    CHECK(r.auctions == 2);
    CHECK(r.regret_mean == Approx((0.35 + 0.63) / 4).margin(1e-15));
    CHECK(r.regret_max == Approx(0.63).margin(1e-15));
    CHECK(r.regret_per_bidder[0] == Approx(0.63 / 2).margin(1e-15));
    CHECK(r.revenue == Approx((0.7 + 0.9) / 2).margin(1e-15));
    const RegretEvaluation r2 = evaluate_regret(second, second.theta_, no_context(2), values, grid_only);
    CHECK(r2.regret_max == 0.0);
    CHECK(r2.revenue == Approx((0.3 + 0.2) / 2).margin(1e-15));
}

TEST_CASE("Gradient ascent: reaches the known best response, respects the clip range and the warm start",
          "[train][misreport]") {
    Eigen::VectorXd a(2);
    a << 1.0, 2.0;
    Quadratic q(a);
    MatrixX<double> values(2, 2);
    values << 0.8, 0.6,  //
        0.4, 0.9;
    MisreportWorkspace<Quadratic> ws;
    MatrixX<double> mis, u;

    SECTION("unconstrained optimum b = v / (2a), u = v² / (4a)") {
        MisreportAscentOptions<double> opt;
        opt.steps = 300;
        opt.learning_rate = 0.01;
        mis = MatrixX<double>::Constant(2, 2, 0.9);
        ascend_misreports(q, q.theta_, no_context(2), values, mis, u, opt, ws);
        for (Index i = 0; i < 2; ++i)
            for (Index j = 0; j < 2; ++j) {
                const double v = values(i, j);
                CHECK(mis(i, j) == Approx(v / (2 * a[j])).margin(0.01));
                CHECK(u(i, j) == Approx(v * v / (4 * a[j])).margin(2e-4));
                // The utility reported is the one of the misreport returned.
                CHECK(u(i, j) == Approx(v * mis(i, j) - a[j] * mis(i, j) * mis(i, j)).margin(1e-15));
            }
    }
    SECTION("every optimum above hi = 0.1: the result is exactly the bound; below lo = 0.5: exactly lo") {
        MisreportAscentOptions<double> opt;
        opt.hi = 0.1;
        mis = MatrixX<double>::Constant(2, 2, 0.05);
        ascend_misreports(q, q.theta_, no_context(2), values, mis, u, opt, ws);
        CHECK((mis.array() == 0.1).all());
        opt.lo = 0.5;
        opt.hi = 1.0;
        mis = MatrixX<double>::Constant(2, 2, 0.95);
        ascend_misreports(q, q.theta_, no_context(2), values, mis, u, opt, ws);
        CHECK((mis.array() == 0.5).all());
        CHECK(u(0, 0) == Approx(0.8 * 0.5 - 0.25).margin(1e-15));
    }
    SECTION("warm start: clipped, kept with 0 steps, never made worse, and continued by a second call") {
        MisreportAscentOptions<double> opt;
        opt.steps = 0;
        mis.resize(2, 2);
        mis << 5.0, -1.0, 0.3, 0.2;  // outside [0, 1] -> clipped
        ascend_misreports(q, q.theta_, no_context(2), values, mis, u, opt, ws);
        CHECK(mis(0, 0) == 1.0);
        CHECK(mis(0, 1) == 0.0);
        CHECK(mis(1, 0) == 0.3);
        CHECK(u(1, 0) == Approx(0.4 * 0.3 - 0.09).margin(1e-15));

        opt.steps = 4;
        MatrixX<double> cold = MatrixX<double>::Constant(2, 2, 1.0), u_cold;
        ascend_misreports(q, q.theta_, no_context(2), values, cold, u_cold, opt, ws);
        MatrixX<double> start_u;
        misreport_utilities(q, q.theta_, no_context(2), values, cold, start_u, ws);
        CHECK((start_u - u_cold).cwiseAbs().maxCoeff() <= 1e-15);
        MatrixX<double> warm = cold, u_warm;
        ascend_misreports(q, q.theta_, no_context(2), values, warm, u_warm, opt, ws);
        CHECK((u_warm.array() >= u_cold.array()).all());
        // 8 steps split over two warm-started calls beat 4 cold steps somewhere.
        CHECK((u_warm.array() > u_cold.array()).any());
    }
}

TEST_CASE("search_misreports: grid and ascent combined are at least as good as each", "[train][misreport]") {
    Rng rng(43);
    RegretNetConfig<double> cfg;
    cfg.hidden = 8;
    RegretNetAdditive<double> net(cfg, 11);
    const Eigen::VectorXd theta = net.theta() + test::random_vector(rng, net.theta().size(), 0.5);
    const MatrixX<double> values = uniform_matrix(rng, 16, 2);
    MisreportWorkspace<RegretNetAdditive<double>> ws;
    MatrixX<double> grid_bid, grid_u, both = values, both_u, asc = values, asc_u, truthful;
    MisreportOptions<double> opt;
    opt.ascent.steps = 10;
    grid_search_misreports(net, theta, no_context(16), values, opt.multipliers, grid_bid, grid_u, ws);
    ascend_misreports(net, theta, no_context(16), values, asc, asc_u, opt.ascent, ws);
    search_misreports(net, theta, no_context(16), values, both, both_u, opt, ws);
    CHECK((both_u.array() >= grid_u.array()).all());
    truthful_utilities(net, theta, no_context(16), values, truthful, ws);
    CHECK((both_u.array() >= truthful.array() - 1e-12).all());  // c = 1 is on the grid
    // The utilities returned are those of the misreports returned.
    MatrixX<double> check;
    misreport_utilities(net, theta, no_context(16), values, both, check, ws);
    CHECK((check - both_u).cwiseAbs().maxCoeff() <= 1e-15);
    misreport_utilities(net, theta, no_context(16), values, asc, check, ws);
    CHECK((check - asc_u).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK(asc.minCoeff() >= 0.0);
    CHECK(asc.maxCoeff() <= 1.0);
}

TEST_CASE("Misreport search: bad input is an input_error", "[train][misreport][validate]") {
    Quadratic q(Eigen::VectorXd::Ones(2));
    MisreportWorkspace<Quadratic> ws;
    const MatrixX<double> values = MatrixX<double>::Constant(3, 2, 0.5);
    MatrixX<double> bid, u, mis = values;
    const std::vector<double> empty;
    CHECK_THROWS_AS(grid_search_misreports(q, q.theta_, no_context(3), values, empty, bid, u, ws), input_error);
    const std::vector<double> negative{0.5, -0.1};
    CHECK_THROWS_AS(grid_search_misreports(q, q.theta_, no_context(3), values, negative, bid, u, ws), input_error);
    MisreportOptions<double> opt;
    opt.multipliers.clear();
    CHECK_THROWS_AS(search_misreports(q, q.theta_, no_context(3), values, mis, u, opt, ws), input_error);
    opt.grid = false;  // an empty grid is fine when the grid is off
    CHECK_NOTHROW(search_misreports(q, q.theta_, no_context(3), values, mis, u, opt, ws));

    MisreportAscentOptions<double> asc;
    asc.learning_rate = 0;
    CHECK_THROWS_AS(ascend_misreports(q, q.theta_, no_context(3), values, mis, u, asc, ws), input_error);
    asc = {};
    asc.lo = 1.0;
    asc.hi = 0.5;
    CHECK_THROWS_AS(ascend_misreports(q, q.theta_, no_context(3), values, mis, u, asc, ws), input_error);
    asc = {};
    asc.steps = -1;
    CHECK_THROWS_AS(ascend_misreports(q, q.theta_, no_context(3), values, mis, u, asc, ws), input_error);

    // Mismatched sizes: values of the wrong width, misreports of the wrong shape, context rows.
    MatrixX<double> truthful;
    CHECK_THROWS_AS(truthful_utilities(q, q.theta_, no_context(3), MatrixX<double>::Zero(3, 3), truthful, ws),
                    input_error);
    MatrixX<double> short_mis = MatrixX<double>::Zero(2, 2);
    CHECK_THROWS_AS(ascend_misreports(q, q.theta_, no_context(3), values, short_mis, u, MisreportAscentOptions<double>{},
                                      ws),
                    input_error);
    CHECK_THROWS_AS(misreport_utilities(q, q.theta_, no_context(4), values, values, u, ws), input_error);
    CHECK_THROWS_AS(truthful_utilities(q, q.theta_, no_context(0), MatrixX<double>(0, 2), truthful, ws), input_error);
    MatrixX<double> nan_values = values;
    nan_values(1, 1) = std::nan("");
    try {
        truthful_utilities(q, q.theta_, no_context(3), nan_values, truthful, ws);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "values");
        CHECK(e.index() == 1);
    }
    CHECK_THROWS_AS(evaluate_regret(q, q.theta_, no_context(3), values, MisreportOptions<double>{}, 0), input_error);
}
