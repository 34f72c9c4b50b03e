#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <vector>

#include <diffauction/nn/gru.hpp>

#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {

/// Loss L = sum(R ⊙ GRU(s, x)) of one cell step, and its hand-written gradient.
struct CellProbe {
    ParamLayout layout;
    GruCell<double> cell;
    Eigen::VectorXd theta;
    MatrixX<double> r;
    CellProbe(Index in, Index hidden, Index rows, Rng& rng) : cell(layout, "gru", in, hidden) {
        // Random weights and biases of moderate size: gates well inside (0, 1).
        theta = test::random_vector(rng, layout.size(), 0.5);
        r = test::random_matrix(rng, rows, hidden);
    }
    double loss(const Eigen::VectorXd& th, const MatrixX<double>& x, const MatrixX<double>& s) const {
        GruCell<double>::Cache c;
        return (cell.forward(th, x, s, c).array() * r.array()).sum();
    }
};

/// The 3-step chain s_{t+1} = GRU(s_t, x_t), L = Σ_t sum(R_t ⊙ s_{t+1}).
struct Chain {
    static constexpr int kSteps = 3;
    ParamLayout layout;
    GruCell<double> cell;
    Eigen::VectorXd theta;
    std::array<MatrixX<double>, kSteps> x, r;
    MatrixX<double> s0;
    Chain(Index in, Index hidden, Index rows, Rng& rng) : cell(layout, "dec", in, hidden) {
        theta = test::random_vector(rng, layout.size(), 0.5);
        for (int t = 0; t < kSteps; ++t) {
            x[static_cast<std::size_t>(t)] = test::random_matrix(rng, rows, in);
            r[static_cast<std::size_t>(t)] = test::random_matrix(rng, rows, hidden);
        }
        s0 = test::random_matrix(rng, rows, hidden);
    }
    double loss(const Eigen::VectorXd& th, const std::array<MatrixX<double>, kSteps>& xs,
                const MatrixX<double>& init) const {
        std::array<GruCell<double>::Cache, kSteps> c;
        double l = 0;
        const MatrixX<double>* s = &init;
        for (std::size_t t = 0; t < kSteps; ++t) {
            s = &cell.forward(th, xs[t], *s, c[t]);
            l += (s->array() * r[t].array()).sum();
        }
        return l;
    }
    /// Forward into per-step caches, then backward through time in ONE buffer g
    /// (ds aliases ds_next). Returns dL/ds0; dx[t] = dL/dx_t.
    MatrixX<double> gradient(Eigen::VectorXd& grad, std::array<MatrixX<double>, kSteps>& dx,
                             std::array<GruCell<double>::Cache, kSteps>& c) const {
        std::array<const MatrixX<double>*, kSteps> states{};  // s_t fed into step t
        const MatrixX<double>* s = &s0;
        for (std::size_t t = 0; t < kSteps; ++t) {
            states[t] = s;
            s = &cell.forward(theta, x[t], *s, c[t]);
        }
        MatrixX<double> g = r[kSteps - 1];
        for (std::size_t t = kSteps; t-- > 0;) {
            cell.backward(theta, x[t], *states[t], c[t], g, grad, &dx[t], &g);
            if (t > 0) g += r[t - 1];
        }
        return g;
    }
};

/// Loss L = sum(R ⊙ BiGru(x)) over a ragged batch.
constexpr std::array<Index, 6> kOffsets{0, 1, 3, 3, 7, 10};  // sequences of 1, 2, 0, 4, 3 rows
struct BiProbe {
    ParamLayout layout;
    BiGru<double> bi;
    Eigen::VectorXd theta;
    MatrixX<double> r;
    BiProbe(Index in, Index hidden, Rng& rng) : bi(layout, "bi", in, hidden) {
        theta = test::random_vector(rng, layout.size(), 0.5);
        r = test::random_matrix(rng, kOffsets.back(), 2 * hidden);
    }
    double loss(const Eigen::VectorXd& th, const MatrixX<double>& x) const {
        BiGru<double>::Cache c;
        return (bi.forward(th, x, kOffsets, c).array() * r.array()).sum();
    }
};

