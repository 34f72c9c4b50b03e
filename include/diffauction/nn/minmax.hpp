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
#include "diffauction/nn/detail/gemm.hpp"

namespace diffauction {

/// MIN-MAX scorer with Q groups of Z linear units over a bid b and D bid-free
/// features x. Parameters (slots of the model's flat vector): `w` (Q x Z, the log
/// bid slopes), `u` ((Q·Z) x D, row q·Z + z is u_qz) and `a` (Q x Z).
///
/// Rows are independent candidates: `forward` scores every row (b_i, x_i) and
/// `inverse` inverts every row (t_i, x_i); `inverse_of` inverts the rows of an
/// earlier `forward` call without recomputing their affine part (DNA's prices).
/// Sub-gradients follow the active unit (argmin q, argmax z for r; argmax q, argmin
/// z for r⁻¹), chosen deterministically at ties: the lowest index wins (choice).
/// Same conventions as Dense: const forward, caller-owned caches, backward ADDS
/// into `grad` and writes the input gradients only when asked.
///
/// Layout (choice, for speed): the affine part is computed transposed, one unit per
/// row and one candidate per column, so that the max over units and the min over
/// groups run over whole packets of candidates. Candidate columns are padded to a
/// multiple of the packet width, so every candidate takes the same instructions: a
/// row's score does not depend on the other rows of the call.
template <Scalar T>
class MinMaxScorer {
public:
    /// What the backward of an inverse needs: the active unit per row, plus scratch.
    struct InverseCache {
        std::vector<Index> active;  ///< per row: q·Z + z of the active unit
        RowVectorX<T> in;           ///< padded b (forward) or t (inverse)
        RowVectorX<T> out;          ///< padded r or r⁻¹
        RowVectorX<T> arg;          ///< padded: the active unit (as a T)
        RowVectorX<T> group, group_arg;  ///< scratch: one group's best value and unit
    };
    /// What backward needs: the affine part and the active unit of every row.
    struct Cache : InverseCache {
        MatrixX<T> xt;              ///< D x padded rows: xᵀ (padding columns 0)
        MatrixX<T> lin;             ///< (Q·Z) x padded rows: lin(q·Z + z, i) = u_qzᵀ x_i + a_qz
        VectorX<T> slope;           ///< Q·Z: e^{w_qz}
        VectorX<T> inv_slope;       ///< Q·Z: e^{-w_qz}
        Index rows = 0;             ///< rows of the call
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
        evaluate<false>(c, b, r, c, true);
    }

    /// `forward` without recording the active units, for serving: the cache still
    /// serves `inverse_of` and `inverse_at`, but not `backward` (which then throws).
    void score(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& b, const Eigen::Ref<const MatrixX<T>>& x,
               VectorX<T>& r, Cache& c) const {
        check_rows(b, x, "b");
        affine(theta, x, c);
        evaluate<false>(c, b, r, c, false);
    }

    /// Backward of `forward` through the active unit j of each row:
    /// grad[w_j] += dr_i e^{w_j} b_i, grad[u_j] += dr_i x_i, grad[a_j] += dr_i;
    /// *db = dr ⊙ e^{w_active}, *dx = rows dr_i u_jᵀ (each only when given).
    void backward(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& b,
                  const Eigen::Ref<const MatrixX<T>>& x, const Cache& c, const Eigen::Ref<const VectorX<T>>& dr,
                  VectorX<T>& grad, VectorX<T>* db, MatrixX<T>* dx) const {
        check_cache(b.size(), x, c, c.active, dr);
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
        evaluate<true>(c, t, b, c, true);
    }

    /// b_i = r⁻¹(t_i; x_i) for every row x_i of the `forward` call that filled `fwd`
    /// (its affine part is reused: no product). `fwd` is left as it was.
    void inverse_of(const Cache& fwd, const Eigen::Ref<const VectorX<T>>& t, VectorX<T>& b,
                    InverseCache& ic) const {
        detail::require(fwd.rows == t.size() && fwd.lin.rows() == q_ * z_, "t", kNone,
                        "needs one entry per row of the forward call");
        for (Index i = 0; i < t.size(); ++i) detail::require(std::isfinite(t[i]), "t", i, "must be finite");
        evaluate<true>(fwd, t, b, ic, true);
    }

