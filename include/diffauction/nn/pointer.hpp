// diffauction/nn/pointer.hpp - pointer attention (SPEC §2; the EdgeNet decoder's
// logits, §4.2), with hand-written backward passes:
//
//   u_i = vᵀ tanh(W₁ z_i + W₂ s_b)      for every row i of segment b
//
// One query state s_b per segment (auction), scored against that segment's rows z_i.
// A decoder scores the same keys at every step, so the work is split: `project_keys`
// computes k_i = W₁ z_i once, `score` runs per step with a new s. Backward mirrors
// it: every `score_backward` adds dL/dk into the keys' accumulator, and one
// `keys_backward` after the last step turns that into the W₁ gradient and dL/dz.
// No bias inside the tanh, as in the SPEC formula (choice).
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"

namespace diffauction {

/// Pointer attention with key width `key_dim` (z), query width `query_dim` (s) and
/// attention width `attn_dim` (A). Parameters: name.W1 (A x key_dim), name.W2
/// (A x query_dim), name.v (1 x A). Conventions of nn/: const forward passes taking
/// theta, caller-owned caches, backward ADDS into `grad`; after the first call with
/// given sizes nothing allocates.
template <Scalar T>
class PointerAttention {
public:
    /// The projected keys of one set of segments, and their gradient accumulator.
    struct Keys {
        MatrixX<T> k;                 ///< total x A: k_i = W₁ z_i
        MatrixX<T> grad;              ///< total x A: dL/dk, zeroed by project_keys, added to by score_backward
        std::vector<Index> offsets;   ///< the segments (B + 1 entries)
        Index segments() const { return static_cast<Index>(offsets.size()) - 1; }
    };
    /// One scoring step's forward values and backward scratch (one per decoder step).
    struct Cache {
        MatrixX<T> q;   ///< B x A: W₂ s_b
        MatrixX<T> t;   ///< total x A: tanh(k_i + q_b)
        VectorX<T> u;   ///< total: the scores
        MatrixX<T> dt;  ///< backward: total x A, dL/d(k_i + q_b)
        MatrixX<T> dq;  ///< backward: B x A
        const VectorX<T>& output() const { return u; }
    };

    PointerAttention() = default;
    PointerAttention(ParamLayout& layout, const std::string& name, Index key_dim, Index query_dim, Index attn_dim)
        : key_(key_dim), query_(query_dim), attn_(attn_dim) {
        detail::require(key_dim > 0 && query_dim > 0 && attn_dim > 0, "PointerAttention", kNone,
                        "needs key_dim, query_dim and attn_dim > 0");
        w1_ = layout.add(name + ".W1", attn_dim, key_dim);
        w2_ = layout.add(name + ".W2", attn_dim, query_dim);
        v_ = layout.add(name + ".v", 1, attn_dim);
    }
    Index key_dim() const { return key_; }
    Index query_dim() const { return query_; }
    Index attn_dim() const { return attn_; }
    ParamSlot key_weight_slot() const { return w1_; }
    ParamSlot query_weight_slot() const { return w2_; }
    ParamSlot v_slot() const { return v_; }

    /// Glorot-uniform W₁, W₂ and v (v as a 1 x A layer).
    void init(VectorX<T>& theta, Rng& rng) const {
        for (ParamSlot s : {w1_, w2_, v_}) {
            const double a = std::sqrt(6.0 / static_cast<double>(s.rows + s.cols));
            auto w = view(theta, s);
            for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<T>(rng.uniform(-a, a));
        }
    }

    /// k = z W₁ᵀ for the stacked rows `z` (total x key_dim) of the segments given by
    /// `offsets` (B + 1 entries, offsets[0] = 0, offsets[B] = z.rows()); zeroes keys.grad.
    void project_keys(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& z, std::span<const Index> offsets,
                      Keys& keys) const {
        detail::check_segment_offsets(offsets, z.rows());
        check_z(z);
        keys.offsets.assign(offsets.begin(), offsets.end());
        keys.k.resize(z.rows(), attn_);
        keys.k.noalias() = z * view(theta, w1_).transpose();
        keys.grad.resize(z.rows(), attn_);
        keys.grad.setZero();
    }