// The hand-worked cell: H = 1, D = 1. Gate rows of W_x, W_h are [r, z, n].
//   W_x = [ln 3, ln 3, 0], W_h = [-2 ln 3, 0, 4 ln 2], all biases 0.
void set_hand_weights(const GruCell<double>& cell, Eigen::VectorXd& theta) {
    theta.setZero();
    view(theta, cell.input_weight_slot()) << std::log(3.0), std::log(3.0), 0.0;
    view(theta, cell.state_weight_slot()) << -2 * std::log(3.0), 0.0, 4 * std::log(2.0);
}

}  // namespace

TEST_CASE("GruCell: a hand-worked step (H = 1, D = 1)", "[nn][gru]") {
    ParamLayout layout;
    GruCell<double> cell(layout, "gru", 1, 1);
    REQUIRE(layout.size() == 12);  // W_x 3, b_x 3, W_h 3, b_h 3
    Eigen::VectorXd theta(layout.size());
    set_hand_weights(cell, theta);
    const double ln2 = std::log(2.0), ln3 = std::log(3.0);
    // Row 0: x = 1, s = 0.5.
    //   a_r = ln3·1 − 2ln3·0.5 = 0          -> r = 1/2
    //   a_z = ln3                           -> z = 3/(3+1) = 3/4
    //   h_n = 4ln2·0.5 = 2ln2, a_n = 0 + r·h_n = ln2 -> n = tanh(ln 2) = (2 − 1/2)/(2 + 1/2) = 3/5
    //   s'  = (1 − 3/4)·3/5 + 3/4·1/2 = 0.15 + 0.375 = 0.525
    // Row 1: x = 0, s = 1.
    //   a_r = −2ln3 -> r = 1/(1 + 9) = 0.1;  a_z = 0 -> z = 1/2
    //   h_n = 4ln2, a_n = 0.4 ln2 -> n = (2^0.8 − 1)/(2^0.8 + 1);  s' = n/2 + 1/2
    MatrixX<double> x(2, 1), s(2, 1);
    x << 1.0, 0.0;
    s << 0.5, 1.0;
    GruCell<double>::Cache c;
    const MatrixX<double>& out = cell.forward(theta, x, s, c);
    REQUIRE(out.rows() == 2);
    REQUIRE(out.cols() == 1);
    CHECK(out(0, 0) == Approx(0.525).epsilon(1e-14));
    const double n1 = (std::pow(2.0, 0.8) - 1) / (std::pow(2.0, 0.8) + 1);
    CHECK(out(1, 0) == Approx(0.5 * n1 + 0.5).epsilon(1e-14));

    // Backward of row 0 alone with dL/ds' = 1:
    //   dL/da_n = (1 − z)(1 − n²) = 1/4 · 16/25 = 0.16
    //   dL/dh_n = 0.16 · r = 0.08
    //   dL/da_r = 0.16 · h_n · r(1 − r) = 0.16 · 2ln2 · 1/4 = 0.08 ln2
    //   dL/da_z = (s − n) · z(1 − z) = (0.5 − 0.6) · 3/16 = −0.01875
    //   dL/ds   = z + W_hr·0.08ln2 + W_hz·(−0.01875) + W_hn·0.08 = 0.75 − 0.16 ln2 ln3 + 0.32 ln2
    //   dL/dx   = W_xr·0.08ln2 + W_xz·(−0.01875) + W_xn·0.16 = 0.08 ln2 ln3 − 0.01875 ln3
    //   W_x, b_x gradients = dL/d[a_r, a_z, a_n] · x; W_h, b_h = [0.08ln2, −0.01875, 0.08] · (s, 1)
    MatrixX<double> g(2, 1);
    g << 1.0, 0.0;
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> dx, ds;
    cell.backward(theta, x, s, c, g, grad, &dx, &ds);
    CHECK(ds(0, 0) == Approx(0.75 - 0.16 * ln2 * ln3 + 0.32 * ln2).epsilon(1e-13));
    CHECK(dx(0, 0) == Approx(0.08 * ln2 * ln3 - 0.01875 * ln3).epsilon(1e-13));
    CHECK(ds(1, 0) == 0.0);
    CHECK(dx(1, 0) == 0.0);
    const Eigen::Vector3d dgx(0.08 * ln2, -0.01875, 0.16), dgh(0.08 * ln2, -0.01875, 0.08);
    const Eigen::Map<const Eigen::Vector3d> gwx(grad.data() + cell.input_weight_slot().offset);
    const Eigen::Map<const Eigen::Vector3d> gbx(grad.data() + cell.input_bias_slot().offset);
    const Eigen::Map<const Eigen::Vector3d> gwh(grad.data() + cell.state_weight_slot().offset);
    const Eigen::Map<const Eigen::Vector3d> gbh(grad.data() + cell.state_bias_slot().offset);
    CHECK((gwx - dgx).norm() < 1e-14);
    CHECK((gbx - dgx).norm() < 1e-14);
    CHECK((gwh - 0.5 * dgh).norm() < 1e-14);
    CHECK((gbh - dgh).norm() < 1e-14);
}

