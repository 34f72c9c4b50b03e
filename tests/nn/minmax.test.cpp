#include <catch2/catch.hpp>

#include <diffauction/nn/minmax.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {
constexpr Index kQ = 3, kZ = 4, kD = 3;

struct Model {
    ParamLayout layout;
    MinMaxScorer<double> mm;
    Eigen::VectorXd theta;
    Model(Index q, Index z, Index d, Rng& rng) : mm(layout, "mm", q, z, d) {
        theta = test::random_vector(rng, layout.size());
        view(theta, mm.w_slot()) *= 0.5;  // slopes e^w in about [0.2, 5]
    }
};

/// All unit values v_qz of one row: e^{w} b + uᵀx + a (forward) or e^{-w}(t - uᵀx - a)
/// (inverse, negated so that both are "min over groups of max over units").
MatrixX<double> unit_values(const Model& m, double b_or_t, const Eigen::RowVectorXd& x, bool inverse) {
    const auto w = view(m.theta, m.mm.w_slot()), u = view(m.theta, m.mm.u_slot()), a = view(m.theta, m.mm.a_slot());
    MatrixX<double> v(w.rows(), w.cols());
    for (Index q = 0; q < w.rows(); ++q)
        for (Index z = 0; z < w.cols(); ++z) {
            const double lin = u.row(q * w.cols() + z).dot(x) + a(q, z);
            v(q, z) = inverse ? -std::exp(-w(q, z)) * (b_or_t - lin) : std::exp(w(q, z)) * b_or_t + lin;
        }
    return v;
}

/// How far the row is from a change of active unit: the gap between the best and
/// second-best unit of the active group and between the active group and the next.
double margin(const MatrixX<double>& v) {
    std::vector<double> group_max(static_cast<std::size_t>(v.rows()));
    for (Index q = 0; q < v.rows(); ++q) group_max[static_cast<std::size_t>(q)] = v.row(q).maxCoeff();
    Index qs = 0;
    for (Index q = 1; q < v.rows(); ++q)
        if (group_max[static_cast<std::size_t>(q)] < group_max[static_cast<std::size_t>(qs)]) qs = q;
    double gap = std::numeric_limits<double>::infinity();
    for (Index q = 0; q < v.rows(); ++q)
        if (q != qs) gap = std::min(gap, group_max[static_cast<std::size_t>(q)] - group_max[static_cast<std::size_t>(qs)]);
    std::vector<double> row(v.row(qs).data(), v.row(qs).data() + v.cols());
    std::sort(row.begin(), row.end());
    if (row.size() > 1) gap = std::min(gap, row[row.size() - 1] - row[row.size() - 2]);
    return gap;
}

/// Rows (value, x) whose active unit is unique by at least 1e-3 (redrawn until so).
void draw_rows(const Model& m, Rng& rng, Index n, bool inverse, Eigen::VectorXd& v, MatrixX<double>& x) {
    v.resize(n);
    x.resize(n, m.mm.feature_dim());
    for (Index i = 0; i < n; ++i) {
        do {
            x.row(i) = test::random_vector(rng, m.mm.feature_dim()).transpose();
            v[i] = inverse ? rng.normal(0.0, 3.0) : rng.uniform(0.0, 3.0);
        } while (margin(unit_values(m, v[i], x.row(i), inverse)) < 1e-3);
    }
}

double close_rel(double got, double want) { return std::abs(got - want) / std::max(1.0, std::abs(want)); }
}  // namespace

TEST_CASE("MinMax: hand-worked values, active units and inverse", "[nn][minmax]") {
    // Q = 2, Z = 2, D = 1. Slopes e^w: [1, 2; 0.5, 1]; u: [1, 0; 0, 2]; a: [0, -1; 3, 0].
    ParamLayout layout;
    MinMaxScorer<double> mm(layout, "mm", 2, 2, 1);
    Eigen::VectorXd theta(layout.size());
    view(theta, mm.w_slot()) << 0, std::log(2.0), std::log(0.5), 0;
    view(theta, mm.u_slot()) << 1, 0, 0, 2;
    view(theta, mm.a_slot()) << 0, -1, 3, 0;
    Eigen::VectorXd b(2), r;
    b << 1, 3;
    MatrixX<double> x(2, 1);
    x << 1, 0;
    MinMaxScorer<double>::Cache c;
    mm.forward(theta, b, x, r, c);
    // b=1, x=1: group 0 = max(1+1, 2-1) = 2, group 1 = max(0.5+3, 1+2) = 3.5 -> 2 (unit 0,0).
    // b=3, x=0: group 0 = max(3, 6-1) = 5, group 1 = max(1.5+3, 3) = 4.5 -> 4.5 (unit 1,0).
    CHECK(r[0] == Approx(2.0).epsilon(1e-15));
    CHECK(r[1] == Approx(4.5).epsilon(1e-15));
    CHECK(c.active == std::vector<Index>{0, 2});
    // d r / d b = slope of the active unit.
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size()), db;
    mm.backward(theta, b, x, c, Eigen::VectorXd::Ones(2), grad, &db, nullptr);
    CHECK(db[0] == Approx(1.0));
    CHECK(db[1] == Approx(0.5));
    // Inverse of t = 2 at x = 1: group 0 = min(1·(2-1), 0.5·(2+1)) = 1,
    // group 1 = min(2·(2-3), 1·(2-2)) = -2 -> max = 1 (unit 0,0).
    Eigen::VectorXd t(1), bi;
    t << 2;
    MatrixX<double> x1(1, 1);
    x1 << 1;
    mm.inverse(theta, t, x1, bi, c);
    CHECK(bi[0] == Approx(1.0).epsilon(1e-15));
    CHECK(c.active == std::vector<Index>{0});
}

