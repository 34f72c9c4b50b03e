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
        // ELU's derivative reads only its output (min(h, 0) + 1), so the cache keeps the
        // activated values and not the pre-activations; Dense applies ELU in its product.
        std::vector<MatrixX<T>> h1;      ///< per φ₁ layer: ELU output (rows x width)
        MatrixX<T> mean;                 ///< leave-one-out means (rows x hidden)
        std::vector<MatrixX<T>> h2;      ///< per φ₂ layer: ELU output; h2.back() = h'
        std::vector<Index> offsets;      ///< the segments of the forward call
        RowVectorX<T> sum;               ///< per-segment sum of h (scratch)
        std::vector<MatrixX<T>> g1, g2;  ///< backward: gradient wrt each layer's pre-activation
        MatrixX<T> g_mean;               ///< backward: gradient wrt the leave-one-out means
        /// The encoder's output h' (rows x out_dim()) of the last forward call.
        const MatrixX<T>& output() const { return h2.back(); }
    };

    DeepSet() = default;
    /// `in` feature columns; `phi1` and `phi2` list the output width of each layer.
    DeepSet(ParamLayout& layout, const std::string& name, Index in, std::span<const Index> phi1,
            std::span<const Index> phi2) {
        detail::require(!phi1.empty() && !phi2.empty(), "DeepSet", kNone, "needs at least one layer in phi1 and phi2");
        Index width = in;
        for (std::size_t l = 0; l < phi1.size(); ++l) {
            phi1_.emplace_back(layout, name + ".phi1." + std::to_string(l), width, phi1[l]);
            width = phi1[l];
        }
        for (std::size_t l = 0; l < phi2.size(); ++l) {
            phi2_.emplace_back(layout, name + ".phi2." + std::to_string(l), width, phi2[l]);
            width = phi2[l];
        }
    }
    Index in_dim() const { return phi1_.front().in_dim(); }
    /// Width of h (the last φ₁ layer).
    Index hidden_dim() const { return phi1_.back().out_dim(); }
    /// Width of h' (the last φ₂ layer).
    Index out_dim() const { return phi2_.back().out_dim(); }
    const std::vector<Dense<T>>& phi1() const { return phi1_; }
    const std::vector<Dense<T>>& phi2() const { return phi2_; }

    /// Glorot-uniform weights, zero biases (Dense::init).
    void init(VectorX<T>& theta, Rng& rng) const {
        for (const auto& d : phi1_) d.init(theta, rng);
        for (const auto& d : phi2_) d.init(theta, rng);
    }

    /// Encodes the stacked feature rows `x` (total x in_dim()) of the auctions given by
    /// `offsets` (B + 1 entries, offsets[0] = 0, offsets[B] = x.rows()); returns
    /// h' = cache.output() (total x out_dim()), valid until the cache is reused.
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                              std::span<const Index> offsets, Cache& c) const {
        detail::check_segment_offsets(offsets, x.rows());
        c.offsets.assign(offsets.begin(), offsets.end());
        c.h1.resize(phi1_.size());
        c.h2.resize(phi2_.size());
        for (std::size_t l = 0; l < phi1_.size(); ++l) {
            if (l == 0)
                phi1_[l].forward(theta, x, c.h1[l], Activation::elu);
            else
                phi1_[l].forward(theta, c.h1[l - 1], c.h1[l], Activation::elu);
        }
        leave_one_out(c.h1.back(), c.offsets, c.mean, c.sum);
        for (std::size_t l = 0; l < phi2_.size(); ++l)
            phi2_[l].forward(theta, l == 0 ? c.mean : c.h2[l - 1], c.h2[l], Activation::elu);
        return c.h2.back();
    }

    /// Given dL/dh' (`d_out`, total x out_dim()), ADDS the parameter gradient into
    /// `grad` and writes dL/dx into *dx when given. `x` is the forward call's input.
    /// Writes only the cache's backward scratch, so it may be called again.
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c,
                  const Eigen::Ref<const MatrixX<T>>& d_out, VectorX<T>& grad, MatrixX<T>* dx) const {
        detail::require(!c.h2.empty() && d_out.rows() == c.h2.back().rows() && d_out.cols() == out_dim(), "d_out",
                        kNone, "must be rows x out_dim() of the forward call");
        detail::require(x.rows() == c.h1.back().rows(), "x", kNone, "must be the forward call's input");
        c.g1.resize(phi1_.size());
        c.g2.resize(phi2_.size());
        for (std::size_t l = 0; l < phi2_.size(); ++l) c.g2[l].resize(c.h2[l].rows(), c.h2[l].cols());
        for (std::size_t l = 0; l < phi1_.size(); ++l) c.g1[l].resize(c.h1[l].rows(), c.h1[l].cols());
        c.g_mean.resize(c.mean.rows(), c.mean.cols());

        // φ₂, top down; g2[l] holds dL/dh2[l] and then, in place, dL/d(pre-activation of layer l).
        for (std::size_t l = phi2_.size(); l-- > 0;) {
            if (l + 1 == phi2_.size())
                activate_backward<T>(Activation::elu, c.h2[l], c.h2[l], d_out, c.g2[l]);
            else
                activate_backward<T>(Activation::elu, c.h2[l], c.h2[l], c.g2[l], c.g2[l]);
            phi2_[l].backward(theta, l == 0 ? c.mean : c.h2[l - 1], c.g2[l], grad, l == 0 ? &c.g_mean : &c.g2[l - 1]);
        }
        // The leave-one-out mean is its own transpose: dL/dh_j = Σ_{i≠j} dL/dm_i / (n-1).
        auto& g_h = c.g1.back();
        leave_one_out(c.g_mean, c.offsets, g_h, c.sum);
        // φ₁, top down.
        for (std::size_t l = phi1_.size(); l-- > 0;) {
            activate_backward<T>(Activation::elu, c.h1[l], c.h1[l], c.g1[l], c.g1[l]);
            if (l == 0)
                phi1_[l].backward(theta, x, c.g1[l], grad, dx);
            else
                phi1_[l].backward(theta, c.h1[l - 1], c.g1[l], grad, &c.g1[l - 1]);
        }
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

    std::vector<Dense<T>> phi1_, phi2_;
};

}  // namespace diffauction
