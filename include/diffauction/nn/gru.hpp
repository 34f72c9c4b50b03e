// diffauction/nn/gru.hpp - GRU cell and bidirectional GRU layer (SPEC §2; the
// EdgeNet decoder of §4.2 runs the cell step by step), with hand-written backward
// passes.
//
// The cell maps a state s (rows x H) and an input x (rows x D) to the next state s'
// (rows x H), every row an independent sequence (one auction per row in EdgeNet):
//
//   r  = σ(x W_xrᵀ + b_xr + s W_hrᵀ + b_hr)            reset gate
//   z  = σ(x W_xzᵀ + b_xz + s W_hzᵀ + b_hz)            update gate
//   n  = tanh(x W_xnᵀ + b_xn + r ⊙ (s W_hnᵀ + b_hn))   candidate
//   s' = (1 − z) ⊙ n + z ⊙ s
//
// (Cho et al. 2014 as implemented by cuDNN / PyTorch: the reset gate multiplies the
// recurrent product *after* the bias b_hn; z = 1 keeps the old state.) The three
// gates' weights are stacked so each side is one matrix product: W_x (3H x D) and
// W_h (3H x H) hold the rows of r, z, n in that order (choice), b_x and b_h (1 x 3H)
// likewise.
#pragma once

#include <array>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"

namespace diffauction {

/// GRU cell over many independent rows at once (equations in the file comment).
///
/// Conventions of nn/: `forward` is const and takes theta; the caller owns one
/// `Cache` per step (an auto-regressive decoder keeps a vector of K caches, one per
/// step, and the states s_0 … s_{K−1} it fed in); `backward` ADDS into `grad` and
/// writes dL/dx, dL/ds only when asked. After the first call with given sizes,
/// forward + backward allocate nothing.
///
/// Lower-level split, for callers that know every input in advance (BiGru): the
/// input-side product `input_gates` for all time steps at once, then `step` per
/// time step; backward mirrors it with `step_backward` and `input_gates_backward`.
template <Scalar T>
class GruCell {
public:
    /// One step's forward values (kept for backward) and backward scratch.
    struct Cache {
        MatrixX<T> gates;  ///< rows x 3H: [r, z, n] after their nonlinearities
        MatrixX<T> gh;     ///< rows x 3H: s W_hᵀ + b_h; its last H columns are the n-term h_n
        MatrixX<T> out;    ///< rows x H: s'
        MatrixX<T> dgx;    ///< backward: dL/d(x W_xᵀ + b_x), rows x 3H
        MatrixX<T> dgh;    ///< backward: dL/d(s W_hᵀ + b_h), rows x 3H
        /// The next state s' of the last forward call.
        const MatrixX<T>& output() const { return out; }
    };

    GruCell() = default;
    /// `in` = D input columns, `hidden` = H state columns. Adds the slots
    /// name.Wx (3H x D), name.bx (1 x 3H), name.Wh (3H x H), name.bh (1 x 3H).
    GruCell(ParamLayout& layout, const std::string& name, Index in, Index hidden) : in_(in), hidden_(hidden) {
        detail::require(in > 0 && hidden > 0, "GruCell", kNone, "needs in > 0 and hidden > 0");
        wx_ = layout.add(name + ".Wx", 3 * hidden, in);
        bx_ = layout.add(name + ".bx", 1, 3 * hidden);
        wh_ = layout.add(name + ".Wh", 3 * hidden, hidden);
        bh_ = layout.add(name + ".bh", 1, 3 * hidden);
    }
    Index in_dim() const { return in_; }
    Index hidden_dim() const { return hidden_; }
    ParamSlot input_weight_slot() const { return wx_; }
    ParamSlot input_bias_slot() const { return bx_; }
    ParamSlot state_weight_slot() const { return wh_; }
    ParamSlot state_bias_slot() const { return bh_; }

    /// Weights uniform in ±1/√H (the usual GRU initialisation), biases zero (choice).
    void init(VectorX<T>& theta, Rng& rng) const {
        const double a = 1.0 / std::sqrt(static_cast<double>(hidden_));
        for (ParamSlot s : {wx_, wh_}) {
            auto w = view(theta, s);
            for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<T>(rng.uniform(-a, a));
        }
        view(theta, bx_).setZero();
        view(theta, bh_).setZero();
    }