TEST_CASE("GruCell: z = 1 keeps the state, z = 0 takes the candidate", "[nn][gru]") {
    ParamLayout layout;
    GruCell<double> cell(layout, "gru", 1, 1);
    Eigen::VectorXd theta(layout.size());
    set_hand_weights(cell, theta);
    MatrixX<double> x(1, 1), s(1, 1);
    x << 1.0;
    s << 0.5;
    GruCell<double>::Cache c;
    view(theta, cell.input_bias_slot())(0, 1) = 800.0;  // a_z huge: z = 1 exactly in double
    CHECK(cell.forward(theta, x, s, c)(0, 0) == 0.5);
    view(theta, cell.input_bias_slot())(0, 1) = -800.0;  // z = 0 (e^800 overflows to inf: 1/inf = 0)
    CHECK(cell.forward(theta, x, s, c)(0, 0) == Approx(0.6).epsilon(1e-14));  // n = tanh(ln 2)
}

TEST_CASE("GruCell: gradients wrt parameters, input and state match central differences",
          "[nn][gru][grad]") {
    Rng rng(401);
    CellProbe p(3, 4, 5, rng);
    const MatrixX<double> x = test::random_matrix(rng, 5, 3), s = test::random_matrix(rng, 5, 4);
    GruCell<double>::Cache c;
    p.cell.forward(p.theta, x, s, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(p.theta.size());
    MatrixX<double> dx, ds;
    p.cell.backward(p.theta, x, s, c, p.r, grad, &dx, &ds);

    const auto num_theta = test::numeric_gradient([&](const Eigen::VectorXd& t) { return p.loss(t, x, s); }, p.theta);
    CHECK(test::relative_error(grad, num_theta) < kGradTol);
    const auto num_x = test::numeric_gradient(
        [&](const Eigen::VectorXd& v) { return p.loss(p.theta, test::unflatten(v, 5, 3), s); }, test::flatten(x));
    CHECK(test::relative_error(test::flatten(dx), num_x) < kGradTol);
    const auto num_s = test::numeric_gradient(
        [&](const Eigen::VectorXd& v) { return p.loss(p.theta, x, test::unflatten(v, 5, 4)); }, test::flatten(s));
    CHECK(test::relative_error(test::flatten(ds), num_s) < kGradTol);

    // Accumulation: a second backward call on the same cache doubles the parameter
    // gradient and rewrites (does not add to) dx, ds.
    Eigen::VectorXd twice = grad;
    MatrixX<double> dx2, ds2;
    p.cell.backward(p.theta, x, s, c, p.r, twice, &dx2, &ds2);
    CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
    CHECK((dx2 - dx).norm() == 0.0);
    CHECK((ds2 - ds).norm() == 0.0);
}

TEST_CASE("GruCell: a 3-step unrolled chain (decoder use) matches central differences",
          "[nn][gru][grad]") {
    Rng rng(402);
    Chain ch(3, 4, 2, rng);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(ch.theta.size());
    std::array<MatrixX<double>, Chain::kSteps> dx;
    std::array<GruCell<double>::Cache, Chain::kSteps> c;
    const MatrixX<double> ds0 = ch.gradient(grad, dx, c);

    const auto num_theta =
        test::numeric_gradient([&](const Eigen::VectorXd& t) { return ch.loss(t, ch.x, ch.s0); }, ch.theta);
    CHECK(test::relative_error(grad, num_theta) < kGradTol);
    const auto num_s0 = test::numeric_gradient(
        [&](const Eigen::VectorXd& v) { return ch.loss(ch.theta, ch.x, test::unflatten(v, 2, 4)); },
        test::flatten(ch.s0));
    CHECK(test::relative_error(test::flatten(ds0), num_s0) < kGradTol);
    for (std::size_t t = 0; t < Chain::kSteps; ++t) {
        INFO("step " << t);
        const auto num_x = test::numeric_gradient(
            [&](const Eigen::VectorXd& v) {
                auto xs = ch.x;
                xs[t] = test::unflatten(v, 2, 3);
                return ch.loss(ch.theta, xs, ch.s0);
            },
            test::flatten(ch.x[t]));
        CHECK(test::relative_error(test::flatten(dx[t]), num_x) < kGradTol);
    }
}

TEST_CASE("GruCell: rows are independent and interleaved caches do not interfere", "[nn][gru]") {
    Rng rng(403);
    ParamLayout layout;
    GruCell<double> cell(layout, "gru", 3, 4);
    const Eigen::VectorXd theta = test::random_vector(rng, layout.size(), 0.5);
    const MatrixX<double> xa = test::random_matrix(rng, 3, 3), sa = test::random_matrix(rng, 3, 4);
    const MatrixX<double> xb = test::random_matrix(rng, 2, 3), sb = test::random_matrix(rng, 2, 4);
    MatrixX<double> xab(5, 3), sab(5, 4);
    xab << xa, xb;
    sab << sa, sb;
    GruCell<double>::Cache ca, cb, cab;
    // Interleaved: forward a, forward b, then forward ab, backward a, backward b.
    const MatrixX<double>& ya = cell.forward(theta, xa, sa, ca);
    const MatrixX<double>& yb = cell.forward(theta, xb, sb, cb);
    const MatrixX<double>& yab = cell.forward(theta, xab, sab, cab);
    CHECK((yab.topRows(3) - ya).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((yab.bottomRows(2) - yb).cwiseAbs().maxCoeff() <= 1e-15);
    const MatrixX<double> ga = test::random_matrix(rng, 3, 4), gb = test::random_matrix(rng, 2, 4);
    MatrixX<double> gab(5, 4);
    gab << ga, gb;
    Eigen::VectorXd g1 = Eigen::VectorXd::Zero(theta.size()), g2 = g1;
    MatrixX<double> dxa, dsa, dxb, dsb, dxab, dsab;
    cell.backward(theta, xa, sa, ca, ga, g1, &dxa, &dsa);
    cell.backward(theta, xb, sb, cb, gb, g1, &dxb, &dsb);
    cell.backward(theta, xab, sab, cab, gab, g2, &dxab, &dsab);
    CHECK((g1 - g2).norm() <= 1e-12 * g2.norm());
    CHECK((dxab.topRows(3) - dxa).cwiseAbs().maxCoeff() <= 1e-14);
    CHECK((dsab.bottomRows(2) - dsb).cwiseAbs().maxCoeff() <= 1e-14);
}

TEST_CASE("GruCell: input_gates + step is forward; float agrees with double", "[nn][gru]") {
    Rng rng(404);
    ParamLayout layout;
    GruCell<double> cell(layout, "gru", 3, 4);
    GruCell<float> cellf(layout, "gru_f", 3, 4);  // same shapes; only its methods are used
    const Eigen::VectorXd theta = test::random_vector(rng, layout.size(), 0.5);
    const MatrixX<double> x = test::random_matrix(rng, 4, 3), s = test::random_matrix(rng, 4, 4);
    GruCell<double>::Cache c1, c2;
    MatrixX<double> gx;
    cell.input_gates(theta, x, gx);
    const MatrixX<double>& a = cell.step(theta, gx, s, c1);
    const MatrixX<double>& b = cell.forward(theta, x, s, c2);
    CHECK((a - b).norm() == 0.0);

    // The float cell reads the same slot shapes: copy the double cell's weights into its slots.
    Eigen::VectorXd theta_both = theta;
    for (auto [from, to] : {std::pair{cell.input_weight_slot(), cellf.input_weight_slot()},
                            std::pair{cell.input_bias_slot(), cellf.input_bias_slot()},
                            std::pair{cell.state_weight_slot(), cellf.state_weight_slot()},
                            std::pair{cell.state_bias_slot(), cellf.state_bias_slot()}})
        view(theta_both, to) = view(theta, from);
    const Eigen::VectorXf theta_f = theta_both.cast<float>();
    GruCell<float>::Cache cf;
    const MatrixX<float>& yf = cellf.forward(theta_f, x.cast<float>(), s.cast<float>(), cf);
    CHECK((yf.cast<double>() - b).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("GruCell: bad input is an input_error", "[nn][gru][validate]") {
    Rng rng(405);
    ParamLayout layout;
    GruCell<double> cell(layout, "gru", 3, 4);
    const Eigen::VectorXd theta = test::random_vector(rng, layout.size(), 0.5);
    GruCell<double>::Cache c;
    const MatrixX<double> x = test::random_matrix(rng, 2, 3), s = test::random_matrix(rng, 2, 4);
    CHECK_THROWS_AS(cell.forward(theta, test::random_matrix(rng, 2, 4), s, c), input_error);  // x width
    CHECK_THROWS_AS(cell.forward(theta, x, test::random_matrix(rng, 2, 3), c), input_error);  // s width
    CHECK_THROWS_AS(cell.forward(theta, x, test::random_matrix(rng, 3, 4), c), input_error);  // s rows
    CHECK_THROWS_AS(cell.step(theta, test::random_matrix(rng, 2, 11), s, c), input_error);    // gx width
    cell.forward(theta, x, s, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> dx, ds;
    CHECK_THROWS_AS(cell.backward(theta, x, s, c, test::random_matrix(rng, 2, 3), grad, &dx, &ds), input_error);
    CHECK_THROWS_AS(cell.backward(theta, x, s, c, test::random_matrix(rng, 3, 4), grad, &dx, &ds), input_error);
    CHECK_THROWS_AS(cell.backward(theta, test::random_matrix(rng, 3, 3), s, c, test::random_matrix(rng, 2, 4), grad,
                                  &dx, &ds),
                    input_error);
    CHECK(grad.norm() == 0.0);  // nothing was added by the rejected calls
    ParamLayout l2;
    CHECK_THROWS_AS(GruCell<double>(l2, "g", 3, 0), input_error);
    CHECK_THROWS_AS(GruCell<double>(l2, "h", 0, 2), input_error);
}

TEST_CASE("BiGru: gradients over ragged segments match central differences", "[nn][gru][bigru][grad]") {
    Rng rng(411);
    BiProbe p(3, 4, rng);
    const MatrixX<double> x = test::random_matrix(rng, kOffsets.back(), 3);
    BiGru<double>::Cache c;
    p.bi.forward(p.theta, x, kOffsets, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(p.theta.size());
    MatrixX<double> dx;
    p.bi.backward(p.theta, x, c, p.r, grad, &dx);
    const auto num_theta = test::numeric_gradient([&](const Eigen::VectorXd& t) { return p.loss(t, x); }, p.theta);
    CHECK(test::relative_error(grad, num_theta) < kGradTol);
    const auto num_x = test::numeric_gradient(
        [&](const Eigen::VectorXd& v) { return p.loss(p.theta, test::unflatten(v, kOffsets.back(), 3)); },
        test::flatten(x));
    CHECK(test::relative_error(test::flatten(dx), num_x) < kGradTol);

    // Accumulation, and backward is repeatable on the same cache.
    Eigen::VectorXd twice = grad;
    MatrixX<double> dx2;
    p.bi.backward(p.theta, x, c, p.r, twice, &dx2);
    CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
    CHECK((dx2 - dx).norm() == 0.0);
}

TEST_CASE("BiGru: equals the two cells run by hand over each sequence", "[nn][gru][bigru]") {
    Rng rng(412);
    ParamLayout layout;
    BiGru<double> bi(layout, "bi", 2, 3);
    REQUIRE(bi.out_dim() == 6);
    const Eigen::VectorXd theta = test::random_vector(rng, layout.size(), 0.5);
    const MatrixX<double> x = test::random_matrix(rng, kOffsets.back(), 2);
    BiGru<double>::Cache c;
    const MatrixX<double>& y = bi.forward(theta, x, kOffsets, c);
    REQUIRE(y.rows() == kOffsets.back());
    REQUIRE(y.cols() == 6);
    double worst = 0;
    for (std::size_t b = 0; b + 1 < kOffsets.size(); ++b) {
        const Index o = kOffsets[b], n = kOffsets[b + 1] - o;
        MatrixX<double> s = MatrixX<double>::Zero(1, 3);  // zero initial state
        GruCell<double>::Cache cc;
        for (Index i = o; i < o + n; ++i) {  // forward direction: first to last
            s = bi.forward_cell().forward(theta, x.row(i), s, cc);
            worst = std::max(worst, (y.block(i, 0, 1, 3) - s).cwiseAbs().maxCoeff());
        }
        s.setZero();
        for (Index i = o + n; i-- > o;) {  // backward direction: last to first
            s = bi.backward_cell().forward(theta, x.row(i), s, cc);
            worst = std::max(worst, (y.block(i, 3, 1, 3) - s).cwiseAbs().maxCoeff());
        }
    }
    CHECK(worst <= 1e-15);
}

TEST_CASE("BiGru: with equal cells, the backward half is the forward half of the reversed sequence",
          "[nn][gru][bigru]") {
    Rng rng(413);
    ParamLayout layout;
    BiGru<double> bi(layout, "bi", 2, 3);
    Eigen::VectorXd theta = test::random_vector(rng, layout.size(), 0.5);
    const GruCell<double>&f = bi.forward_cell(), &b = bi.backward_cell();
    view(theta, b.input_weight_slot()) = view(theta, f.input_weight_slot());
    view(theta, b.input_bias_slot()) = view(theta, f.input_bias_slot());
    view(theta, b.state_weight_slot()) = view(theta, f.state_weight_slot());
    view(theta, b.state_bias_slot()) = view(theta, f.state_bias_slot());
    const std::array<Index, 2> one{0, 5};
    const MatrixX<double> x = test::random_matrix(rng, 5, 2);
    const MatrixX<double> rev = x.colwise().reverse();
    BiGru<double>::Cache c1, c2;
    const MatrixX<double>& y = bi.forward(theta, x, one, c1);
    const MatrixX<double>& yr = bi.forward(theta, rev, one, c2);
    // Row i of x is row 4 − i of rev: its backward state is rev's forward state there.
    for (Index i = 0; i < 5; ++i) {
        CHECK((y.block(i, 3, 1, 3) - yr.block(4 - i, 0, 1, 3)).cwiseAbs().maxCoeff() <= 1e-15);
        CHECK((y.block(i, 0, 1, 3) - yr.block(4 - i, 3, 1, 3)).cwiseAbs().maxCoeff() <= 1e-15);
    }
    // And the states do move along the sequence (the test above is not vacuous).
    CHECK((y.row(0) - y.row(4)).norm() > 1e-3);
}

TEST_CASE("BiGru: a segment's output and input gradient do not depend on the other segments",
          "[nn][gru][bigru]") {
    Rng rng(414);
    BiProbe p(3, 4, rng);
    MatrixX<double> x = test::random_matrix(rng, kOffsets.back(), 3);
    BiGru<double>::Cache c;
    const MatrixX<double> y = p.bi.forward(p.theta, x, kOffsets, c);
    // Segment 3 (rows 3..6) alone.
    const std::array<Index, 2> alone{0, 4};
    BiGru<double>::Cache c3;
    const MatrixX<double> y3 = p.bi.forward(p.theta, x.middleRows(3, 4), alone, c3);
    CHECK((y.middleRows(3, 4) - y3).cwiseAbs().maxCoeff() <= 1e-15);
    // Changing the other segments' rows leaves segment 3 unchanged.
    x.topRows(3) = test::random_matrix(rng, 3, 3);
    x.bottomRows(3) = test::random_matrix(rng, 3, 3);
    const MatrixX<double>& y2 = p.bi.forward(p.theta, x, kOffsets, c);
    CHECK((y2.middleRows(3, 4) - y3).cwiseAbs().maxCoeff() <= 1e-15);
    // A loss on segment 3 only: zero input gradient outside it.
    MatrixX<double> d = MatrixX<double>::Zero(kOffsets.back(), 8);
    d.middleRows(3, 4) = test::random_matrix(rng, 4, 8);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(p.theta.size());
    MatrixX<double> dx;
    p.bi.backward(p.theta, x, c, d, grad, &dx);
    CHECK(dx.topRows(3).norm() == 0.0);
    CHECK(dx.bottomRows(3).norm() == 0.0);
    CHECK(dx.middleRows(3, 4).norm() > 0.0);
}

TEST_CASE("BiGru: bad input is an input_error", "[nn][gru][bigru][validate]") {
    Rng rng(415);
    BiProbe p(3, 4, rng);
    BiGru<double>::Cache c;
    const MatrixX<double> x = test::random_matrix(rng, 10, 3);
    const std::array<Index, 3> short_end{0, 2, 9}, decreasing{0, 5, 3}, bad_start{1, 3, 10};
    const std::array<Index, 0> none{};
    CHECK_THROWS_AS(p.bi.forward(p.theta, x, short_end, c), input_error);
    CHECK_THROWS_AS(p.bi.forward(p.theta, x, decreasing, c), input_error);
    CHECK_THROWS_AS(p.bi.forward(p.theta, x, bad_start, c), input_error);
    CHECK_THROWS_AS(p.bi.forward(p.theta, x, none, c), input_error);
    CHECK_THROWS_AS(p.bi.forward(p.theta, test::random_matrix(rng, 10, 4), kOffsets, c), input_error);
    p.bi.forward(p.theta, x, kOffsets, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(p.theta.size());
    MatrixX<double> dx;
    CHECK_THROWS_AS(p.bi.backward(p.theta, x, c, test::random_matrix(rng, 10, 4), grad, &dx), input_error);
    CHECK_THROWS_AS(p.bi.backward(p.theta, test::random_matrix(rng, 9, 3), c, p.r, grad, &dx), input_error);
    CHECK(grad.norm() == 0.0);
}

TEST_CASE("GruCell decoder (H = 32, K = 3) and BiGru: no allocation after warm-up", "[nn][gru][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    Rng rng(420);
    ParamLayout layout;
    GruCell<float> cell(layout, "dec", 32, 32);
    BiGru<float> bi(layout, "bi", 16, 32);
    Eigen::VectorXf theta(layout.size());
    cell.init(theta, rng);
    bi.init(theta, rng);
    const MatrixX<float> x = test::random_matrix(rng, 4, 32).cast<float>();
    const MatrixX<float> s0 = test::random_matrix(rng, 4, 32).cast<float>();
    const MatrixX<float> seq = test::random_matrix(rng, 90, 16).cast<float>();
    const MatrixX<float> dout = test::random_matrix(rng, 90, 64).cast<float>();
    const std::array<Index, 5> off{0, 30, 31, 60, 90};
    std::array<GruCell<float>::Cache, 3> steps;
    BiGru<float>::Cache bc;
    Eigen::VectorXf grad = Eigen::VectorXf::Zero(theta.size());
    MatrixX<float> g, dx, dseq;
    auto run = [&] {
        const MatrixX<float>* s = &s0;
        std::array<const MatrixX<float>*, 3> in{};
        for (std::size_t t = 0; t < 3; ++t) {
            in[t] = s;
            s = &cell.forward(theta, x, *s, steps[t]);
        }
        g = *s;
        for (std::size_t t = 3; t-- > 0;) cell.backward(theta, x, *in[t], steps[t], g, grad, &dx, &g);
        bi.forward(theta, seq, off, bc);
        bi.backward(theta, seq, bc, dout, grad, &dseq);
    };
    run();
    const long before = test::allocations();
    for (int i = 0; i < 3; ++i) run();
    CHECK(test::allocations() == before);
    CHECK(grad.allFinite());
}