TEST_CASE("MinMax: ties pick the lowest index", "[nn][minmax]") {
    ParamLayout layout;
    MinMaxScorer<double> mm(layout, "mm", 3, 3, 2);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(layout.size());  // every unit identical
    MatrixX<double> x(2, 2);
    x << 0.5, -1, 2, 0.25;
    Eigen::VectorXd b(2), r;
    b << 0.7, 1.3;
    MinMaxScorer<double>::Cache c;
    mm.forward(theta, b, x, r, c);
    CHECK(c.active == std::vector<Index>{0, 0});
    mm.inverse(theta, r, x, b, c);
    CHECK(c.active == std::vector<Index>{0, 0});
    // Group 1 made lower than group 0 everywhere: the min picks group 1, unit 0 (index 3).
    view(theta, mm.a_slot()).row(1).setConstant(-1.0);
    mm.forward(theta, b, x, r, c);
    CHECK(c.active == std::vector<Index>{3, 3});
}

TEST_CASE("MinMax: strictly increasing in the bid on random parameters", "[nn][minmax]") {
    Rng rng(201);
    for (int trial = 0; trial < 50; ++trial) {
        Model m(kQ, kZ, kD, rng);
        const double min_slope = view(m.theta, m.mm.w_slot()).array().exp().minCoeff();
        const Eigen::RowVectorXd xr = test::random_vector(rng, kD).transpose();
        const Index n = 200;
        Eigen::VectorXd b(n), r;
        for (Index i = 0; i < n; ++i) b[i] = -5.0 + 0.05 * static_cast<double>(i);
        MatrixX<double> x = xr.replicate(n, 1);
        MinMaxScorer<double>::Cache c;
        m.mm.forward(m.theta, b, x, r, c);
        for (Index i = 1; i < n; ++i) CHECK(r[i] - r[i - 1] >= 0.05 * min_slope * (1 - 1e-9));
    }
}

TEST_CASE("MinMax: r(r^-1(t)) = t and r^-1(r(b)) = b", "[nn][minmax]") {
    Rng rng(202);
    for (Index d : {kD, Index(0)}) {
        for (int trial = 0; trial < 40; ++trial) {
            Model m(kQ, kZ, d, rng);
            const Index n = 50;
            const MatrixX<double> x = test::random_matrix(rng, n, d);
            const Eigen::VectorXd t = test::random_vector(rng, n, 3.0);
            Eigen::VectorXd b(n), bt, rt, rb, back;
            for (Index i = 0; i < n; ++i) b[i] = rng.uniform(0.0, 3.0);
            MinMaxScorer<double>::Cache c;
            m.mm.inverse(m.theta, t, x, bt, c);
            m.mm.forward(m.theta, bt, x, rt, c);
            m.mm.forward(m.theta, b, x, rb, c);
            m.mm.inverse(m.theta, rb, x, back, c);
            for (Index i = 0; i < n; ++i) {
                CHECK(close_rel(rt[i], t[i]) < 1e-12);
                CHECK(close_rel(back[i], b[i]) < 1e-12);
            }
        }
    }
}

