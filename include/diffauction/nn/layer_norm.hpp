// diffauction/nn/layer_norm.hpp - layer normalisation over the last dimension of
// each row (SPEC §2; Ba et al. 2016), with its hand-written backward pass:
//
//   mu_i = mean_k x_ik,  var_i = mean_k (x_ik - mu_i)^2,  r_i = 1 / sqrt(var_i + eps)
//   xhat_ik = (x_ik - mu_i) r_i,   y_ik = gain_k xhat_ik + bias_k
//
// Rows are independent (one candidate per row), so a whole stacked batch goes
// through at once, vectorised over rows and columns.
#pragma once

#include <cmath>
#include <string>

#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"

namespace diffauction {

/// LayerNorm over rows of width `dim`, with a learned gain and bias (1 x dim slots
/// "<name>.gain", "<name>.bias" of the model's flat vector).
/// eps (choice): added to the variance inside the square root, default 1e-5 as in
/// the original transformer implementations and PyTorch; it must be > 0 so that a
/// constant row (variance 0) maps to `bias` instead of NaN.
template <Scalar T>
class LayerNorm {
public:
    /// Forward values kept for backward, and backward scratch; reuse one per thread.
    /// After the first call with given sizes, forward + backward allocate nothing.
    struct Cache {
        MatrixX<T> xhat;  ///< normalised rows (rows x dim)
        VectorX<T> rstd;  ///< 1 / sqrt(var + eps) per row
        MatrixX<T> y;     ///< the output
        MatrixX<T> g;     ///< backward: dL/dxhat
        VectorX<T> m1, m2;  ///< backward: per-row means of dL/dxhat and of dL/dxhat * xhat
        /// The output y (rows x dim) of the last forward call.
        const MatrixX<T>& output() const { return y; }
    };

    LayerNorm() = default;
    LayerNorm(ParamLayout& layout, const std::string& name, Index dim, T eps = T(1e-5))
        : dim_(dim), eps_(eps), gain_(layout.add(name + ".gain", 1, dim)), bias_(layout.add(name + ".bias", 1, dim)) {
        detail::require(dim > 0, "LayerNorm", kNone, "needs dim > 0");
        detail::require(eps > T(0), "eps", kNone, "must be > 0");
    }
    Index dim() const { return dim_; }
    T eps() const { return eps_; }
    ParamSlot gain_slot() const { return gain_; }
    ParamSlot bias_slot() const { return bias_; }

    /// gain = 1, bias = 0 (the identity on already normalised rows).
    void init(VectorX<T>& theta) const {
        view(theta, gain_).setOnes();
        view(theta, bias_).setZero();
    }

    /// Normalises every row of x (rows x dim); returns y = cache.output().
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c) const {
        detail::require(x.cols() == dim_, "x", kNone, [&] {
            return "has " + std::to_string(x.cols()) + " columns but the LayerNorm takes " + std::to_string(dim_);
        });
        const Index rows = x.rows();
        c.rstd.resize(rows);
        c.xhat.resize(rows, dim_);
        c.y.resize(rows, dim_);
        // Row loops: Eigen does not vectorise a per-row broadcast (colwise() op vector)
        // over a row-major matrix, but it does vectorise each contiguous row.
        const T inv_dim = T(1) / static_cast<T>(dim_);
        for (Index i = 0; i < rows; ++i) {
            c.xhat.row(i).array() = x.row(i).array() - x.row(i).sum() * inv_dim;
            const T r = T(1) / std::sqrt(c.xhat.row(i).squaredNorm() * inv_dim + eps_);
            c.xhat.row(i) *= r;
            c.rstd[i] = r;
        }
        const auto gain = view(theta, gain_);
        const auto bias = view(theta, bias_);
        c.y.array() = (c.xhat.array().rowwise() * gain.row(0).array()).rowwise() + bias.row(0).array();
        return c.y;
    }

    /// Given dL/dy (`d_out`, rows x dim), ADDS dL/dgain and dL/dbias into `grad` and
    /// writes dL/dx into *dx when given (*dx may be d_out itself):
    ///   g = d_out * gain,  dx = r (g - mean_k g - xhat mean_k(g xhat)).
    /// Writes only the cache's backward scratch, so it may be called again.
    void backward(const VectorX<T>& theta, Cache& c, const Eigen::Ref<const MatrixX<T>>& d_out, VectorX<T>& grad,
                  MatrixX<T>* dx) const {
        detail::require(d_out.rows() == c.xhat.rows() && d_out.cols() == dim_, "d_out", kNone,
                        "must be rows x dim of the forward call");
        view(grad, gain_).row(0) += (d_out.array() * c.xhat.array()).colwise().sum().matrix();
        view(grad, bias_).row(0) += d_out.colwise().sum();
        if (dx == nullptr) return;
        const Index rows = c.xhat.rows();
        c.g.resize(rows, dim_);
        c.m1.resize(rows);
        c.m2.resize(rows);
        c.g.array() = d_out.array().rowwise() * view(theta, gain_).row(0).array();
        const T inv = T(1) / static_cast<T>(dim_);
        c.m1.noalias() = c.g.rowwise().sum() * inv;
        c.m2.noalias() = (c.g.array() * c.xhat.array()).matrix().rowwise().sum() * inv;
        dx->resize(rows, dim_);
        for (Index i = 0; i < rows; ++i)
            dx->row(i).array() = (c.g.row(i).array() - c.m1[i] - c.xhat.row(i).array() * c.m2[i]) * c.rstd[i];
    }

private:
    Index dim_ = 0;
    T eps_ = T(1e-5);
    ParamSlot gain_{}, bias_{};
};

}  // namespace diffauction
