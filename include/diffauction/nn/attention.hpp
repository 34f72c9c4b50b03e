// diffauction/nn/attention.hpp - multi-head scaled dot-product attention over a
// ragged batch (SPEC §2; Vaswani et al. 2017), with hand-written backward passes:
//
//   MultiHeadAttention (self-attention within each segment):
//     [Q K V] = x [Wq Wk Wv]^T + [bq bk bv]             one product over all rows
//     head h, segment s:  P = softmax(Q_h K_h^T / sqrt(d)) (rows),  C_h = P V_h
//     y = [C_1 ... C_H] Wo^T + bo
//   TargetAttention (one query row per segment, e.g. a context vector):
//     q = query Wq^T + bq,  [K V] = x [Wk Wv]^T + [bk bv]
//     head h, segment s:  p = softmax(q_h K_h^T / sqrt(d)),  c_h = p V_h
//     y = [c_1 ... c_H] Wo^T + bo
//
// d = dim / H is the width of one head. Rows attend only to rows of their own
// segment (auction), so auctions in a batch never see each other; no positional
// information enters, so self-attention is permutation equivariant within a
// segment (SPEC §2: sets get no positional encoding). Softmax subtracts the row max.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/nn/dense.hpp"
#include "diffauction/nn/detail/gemm.hpp"

namespace diffauction {

namespace detail {
/// Rows of `s` become softmax(scale * s_row), max subtracted first (scale > 0). The
/// exp runs as one vectorised pass over the whole block (every head's rows at once;
/// float: the fast exp of nn/detail/gemm.hpp, all arguments being <= 0);
/// per-row shifts and sums are row loops, because Eigen does not vectorise a
/// per-row broadcast (colwise() +/- vector) over a row-major matrix.
template <class T>
void softmax_rows_scaled(Eigen::Map<MatrixX<T>>& s, T scale) {
    for (Index i = 0; i < s.rows(); ++i) s.row(i).array() -= s.row(i).maxCoeff();
    exp_scaled_nonpositive<T>(s.data(), s.size(), scale);
    for (Index i = 0; i < s.rows(); ++i) s.row(i) *= T(1) / s.row(i).sum();
}
/// Given P = softmax_rows(scale * S) and g = dL/dP, overwrites g with dL/dS:
/// scale * P_ij (g_ij - Σ_k g_ik P_ik).
template <class T>
void softmax_rows_scaled_backward(const Eigen::Map<const MatrixX<T>>& p, Eigen::Map<MatrixX<T>>& g, T scale) {
    for (Index i = 0; i < g.rows(); ++i) g.row(i).array() -= g.row(i).dot(p.row(i));
    g.array() *= p.array() * scale;
}
/// The width of one head, dim / heads; throws input_error unless heads divide dim.
inline Index checked_head_dim(Index dim, Index heads) {
    require(dim > 0 && heads > 0, "heads", kNone, "needs dim > 0 and heads > 0");
    require(dim % heads == 0, "heads", kNone, [&] {
        return std::to_string(heads) + " heads do not divide the model width " + std::to_string(dim);
    });
    return dim / heads;
}
inline void check_width(Index cols, Index expected, const char* field) {
    require(cols == expected, field, kNone, [&] {
        return "has " + std::to_string(cols) + " columns but the layer takes " + std::to_string(expected);
    });
}
}  // namespace detail

/// Multi-head self-attention over the rows of each segment of a ragged batch.
/// Parameters: one Dense dim -> 3 dim for the fused Q/K/V projections ("<name>.qkv":
/// columns [0, dim) are Q, [dim, 2 dim) K, [2 dim, 3 dim) V; head h takes columns
/// [h d, (h+1) d) of each) and one Dense dim -> dim for the output ("<name>.out").
/// A segment of one row attends to itself only: y = Wo (Wv x + bv) + bo.
template <Scalar T>
class MultiHeadAttention {
public:
    /// Forward values kept for backward, and backward scratch; reuse one per thread.
    /// After the first call with given sizes, forward + backward allocate nothing.
    struct Cache {
        MatrixX<T> qkv;             ///< projections (rows x 3 dim)
        VectorX<T> probs;           ///< attention weights: per segment, H n x n blocks (head-major)
        MatrixX<T> concat;          ///< the heads' outputs side by side (rows x dim)
        MatrixX<T> y;               ///< the output (rows x dim)
        std::vector<Index> offsets; ///< the segments of the forward call
        Index max_n = 0;            ///< the largest segment
        MatrixX<T> d_concat, d_qkv; ///< backward: gradients wrt concat and qkv
        VectorX<T> g;               ///< backward: one segment's dL/dP, then dL/dS, for all heads
        /// The output (rows x dim) of the last forward call.
        const MatrixX<T>& output() const { return y; }
    };

