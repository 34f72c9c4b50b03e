// diffauction/nn/positional.hpp - the sinusoidal positional encoding of Vaswani et
// al. (2017) for sequences in a ragged batch (SPEC §2):
//
//   PE(pos, 2i) = sin(pos / base^(2i/dim)),   PE(pos, 2i+1) = cos(pos / base^(2i/dim))
//
// added to each row by its position within its segment (pos = 0 for a segment's
// first row). It has no parameters and its backward pass is the identity. It is
// optional and for sequences only: sets (auction candidates) take none, which keeps
// self-attention permutation equivariant (SPEC §2, §4.2).
#pragma once

#include <cmath>
#include <span>
#include <string>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// Sinusoidal positional encoding of width `dim` (odd widths allowed: the last column
/// is a sine) for positions 0 .. max_len - 1, tabulated once at construction (in
/// double, then rounded to T) so that forward is one vectorised addition per segment.
/// base = 10000 as in the original transformer. A segment longer than max_len is an
/// input_error (never wrapped or clamped).
template <Scalar T>
class PositionalEncoding {
public:
    PositionalEncoding() = default;
    explicit PositionalEncoding(Index dim, Index max_len = 512, double base = 10000.0) {
        detail::require(dim > 0 && max_len > 0, "PositionalEncoding", kNone, "needs dim > 0 and max_len > 0");
        detail::require(base > 1.0, "base", kNone, "must be > 1");
        table_.resize(max_len, dim);
        for (Index k = 0; k < dim; ++k) {
            const double freq = std::pow(base, -static_cast<double>(k - k % 2) / static_cast<double>(dim));
            for (Index pos = 0; pos < max_len; ++pos) {
                const double angle = static_cast<double>(pos) * freq;
                table_(pos, k) = static_cast<T>(k % 2 == 0 ? std::sin(angle) : std::cos(angle));
            }
        }
    }
    Index dim() const { return table_.cols(); }
    Index max_len() const { return table_.rows(); }
    /// The tabulated encodings: row pos is PE(pos, .).
    const MatrixX<T>& table() const { return table_; }

    /// y = x + PE(position of the row within its segment); `offsets` as in every set
    /// operation (B + 1 entries). y may be x itself. Resizes y (no allocation once it fits).
    void forward(const Eigen::Ref<const MatrixX<T>>& x, std::span<const Index> offsets, MatrixX<T>& y) const {
        check(x.rows(), x.cols(), offsets);
        y.resize(x.rows(), x.cols());
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
            const Index o = offsets[b], n = offsets[b + 1] - o;
            y.middleRows(o, n) = x.middleRows(o, n) + table_.topRows(n);
        }
    }
    /// Adds the encoding to x in place.
    void add_to(Eigen::Ref<MatrixX<T>> x, std::span<const Index> offsets) const {
        check(x.rows(), x.cols(), offsets);
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
            const Index o = offsets[b], n = offsets[b + 1] - o;
            x.middleRows(o, n) += table_.topRows(n);
        }
    }
    /// dL/dx = dL/dy: the encoding does not depend on x. *dx may be d_out itself.
    void backward(const Eigen::Ref<const MatrixX<T>>& d_out, MatrixX<T>& dx) const {
        detail::require(d_out.cols() == dim(), "d_out", kNone, "must have dim columns");
        dx.resize(d_out.rows(), d_out.cols());
        dx = d_out;
    }

private:
    void check(Index rows, Index cols, std::span<const Index> offsets) const {
        detail::require(cols == dim(), "x", kNone, [&] {
            return "has " + std::to_string(cols) + " columns but the encoding has " + std::to_string(dim());
        });
        detail::check_segment_offsets(offsets, rows);
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b)
            detail::require(offsets[b + 1] - offsets[b] <= max_len(), "offsets", static_cast<Index>(b + 1), [&] {
                return "segment of " + std::to_string(offsets[b + 1] - offsets[b]) + " rows is longer than max_len " +
                       std::to_string(max_len());
            });
    }
    MatrixX<T> table_;
};

}  // namespace diffauction
