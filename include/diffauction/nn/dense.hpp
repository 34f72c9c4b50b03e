// diffauction/nn/dense.hpp - a fully connected layer y = x W^T + b over the rows
// of a (ragged-batch) matrix, with its hand-written backward pass (SPEC §2).
#pragma once

#include <cmath>
#include <string>

#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"

namespace diffauction {

/// Dense layer: `in` inputs, `out` outputs. W is out x in, b is 1 x out, both slots
/// of the model's flat vector. Rows are independent (one candidate per row), so a
/// whole stacked batch goes through in one matrix product.
///
/// Conventions shared by every layer of nn/: `forward` is const and takes theta;
/// what backward needs is either the caller's own data (here: the input x) or a
/// caller-owned Cache; `backward` ADDS into `grad` (same layout as theta) and
/// writes the input gradient only when asked (dx != nullptr).
template <Scalar T>
class Dense {
public:
    Dense() = default;
    Dense(ParamLayout& layout, const std::string& name, Index in, Index out)
        : in_(in), out_(out), w_(layout.add(name + ".W", out, in)), b_(layout.add(name + ".b", 1, out)) {
        detail::require(in > 0 && out > 0, "Dense", kNone, "needs in > 0 and out > 0");
    }
    Index in_dim() const { return in_; }
    Index out_dim() const { return out_; }
    ParamSlot weight_slot() const { return w_; }
    ParamSlot bias_slot() const { return b_; }

    /// Glorot-uniform weights, zero bias.
    void init(VectorX<T>& theta, Rng& rng) const {
        const double a = std::sqrt(6.0 / static_cast<double>(in_ + out_));
        auto w = view(theta, w_);
        for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<T>(rng.uniform(-a, a));
        view(theta, b_).setZero();
    }

    /// y (rows x out) = x (rows x in) W^T + b. Resizes y (no allocation once it fits).
    void forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, MatrixX<T>& y) const {
        check_input(x);
        y.resize(x.rows(), out_);
        y.noalias() = x * view(theta, w_).transpose();
        y.rowwise() += view(theta, b_).row(0);
    }

    /// grad[W] += dy^T x, grad[b] += column sums of dy; *dx = dy W (when dx given).
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                  const Eigen::Ref<const MatrixX<T>>& dy, VectorX<T>& grad, MatrixX<T>* dx) const {
        check_input(x);
        detail::require(dy.rows() == x.rows() && dy.cols() == out_, "dy", kNone, "must be rows x out");
        view(grad, w_).noalias() += dy.transpose() * x;
        view(grad, b_).row(0) += dy.colwise().sum();
        if (dx != nullptr) {
            dx->resize(x.rows(), in_);
            dx->noalias() = dy * view(theta, w_);
        }
    }

private:
    void check_input(const Eigen::Ref<const MatrixX<T>>& x) const {
        detail::require(x.cols() == in_, "x", kNone, [&] {
            return "has " + std::to_string(x.cols()) + " columns but the layer takes " + std::to_string(in_);
        });
    }
    Index in_ = 0, out_ = 0;
    ParamSlot w_{}, b_{};
};

}  // namespace diffauction
