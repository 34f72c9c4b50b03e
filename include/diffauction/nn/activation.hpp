// diffauction/nn/activation.hpp - element-wise activations with their backward
// passes (SPEC §2): identity, ReLU, ELU (alpha = 1), sigmoid, tanh, softplus.
#pragma once

#include <cmath>

#include "diffauction/core/types.hpp"

namespace diffauction {

enum class Activation { identity, relu, elu, sigmoid, tanh, softplus };

namespace detail {
template <Scalar T>
T stable_sigmoid(T x) {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
}
/// softplus(x) = log(1 + e^x), without overflow for large |x|.
template <Scalar T>
T stable_softplus(T x) {
    return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
}  // namespace detail

/// y = f(x), element-wise; y may alias x.
template <Scalar T, class In, class Out>
void activate(Activation f, const Eigen::MatrixBase<In>& x, const Eigen::MatrixBase<Out>& y_) {
    // Eigen's idiom for writable expression arguments (blocks, maps): take const, cast.
    auto& y = const_cast<Eigen::MatrixBase<Out>&>(y_);
    switch (f) {
        case Activation::identity: y = x; break;
        case Activation::relu: y = x.cwiseMax(T(0)); break;
        case Activation::elu: y = x.unaryExpr([](T v) { return v > T(0) ? v : std::expm1(v); }); break;
        case Activation::sigmoid: y = x.unaryExpr([](T v) { return detail::stable_sigmoid(v); }); break;
        case Activation::tanh: y = x.array().tanh().matrix(); break;
        case Activation::softplus: y = x.unaryExpr([](T v) { return detail::stable_softplus(v); }); break;
    }
}

/// dx = dy * f'(x), element-wise, from the forward input x and output y (each
/// activation reads whichever is cheaper). dx may alias dy.
template <Scalar T, class X, class Y, class DY, class DX>
void activate_backward(Activation f, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
                       const Eigen::MatrixBase<DY>& dy, const Eigen::MatrixBase<DX>& dx_) {
    auto& dx = const_cast<Eigen::MatrixBase<DX>&>(dx_);
    switch (f) {
        case Activation::identity: dx = dy; break;
        case Activation::relu: dx = (x.array() > T(0)).select(dy, T(0)); break;
        case Activation::elu: dx = (x.array() > T(0)).select(dy.array(), dy.array() * (y.array() + T(1))).matrix(); break;
        case Activation::sigmoid: dx = (dy.array() * y.array() * (T(1) - y.array())).matrix(); break;
        case Activation::tanh: dx = (dy.array() * (T(1) - y.array().square())).matrix(); break;
        case Activation::softplus:
            dx = dy.cwiseProduct(x.unaryExpr([](T v) { return detail::stable_sigmoid(v); }));
            break;
    }
}

}  // namespace diffauction
