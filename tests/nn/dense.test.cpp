#include <catch2/catch.hpp>

#include <diffauction/nn/activation.hpp>
#include <diffauction/nn/dense.hpp>

#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {
constexpr const char* name(Activation f) { return activation_name(f); }

/// Loss L = sum(R .* f(x W + b)) and its hand-written gradient.
struct Probe {
    ParamLayout layout;
    Dense<double> dense;
    Activation f;
    MatrixX<double> r;
    Probe(Index in, Index out, Activation act, Rng& rng) : dense(layout, "d", in, out), f(act) {
        r = test::random_matrix(rng, 5, out);
    }
    double loss(const Eigen::VectorXd& theta, const MatrixX<double>& x) const {
        MatrixX<double> z, y;
        dense.forward(theta, x, z);
        y.resize(z.rows(), z.cols());
        activate<double>(f, z, y);
        return (y.array() * r.array()).sum();
    }
    void gradient(const Eigen::VectorXd& theta, const MatrixX<double>& x, Eigen::VectorXd& grad,
                  MatrixX<double>& dx) const {
        MatrixX<double> z, y, dz(5, r.cols());
        dense.forward(theta, x, z);
        y.resize(z.rows(), z.cols());
        activate<double>(f, z, y);
        activate_backward<double>(f, z, y, r, dz);
        dense.backward(theta, x, dz, grad, &dx);
    }
};
}  // namespace

TEST_CASE("Dense + activations: parameter gradient and input Jacobian match central differences",
          "[nn][dense][grad]") {
    for (Activation f : kActivations) {
        INFO(name(f));
        Rng rng(11);
        Probe p(4, 3, f, rng);
        Eigen::VectorXd theta = Eigen::VectorXd::Zero(p.layout.size());
        p.dense.init(theta, rng);
        view(theta, p.dense.bias_slot()) = test::random_matrix(rng, 1, 3, 0.3);
        // Inputs away from ReLU/ELU kinks: |z| > 1e-3 everywhere for this seed.
        const MatrixX<double> x = test::random_matrix(rng, 5, 4);
        Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
        MatrixX<double> dx;
        p.gradient(theta, x, grad, dx);
        const auto num_theta = test::numeric_gradient([&](const Eigen::VectorXd& t) { return p.loss(t, x); }, theta);
        CHECK(test::relative_error(grad, num_theta) < kGradTol);
        const auto num_x = test::numeric_gradient(
            [&](const Eigen::VectorXd& v) { return p.loss(theta, test::unflatten(v, 5, 4)); }, test::flatten(x));
        CHECK(test::relative_error(test::flatten(dx), num_x) < kGradTol);

        // Accumulation: a second backward call doubles the parameter gradient.
        Eigen::VectorXd twice = grad;
        p.gradient(theta, x, twice, dx);
        CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
    }
}

TEST_CASE("Dense: rows are independent (batch invariance) and interleaved calls do not interfere",
          "[nn][dense]") {
    Rng rng(12);
    ParamLayout layout;
    Dense<double> d(layout, "d", 3, 2);
    Eigen::VectorXd theta(layout.size());
    d.init(theta, rng);
    const MatrixX<double> a = test::random_matrix(rng, 4, 3), b = test::random_matrix(rng, 2, 3);
    MatrixX<double> ab(6, 3);
    ab << a, b;
    MatrixX<double> ya, yb, yab;
    d.forward(theta, a, ya);
    d.forward(theta, b, yb);
    d.forward(theta, ab, yab);
    CHECK((yab.topRows(4) - ya).norm() == 0.0);
    CHECK((yab.bottomRows(2) - yb).norm() == 0.0);
    // Backward on a, then b, equals backward on the stacked batch.
    Eigen::VectorXd g1 = Eigen::VectorXd::Zero(theta.size()), g2 = g1;
    const MatrixX<double> dya = test::random_matrix(rng, 4, 2), dyb = test::random_matrix(rng, 2, 2);
    MatrixX<double> dyab(6, 2);
    dyab << dya, dyb;
    d.backward(theta, a, dya, g1, nullptr);
    d.backward(theta, b, dyb, g1, nullptr);
    d.backward(theta, ab, dyab, g2, nullptr);
    CHECK((g1 - g2).norm() <= 1e-12 * g2.norm());
}

