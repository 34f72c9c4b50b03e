// diffauction/train/adam.hpp - the Adam optimiser over one flat parameter vector and
// gradient-norm clipping (SPEC §2; DNA's settings β₂ = 0.99 in SPEC §4.1).
//
// Adam (Kingma & Ba 2015, Algorithm 1), one step counter for the whole vector:
//   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²,
//   θ ← θ − lr·( m̂ / (√v̂ + ε) + λθ ),   m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ),
// with λ the (decoupled, AdamW-style) weight decay, 0 by default.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// Adam's hyper-parameters. Defaults are the paper's; DNA trains with beta2 = 0.99.
template <Scalar T>
struct AdamOptions {
    T learning_rate = T(1e-3);  ///< used by `Adam::step(theta, grad)`; a schedule passes its own per step
    T beta1 = T(0.9);
    T beta2 = T(0.999);
    T epsilon = T(1e-8);        ///< added to √v̂ (the paper's placement)
    /// Decoupled weight decay λ (AdamW: θ −= lr·λ·θ in the same step), off by default
    /// (choice: decoupled rather than an L2 term folded into g, so that it is not
    /// rescaled by √v̂).
    T weight_decay = T(0);
};

namespace detail {
/// Index of the first non-finite entry of v (kNone when all are finite).
template <Scalar T>
Index first_non_finite(const VectorX<T>& v) {
    for (Index i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i])) return i;
    return kNone;
}
/// Throws input_error(field, i, "is not finite") naming the first bad entry.
template <Scalar T>
void require_all_finite(const VectorX<T>& v, const char* field) {
    if (!v.allFinite()) [[unlikely]]
        fail(field, first_non_finite(v), "is not finite (NaN or infinity)", kNone);
}
template <Scalar T>
void validate(const AdamOptions<T>& o) {
    require(std::isfinite(o.learning_rate) && o.learning_rate >= T(0), "learning_rate", kNone,
            "must be finite and >= 0");
    require(o.beta1 >= T(0) && o.beta1 < T(1), "beta1", kNone, "must be in [0, 1)");
    require(o.beta2 >= T(0) && o.beta2 < T(1), "beta2", kNone, "must be in [0, 1)");
    require(std::isfinite(o.epsilon) && o.epsilon > T(0), "epsilon", kNone, "must be finite and > 0");
    require(std::isfinite(o.weight_decay) && o.weight_decay >= T(0), "weight_decay", kNone,
            "must be finite and >= 0");
}
}  // namespace detail

/// Adam over a whole flat parameter vector (STYLE.md: optimisers see only the flat
/// vectors). The state (m, v, t) lives in the object and is exposed so that a
/// checkpoint can save and restore it. m and v are sized on the first step (the
/// only allocation); later steps allocate nothing.
template <Scalar T>
class Adam {
public:
    explicit Adam(const AdamOptions<T>& options = {}) : opts_(options) { detail::validate(opts_); }

    const AdamOptions<T>& options() const { return opts_; }
    T learning_rate() const { return opts_.learning_rate; }
    /// Sets the learning rate used by `step(theta, grad)` from now on.
    void set_learning_rate(T lr) {
        detail::require(std::isfinite(lr) && lr >= T(0), "learning_rate", kNone, "must be finite and >= 0");
        opts_.learning_rate = lr;
    }

    /// One step with the current learning rate.
    void step(VectorX<T>& theta, const VectorX<T>& grad) { step(theta, grad, opts_.learning_rate); }

