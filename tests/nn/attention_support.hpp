// tests/nn/attention_support.hpp - helpers local to the attention tests.
#pragma once

#include <catch2/catch.hpp>

#include <diffauction/core/params.hpp>
#include <diffauction/nn/dense.hpp>

#include <array>
#include <span>
#include <vector>

#include "support/gradcheck.hpp"

namespace diffauction::test {

/// Sets the weights of `d` inside theta so that d.forward(x) = x W^T + b (W is
/// out x in, b 1 x out), using only Dense's public forward/in_dim/out_dim: each
/// entry of theta is probed alone and claimed by the one output it moves, so the
/// helper does not depend on how Dense stores its weights. Entries of theta that do
/// not belong to d are left as they are.
inline void assign_dense(const Dense<double>& d, Eigen::VectorXd& theta, const MatrixX<double>& w,
                         const MatrixX<double>& b) {
    REQUIRE(w.rows() == d.out_dim());
    REQUIRE(w.cols() == d.in_dim());
    REQUIRE(b.size() == d.out_dim());
    const MatrixX<double> zero = MatrixX<double>::Zero(1, d.in_dim());
    const MatrixX<double> eye = MatrixX<double>::Identity(d.in_dim(), d.in_dim());
    Eigen::VectorXd probe = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> y0, y;
    Index claimed = 0;
    for (Index j = 0; j < theta.size(); ++j) {
        probe[j] = 1.0;
        d.forward(probe, zero, y0);
        d.forward(probe, eye, y);
        probe[j] = 0.0;
        Index row = 0, col = 0;
        if (y0.cwiseAbs().maxCoeff(&row, &col) > 0) {  // a bias entry: moves output col for any x
            theta[j] = b.data()[col];
            ++claimed;
        } else if (y.cwiseAbs().maxCoeff(&row, &col) > 0) {  // a weight: moves output col for input row
            theta[j] = w(col, row);
            ++claimed;
        }
    }
    REQUIRE(claimed == d.out_dim() * (d.in_dim() + 1));
}

/// The rows of `x` in segment [o, o + n) reordered by `perm` (local indices).
inline MatrixX<double> permute_rows(const MatrixX<double>& x, Index o, std::span<const Index> perm) {
    MatrixX<double> xp = x;
    for (std::size_t i = 0; i < perm.size(); ++i) xp.row(o + static_cast<Index>(i)) = x.row(o + perm[i]);
    return xp;
}

}  // namespace diffauction::test