TEST_CASE("MinMax: gradients of r wrt parameters, bid and features", "[nn][minmax][grad]") {
    Rng rng(203);
    for (int trial = 0; trial < 5; ++trial) {
        Model m(kQ, kZ, kD, rng);
        const Index n = 7;
        Eigen::VectorXd b;
        MatrixX<double> x;
        draw_rows(m, rng, n, false, b, x);
        const Eigen::VectorXd w = test::random_vector(rng, n);  // L = Σ w_i r_i
        auto loss = [&](const Eigen::VectorXd& th, const Eigen::VectorXd& bb, const MatrixX<double>& xx) {
            Eigen::VectorXd r;
            MinMaxScorer<double>::Cache c;
            m.mm.forward(th, bb, xx, r, c);
            return w.dot(r);
        };
        Eigen::VectorXd r, grad = Eigen::VectorXd::Zero(m.theta.size()), db;
        MatrixX<double> dx;
        MinMaxScorer<double>::Cache c;
        m.mm.forward(m.theta, b, x, r, c);
        m.mm.backward(m.theta, b, x, c, w, grad, &db, &dx);
        const auto num_theta = test::numeric_gradient([&](const Eigen::VectorXd& th) { return loss(th, b, x); }, m.theta);
        CHECK(test::relative_error(grad, num_theta) < kGradTol);
        const auto num_b = test::numeric_gradient([&](const Eigen::VectorXd& bb) { return loss(m.theta, bb, x); }, b);
        CHECK(test::relative_error(db, num_b) < kGradTol);
        const auto num_x = test::numeric_gradient(
            [&](const Eigen::VectorXd& v) { return loss(m.theta, b, test::unflatten(v, n, kD)); }, test::flatten(x));
        CHECK(test::relative_error(test::flatten(dx), num_x) < kGradTol);

        // Accumulation: a second backward doubles the parameter gradient.
        Eigen::VectorXd twice = grad;
        m.mm.backward(m.theta, b, x, c, w, twice, nullptr, nullptr);
        CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
    }
}

TEST_CASE("MinMax: gradients of r^-1 wrt parameters, target score and features", "[nn][minmax][grad]") {
    Rng rng(204);
    for (int trial = 0; trial < 5; ++trial) {
        Model m(kQ, kZ, kD, rng);
        const Index n = 7;
        Eigen::VectorXd t;
        MatrixX<double> x;
        draw_rows(m, rng, n, true, t, x);
        const Eigen::VectorXd w = test::random_vector(rng, n);  // L = Σ w_i r⁻¹(t_i; x_i)
        auto loss = [&](const Eigen::VectorXd& th, const Eigen::VectorXd& tt, const MatrixX<double>& xx) {
            Eigen::VectorXd b;
            MinMaxScorer<double>::Cache c;
            m.mm.inverse(th, tt, xx, b, c);
            return w.dot(b);
        };
        Eigen::VectorXd b, grad = Eigen::VectorXd::Zero(m.theta.size()), dt;
        MatrixX<double> dx;
        MinMaxScorer<double>::Cache c;
        m.mm.inverse(m.theta, t, x, b, c);
        m.mm.inverse_backward(m.theta, t, x, c, w, grad, &dt, &dx);
        const auto num_theta = test::numeric_gradient([&](const Eigen::VectorXd& th) { return loss(th, t, x); }, m.theta);
        CHECK(test::relative_error(grad, num_theta) < kGradTol);
        const auto num_t = test::numeric_gradient([&](const Eigen::VectorXd& tt) { return loss(m.theta, tt, x); }, t);
        CHECK(test::relative_error(dt, num_t) < kGradTol);
        const auto num_x = test::numeric_gradient(
            [&](const Eigen::VectorXd& v) { return loss(m.theta, t, test::unflatten(v, n, kD)); }, test::flatten(x));
        CHECK(test::relative_error(test::flatten(dx), num_x) < kGradTol);
    }
}

