// diffauction/nn/dense.hpp - a fully connected layer y = f(x W + b) over the rows of
// a (ragged-batch) matrix, with its hand-written backward pass (SPEC §2).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/nn/activation.hpp"
#include "diffauction/nn/detail/gemm.hpp"

namespace diffauction {

/// Dense layer: `in` inputs, `out` outputs. W is in x out and b is 1 x out, both
/// slots of the model's flat vector (choice: W is stored input-major, y = x W + b,
/// so that each input's weights to all outputs are contiguous; the forward kernel
/// (nn/detail/gemm.hpp) broadcasts x and streams rows of W). Rows are independent (one
/// candidate per row), so a whole stacked batch goes through in one product.
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
        : in_(in), out_(out), w_(layout.add(name + ".W", in, out)), b_(layout.add(name + ".b", 1, out)) {
        detail::require(in > 0 && out > 0, "Dense", kNone, "needs in > 0 and out > 0");
    }
    Index in_dim() const { return in_; }
    Index out_dim() const { return out_; }
    /// W, in x out (y = x W + b).
    ParamSlot weight_slot() const { return w_; }
    ParamSlot bias_slot() const { return b_; }

    /// Glorot-uniform weights, zero bias.
    void init(VectorX<T>& theta, Rng& rng) const {
        const double a = std::sqrt(6.0 / static_cast<double>(in_ + out_));
        auto w = view(theta, w_);
        for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<T>(rng.uniform(-a, a));
        view(theta, b_).setZero();
    }

    /// y (rows x out) = f(x (rows x in) W + b), f applied in the product's epilogue
    /// for identity, ReLU and ELU, afterwards for the others. Resizes y (no
    /// allocation once it fits); y must not be x.
    void forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, MatrixX<T>& y,
                 Activation f = Activation::identity) const {
        check_input(x);
        y.resize(x.rows(), out_);
        const T* w = theta.data() + w_.offset;
        const T* b = theta.data() + b_.offset;
        using detail::GemmInit;
        const Index m = x.rows(), ldx = x.outerStride();
        switch (f) {
            case Activation::identity:
                detail::gemm<T, GemmInit::column_bias>(m, out_, in_, {x.data(), ldx}, w, out_, b, y.data(), out_);
                break;
            case Activation::elu:
                detail::gemm<T, GemmInit::column_bias>(m, out_, in_, {x.data(), ldx}, w, out_, b, y.data(), out_,
                                                       detail::EluEpilogue{});
                break;
            case Activation::relu:
                detail::gemm<T, GemmInit::column_bias>(m, out_, in_, {x.data(), ldx}, w, out_, b, y.data(), out_,
                                                       detail::ReluEpilogue{});
                break;
            default:
                detail::gemm<T, GemmInit::column_bias>(m, out_, in_, {x.data(), ldx}, w, out_, b, y.data(), out_);
                activate<T>(f, y, y);
                break;
        }
    }

    /// Backward of the affine part, from dy = dL/d(x W + b):
    /// grad[W] += xᵀ dy, grad[b] += column sums of dy; *dx = dy Wᵀ (when dx given).
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                  const Eigen::Ref<const MatrixX<T>>& dy, VectorX<T>& grad, MatrixX<T>* dx) const {
        check_input(x);
        detail::require(dy.rows() == x.rows() && dy.cols() == out_, "dy", kNone, "must be rows x out");
        using detail::GemmInit;
        const Index m = x.rows();
        // grad[W] += xᵀ dy: the kernel reads x transposed where it lies.
        detail::gemm<T, GemmInit::output>(in_, out_, m, {x.data(), 1, x.outerStride()}, dy.data(), dy.outerStride(),
                                          nullptr, grad.data() + w_.offset, out_);
        // Column sums of row-major dy, a row at a time (vectorised along the row).
        auto gb = view(grad, b_).row(0);
        for (Index i = 0; i < m; ++i) gb += dy.row(i);
        if (dx != nullptr) {
            dx->resize(m, in_);
            input_gradient(theta, dy, *dx);
        }
    }

private:
    // dx = dy Wᵀ. The kernel streams rows of its right operand, so Wᵀ goes through
    // a stack buffer, a block of its columns at a time (no allocation); layers too
    // wide for that use Eigen's product.
    void input_gradient(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& dy, MatrixX<T>& dx) const {
        constexpr Index kBuffer = 4096, kStep = 2 * detail::gemm_packet<T>();
        const Index block = (kBuffer / out_) / kStep * kStep;
        const auto w = view(theta, w_);
        if (block == 0) {
            dx.noalias() = dy * w.transpose();
            return;
        }
        alignas(64) T buffer[kBuffer];
        for (Index j0 = 0; j0 < in_; j0 += block) {
            const Index cols = std::min(block, in_ - j0);
            Eigen::Map<MatrixX<T>>(buffer, out_, cols) = w.middleRows(j0, cols).transpose();
            detail::gemm<T, detail::GemmInit::zero>(dy.rows(), cols, out_, {dy.data(), dy.outerStride()}, buffer, cols,
                                                    nullptr, dx.data() + j0, in_);
        }
    }
    void check_input(const Eigen::Ref<const MatrixX<T>>& x) const {
        detail::require(x.cols() == in_, "x", kNone, [&] {
            return "has " + std::to_string(x.cols()) + " columns but the layer takes " + std::to_string(in_);
        });
    }
    Index in_ = 0, out_ = 0;
    ParamSlot w_{}, b_{};
};

}  // namespace diffauction