    MultiHeadAttention() = default;
    /// Model width `dim`, `heads` heads; dim % heads must be 0 (input_error otherwise).
    MultiHeadAttention(ParamLayout& layout, const std::string& name, Index dim, Index heads)
        : dim_(dim), heads_(heads), head_dim_(detail::checked_head_dim(dim, heads)),
          qkv_(layout, name + ".qkv", dim, 3 * dim), out_(layout, name + ".out", dim, dim) {}

    Index dim() const { return dim_; }
    Index heads() const { return heads_; }
    Index head_dim() const { return head_dim_; }
    /// The fused Q/K/V projection (dim -> 3 dim) and the output projection (dim -> dim).
    const Dense<T>& qkv() const { return qkv_; }
    const Dense<T>& out() const { return out_; }

    /// Glorot-uniform weights, zero biases (Dense::init).
    void init(VectorX<T>& theta, Rng& rng) const {
        qkv_.init(theta, rng);
        out_.init(theta, rng);
    }

    /// Self-attention of the stacked rows `x` (total x dim) within the segments given by
    /// `offsets` (B + 1 entries, offsets[0] = 0, offsets[B] = x.rows(); empty segments
    /// allowed); returns cache.output() (total x dim), valid until the cache is reused.
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                              std::span<const Index> offsets, Cache& c) const {
        detail::check_width(x.cols(), dim_, "x");
        detail::check_segment_offsets(offsets, x.rows());
        c.offsets.assign(offsets.begin(), offsets.end());
        Index probs_size = 0;
        c.max_n = 0;
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
            const Index n = offsets[b + 1] - offsets[b];
            probs_size += heads_ * n * n;
            c.max_n = std::max(c.max_n, n);
        }
        c.probs.resize(probs_size);
        qkv_.forward(theta, x, c.qkv);
        c.concat.resize(x.rows(), dim_);
        const T scale = T(1) / std::sqrt(static_cast<T>(head_dim_));
        const Index d = head_dim_;
        Index off = 0;
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
            const Index o = offsets[b], n = offsets[b + 1] - o;
            if (n == 0) continue;
            // Head h's n x n scores at probs[off + h n^2]; one softmax over all heads' rows.
            for (Index h = 0; h < heads_; ++h) {
                Eigen::Map<MatrixX<T>> s(c.probs.data() + off + h * n * n, n, n);
                s.noalias() = c.qkv.block(o, h * d, n, d) * c.qkv.block(o, dim_ + h * d, n, d).transpose();
            }
            Eigen::Map<MatrixX<T>> all(c.probs.data() + off, heads_ * n, n);
            detail::softmax_rows_scaled(all, scale);
            // concat rows of head h = P_h V_h: the register-blocked kernel reads P and
            // V where they lie (Eigen's product would pack both for these small shapes).
            for (Index h = 0; h < heads_; ++h)
                detail::gemm<T, detail::GemmInit::zero>(n, d, n, {c.probs.data() + off + h * n * n, n},
                                                        c.qkv.data() + o * 3 * dim_ + 2 * dim_ + h * d, 3 * dim_,
                                                        nullptr, c.concat.data() + o * dim_ + h * d, dim_);
            off += heads_ * n * n;
        }
        out_.forward(theta, c.concat, c.y);
        return c.y;
    }

    /// Given dL/dy (`d_out`, total x dim), ADDS the parameter gradient into `grad` and
    /// writes dL/dx into *dx when given. `x` is the forward call's input. Writes only
    /// the cache's backward scratch, so it may be called again.
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c,
                  const Eigen::Ref<const MatrixX<T>>& d_out, VectorX<T>& grad, MatrixX<T>* dx) const {
        detail::require(d_out.rows() == c.y.rows() && d_out.cols() == dim_, "d_out", kNone,
                        "must be rows x dim of the forward call");
        detail::require(x.rows() == c.qkv.rows() && x.cols() == dim_, "x", kNone, "must be the forward call's input");
        out_.backward(theta, c.concat, d_out, grad, &c.d_concat);
        c.d_qkv.resize(c.qkv.rows(), 3 * dim_);
        c.g.resize(heads_ * c.max_n * c.max_n);
        const T scale = T(1) / std::sqrt(static_cast<T>(head_dim_));
        const Index d = head_dim_;
        Index off = 0;
        for (std::size_t b = 0; b + 1 < c.offsets.size(); ++b) {
            const Index o = c.offsets[b], n = c.offsets[b + 1] - o;
            if (n == 0) continue;
            for (Index h = 0; h < heads_; ++h) {
                // C_h = P V_h: dP = dC_h V_h^T, dV_h = P^T dC_h.
                const Eigen::Map<const MatrixX<T>> p(c.probs.data() + off + h * n * n, n, n);
                Eigen::Map<MatrixX<T>> g(c.g.data() + h * n * n, n, n);
                g.noalias() = c.d_concat.block(o, h * d, n, d) * c.qkv.block(o, 2 * dim_ + h * d, n, d).transpose();
                c.d_qkv.block(o, 2 * dim_ + h * d, n, d).noalias() = p.transpose() * c.d_concat.block(o, h * d, n, d);
            }
            const Eigen::Map<const MatrixX<T>> p_all(c.probs.data() + off, heads_ * n, n);
            Eigen::Map<MatrixX<T>> g_all(c.g.data(), heads_ * n, n);
            detail::softmax_rows_scaled_backward(p_all, g_all, scale);
            for (Index h = 0; h < heads_; ++h) {
                // S = Q_h K_h^T: dQ_h = dS K_h, dK_h = dS^T Q_h.
                const Eigen::Map<const MatrixX<T>> g(c.g.data() + h * n * n, n, n);
                c.d_qkv.block(o, h * d, n, d).noalias() = g * c.qkv.block(o, dim_ + h * d, n, d);
                c.d_qkv.block(o, dim_ + h * d, n, d).noalias() = g.transpose() * c.qkv.block(o, h * d, n, d);
            }
            off += heads_ * n * n;
        }
        qkv_.backward(theta, x, c.d_qkv, grad, dx);
    }

