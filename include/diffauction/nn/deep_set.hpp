// diffauction/nn/deep_set.hpp - the DeepSet set encoder of DNA (SPEC §2, §4.1;
// Liu et al. 2021 eq. 4-5) over a ragged batch, with its hand-written backward pass:
//
//   h_i  = ELU(φ₁(x_i))                          per candidate
//   h'_i = ELU(φ₂(mean_{j≠i, j in i's auction} h_j))   leave-one-out context
//
// Bids never enter: the encoder sees only the bid-free feature rows. h'_i does not
// depend on x_i itself, only on the other candidates of the same auction.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/nn/activation.hpp"
#include "diffauction/nn/dense.hpp"
#include "diffauction/nn/mlp.hpp"

namespace diffauction {

/// DeepSet encoder. φ₁ and φ₂ are stacks of Dense layers with ELU after every
/// layer, the last included (choice: the ELU between hidden layers is not fixed by
/// the paper). DNA sizes: in -> {128, 32} for φ₁, 32 -> {16} for φ₂.
/// An auction with a single candidate has no others: its leave-one-out mean is the
/// zero vector (choice), so its h' = ELU(φ₂(0)) is a learned constant.
template <Scalar T>
class DeepSet {
public:
    /// Forward values kept for backward, and backward scratch; reuse one per thread.
    /// After the first call with given sizes, forward + backward allocate nothing.
    struct Cache {
        // ELU's derivative reads only its output (min(h, 0) + 1), so the MLP caches keep
        // the activated values and not the pre-activations; Dense applies ELU in its product.
        typename Mlp<T>::Cache phi1;  ///< φ₁: per layer its ELU output; phi1.output() = h
        MatrixX<T> mean;              ///< leave-one-out means of h (rows x hidden)
        typename Mlp<T>::Cache phi2;  ///< φ₂: per layer its ELU output; phi2.output() = h'
        std::vector<Index> offsets;   ///< the segments of the forward call
        RowVectorX<T> sum;            ///< per-segment sum of h (scratch)
        MatrixX<T> g_mean;            ///< backward: gradient wrt the leave-one-out means
        MatrixX<T> g_h;               ///< backward: gradient wrt h
        /// The encoder's output h' (rows x out_dim()) of the last forward call.
        const MatrixX<T>& output() const { return phi2.output(); }
    };

    DeepSet() = default;
    /// `in` feature columns; `phi1` and `phi2` list the output width of each layer
    /// (layers named name + ".phi1.0", …, name + ".phi2.0", …).
    DeepSet(ParamLayout& layout, const std::string& name, Index in, std::span<const Index> phi1,
            std::span<const Index> phi2) {
        detail::require(!phi1.empty() && !phi2.empty(), "DeepSet", kNone, "needs at least one layer in phi1 and phi2");
        phi1_ = Mlp<T>(layout, name + ".phi1.", in, phi1, Activation::elu, Activation::elu, MlpFusion::fused);
        phi2_ = Mlp<T>(layout, name + ".phi2.", phi1.back(), phi2, Activation::elu, Activation::elu, MlpFusion::fused);
    }
    Index in_dim() const { return phi1_.in_dim(); }
    /// Width of h (the last φ₁ layer).
    Index hidden_dim() const { return phi1_.out_dim(); }
    /// Width of h' (the last φ₂ layer).
    Index out_dim() const { return phi2_.out_dim(); }
    const std::vector<Dense<T>>& phi1() const { return phi1_.layers(); }
    const std::vector<Dense<T>>& phi2() const { return phi2_.layers(); }

    /// Glorot-uniform weights, zero biases (Dense::init), φ₁'s layers then φ₂'s.
    void init(VectorX<T>& theta, Rng& rng) const {
        phi1_.init(theta, rng);
        phi2_.init(theta, rng);
    }

    /// Encodes the stacked feature rows `x` (total x in_dim()) of the auctions given by
    /// `offsets` (B + 1 entries, offsets[0] = 0, offsets[B] = x.rows()); returns
    /// h' = cache.output() (total x out_dim()), valid until the cache is reused.
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                              std::span<const Index> offsets, Cache& c) const {
        detail::check_segment_offsets(offsets, x.rows());
        c.offsets.assign(offsets.begin(), offsets.end());
        const MatrixX<T>& h = phi1_.forward(theta, x, c.phi1);
        leave_one_out(h, c.offsets, c.mean, c.sum);
        return phi2_.forward(theta, c.mean, c.phi2);
    }

    /// Given dL/dh' (`d_out`, total x out_dim()), ADDS the parameter gradient into
    /// `grad` and writes dL/dx into *dx when given. `x` is the forward call's input.
    /// Writes only the cache's backward scratch, so it may be called again.
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c,
                  const Eigen::Ref<const MatrixX<T>>& d_out, VectorX<T>& grad, MatrixX<T>* dx) const {
        detail::require(!c.phi2.out.empty() && d_out.rows() == c.output().rows() && d_out.cols() == out_dim(),
                        "d_out", kNone, "must be rows x out_dim() of the forward call");
        detail::require(x.rows() == c.phi1.output().rows(), "x", kNone, "must be the forward call's input");
        phi2_.backward(theta, c.mean, c.phi2, d_out, grad, &c.g_mean);
        // The leave-one-out mean is its own transpose: dL/dh_j = Σ_{i≠j} dL/dm_i / (n-1).
        leave_one_out(c.g_mean, c.offsets, c.g_h, c.sum);
        phi1_.backward(theta, x, c.phi1, c.g_h, grad, dx);
    }

private:
    // out_i = (Σ_{j in seg} v_j - v_i) / (n - 1); zero for a segment of one.
    static void leave_one_out(const MatrixX<T>& v, const std::vector<Index>& offsets, MatrixX<T>& out,
                              RowVectorX<T>& sum) {
        out.resize(v.rows(), v.cols());
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
            const Index o = offsets[b], n = offsets[b + 1] - o;
            if (n == 0) continue;
            if (n == 1) {
                out.row(o).setZero();
                continue;
            }
            sum.noalias() = v.middleRows(o, n).colwise().sum();
            const T inv = T(1) / static_cast<T>(n - 1);
            for (Index i = o; i < o + n; ++i) out.row(i) = (sum - v.row(i)) * inv;
        }
    }

    Mlp<T> phi1_, phi2_;  ///< ELU after every layer, the last included
};

}  // namespace diffauction
