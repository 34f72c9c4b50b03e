// tests/support/gradcheck.hpp - the one gradient checker every test uses (double
// precision, central differences). A test writes its scalar loss as a function of
// a flat vector (the parameters, or the flattened input), runs its hand-written
// backward pass, and compares:
//   relative_error(analytic, numeric_gradient(f, x)) = |a - n| / |a + n|.
// Accumulation (two backward calls double the gradient), re-entrancy (interleaved
// caches) and batch invariance are checked by the tests themselves with the
// helpers below.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <span>

#include <diffauction/core/rng.hpp>
#include <diffauction/core/types.hpp>

namespace diffauction::test {

/// Central-difference gradient of the scalar function f at x: (f(x + e) - f(x - e)) / 2 eps.
inline Eigen::VectorXd numeric_gradient(const std::function<double(const Eigen::VectorXd&)>& f,
                                        Eigen::VectorXd x, double eps = 1e-6) {
    Eigen::VectorXd g(x.size());
    for (Index i = 0; i < x.size(); ++i) {
        const double xi = x[i];
        x[i] = xi + eps;
        const double up = f(x);
        x[i] = xi - eps;
        const double down = f(x);
        x[i] = xi;
        g[i] = (up - down) / (2 * eps);
    }
    return g;
}

/// |a - n| / |a + n| (0 when both vanish): the figure every gradient test bounds.
/// Central differences of `loss()` wrt a parameter vector it reads in place (a model's
/// theta): each probe writes theta, and theta is restored at the end.
inline Eigen::VectorXd numeric_gradient_in_place(Eigen::VectorXd& theta, const std::function<double()>& loss) {
    const Eigen::VectorXd theta0 = theta;
    const Eigen::VectorXd g = numeric_gradient(
        [&](const Eigen::VectorXd& th) {
            theta = th;
            return loss();
        },
        theta0);
    theta = theta0;
    return g;
}

inline double relative_error(const Eigen::VectorXd& analytic, const Eigen::VectorXd& numeric) {
    const double den = (analytic + numeric).norm();
    const double num = (analytic - numeric).norm();
    return den == 0 ? num : num / den;
}

/// A row-major double matrix seen as a flat vector (and back).
inline Eigen::VectorXd flatten(const MatrixX<double>& m) {
    return Eigen::Map<const Eigen::VectorXd>(m.data(), m.size());
}
inline MatrixX<double> unflatten(const Eigen::VectorXd& v, Index rows, Index cols) {
    return Eigen::Map<const MatrixX<double>>(v.data(), rows, cols);
}

/// A rows x cols matrix of N(0, scale^2) entries.
inline MatrixX<double> random_matrix(Rng& rng, Index rows, Index cols, double scale = 1.0) {
    MatrixX<double> m(rows, cols);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = scale * rng.normal();
    return m;
}
inline Eigen::VectorXd random_vector(Rng& rng, Index n, double scale = 1.0) {
    Eigen::VectorXd v(n);
    for (Index i = 0; i < n; ++i) v[i] = scale * rng.normal();
    return v;
}

/// Bound used by the block tests: central differences at eps = 1e-6 in double
/// leave about 1e-9 relative error on smooth losses.
inline constexpr double kGradTol = 1e-6;

/// The standard checks of a layer over the segments of a ragged batch, i.e. with
///   layer.forward(theta, x, offsets, cache) -> const MatrixX<double>& (the output)
///   layer.backward(theta, x, cache, d_out, grad, MatrixX<double>* dx)
/// (DeepSet, MultiHeadAttention, TransformerBlock), for L = Σ R ⊙ output:
/// parameter gradient and input Jacobian against central differences; accumulation
/// (a second backward doubles grad and repeats dx); re-entrancy (a forward on
/// `other_x` through another cache in between changes nothing); dx = nullptr.
/// Returns dx for checks of the caller's own.
template <class Layer>
MatrixX<double> check_segment_layer(const Layer& layer, const Eigen::VectorXd& theta, const MatrixX<double>& x,
                                    std::span<const Index> offsets, const MatrixX<double>& r,
                                    const MatrixX<double>& other_x, std::span<const Index> other_offsets) {
    using Cache = typename Layer::Cache;
    auto loss = [&](const Eigen::VectorXd& th, const MatrixX<double>& xx) {
        Cache c;
        return (layer.forward(th, xx, offsets, c).array() * r.array()).sum();
    };
    Cache c;
    layer.forward(theta, x, offsets, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> dx;
    layer.backward(theta, x, c, r, grad, &dx);
    const Eigen::VectorXd num_theta = numeric_gradient([&](const Eigen::VectorXd& th) { return loss(th, x); }, theta);
    CHECK(relative_error(grad, num_theta) < kGradTol);
    const Eigen::VectorXd num_x = numeric_gradient(
        [&](const Eigen::VectorXd& v) { return loss(theta, unflatten(v, x.rows(), x.cols())); }, flatten(x));
    CHECK(relative_error(flatten(dx), num_x) < kGradTol);

    Eigen::VectorXd twice = grad;
    MatrixX<double> dx2;
    layer.backward(theta, x, c, r, twice, &dx2);
    CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
    CHECK((dx2 - dx).norm() == 0.0);

    Cache other;
    layer.forward(theta, other_x, other_offsets, other);
    Eigen::VectorXd g3 = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> dx3;
    layer.backward(theta, x, c, r, g3, &dx3);
    CHECK((g3 - grad).norm() == 0.0);
    CHECK((dx3 - dx).norm() == 0.0);
    Eigen::VectorXd g4 = Eigen::VectorXd::Zero(theta.size());
    layer.backward(theta, x, c, r, g4, nullptr);
    CHECK((g4 - grad).norm() == 0.0);
    return dx;
}

}  // namespace diffauction::test