    /// r⁻¹(t; x_i) for the single row i of the `forward` or `score` call that filled
    /// `fwd` (scalar; for serving a few winners). Same value as `inverse_of` gives
    /// up to the order of the max/min reductions, which is exact: bit for bit.
    T inverse_at(const Cache& fwd, Index i, T t) const {
        detail::require(i >= 0 && i < fwd.rows && fwd.lin.rows() == q_ * z_, "i", i,
                        "is not a row of the forward call");
        detail::require(std::isfinite(t), "t", i, "must be finite");
        T value = T(0);
        for (Index q = 0; q < q_; ++q) {
            T low = unit_value<true>(fwd, fwd.inv_slope, q * z_, i, t);
            for (Index j = q * z_ + 1; j < (q + 1) * z_; ++j)
                low = std::min(low, unit_value<true>(fwd, fwd.inv_slope, j, i, t));
            value = q == 0 ? low : std::max(value, low);
        }
        return value;
    }

    /// Backward of `inverse` through the active unit j of each row, where
    /// b_i = e^{-w_j}(t_i - a_j - u_jᵀx_i): grad[w_j] -= db_i b_i,
    /// grad[a_j] -= db_i e^{-w_j}, grad[u_j] -= db_i e^{-w_j} x_i;
    /// *dt = db ⊙ e^{-w_active}, *dx = rows -db_i e^{-w_j} u_jᵀ (each only when given).
    void inverse_backward(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& t,
                          const Eigen::Ref<const MatrixX<T>>& x, const Cache& c,
                          const Eigen::Ref<const VectorX<T>>& db, VectorX<T>& grad, VectorX<T>* dt,
                          MatrixX<T>* dx) const {
        check_cache(t.size(), x, c, c.active, db);
        if (dx != nullptr) dx->setZero(x.rows(), d_);
        inverse_backward_impl(theta, t, x, c, c.active, db, grad, dt, dx);
    }