private:
    Index dim_ = 0, heads_ = 0, head_dim_ = 0;
    Dense<T> qkv_, out_;
};

/// Multi-head target attention: one query row per segment (e.g. the request's context
/// vector, width `query_dim`) attends to the rows of its segment (width `key_dim`).
/// Parameters: Dense query_dim -> dim ("<name>.q"), the fused Dense key_dim -> 2 dim
/// for keys and values ("<name>.kv": columns [0, dim) K, [dim, 2 dim) V) and Dense
/// dim -> dim for the output ("<name>.out"). Output: one row per segment (B x dim).
/// An empty segment has nothing to attend to: its heads' output is the zero vector
/// (choice), so its y = bo and no gradient flows to its query.
template <Scalar T>
class TargetAttention {
public:
    /// Forward values kept for backward, and backward scratch; reuse one per thread.
    /// After the first call with given sizes, forward + backward allocate nothing.
    struct Cache {
        MatrixX<T> q;               ///< projected queries (B x dim)
        MatrixX<T> kv;              ///< projected keys and values (rows x 2 dim)
        VectorX<T> probs;           ///< attention weights: per segment an H x n block (row h: head h)
        MatrixX<T> concat;          ///< the heads' outputs side by side (B x dim)
        MatrixX<T> y;               ///< the output (B x dim)
        std::vector<Index> offsets; ///< the segments of the forward call
        Index max_n = 0;            ///< the largest segment
        MatrixX<T> d_concat, d_q, d_kv;  ///< backward: gradients wrt concat, q and kv
        VectorX<T> g;               ///< backward: one segment's dL/dp, then dL/ds, for all heads
        /// The output (B x dim) of the last forward call.
        const MatrixX<T>& output() const { return y; }
    };