    /// s' = GRU(s, x) for every row: x is rows x D, s is rows x H. Returns
    /// cache.output() (rows x H), valid until the cache is reused.
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                              const Eigen::Ref<const MatrixX<T>>& s, Cache& c) const {
        check_x(x);
        check_s(s, x.rows());
        input_gates(theta, x, c.gates);
        recur(theta, s, c);
        return c.out;
    }

    /// Given dL/ds' (`ds_next`, rows x H), ADDS the parameter gradient into `grad`,
    /// writes dL/dx into *dx and dL/ds into *ds when given. `x` and `s` are the
    /// forward call's inputs. *ds may be the very matrix `ds_next` refers to (a
    /// decoder can run its backward chain in one buffer); dx and ds must not alias
    /// x or s. Writes only the cache's backward scratch, so it may be called again.
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                  const Eigen::Ref<const MatrixX<T>>& s, Cache& c, const Eigen::Ref<const MatrixX<T>>& ds_next,
                  VectorX<T>& grad, MatrixX<T>* dx, MatrixX<T>* ds) const {
        check_x(x);
        detail::require(x.rows() == c.out.rows(), "x", kNone, "must be the forward call's input");
        step_backward(theta, s, c, ds_next, grad, ds);
        input_gates_backward(theta, x, c.dgx, grad, dx);
    }

    // ----- lower-level split (precomputed input gates) -----

    /// gx (rows x 3H) = x W_xᵀ + b_x: the input side of all three gates in one product.
    void input_gates(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, MatrixX<T>& gx) const {
        check_x(x);
        gx.resize(x.rows(), 3 * hidden_);
        gx.noalias() = x * view(theta, wx_).transpose();
        gx.rowwise() += view(theta, bx_).row(0);
    }
    /// The step given precomputed input gates `gx` (rows x 3H, from input_gates) and
    /// the state s (rows x H). Returns cache.output().
    const MatrixX<T>& step(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& gx,
                           const Eigen::Ref<const MatrixX<T>>& s, Cache& c) const {
        detail::require(gx.cols() == 3 * hidden_, "gx", kNone, "must have 3 * hidden columns");
        check_s(s, gx.rows());
        c.gates.resize(gx.rows(), 3 * hidden_);
        c.gates = gx;
        recur(theta, s, c);
        return c.out;
    }
    /// Backward of `step`: ADDS the W_h, b_h gradient into `grad`, leaves dL/dgx in
    /// cache.dgx (rows x 3H, for input_gates_backward) and writes dL/ds into *ds when
    /// given (*ds may be the matrix `ds_next` refers to).
    void step_backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& s, Cache& c,
                       const Eigen::Ref<const MatrixX<T>>& ds_next, VectorX<T>& grad, MatrixX<T>* ds) const {
        const Index n = c.out.rows(), h = hidden_;
        detail::require(s.rows() == n && s.cols() == h, "s", kNone, "must be the forward call's state (rows x hidden)");
        detail::require(ds_next.rows() == n && ds_next.cols() == h, "ds_next", kNone,
                        "must be rows x hidden of the forward call");
        c.dgx.resize(n, 3 * h);
        c.dgh.resize(n, 3 * h);
        // dL/dn ⊙ tanh' = g ⊙ (1 − z) ⊙ (1 − n²): the n-gate pre-activation, input side.
        c.dgx.rightCols(h) = (ds_next.array() * (T(1) - c.gates.middleCols(h, h).array()) *
                              (T(1) - c.gates.rightCols(h).array().square()))
                                 .matrix();
        // Recurrent n-term: dL/dh_n = dL/da_n ⊙ r.
        c.dgh.rightCols(h) = (c.dgx.rightCols(h).array() * c.gates.leftCols(h).array()).matrix();
        // Reset gate: dL/dr = dL/da_n ⊙ h_n, times σ' = r(1 − r).
        c.dgx.leftCols(h) = (c.dgx.rightCols(h).array() * c.gh.rightCols(h).array() * c.gates.leftCols(h).array() *
                             (T(1) - c.gates.leftCols(h).array()))
                                .matrix();
        // Update gate: dL/dz = g ⊙ (s − n), times z(1 − z).
        c.dgx.middleCols(h, h) = (ds_next.array() * (s.array() - c.gates.rightCols(h).array()) *
                                  c.gates.middleCols(h, h).array() * (T(1) - c.gates.middleCols(h, h).array()))
                                     .matrix();
        c.dgh.leftCols(2 * h) = c.dgx.leftCols(2 * h);
        view(grad, wh_).noalias() += c.dgh.transpose() * s;
        view(grad, bh_).row(0) += c.dgh.colwise().sum();
        if (ds != nullptr) {
            ds->resize(n, h);  // no-op when *ds is ds_next's matrix
            *ds = (ds_next.array() * c.gates.middleCols(h, h).array()).matrix();
            ds->noalias() += c.dgh * view(theta, wh_);
        }
    }
    /// Backward of `input_gates`: ADDS the W_x, b_x gradient for dL/dgx = `dgx`
    /// (rows x 3H) and writes dL/dx into *dx when given.
    void input_gates_backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                              const Eigen::Ref<const MatrixX<T>>& dgx, VectorX<T>& grad, MatrixX<T>* dx) const {
        check_x(x);
        detail::require(dgx.rows() == x.rows() && dgx.cols() == 3 * hidden_, "dgx", kNone, "must be rows x 3 * hidden");
        view(grad, wx_).noalias() += dgx.transpose() * x;
        view(grad, bx_).row(0) += dgx.colwise().sum();
        if (dx != nullptr) {
            dx->resize(x.rows(), in_);
            dx->noalias() = dgx * view(theta, wx_);
        }
    }

