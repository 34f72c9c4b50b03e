// diffauction/nn/transformer.hpp - the transformer encoder block over a ragged
// batch (SPEC §2, used by EdgeNet §4.2; Vaswani et al. 2017), with its hand-written
// backward pass:
//
//   y1 = LayerNorm1(x + MHSA(x))                  self-attention within each segment
//   y  = LayerNorm2(y1 + W2 act(W1 y1 + b1) + b2)  position-wise feed-forward
//
// Post-LN (choice): the residual sums are normalised, as in the original
// transformer, so every block's output rows have zero mean and (before gain and
// bias) unit variance. Post-LN's known need for learning-rate warm-up concerns deep
// stacks (Xiong et al. 2020); EdgeNet stacks two blocks. Pre-LN would be the
// alternative. Without positional encoding the block is permutation equivariant
// within a segment; segments never see each other.
#pragma once

#include <span>
#include <string>

#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/nn/activation.hpp"
#include "diffauction/nn/attention.hpp"
#include "diffauction/nn/dense.hpp"
#include "diffauction/nn/layer_norm.hpp"

namespace diffauction {

/// Transformer encoder block of width `dim` with `heads` heads (dim % heads == 0) and
/// a feed-forward hidden width `ffn_dim`. Parameters, in layout order: "<name>.attn.*"
/// (MultiHeadAttention), "<name>.ln1.*", "<name>.ffn1.*", "<name>.ffn2.*", "<name>.ln2.*".
/// The FFN activation is ReLU by default (choice, as in the original transformer);
/// ELU (or any other Activation) can be given.
template <Scalar T>
class TransformerBlock {
public:
    /// Forward values kept for backward, and backward scratch; reuse one per thread.
    /// After the first call with given sizes, forward + backward allocate nothing.
    struct Cache {
        typename MultiHeadAttention<T>::Cache attn;
        MatrixX<T> r1;  ///< x + MHSA(x)
        typename LayerNorm<T>::Cache ln1;
        MatrixX<T> z, h;  ///< FFN hidden pre-/post-activation (rows x ffn_dim)
        MatrixX<T> r2;    ///< y1 + FFN(y1)
        typename LayerNorm<T>::Cache ln2;
        MatrixX<T> g_r2, g_h, g_y1, g_r1;  ///< backward: gradients wrt r2, z (via h), y1, r1
        /// The block's output (rows x dim) of the last forward call.
        const MatrixX<T>& output() const { return ln2.output(); }
    };

    TransformerBlock() = default;
    TransformerBlock(ParamLayout& layout, const std::string& name, Index dim, Index heads, Index ffn_dim,
                     Activation act = Activation::relu, T ln_eps = T(1e-5))
        : attn_(layout, name + ".attn", dim, heads), ln1_(layout, name + ".ln1", dim, ln_eps),
          ffn1_(layout, name + ".ffn1", dim, ffn_dim), ffn2_(layout, name + ".ffn2", ffn_dim, dim),
          ln2_(layout, name + ".ln2", dim, ln_eps), act_(act) {}

    Index dim() const { return attn_.dim(); }
    Index heads() const { return attn_.heads(); }
    Index ffn_dim() const { return ffn1_.out_dim(); }
    Activation activation() const { return act_; }
    const MultiHeadAttention<T>& attention() const { return attn_; }
    const LayerNorm<T>& norm1() const { return ln1_; }
    const LayerNorm<T>& norm2() const { return ln2_; }
    const Dense<T>& ffn1() const { return ffn1_; }
    const Dense<T>& ffn2() const { return ffn2_; }

    /// Glorot-uniform weights and zero biases; LayerNorm gains 1, biases 0.
    void init(VectorX<T>& theta, Rng& rng) const {
        attn_.init(theta, rng);
        ln1_.init(theta);
        ffn1_.init(theta, rng);
        ffn2_.init(theta, rng);
        ln2_.init(theta);
    }

    /// Encodes the stacked rows `x` (total x dim) of the segments given by `offsets`
    /// (B + 1 entries); returns cache.output() (total x dim), valid until the cache is reused.
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                              std::span<const Index> offsets, Cache& c) const {
        const MatrixX<T>& a = attn_.forward(theta, x, offsets, c.attn);  // checks x and offsets
        c.r1.resize(x.rows(), dim());
        c.r1.noalias() = x + a;
        const MatrixX<T>& y1 = ln1_.forward(theta, c.r1, c.ln1);
        ffn1_.forward(theta, y1, c.z);
        c.h.resize(c.z.rows(), c.z.cols());
        activate<T>(act_, c.z, c.h);
        ffn2_.forward(theta, c.h, c.r2);
        c.r2 += y1;
        return ln2_.forward(theta, c.r2, c.ln2);
    }

    /// Given dL/dy (`d_out`, total x dim), ADDS the parameter gradient into `grad` and
    /// writes dL/dx into *dx when given. `x` is the forward call's input. Writes only the
    /// cache's backward scratch, so it may be called again.
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c,
                  const Eigen::Ref<const MatrixX<T>>& d_out, VectorX<T>& grad, MatrixX<T>* dx) const {
        detail::require(d_out.rows() == c.r2.rows() && d_out.cols() == dim(), "d_out", kNone,
                        "must be rows x dim of the forward call");
        ln2_.backward(theta, c.ln2, d_out, grad, &c.g_r2);
        // r2 = y1 + FFN(y1): dL/dy1 = dL/dr2 + FFN'(y1)^T dL/dr2.
        ffn2_.backward(theta, c.h, c.g_r2, grad, &c.g_h);
        activate_backward<T>(act_, c.z, c.h, c.g_h, c.g_h);
        ffn1_.backward(theta, c.ln1.output(), c.g_h, grad, &c.g_y1);
        c.g_y1 += c.g_r2;
        ln1_.backward(theta, c.ln1, c.g_y1, grad, &c.g_r1);
        // r1 = x + MHSA(x).
        attn_.backward(theta, x, c.attn, c.g_r1, grad, dx);
        if (dx != nullptr) *dx += c.g_r1;
    }

private:
    MultiHeadAttention<T> attn_;
    LayerNorm<T> ln1_;
    Dense<T> ffn1_, ffn2_;
    LayerNorm<T> ln2_;
    Activation act_ = Activation::relu;
};

}  // namespace diffauction
