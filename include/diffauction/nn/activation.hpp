// diffauction/nn/activation.hpp - element-wise activations with their backward
// passes (SPEC §2): identity, ReLU, ELU (alpha = 1), sigmoid, tanh, softplus.
#pragma once

#include <cmath>

#include "diffauction/core/types.hpp"

namespace diffauction {

enum class Activation { identity, relu, elu, sigmoid, tanh, softplus };

/// Every activation, in declaration order.
inline constexpr Activation kActivations[] = {Activation::identity, Activation::relu,    Activation::elu,
                                              Activation::sigmoid,  Activation::tanh,    Activation::softplus};

/// The activation's lower-case name ("identity", "relu", ...), for messages and files.
constexpr const char* activation_name(Activation f) {
    switch (f) {
        case Activation::identity: return "identity";
        case Activation::relu: return "relu";
        case Activation::elu: return "elu";
        case Activation::sigmoid: return "sigmoid";
        case Activation::tanh: return "tanh";
        case Activation::softplus: return "softplus";
    }
    return "?";
}

/// y = f(x), element-wise; y may alias x.
template <Scalar T, class In, class Out>
void activate(Activation f, const Eigen::MatrixBase<In>& x, const Eigen::MatrixBase<Out>& y_) {
    // Eigen's idiom for writable expression arguments (blocks, maps): take const, cast.
    auto& y = const_cast<Eigen::MatrixBase<Out>&>(y_);
    switch (f) {
        case Activation::identity: y = x; break;
        case Activation::relu: y = x.cwiseMax(T(0)); break;
        // Branch-free max(x, 0) + exp(min(x, 0)) - 1, so Eigen vectorises it with its
        // packet exp (Eigen 3.4's select() is not vectorised and would call scalar
        // expf per element); equal to expm1 within ~1 ulp of 1.
        case Activation::elu:
            y = (x.array().max(T(0)) + x.array().min(T(0)).exp() - T(1)).matrix();
            break;
        // 1 / (1 + e^-x): e^-x may overflow to +inf for x << 0, giving exactly 0, never NaN.
        case Activation::sigmoid: y = (T(1) / (T(1) + (-x.array()).exp())).matrix(); break;
        case Activation::tanh: y = x.array().tanh().matrix(); break;
        // max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
        case Activation::softplus:
            y = (x.array().max(T(0)) + (-x.array().abs()).exp().log1p()).matrix();
            break;
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
        case Activation::relu: dx = (dy.array() * (x.array() > T(0)).template cast<T>()).matrix(); break;
        // ELU' = 1 for x > 0 and e^x = y + 1 otherwise, i.e. min(y, 0) + 1 (vectorised).
        case Activation::elu: dx = (dy.array() * (y.array().min(T(0)) + T(1))).matrix(); break;
        case Activation::sigmoid: dx = (dy.array() * y.array() * (T(1) - y.array())).matrix(); break;
        case Activation::tanh: dx = (dy.array() * (T(1) - y.array().square())).matrix(); break;
        case Activation::softplus:
            dx = (dy.array() / (T(1) + (-x.array()).exp())).matrix();
            break;
    }
}

}  // namespace diffauction