TEST_CASE("Dense: y = f(x W + b) with W stored in x out, worked by hand; fused activations equal the separate pass",
          "[nn][dense]") {
    ParamLayout layout;
    Dense<double> d(layout, "d", 2, 3);
    Eigen::VectorXd theta(layout.size());
    REQUIRE(d.weight_slot().rows == 2);
    REQUIRE(d.weight_slot().cols == 3);
    view(theta, d.weight_slot()) << 1, 2, 3,  //
        -1, 0, 4;
    view(theta, d.bias_slot()) << 0.5, -0.5, 0;
    MatrixX<double> x(2, 2), y;
    x << 1, 1,  //
        2, -1;
    d.forward(theta, x, y);
    // row 0: [1 - 1 + .5, 2 + 0 - .5, 3 + 4 + 0] = [.5, 1.5, 7]
    // row 1: [2 + 1 + .5, 4 - 0 - .5, 6 - 4 + 0] = [3.5, 3.5, 2]
    MatrixX<double> expected(2, 3);
    expected << 0.5, 1.5, 7, 3.5, 3.5, 2;
    CHECK((y - expected).norm() == 0.0);
    x << -3, 0, 0, 0;  // row 0: [-2.5, -6.5, -9], row 1: the bias
    d.forward(theta, x, y, Activation::relu);
    expected << 0, 0, 0, 0.5, 0, 0;
    CHECK((y - expected).norm() == 0.0);
    d.forward(theta, x, y, Activation::elu);
    CHECK(y(0, 0) == Approx(std::expm1(-2.5)).epsilon(1e-14));
    CHECK(y(0, 2) == Approx(std::expm1(-9.0)).epsilon(1e-14));
    CHECK(y(1, 1) == Approx(std::expm1(-0.5)).epsilon(1e-14));

    // Every activation, fused or not, equals the affine pass followed by activate().
    Rng rng(13);
    ParamLayout big;
    Dense<double> e(big, "e", 7, 19);  // 19 outputs: whole packets plus a scalar tail
    Eigen::VectorXd th(big.size());
    e.init(th, rng);
    view(th, e.bias_slot()) = test::random_matrix(rng, 1, 19, 0.5);
    const MatrixX<double> xs = test::random_matrix(rng, 13, 7);
    MatrixX<double> z, want(13, 19), got;
    e.forward(th, xs, z);
    for (Activation f : kActivations) {
        INFO(name(f));
        activate<double>(f, z, want);
        e.forward(th, xs, got, f);
        CHECK((got - want).cwiseAbs().maxCoeff() <= 1e-15);
    }
}

TEST_CASE("Dense: mismatched input width is an input_error", "[nn][dense][validate]") {
    ParamLayout layout;
    Dense<double> d(layout, "d", 3, 2);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(layout.size());
    MatrixX<double> y;
    CHECK_THROWS_AS(d.forward(theta, MatrixX<double>::Zero(2, 4), y), input_error);
    CHECK_THROWS_AS(ParamLayout().add("w", -1, 2), input_error);
    ParamLayout twice;
    twice.add("w", 1, 1);
    CHECK_THROWS_AS(twice.add("w", 1, 1), input_error);
}

TEST_CASE("Activations: values at hand-picked points", "[nn][activation]") {
    MatrixX<double> x(1, 3), y(1, 3);
    x << -1.0, 0.0, 2.0;
    activate<double>(Activation::elu, x, y);
    CHECK(y(0, 0) == Approx(std::exp(-1.0) - 1.0));
    CHECK(y(0, 2) == 2.0);
    activate<double>(Activation::softplus, x, y);
    CHECK(y(0, 1) == Approx(std::log(2.0)));
    x(0, 2) = 800.0;  // no overflow
    activate<double>(Activation::softplus, x, y);
    CHECK(y(0, 2) == Approx(800.0));
    activate<double>(Activation::sigmoid, x, y);
    CHECK(y(0, 2) == 1.0);
    CHECK(y(0, 1) == 0.5);
}