    TargetAttention() = default;
    /// dim % heads must be 0 (input_error otherwise).
    TargetAttention(ParamLayout& layout, const std::string& name, Index query_dim, Index key_dim, Index dim,
                    Index heads)
        : dim_(dim), heads_(heads), head_dim_(detail::checked_head_dim(dim, heads)), q_(layout, name + ".q", query_dim, dim),
          kv_(layout, name + ".kv", key_dim, 2 * dim), out_(layout, name + ".out", dim, dim) {}

    Index query_dim() const { return q_.in_dim(); }
    Index key_dim() const { return kv_.in_dim(); }
    Index dim() const { return dim_; }
    Index heads() const { return heads_; }
    Index head_dim() const { return head_dim_; }
    const Dense<T>& q() const { return q_; }
    const Dense<T>& kv() const { return kv_; }
    const Dense<T>& out() const { return out_; }

    /// Glorot-uniform weights, zero biases (Dense::init).
    void init(VectorX<T>& theta, Rng& rng) const {
        q_.init(theta, rng);
        kv_.init(theta, rng);
        out_.init(theta, rng);
    }

    /// `query` (B x query_dim): row b is segment b's query; `x` (total x key_dim) the
    /// stacked rows, segments given by `offsets` (B + 1 entries). Returns
    /// cache.output() (B x dim), valid until the cache is reused.
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& query,
                              const Eigen::Ref<const MatrixX<T>>& x, std::span<const Index> offsets,
                              Cache& c) const {
        detail::check_width(query.cols(), query_dim(), "query");
        detail::check_width(x.cols(), key_dim(), "x");
        detail::check_segment_offsets(offsets, x.rows());
        const Index batch = static_cast<Index>(offsets.size()) - 1;
        detail::require(query.rows() == batch, "query", kNone, "needs one row per segment");
        c.offsets.assign(offsets.begin(), offsets.end());
        c.max_n = 0;
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b) c.max_n = std::max(c.max_n, offsets[b + 1] - offsets[b]);
        c.probs.resize(heads_ * x.rows());
        q_.forward(theta, query, c.q);
        kv_.forward(theta, x, c.kv);
        c.concat.resize(batch, dim_);
        const T scale = T(1) / std::sqrt(static_cast<T>(head_dim_));
        const Index d = head_dim_;
        for (Index b = 0; b < batch; ++b) {
            const Index o = offsets[static_cast<std::size_t>(b)], n = offsets[static_cast<std::size_t>(b) + 1] - o;
            if (n == 0) {
                c.concat.row(b).setZero();
                continue;
            }
            // Head h's scores are row h of the H x n block at probs[H o].
            for (Index h = 0; h < heads_; ++h) {
                Eigen::Map<MatrixX<T>> s(c.probs.data() + heads_ * o + h * n, 1, n);
                s.noalias() = c.q.block(b, h * d, 1, d) * c.kv.block(o, h * d, n, d).transpose();
            }
            Eigen::Map<MatrixX<T>> all(c.probs.data() + heads_ * o, heads_, n);
            detail::softmax_rows_scaled(all, scale);
            for (Index h = 0; h < heads_; ++h) {
                const Eigen::Map<const MatrixX<T>> p(c.probs.data() + heads_ * o + h * n, 1, n);
                c.concat.block(b, h * d, 1, d).noalias() = p * c.kv.block(o, dim_ + h * d, n, d);
            }
        }
        out_.forward(theta, c.concat, c.y);
        return c.y;
    }

    /// Given dL/dy (`d_out`, B x dim), ADDS the parameter gradient into `grad` and writes
    /// dL/dquery and dL/dx into *d_query and *dx when given. `query` and `x` are the
    /// forward call's inputs. Writes only the cache's backward scratch.
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& query,
                  const Eigen::Ref<const MatrixX<T>>& x, Cache& c, const Eigen::Ref<const MatrixX<T>>& d_out,
                  VectorX<T>& grad, MatrixX<T>* d_query, MatrixX<T>* dx) const {
        detail::require(d_out.rows() == c.y.rows() && d_out.cols() == dim_, "d_out", kNone,
                        "must be B x dim of the forward call");
        detail::require(query.rows() == c.q.rows() && query.cols() == query_dim(), "query", kNone,
                        "must be the forward call's query");
        detail::require(x.rows() == c.kv.rows() && x.cols() == key_dim(), "x", kNone,
                        "must be the forward call's input");
        out_.backward(theta, c.concat, d_out, grad, &c.d_concat);
        const Index batch = c.q.rows();
        c.d_q.resize(batch, dim_);
        c.d_kv.resize(c.kv.rows(), 2 * dim_);
        c.g.resize(heads_ * c.max_n);
        const T scale = T(1) / std::sqrt(static_cast<T>(head_dim_));
        const Index d = head_dim_;
        for (Index b = 0; b < batch; ++b) {
            const Index o = c.offsets[static_cast<std::size_t>(b)], n = c.offsets[static_cast<std::size_t>(b) + 1] - o;
            if (n == 0) {
                c.d_q.row(b).setZero();
                continue;
            }
            for (Index h = 0; h < heads_; ++h) {
                // c_h = p V_h: dp = dc_h V_h^T, dV_h = p^T dc_h.
                const Eigen::Map<const MatrixX<T>> p(c.probs.data() + heads_ * o + h * n, 1, n);
                Eigen::Map<MatrixX<T>> g(c.g.data() + h * n, 1, n);
                g.noalias() = c.d_concat.block(b, h * d, 1, d) * c.kv.block(o, dim_ + h * d, n, d).transpose();
                c.d_kv.block(o, dim_ + h * d, n, d).noalias() = p.transpose() * c.d_concat.block(b, h * d, 1, d);
            }
            const Eigen::Map<const MatrixX<T>> p_all(c.probs.data() + heads_ * o, heads_, n);
            Eigen::Map<MatrixX<T>> g_all(c.g.data(), heads_, n);
            detail::softmax_rows_scaled_backward(p_all, g_all, scale);
            for (Index h = 0; h < heads_; ++h) {
                // s = q_h K_h^T: dq_h = ds K_h, dK_h = ds^T q_h.
                const Eigen::Map<const MatrixX<T>> g(c.g.data() + h * n, 1, n);
                c.d_q.block(b, h * d, 1, d).noalias() = g * c.kv.block(o, h * d, n, d);
                c.d_kv.block(o, h * d, n, d).noalias() = g.transpose() * c.q.block(b, h * d, 1, d);
            }
        }
        q_.backward(theta, query, c.d_q, grad, d_query);
        kv_.backward(theta, x, c.d_kv, grad, dx);
    }

private:
    Index dim_ = 0, heads_ = 0, head_dim_ = 0;
    Dense<T> q_, kv_, out_;
};

}  // namespace diffauction