private:
    // c.gates holds x W_xᵀ + b_x on entry; turns it into [r, z, n] and writes s'.
    void recur(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& s, Cache& c) const {
        const Index n = s.rows(), h = hidden_;
        c.gh.resize(n, 3 * h);
        c.gh.noalias() = s * view(theta, wh_).transpose();
        c.gh.rowwise() += view(theta, bh_).row(0);
        // r and z: σ(a) = 1 / (1 + e^−a); e^−a may overflow to +inf, giving exactly 0.
        c.gates.leftCols(2 * h) =
            (T(1) / (T(1) + (-(c.gates.leftCols(2 * h).array() + c.gh.leftCols(2 * h).array())).exp())).matrix();
        c.gates.rightCols(h) =
            (c.gates.rightCols(h).array() + c.gates.leftCols(h).array() * c.gh.rightCols(h).array()).tanh().matrix();
        // s' = n + z ⊙ (s − n)
        c.out.resize(n, h);
        c.out = (c.gates.rightCols(h).array() +
                 c.gates.middleCols(h, h).array() * (s.array() - c.gates.rightCols(h).array()))
                    .matrix();
    }
    void check_x(const Eigen::Ref<const MatrixX<T>>& x) const {
        detail::require(x.cols() == in_, "x", kNone, [&] {
            return "has " + std::to_string(x.cols()) + " columns but the GRU takes " + std::to_string(in_);
        });
    }
    void check_s(const Eigen::Ref<const MatrixX<T>>& s, Index rows) const {
        detail::require(s.cols() == hidden_, "s", kNone, [&] {
            return "has " + std::to_string(s.cols()) + " columns but the GRU state has " + std::to_string(hidden_);
        });
        detail::require(s.rows() == rows, "s", kNone, "must have one state per input row");
    }

    Index in_ = 0, hidden_ = 0;
    ParamSlot wx_{}, bx_{}, wh_{}, bh_{};
};

