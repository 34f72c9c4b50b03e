#include <catch2/catch.hpp>

#include <diffauction/nn/layer_norm.hpp>

#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {
struct Model {
    ParamLayout layout;
    LayerNorm<double> ln;
    Eigen::VectorXd theta;
    Model(Rng& rng, Index dim, double eps = 1e-5) : ln(layout, "ln", dim, eps) {
        // Gain and bias away from 1 and 0, so that both enter the gradients.
        theta = test::random_vector(rng, layout.size(), 0.8);
    }
    MatrixX<double> run(const Eigen::VectorXd& th, const MatrixX<double>& x) const {
        LayerNorm<double>::Cache c;
        return ln.forward(th, x, c);
    }
};
}  // namespace

TEST_CASE("LayerNorm: hand-worked rows", "[nn][layer_norm]") {
    ParamLayout layout;
    LayerNorm<double> ln(layout, "ln", 4, 0.5);
    Eigen::VectorXd theta(layout.size());
    ln.init(theta);
    CHECK(view(theta, ln.gain_slot()).isOnes());
    CHECK(view(theta, ln.bias_slot()).isZero());
    view(theta, ln.gain_slot()) << 1, 2, 1, 2;
    view(theta, ln.bias_slot()) << 0, 0, 1, 0;
    MatrixX<double> x(2, 4);
    x << 1, 2, 3, 6,  //
        5, 5, 5, 5;
    // Row 0: mean 3, deviations (-2, -1, 0, 3), variance 14/4 = 3.5; with eps = 0.5 the
    // scale is 1/sqrt(4) = 0.5, xhat = (-1, -0.5, 0, 1.5), y = gain * xhat + bias
    // = (-1, -1, 1, 3). Row 1 is constant: xhat = 0 and y = bias.
    LayerNorm<double>::Cache c;
    const MatrixX<double>& y = ln.forward(theta, x, c);
    MatrixX<double> expected(2, 4);
    expected << -1, -1, 1, 3,  //
        0, 0, 1, 0;
    CHECK((y - expected).cwiseAbs().maxCoeff() < 1e-15);

    // Backward of L = y(0, 0): g = dL/dxhat = (1, 0, 0, 0) * gain = (1, 0, 0, 0),
    // mean g = 0.25, mean(g xhat) = -0.25,
    // dx = 0.5 (g - 0.25 + 0.25 xhat) = 0.5 ((0.75, -0.25, -0.25, -0.25) + (-0.25, -0.125, 0, 0.375))
    //    = (0.25, -0.1875, -0.125, 0.0625); dgain = d_out * xhat = (-1, 0, 0, 0), dbias = (1, 0, 0, 0).
    MatrixX<double> d_out = MatrixX<double>::Zero(2, 4);
    d_out(0, 0) = 1;
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> dx;
    ln.backward(theta, c, d_out, grad, &dx);
    MatrixX<double> dx_expected(2, 4);
    dx_expected << 0.25, -0.1875, -0.125, 0.0625,  //
        0, 0, 0, 0;
    CHECK((dx - dx_expected).cwiseAbs().maxCoeff() < 1e-15);
    MatrixX<double> dgain(1, 4), dbias(1, 4);
    dgain << -1, 0, 0, 0;
    dbias << 1, 0, 0, 0;
    CHECK(view(grad, ln.gain_slot()) == dgain);
    CHECK(view(grad, ln.bias_slot()) == dbias);
}

TEST_CASE("LayerNorm: parameter and input gradients, accumulation, re-entrancy", "[nn][layer_norm][grad]") {
    Rng rng(401);
    Model m(rng, 5);
    const MatrixX<double> x = test::random_matrix(rng, 6, 5);
    const MatrixX<double> r = test::random_matrix(rng, 6, 5);  // L = Σ R ⊙ y
    auto loss = [&](const Eigen::VectorXd& th, const MatrixX<double>& xx) {
        return (m.run(th, xx).array() * r.array()).sum();
    };
    LayerNorm<double>::Cache c;
    m.ln.forward(m.theta, x, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta.size());
    MatrixX<double> dx;
    m.ln.backward(m.theta, c, r, grad, &dx);
    const auto num_theta = test::numeric_gradient([&](const Eigen::VectorXd& th) { return loss(th, x); }, m.theta);
    CHECK(test::relative_error(grad, num_theta) < kGradTol);
    const auto num_x = test::numeric_gradient(
        [&](const Eigen::VectorXd& v) { return loss(m.theta, test::unflatten(v, 6, 5)); }, test::flatten(x));
    CHECK(test::relative_error(test::flatten(dx), num_x) < kGradTol);
    // Each row's input gradient sums to 0 (the output ignores a shift of the row).
    CHECK(dx.rowwise().sum().cwiseAbs().maxCoeff() < 1e-12);

    // Accumulation: a second backward doubles the gradient and gives the same dx.
    Eigen::VectorXd twice = grad;
    MatrixX<double> dx2;
    m.ln.backward(m.theta, c, r, twice, &dx2);
    CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
    CHECK((dx2 - dx).norm() == 0.0);
    // dx may be d_out itself.
    MatrixX<double> inplace = r;
    Eigen::VectorXd g_alias = Eigen::VectorXd::Zero(m.theta.size());
    m.ln.backward(m.theta, c, inplace, g_alias, &inplace);
    CHECK((inplace - dx).norm() == 0.0);
    CHECK((g_alias - grad).norm() == 0.0);

    // Re-entrancy: another cache on other rows, interleaved, leaves the first intact.
    LayerNorm<double>::Cache other;
    m.ln.forward(m.theta, test::random_matrix(rng, 3, 5), other);
    Eigen::VectorXd g3 = Eigen::VectorXd::Zero(m.theta.size());
    MatrixX<double> dx3;
    m.ln.backward(m.theta, c, r, g3, &dx3);
    CHECK((g3 - grad).norm() == 0.0);
    CHECK((dx3 - dx).norm() == 0.0);
    // Without dx only the parameter gradient is written.
    Eigen::VectorXd g4 = Eigen::VectorXd::Zero(m.theta.size());
    m.ln.backward(m.theta, c, r, g4, nullptr);
    CHECK((g4 - grad).norm() == 0.0);
}

