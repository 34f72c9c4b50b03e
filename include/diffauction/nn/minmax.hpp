// diffauction/nn/minmax.hpp - the MIN-MAX monotone rank scorer of DNA (SPEC §2,
// §4.1; Liu et al. 2021 eq. 6-7) and its closed-form inverse, with hand-written
// backward passes for both.
//
//   r(b, x)    = min_q max_z ( e^{w_qz} b + u_qzᵀx + a_qz )          (strictly increasing in b)
//   r⁻¹(t; x)  = max_q min_z e^{-w_qz} (t - a_qz - u_qzᵀx)          (r(r⁻¹(t)) = t)
//
// Each group g_q(b) = max_z(...) is continuous and strictly increasing with inverse
// min_z e^{-w}(t - ...), and r(b) >= t iff every group is >= t, hence the max over q.
// DNA's price for the winner in slot k is r⁻¹(r_(k+1); x_i), so the inverse is
// differentiable in t as well as in x and the parameters.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"

namespace diffauction {

/// MIN-MAX scorer with Q groups of Z linear units over a bid b and D bid-free
/// features x. Parameters (slots of the model's flat vector): `w` (Q x Z, the log
/// bid slopes), `u` ((Q·Z) x D, row q·Z + z is u_qz) and `a` (Q x Z).
///
/// Rows are independent candidates: `forward` scores every row (b_i, x_i) and
/// `inverse` inverts every row (t_i, x_i). Sub-gradients follow the active unit
/// (argmin q, argmax z for r; argmax q, argmin z for r⁻¹), chosen deterministically
/// at ties: the lowest index wins (choice). Same conventions as Dense: const
/// forward, caller-owned Cache, backward ADDS into `grad` and writes the input
/// gradients only when asked.
template <Scalar T>
class MinMaxScorer {
public:
    /// What backward needs: per row, the affine part and the active unit.
    struct Cache {
        MatrixX<T> lin;             ///< rows x (Q·Z): u_qzᵀ x_i + a_qz
        VectorX<T> slope;           ///< Q·Z: e^{w_qz} (forward) or e^{-w_qz} (inverse)
        std::vector<Index> active;  ///< per row: q·Z + z of the active unit
    };

    MinMaxScorer() = default;
    MinMaxScorer(ParamLayout& layout, const std::string& name, Index groups, Index units, Index features)
        : q_(groups), z_(units), d_(features) {
        detail::require(groups > 0 && units > 0, "MinMaxScorer", kNone, "needs groups > 0 and units > 0");
        detail::require(features >= 0, "MinMaxScorer", kNone, "needs features >= 0");
        w_ = layout.add(name + ".w", groups, units);
        u_ = layout.add(name + ".u", groups * units, features);
        a_ = layout.add(name + ".a", groups, units);
    }
    Index groups() const { return q_; }
    Index units() const { return z_; }
    Index feature_dim() const { return d_; }
    ParamSlot w_slot() const { return w_; }
    ParamSlot u_slot() const { return u_; }
    ParamSlot a_slot() const { return a_; }

    /// w ~ N(0, 0.1²) (slopes near 1), u Glorot-uniform over (D, 1), a ~ N(0, 0.1²) (choice).
    void init(VectorX<T>& theta, Rng& rng) const {
        auto w = view(theta, w_), u = view(theta, u_), a = view(theta, a_);
        for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<T>(0.1 * rng.normal());
        const double lim = std::sqrt(6.0 / static_cast<double>(d_ + 1));
        for (Index i = 0; i < u.size(); ++i) u.data()[i] = static_cast<T>(rng.uniform(-lim, lim));
        for (Index i = 0; i < a.size(); ++i) a.data()[i] = static_cast<T>(0.1 * rng.normal());
    }

    /// r_i = r(b_i, x_i) for every row. Resizes `r` and the cache (no allocation once
    /// they fit). Throws input_error for non-finite bids or mismatched shapes.
    void forward(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& b,
                 const Eigen::Ref<const MatrixX<T>>& x, VectorX<T>& r, Cache& c) const {
        check_rows(b, x, "b");
        affine(theta, x, c);
        c.slope = flat(theta, w_).array().exp().matrix();
        r.resize(b.size());
        for (Index i = 0; i < b.size(); ++i) {
            Index best = 0;
            T value = T(0);
            for (Index q = 0; q < q_; ++q) {
                Index arg = q * z_;
                T top = c.slope[arg] * b[i] + c.lin(i, arg);
                for (Index z = 1; z < z_; ++z) {
                    const Index j = q * z_ + z;
                    const T v = c.slope[j] * b[i] + c.lin(i, j);
                    if (v > top) {
                        top = v;
                        arg = j;
                    }
                }
                if (q == 0 || top < value) {
                    value = top;
                    best = arg;
                }
            }
            r[i] = value;
            c.active[static_cast<std::size_t>(i)] = best;
        }
    }