    /// u_i = vᵀ tanh(k_i + W₂ s_b) for every row i of every segment b; `s` has one
    /// row per segment (B x query_dim). Returns cache.output() (total entries).
    const VectorX<T>& score(const VectorX<T>& theta, const Keys& keys, const Eigen::Ref<const MatrixX<T>>& s,
                            Cache& c) const {
        check_keys(keys);
        check_s(s, keys);
        c.q.resize(s.rows(), attn_);
        c.q.noalias() = s * view(theta, w2_).transpose();
        c.t.resize(keys.k.rows(), attn_);
        for (Index b = 0; b < keys.segments(); ++b) {
            const Index o = keys.offsets[static_cast<std::size_t>(b)];
            const Index n = keys.offsets[static_cast<std::size_t>(b) + 1] - o;
            // Row by row: Eigen does not vectorise tanh through a rowwise() broadcast (4x slower).
            for (Index i = o; i < o + n; ++i) c.t.row(i) = (keys.k.row(i) + c.q.row(b)).array().tanh().matrix();
        }
        c.u.resize(keys.k.rows());
        c.u.noalias() = c.t * view(theta, v_).row(0).transpose();
        return c.u;
    }

    /// Given dL/du (`du`, total entries) for the `score` call that filled `c` with
    /// query `s`: ADDS the v and W₂ gradient into `grad`, ADDS dL/dk into keys.grad
    /// and writes dL/ds into *ds (B x query_dim) when given.
    void score_backward(const VectorX<T>& theta, Keys& keys, const Eigen::Ref<const MatrixX<T>>& s, Cache& c,
                        const Eigen::Ref<const VectorX<T>>& du, VectorX<T>& grad, MatrixX<T>* ds) const {
        check_keys(keys);
        check_s(s, keys);
        detail::require(c.t.rows() == keys.k.rows() && c.q.rows() == s.rows(), "cache", kNone,
                        "must come from a score call on these keys");
        detail::require(du.size() == keys.k.rows(), "du", kNone, "must have one entry per row");
        view(grad, v_).row(0).noalias() += du.transpose() * c.t;
        // dL/d(k_i + q_b) = du_i · v ⊙ (1 − t_i²), added into dL/dk_i and summed into dL/dq_b.
        const ConstParamView<T> v = view(theta, v_);
        c.dt.resize(c.t.rows(), attn_);
        c.dq.resize(s.rows(), attn_);
        for (Index b = 0; b < keys.segments(); ++b) {
            const Index o = keys.offsets[static_cast<std::size_t>(b)];
            const Index n = keys.offsets[static_cast<std::size_t>(b) + 1] - o;
            c.dq.row(b).setZero();
            for (Index i = o; i < o + n; ++i) {
                c.dt.row(i) = (du[i] * v.row(0).array() * (T(1) - c.t.row(i).array().square())).matrix();
                c.dq.row(b) += c.dt.row(i);
            }
        }
        keys.grad += c.dt;
        view(grad, w2_).noalias() += c.dq.transpose() * s;
        if (ds != nullptr) {
            ds->resize(s.rows(), query_);
            ds->noalias() = c.dq * view(theta, w2_);
        }
    }

    /// After the last score_backward: ADDS the W₁ gradient (keys.gradᵀ z) into `grad`
    /// and writes dL/dz = keys.grad W₁ into *dz when given. `z` is project_keys' input.
    void keys_backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& z, const Keys& keys,
                       VectorX<T>& grad, MatrixX<T>* dz) const {
        check_keys(keys);
        check_z(z);
        detail::require(z.rows() == keys.k.rows(), "z", kNone, "must be project_keys' input");
        view(grad, w1_).noalias() += keys.grad.transpose() * z;
        if (dz != nullptr) {
            dz->resize(z.rows(), key_);
            dz->noalias() = keys.grad * view(theta, w1_);
        }
    }

private:
    void check_z(const Eigen::Ref<const MatrixX<T>>& z) const {
        detail::require(z.cols() == key_, "z", kNone, [&] {
            return "has " + std::to_string(z.cols()) + " columns but the keys have " + std::to_string(key_);
        });
    }
    void check_keys(const Keys& keys) const {
        detail::require(!keys.offsets.empty() && keys.k.cols() == attn_ && keys.grad.rows() == keys.k.rows() &&
                            keys.offsets.back() == keys.k.rows(),
                        "keys", kNone, "must come from project_keys of this layer");
    }
    void check_s(const Eigen::Ref<const MatrixX<T>>& s, const Keys& keys) const {
        detail::require(s.cols() == query_, "s", kNone, [&] {
            return "has " + std::to_string(s.cols()) + " columns but the query takes " + std::to_string(query_);
        });
        detail::require(s.rows() == keys.segments(), "s", kNone, "must have one row per segment");
    }

    Index key_ = 0, query_ = 0, attn_ = 0;
    ParamSlot w1_{}, w2_{}, v_{};
};

}  // namespace diffauction