    /// One step with learning rate `lr` (a schedule's value for this step).
    /// Throws input_error, before changing anything, when grad's size differs from
    /// theta's ("grad"), when grad has a NaN/infinite entry ("grad", its index),
    /// when lr is negative or not finite, or when theta's size differs from the
    /// state's ("theta"; call reset() to start over on a different model).
    void step(VectorX<T>& theta, const VectorX<T>& grad, T lr) {
        detail::require(grad.size() == theta.size(), "grad", kNone, [&] {
            return "has size " + std::to_string(grad.size()) + " but theta has " + std::to_string(theta.size());
        });
        detail::require(std::isfinite(lr) && lr >= T(0), "learning_rate", kNone, "must be finite and >= 0");
        detail::require_all_finite(grad, "grad");
        if (t_ == 0 && m_.size() != theta.size()) {
            m_.setZero(theta.size());
            v_.setZero(theta.size());
        }
        detail::require(m_.size() == theta.size(), "theta", kNone, [&] {
            return "has size " + std::to_string(theta.size()) + " but the optimiser state has " +
                   std::to_string(m_.size()) + " (reset() to start over)";
        });

        ++t_;
        const T b1 = opts_.beta1, b2 = opts_.beta2;
        m_.array() = b1 * m_.array() + (T(1) - b1) * grad.array();
        v_.array() = b2 * v_.array() + (T(1) - b2) * grad.array().square();
        // Bias corrections in double: β^t for large t is below float's resolution of 1.
        const double c1 = 1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t_));
        const double c2 = 1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t_));
        const T step_size = static_cast<T>(static_cast<double>(lr) / c1);  // lr·m̂ = (lr/c1)·m
        const T inv_c2 = static_cast<T>(1.0 / c2);                          // v̂ = v/c2
        const T eps = opts_.epsilon;
        const T decay = lr * opts_.weight_decay;
        if (decay == T(0))
            theta.array() -= step_size * m_.array() / ((v_.array() * inv_c2).sqrt() + eps);
        else
            theta.array() -= step_size * m_.array() / ((v_.array() * inv_c2).sqrt() + eps) + decay * theta.array();
    }

    /// Steps taken since construction or the last reset (Adam's t).
    std::int64_t steps() const { return t_; }
    /// First and second moment estimates m and v (empty before the first step).
    const VectorX<T>& first_moment() const { return m_; }
    const VectorX<T>& second_moment() const { return v_; }

    /// Restores a saved state. m and v must have the same size, be finite, v >= 0,
    /// and t >= 0; a state with t == 0 must have zero moments (or be empty).
    void set_state(VectorX<T> m, VectorX<T> v, std::int64_t t) {
        detail::require(t >= 0, "t", kNone, "must be >= 0");
        detail::require(m.size() == v.size(), "v", kNone, "must have the size of m");
        detail::require_all_finite(m, "m");
        detail::require_all_finite(v, "v");
        detail::require((v.array() >= T(0)).all(), "v", kNone, "must be >= 0");
        detail::require(t > 0 || (m.isZero(T(0)) && v.isZero(T(0))), "t", kNone,
                        "is 0 but the moments are not zero");
        m_ = std::move(m);
        v_ = std::move(v);
        t_ = t;
    }
    /// Forgets the moments and the step count (the options stay).
    void reset() {
        m_.resize(0);
        v_.resize(0);
        t_ = 0;
    }

private:
    AdamOptions<T> opts_;
    VectorX<T> m_, v_;
    std::int64_t t_ = 0;
};

/// Gradient-norm clipping: when ‖grad‖₂ > max_norm, scales grad by max_norm/‖grad‖₂
/// so that its norm becomes max_norm (up to rounding); smaller gradients are left
/// untouched. max_norm <= 0 or +infinity turns clipping off. Returns the norm
/// before clipping. Throws input_error when max_norm is NaN ("max_norm") or grad
/// has a non-finite entry ("grad", its index). Allocates nothing.
template <Scalar T>
T clip_grad_norm(VectorX<T>& grad, T max_norm) {
    detail::require(!std::isnan(max_norm), "max_norm", kNone, "is NaN (use 0 or infinity to turn clipping off)");
    T norm = grad.norm();
    if (!std::isfinite(norm)) [[unlikely]] {
        detail::require_all_finite(grad, "grad");
        norm = grad.stableNorm();  // finite entries whose squares overflowed
    }
    if (max_norm > T(0) && std::isfinite(max_norm) && norm > max_norm) grad *= max_norm / norm;
    return norm;
}

}  // namespace diffauction