TEST_CASE("LayerNorm: rows are independent and shift invariant", "[nn][layer_norm]") {
    Rng rng(402);
    Model m(rng, 4);
    const MatrixX<double> a = test::random_matrix(rng, 3, 4), b = test::random_matrix(rng, 2, 4);
    MatrixX<double> ab(5, 4);
    ab << a, b;
    const MatrixX<double> yab = m.run(m.theta, ab);
    CHECK((yab.topRows(3) - m.run(m.theta, a)).norm() == 0.0);
    CHECK((yab.bottomRows(2) - m.run(m.theta, b)).norm() == 0.0);
    // Adding a constant to a row does not change it.
    MatrixX<double> shifted = ab;
    shifted.row(1).array() += 7.25;
    CHECK((m.run(m.theta, shifted) - yab).cwiseAbs().maxCoeff() < 1e-12);
    // Output rows: mean(y - bias) = 0 when gain is constant; with gain 1: unit variance up to eps.
    Eigen::VectorXd th = m.theta;
    m.ln.init(th);
    const MatrixX<double> y = m.run(th, test::random_matrix(rng, 4, 4, 3.0));
    CHECK(y.rowwise().mean().cwiseAbs().maxCoeff() < 1e-14);
    CHECK((y.rowwise().squaredNorm() / 4.0).array().sqrt().matrix().isApprox(Eigen::VectorXd::Ones(4), 1e-5));
}

TEST_CASE("LayerNorm: float agrees with double", "[nn][layer_norm]") {
    Rng rng(403);
    Model m(rng, 8);
    ParamLayout layout;
    LayerNorm<float> lf(layout, "ln", 8);
    const Eigen::VectorXf theta_f = m.theta.cast<float>();
    const MatrixX<double> x = test::random_matrix(rng, 5, 8);
    LayerNorm<float>::Cache cf;
    const MatrixX<float> xf = x.cast<float>();
    CHECK((lf.forward(theta_f, xf, cf).cast<double>() - m.run(m.theta, x)).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("LayerNorm: no allocation in forward + backward after the first call", "[nn][layer_norm][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    Rng rng(404);
    Model m(rng, 32);
    const MatrixX<double> x = test::random_matrix(rng, 90, 32), r = test::random_matrix(rng, 90, 32);
    LayerNorm<double>::Cache c;
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta.size());
    MatrixX<double> dx;
    m.ln.forward(m.theta, x, c);
    m.ln.backward(m.theta, c, r, grad, &dx);
    const long before = test::allocations();
    for (int i = 0; i < 3; ++i) {
        m.ln.forward(m.theta, x, c);
        m.ln.backward(m.theta, c, r, grad, &dx);
    }
    CHECK(test::allocations() == before);
}

TEST_CASE("LayerNorm: bad input is an input_error", "[nn][layer_norm][validate]") {
    Rng rng(405);
    Model m(rng, 4);
    LayerNorm<double>::Cache c;
    CHECK_THROWS_AS(m.ln.forward(m.theta, test::random_matrix(rng, 3, 5), c), input_error);
    m.ln.forward(m.theta, test::random_matrix(rng, 3, 4), c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta.size());
    CHECK_THROWS_AS(m.ln.backward(m.theta, c, test::random_matrix(rng, 2, 4), grad, nullptr), input_error);
    CHECK_THROWS_AS(m.ln.backward(m.theta, c, test::random_matrix(rng, 3, 3), grad, nullptr), input_error);
    ParamLayout l2;
    CHECK_THROWS_AS(LayerNorm<double>(l2, "a", 0), input_error);
    CHECK_THROWS_AS(LayerNorm<double>(l2, "b", 4, 0.0), input_error);
    CHECK_THROWS_AS(LayerNorm<double>(l2, "c", 4, -1e-5), input_error);
}