    /// Backward of `forward` through the active unit j of each row:
    /// grad[w_j] += dr_i e^{w_j} b_i, grad[u_j] += dr_i x_i, grad[a_j] += dr_i;
    /// *db = dr ⊙ e^{w_active}, *dx = rows dr_i u_jᵀ (each only when given).
    void backward(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& b,
                  const Eigen::Ref<const MatrixX<T>>& x, const Cache& c, const Eigen::Ref<const VectorX<T>>& dr,
                  VectorX<T>& grad, VectorX<T>* db, MatrixX<T>* dx) const {
        check_cache(b.size(), x, c, dr);
        auto gw = flat(grad, w_);
        auto gu = view(grad, u_);
        auto ga = flat(grad, a_);
        const auto u = view(theta, u_);
        if (db != nullptr) db->resize(b.size());
        if (dx != nullptr) dx->resize(x.rows(), d_);
        for (Index i = 0; i < b.size(); ++i) {
            const Index j = c.active[static_cast<std::size_t>(i)];
            const T g = dr[i];
            gw[j] += g * c.slope[j] * b[i];
            if (d_ > 0) gu.row(j) += g * x.row(i);
            ga[j] += g;
            if (db != nullptr) (*db)[i] = g * c.slope[j];
            if (dx != nullptr && d_ > 0) dx->row(i) = g * u.row(j);
        }
    }

    /// b_i = r⁻¹(t_i; x_i) for every row: the bid at which row i would score t_i.
    void inverse(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& t,
                 const Eigen::Ref<const MatrixX<T>>& x, VectorX<T>& b, Cache& c) const {
        check_rows(t, x, "t");
        affine(theta, x, c);
        c.slope = (-flat(theta, w_).array()).exp().matrix();
        b.resize(t.size());
        for (Index i = 0; i < t.size(); ++i) {
            Index best = 0;
            T value = T(0);
            for (Index q = 0; q < q_; ++q) {
                Index arg = q * z_;
                T low = c.slope[arg] * (t[i] - c.lin(i, arg));
                for (Index z = 1; z < z_; ++z) {
                    const Index j = q * z_ + z;
                    const T v = c.slope[j] * (t[i] - c.lin(i, j));
                    if (v < low) {
                        low = v;
                        arg = j;
                    }
                }
                if (q == 0 || low > value) {
                    value = low;
                    best = arg;
                }
            }
            b[i] = value;
            c.active[static_cast<std::size_t>(i)] = best;
        }
    }

    /// Backward of `inverse` through the active unit j of each row, where
    /// b_i = e^{-w_j}(t_i - a_j - u_jᵀx_i): grad[w_j] -= db_i b_i,
    /// grad[a_j] -= db_i e^{-w_j}, grad[u_j] -= db_i e^{-w_j} x_i;
    /// *dt = db ⊙ e^{-w_active}, *dx = rows -db_i e^{-w_j} u_jᵀ (each only when given).
    void inverse_backward(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& t,
                          const Eigen::Ref<const MatrixX<T>>& x, const Cache& c,
                          const Eigen::Ref<const VectorX<T>>& db, VectorX<T>& grad, VectorX<T>* dt,
                          MatrixX<T>* dx) const {
        check_cache(t.size(), x, c, db);
        auto gw = flat(grad, w_);
        auto gu = view(grad, u_);
        auto ga = flat(grad, a_);
        const auto u = view(theta, u_);
        if (dt != nullptr) dt->resize(t.size());
        if (dx != nullptr) dx->resize(x.rows(), d_);
        for (Index i = 0; i < t.size(); ++i) {
            const Index j = c.active[static_cast<std::size_t>(i)];
            const T s = c.slope[j];
            const T g = db[i];
            const T bi = s * (t[i] - c.lin(i, j));
            gw[j] -= g * bi;
            ga[j] -= g * s;
            if (d_ > 0) gu.row(j) -= (g * s) * x.row(i);
            if (dt != nullptr) (*dt)[i] = g * s;
            if (dx != nullptr && d_ > 0) dx->row(i) = (-g * s) * u.row(j);
        }
    }

private:
    // A Q x Z slot as a vector in storage order (index q·Z + z).
    static Eigen::Map<const VectorX<T>> flat(const VectorX<T>& v, ParamSlot s) {
        return Eigen::Map<const VectorX<T>>(v.data() + s.offset, s.size());
    }
    static Eigen::Map<VectorX<T>> flat(VectorX<T>& v, ParamSlot s) {
        return Eigen::Map<VectorX<T>>(v.data() + s.offset, s.size());
    }
    // lin = x uᵀ + a, and the per-row active buffer sized.
    void affine(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c) const {
        const Index n = x.rows(), m = q_ * z_;
        c.lin.resize(n, m);
        if (d_ > 0)
            c.lin.noalias() = x * view(theta, u_).transpose();
        else
            c.lin.setZero();
        c.lin.rowwise() += flat(theta, a_).transpose();
        c.active.resize(static_cast<std::size_t>(n));
    }
    void check_rows(const Eigen::Ref<const VectorX<T>>& v, const Eigen::Ref<const MatrixX<T>>& x,
                    const char* field) const {
        detail::require(x.cols() == d_, "x", kNone, [&] {
            return "has " + std::to_string(x.cols()) + " columns but the scorer takes " + std::to_string(d_);
        });
        detail::require(x.rows() == v.size(), field, kNone, "needs one entry per row of x");
        for (Index i = 0; i < v.size(); ++i) detail::require(std::isfinite(v[i]), field, i, "must be finite");
    }
    void check_cache(Index rows, const Eigen::Ref<const MatrixX<T>>& x, const Cache& c,
                     const Eigen::Ref<const VectorX<T>>& d_out) const {
        detail::require(x.rows() == rows && x.cols() == d_, "x", kNone, "must match the forward call");
        detail::require(c.lin.rows() == rows && static_cast<Index>(c.active.size()) == rows, "cache", kNone,
                        "does not come from a forward call on these rows");
        detail::require(d_out.size() == rows, "d_out", kNone, "needs one entry per row");
    }

    Index q_ = 0, z_ = 0, d_ = 0;
    ParamSlot w_{}, u_{}, a_{};
};

}  // namespace diffauction