TEST_CASE("MinMax: inverse_of reuses a forward call's affine part: same values, actives and gradients as inverse",
          "[nn][minmax][grad]") {
    Rng rng(206);
    for (int trial = 0; trial < 5; ++trial) {
        Model m(kQ, kZ, kD, rng);
        const Index n = 11;  // not a multiple of any packet width: padded columns
        Eigen::VectorXd t, b0;
        MatrixX<double> x;
        draw_rows(m, rng, n, true, t, x);
        b0 = test::random_vector(rng, n).cwiseAbs();
        MinMaxScorer<double>::Cache fwd, alone;
        MinMaxScorer<double>::InverseCache ic;
        Eigen::VectorXd r, b, b_alone;
        m.mm.forward(m.theta, b0, x, r, fwd);
        const std::vector<Index> fwd_active = fwd.active;
        m.mm.inverse_of(fwd, t, b, ic);
        m.mm.inverse(m.theta, t, x, b_alone, alone);
        CHECK((b - b_alone).cwiseAbs().maxCoeff() == 0.0);
        CHECK(ic.active == alone.active);
        CHECK(fwd.active == fwd_active);  // the forward cache is left as it was
        for (Index i = 0; i < n; ++i) CHECK(m.mm.inverse_at(fwd, i, t[i]) == b[i]);  // bit for bit
        // score(): forward's values without the active units; backward then refuses.
        MinMaxScorer<double>::Cache scored;
        Eigen::VectorXd r2;
        m.mm.score(m.theta, b0, x, r2, scored);
        CHECK((r2 - r).cwiseAbs().maxCoeff() == 0.0);
        Eigen::VectorXd gs = Eigen::VectorXd::Zero(m.theta.size());
        CHECK_THROWS_AS(m.mm.backward(m.theta, b0, x, scored, r, gs, nullptr, nullptr), input_error);

        // Gradients: the same as inverse_backward's, and dx is ADDED to what is there.
        const Eigen::VectorXd w = test::random_vector(rng, n);
        Eigen::VectorXd g1 = Eigen::VectorXd::Zero(m.theta.size()), g2 = g1, dt1, dt2;
        MatrixX<double> dx1, dx2 = MatrixX<double>::Constant(n, kD, 0.25);
        m.mm.inverse_backward(m.theta, t, x, alone, w, g1, &dt1, &dx1);
        m.mm.inverse_of_backward(m.theta, t, x, fwd, ic, w, g2, &dt2, &dx2);
        CHECK((g1 - g2).norm() <= 1e-14 * g1.norm());
        CHECK((dt1 - dt2).norm() == 0.0);
        CHECK((dx1.array() + 0.25 - dx2.array()).abs().maxCoeff() <= 1e-14);
    }
    ParamLayout layout;
    MinMaxScorer<double> mm(layout, "mm", 2, 2, 3);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(layout.size()), r, b;
    MinMaxScorer<double>::Cache c;
    MinMaxScorer<double>::InverseCache ic;
    mm.forward(theta, Eigen::VectorXd::Ones(2), MatrixX<double>::Zero(2, 3), r, c);
    CHECK_THROWS_AS(mm.inverse_of(c, Eigen::VectorXd::Ones(3), b, ic), input_error);
    Eigen::VectorXd t = Eigen::VectorXd::Ones(2);
    t[1] = std::nan("");
    CHECK_THROWS_AS(mm.inverse_of(c, t, b, ic), input_error);
}

TEST_CASE("MinMax: float instantiation agrees with double", "[nn][minmax]") {
    Rng rng(205);
    Model m(kQ, kZ, kD, rng);
    ParamLayout layout;
    MinMaxScorer<float> mf(layout, "mm", kQ, kZ, kD);
    const Eigen::VectorXf theta_f = m.theta.cast<float>();
    const Index n = 40;
    const MatrixX<double> x = test::random_matrix(rng, n, kD);
    const MatrixX<float> xf = x.cast<float>();
    Eigen::VectorXd b(n), r, bi;
    for (Index i = 0; i < n; ++i) b[i] = rng.uniform(0.5, 3.0);
    const Eigen::VectorXf bf = b.cast<float>();
    Eigen::VectorXf rf, bif;
    MinMaxScorer<double>::Cache c;
    MinMaxScorer<float>::Cache cf;
    m.mm.forward(m.theta, b, x, r, c);
    mf.forward(theta_f, bf, xf, rf, cf);
    m.mm.inverse(m.theta, r, x, bi, c);
    mf.inverse(theta_f, rf, xf, bif, cf);
    for (Index i = 0; i < n; ++i) {
        CHECK(close_rel(static_cast<double>(rf[i]), r[i]) < 1e-5);
        CHECK(close_rel(static_cast<double>(bif[i]), bi[i]) < 1e-5);
    }
    Eigen::VectorXf grad_f = Eigen::VectorXf::Zero(theta_f.size()), db_f;
    mf.backward(theta_f, bf, xf, cf, Eigen::VectorXf::Ones(n), grad_f, &db_f, nullptr);
    CHECK(grad_f.allFinite());
}

TEST_CASE("MinMax: bad input is an input_error", "[nn][minmax][validate]") {
    ParamLayout layout;
    MinMaxScorer<double> mm(layout, "mm", 2, 2, 3);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(layout.size()), r;
    MinMaxScorer<double>::Cache c;
    Eigen::VectorXd b = Eigen::VectorXd::Ones(2);
    CHECK_THROWS_AS(mm.forward(theta, b, MatrixX<double>::Zero(2, 4), r, c), input_error);
    CHECK_THROWS_AS(mm.forward(theta, b, MatrixX<double>::Zero(3, 3), r, c), input_error);
    b[1] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(mm.forward(theta, b, MatrixX<double>::Zero(2, 3), r, c), input_error);
    b[1] = std::nan("");
    CHECK_THROWS_AS(mm.inverse(theta, b, MatrixX<double>::Zero(2, 3), r, c), input_error);
    b[1] = 1;
    mm.forward(theta, b, MatrixX<double>::Zero(2, 3), r, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    CHECK_THROWS_AS(mm.backward(theta, b, MatrixX<double>::Zero(2, 3), c, Eigen::VectorXd::Ones(3), grad, nullptr,
                                nullptr),
                    input_error);
    ParamLayout l2;
    CHECK_THROWS_AS(MinMaxScorer<double>(l2, "bad", 0, 2, 1), input_error);
}