/// Bidirectional GRU over the rows of each segment of a ragged batch (segments =
/// sequences given by offsets, as in DeepSet::forward): the forward cell reads a
/// segment's rows first to last, the backward cell last to first, each from the
/// zero state (choice). Output row i = [forward state after row i, backward state
/// after row i] (width 2H). Sequences never mix: the time steps of all segments are
/// batched (step t runs every segment longer than t in one product), so a segment's
/// output does not depend on the others. Backward runs through time.
template <Scalar T>
class BiGru {
public:
    /// Forward values for backward plus scratch; reuse one per thread. After the first
    /// call with given sizes, forward + backward allocate nothing.
    struct Cache {
        std::vector<Index> offsets;     ///< the segments of the forward call
        std::vector<Index> active;      ///< step t's segments: active[step_begin[t] .. step_begin[t+1])
        std::vector<Index> step_begin;  ///< max length + 1 entries
        std::array<MatrixX<T>, 2> gx;   ///< per direction: input gates of every row (total x 3H)
        /// Per direction and time step t: the cell's cache and the gathered previous
        /// states of the segments longer than t (zero at t = 0).
        std::array<std::vector<typename GruCell<T>::Cache>, 2> steps;
        std::array<std::vector<MatrixX<T>>, 2> prev;
        /// Per time step (shared by the directions, which gather the same number of
        /// rows): gathered input gates and gradients. Kept per step so that no buffer
        /// changes size, and so allocates, between steps.
        std::vector<MatrixX<T>> sx, sg;
        MatrixX<T> out;                 ///< total x 2H
        MatrixX<T> carry;               ///< backward: dL/d(state of row) from the next time step
        MatrixX<T> dgx;                 ///< backward: dL/d(input gates), total x 3H
        MatrixX<T> dx2;                 ///< backward: the second direction's dL/dx
        /// The layer's output (total x 2H) of the last forward call.
        const MatrixX<T>& output() const { return out; }
    };

    BiGru() = default;
    /// `in` input columns, `hidden` = H per direction. Slots name.fwd.* and name.bwd.*.
    BiGru(ParamLayout& layout, const std::string& name, Index in, Index hidden)
        : cells_{GruCell<T>(layout, name + ".fwd", in, hidden), GruCell<T>(layout, name + ".bwd", in, hidden)} {}
    Index in_dim() const { return cells_[0].in_dim(); }
    Index hidden_dim() const { return cells_[0].hidden_dim(); }
    /// 2H: [forward, backward] states.
    Index out_dim() const { return 2 * cells_[0].hidden_dim(); }
    const GruCell<T>& forward_cell() const { return cells_[0]; }
    const GruCell<T>& backward_cell() const { return cells_[1]; }

    void init(VectorX<T>& theta, Rng& rng) const {
        cells_[0].init(theta, rng);
        cells_[1].init(theta, rng);
    }