    /// Backward of `inverse_of` (same formulas as `inverse_backward`); `x` is the
    /// forward call's input. ADDS -db_i e^{-w_j} u_jᵀ into row i of *dx when given
    /// (*dx must already be rows x D, e.g. from `backward`).
    void inverse_of_backward(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& t,
                             const Eigen::Ref<const MatrixX<T>>& x, const Cache& fwd, const InverseCache& ic,
                             const Eigen::Ref<const VectorX<T>>& db, VectorX<T>& grad, VectorX<T>* dt,
                             MatrixX<T>* dx) const {
        check_cache(t.size(), x, fwd, ic.active, db);
        detail::require(dx == nullptr || (dx->rows() == x.rows() && dx->cols() == d_), "dx", kNone,
                        "must be rows x D to accumulate into");
        inverse_backward_impl(theta, t, x, fwd, ic.active, db, grad, dt, dx);
    }

private:
    // A Q x Z slot as a vector in storage order (index q·Z + z).
    static Eigen::Map<const VectorX<T>> flat(const VectorX<T>& v, ParamSlot s) {
        return Eigen::Map<const VectorX<T>>(v.data() + s.offset, s.size());
    }
    static Eigen::Map<VectorX<T>> flat(VectorX<T>& v, ParamSlot s) {
        return Eigen::Map<VectorX<T>>(v.data() + s.offset, s.size());
    }
    // lin = u xᵀ + a (transposed, padded columns), both slopes, rows recorded.
    void affine(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c) const {
        constexpr Index ps = detail::gemm_packet<T>();
        const Index n = x.rows(), padded = (n + ps - 1) / ps * ps, m = q_ * z_;
        c.rows = n;
        c.xt.resize(d_, padded);
        c.xt.leftCols(n) = x.transpose();
        c.xt.rightCols(padded - n).setZero();
        c.lin.resize(m, padded);
        detail::gemm<T, detail::GemmInit::row_bias>(m, padded, d_, {theta.data() + u_.offset, d_}, c.xt.data(), padded,
                                                    theta.data() + a_.offset, c.lin.data(), padded);
        c.slope = flat(theta, w_).array().exp().matrix();
        c.inv_slope = (-flat(theta, w_).array()).exp().matrix();
    }
    // Forward: out_i = min_q max_z (e^{w_j} in_i + lin(j, i)); inverse (Inverse):
    // out_i = max_q min_z e^{-w_j} (in_i - lin(j, i)). One pass per unit over the
    // candidates in packets (lin's rows are contiguous), carrying each candidate's best
    // value and, when asked, its unit index (as a T: exact for any realistic Q·Z) with
    // compare-and-select; strict comparisons keep the lowest index at ties.
    template <bool Inverse>
    void evaluate(const Cache& c, const Eigen::Ref<const VectorX<T>>& in, VectorX<T>& out, InverseCache& e,
                  bool record_active) const {
        namespace ei = Eigen::internal;
        using P = typename ei::packet_traits<T>::type;
        constexpr Index ps = detail::gemm_packet<T>();
        const Index n = c.rows, padded = c.lin.cols();
        e.in.resize(padded);
        e.in.head(n) = in.transpose();
        e.in.tail(padded - n).setZero();
        e.group.resize(padded);
        e.group_arg.resize(padded);
        e.out.resize(padded);
        e.arg.resize(padded);
        const T* s = Inverse ? c.inv_slope.data() : c.slope.data();
        const T* x = e.in.data();
        T* g = e.group.data();
        T* ga = e.group_arg.data();
        T* best = e.out.data();
        T* ba = e.arg.data();
        const auto unit = [&](Index j, Index i) {
            const P sj = ei::pset1<P>(s[j]);
            const P l = ei::ploadu<P>(c.lin.data() + j * padded + i);
            if constexpr (Inverse)
                return ei::pmul(sj, ei::psub(ei::ploadu<P>(x + i), l));
            else
                return ei::pmadd(sj, ei::ploadu<P>(x + i), l);
        };
        // "a beats b": larger within a group and smaller across groups (forward), the
        // other way round for the inverse.
        const auto beats = [](const P& a, const P& b, bool within) {
            return (within != Inverse) ? ei::pcmp_lt(b, a) : ei::pcmp_lt(a, b);
        };
        for (Index q = 0; q < q_; ++q) {
            const Index j0 = q * z_;
            T* target = q == 0 ? best : g;  // group 0 goes straight into the result
            T* target_arg = q == 0 ? ba : ga;
            for (Index i = 0; i < padded; i += ps) {
                ei::pstoreu(target + i, unit(j0, i));
                ei::pstoreu(target_arg + i, ei::pset1<P>(static_cast<T>(j0)));
            }
            for (Index j = j0 + 1; j < j0 + z_; ++j) {
                const P jj = ei::pset1<P>(static_cast<T>(j));
                for (Index i = 0; i < padded; i += ps) {
                    const P v = unit(j, i), cur = ei::ploadu<P>(target + i);
                    const P m = beats(v, cur, true);
                    ei::pstoreu(target + i, ei::pselect(m, v, cur));
                    if (record_active) ei::pstoreu(target_arg + i, ei::pselect(m, jj, ei::ploadu<P>(target_arg + i)));
                }
            }
            if (q == 0) continue;
            for (Index i = 0; i < padded; i += ps) {
                const P v = ei::ploadu<P>(g + i), cur = ei::ploadu<P>(best + i);
                const P m = beats(v, cur, false);
                ei::pstoreu(best + i, ei::pselect(m, v, cur));
                if (record_active)
                    ei::pstoreu(ba + i, ei::pselect(m, ei::ploadu<P>(ga + i), ei::ploadu<P>(ba + i)));
            }
        }
        out = e.out.head(n).transpose();
        if (!record_active) {
            e.active.clear();
            return;
        }
        e.active.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) e.active[static_cast<std::size_t>(i)] = static_cast<Index>(e.arg[i]);
    }
    template <bool Inverse>
    static T unit_value(const Cache& c, const VectorX<T>& s, Index j, Index i, T in) {
        return Inverse ? s[j] * (in - c.lin(j, i)) : s[j] * in + c.lin(j, i);
    }
    void inverse_backward_impl(const VectorX<T>& theta, const Eigen::Ref<const VectorX<T>>& t,
                               const Eigen::Ref<const MatrixX<T>>& x, const Cache& c,
                               const std::vector<Index>& active, const Eigen::Ref<const VectorX<T>>& db,
                               VectorX<T>& grad, VectorX<T>* dt, MatrixX<T>* dx) const {
        auto gw = flat(grad, w_);
        auto gu = view(grad, u_);
        auto ga = flat(grad, a_);
        const auto u = view(theta, u_);
        if (dt != nullptr) dt->resize(t.size());
        for (Index i = 0; i < t.size(); ++i) {
            const Index j = active[static_cast<std::size_t>(i)];
            const T s = c.inv_slope[j];
            const T g = db[i];
            const T bi = s * (t[i] - c.lin(j, i));
            gw[j] -= g * bi;
            ga[j] -= g * s;
            if (d_ > 0) gu.row(j) -= (g * s) * x.row(i);
            if (dt != nullptr) (*dt)[i] = g * s;
            if (dx != nullptr && d_ > 0) dx->row(i) -= (g * s) * u.row(j);
        }
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
                     const std::vector<Index>& active, const Eigen::Ref<const VectorX<T>>& d_out) const {
        detail::require(x.rows() == rows && x.cols() == d_, "x", kNone, "must match the forward call");
        detail::require(c.rows == rows && static_cast<Index>(active.size()) == rows, "cache", kNone,
                        "does not come from a forward call on these rows");
        detail::require(d_out.size() == rows, "d_out", kNone, "needs one entry per row");
    }

    Index q_ = 0, z_ = 0, d_ = 0;
    ParamSlot w_{}, u_{}, a_{};
};

}  // namespace diffauction