    /// Runs both directions over the stacked rows `x` (total x in_dim()) of the
    /// sequences given by `offsets` (B + 1 entries, offsets[0] = 0, offsets[B] =
    /// x.rows()). Returns cache.output() (total x 2H).
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x,
                              std::span<const Index> offsets, Cache& c) const {
        detail::check_segment_offsets(offsets, x.rows());
        detail::require(x.cols() == in_dim(), "x", kNone, [&] {
            return "has " + std::to_string(x.cols()) + " columns but the GRU takes " + std::to_string(in_dim());
        });
        c.offsets.assign(offsets.begin(), offsets.end());
        schedule(c);
        const Index h = hidden_dim(), steps = max_len(c);
        c.out.resize(x.rows(), 2 * h);
        if (static_cast<Index>(c.sx.size()) < steps) {
            c.sx.resize(static_cast<std::size_t>(steps));
            c.sg.resize(static_cast<std::size_t>(steps));
        }
        for (int d = 0; d < 2; ++d) {
            const std::size_t dd = static_cast<std::size_t>(d);
            const GruCell<T>& cell = cells_[dd];
            cell.input_gates(theta, x, c.gx[dd]);
            if (static_cast<Index>(c.steps[dd].size()) < steps) {
                c.steps[dd].resize(static_cast<std::size_t>(steps));
                c.prev[dd].resize(static_cast<std::size_t>(steps));
            }
            for (Index t = 0; t < steps; ++t) {
                const std::size_t tt = static_cast<std::size_t>(t);
                const Index a0 = c.step_begin[tt], na = c.step_begin[tt + 1] - a0;
                MatrixX<T>& sx = c.sx[tt];
                MatrixX<T>& prev = c.prev[dd][tt];
                sx.resize(na, 3 * h);
                prev.resize(na, h);
                for (Index a = 0; a < na; ++a) {
                    const Index row = row_at(c, d, t, c.active[static_cast<std::size_t>(a0 + a)]);
                    sx.row(a) = c.gx[dd].row(row);
                    if (t == 0)
                        prev.row(a).setZero();
                    else
                        prev.row(a) = c.out.block(prev_row(d, row), d * h, 1, h);
                }
                const MatrixX<T>& next = cell.step(theta, sx, prev, c.steps[dd][tt]);
                for (Index a = 0; a < na; ++a)
                    c.out.block(row_at(c, d, t, c.active[static_cast<std::size_t>(a0 + a)]), d * h, 1, h) = next.row(a);
            }
        }
        return c.out;
    }

    /// Given dL/d(output) (`d_out`, total x 2H), ADDS the parameter gradient into
    /// `grad` and writes dL/dx into *dx when given. `x` is the forward call's input.
    /// Writes only the cache's backward scratch, so it may be called again.
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c,
                  const Eigen::Ref<const MatrixX<T>>& d_out, VectorX<T>& grad, MatrixX<T>* dx) const {
        const Index total = c.out.rows(), h = hidden_dim(), steps = max_len(c);
        detail::require(x.rows() == total && x.cols() == in_dim(), "x", kNone, "must be the forward call's input");
        detail::require(d_out.rows() == total && d_out.cols() == 2 * h, "d_out", kNone,
                        "must be rows x 2 * hidden of the forward call");
        for (int d = 0; d < 2; ++d) {
            const std::size_t dd = static_cast<std::size_t>(d);
            const GruCell<T>& cell = cells_[dd];
            c.carry.resize(total, h);
            c.carry.setZero();
            c.dgx.resize(total, 3 * h);  // every row belongs to exactly one step: fully written below
            for (Index t = steps; t-- > 0;) {
                const std::size_t tt = static_cast<std::size_t>(t);
                const Index a0 = c.step_begin[tt], na = c.step_begin[tt + 1] - a0;
                MatrixX<T>& sg = c.sg[tt];
                sg.resize(na, h);
                for (Index a = 0; a < na; ++a) {
                    const Index row = row_at(c, d, t, c.active[static_cast<std::size_t>(a0 + a)]);
                    sg.row(a) = d_out.block(row, d * h, 1, h) + c.carry.row(row);
                }
                typename GruCell<T>::Cache& sc = c.steps[dd][tt];
                // dL/d(previous state) overwrites sg in place (step_backward allows it).
                cell.step_backward(theta, c.prev[dd][tt], sc, sg, grad, t > 0 ? &sg : nullptr);
                for (Index a = 0; a < na; ++a) {
                    const Index row = row_at(c, d, t, c.active[static_cast<std::size_t>(a0 + a)]);
                    c.dgx.row(row) = sc.dgx.row(a);
                    if (t > 0) c.carry.row(prev_row(d, row)) = sg.row(a);
                }
            }
            MatrixX<T>* target = dx == nullptr ? nullptr : (d == 0 ? dx : &c.dx2);
            cell.input_gates_backward(theta, x, c.dgx, grad, target);
            if (dx != nullptr && d == 1) *dx += c.dx2;
        }
    }

private:
    // Lists, for every time step t, the segments longer than t (in segment order).
    static void schedule(Cache& c) {
        c.active.clear();
        c.step_begin.clear();
        const Index segments = static_cast<Index>(c.offsets.size()) - 1;
        for (Index t = 0;; ++t) {
            c.step_begin.push_back(static_cast<Index>(c.active.size()));
            for (Index b = 0; b < segments; ++b)
                if (c.offsets[static_cast<std::size_t>(b) + 1] - c.offsets[static_cast<std::size_t>(b)] > t)
                    c.active.push_back(b);
            if (static_cast<Index>(c.active.size()) == c.step_begin.back()) break;  // no segment longer than t
        }
    }
    static Index max_len(const Cache& c) { return static_cast<Index>(c.step_begin.size()) - 1; }
    // The row segment b reads at time step t in direction d (0: first to last, 1: last to first).
    static Index row_at(const Cache& c, int d, Index t, Index b) {
        return d == 0 ? c.offsets[static_cast<std::size_t>(b)] + t : c.offsets[static_cast<std::size_t>(b) + 1] - 1 - t;
    }
    // The row read one time step earlier (whose state feeds this row's step).
    static Index prev_row(int d, Index row) { return d == 0 ? row - 1 : row + 1; }

    std::array<GruCell<T>, 2> cells_{};
};

}  // namespace diffauction
