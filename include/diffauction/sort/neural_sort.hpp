// diffauction/sort/neural_sort.hpp - NeuralSort (Grover et al. 2019), SPEC §2:
// the first K rows of the relaxed (unimodal row-stochastic) permutation matrix of a
// score vector, per segment of a ragged batch, with its hand-written backward pass,
// plus the hard argsort it tends to as tau -> 0 (what serving uses).
//
// For one segment of n scores s:
//   A[j]      = sum_m |s_j - s_m|                  (O(n log n): sort + prefix sums)
//   P̂[k, :]   = softmax(((n + 1 - 2k) s - A) / tau),  k = 1..K  (row max subtracted)
// Row k is a soft one-hot of the k-th largest score. Only K = min(K, n) rows are
// ever computed: cost O(n log n + K n) per segment.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// The first K_b rows of every segment's relaxed permutation, stacked in one flat
/// buffer without padding: block b is a K_b x n_b ROW-MAJOR matrix (K_b = min(K, n_b),
/// row k-1 = soft one-hot of the k-th largest score of segment b) starting at
/// `block_offset(b)` (choice: one contiguous matrix per auction). A loss reads
/// `block(b)` as a matrix and writes its gradient into a TopKRows of the same shape
/// (`resize_like`), e.g. L = -Σ_b β[:K_b]ᵀ block(b) F_b.
template <Scalar T>
class TopKRows {
public:
    /// Number of segments B.
    Index segments() const { return static_cast<Index>(seg_.size()) - 1; }
    /// Rows of block b: min(K, n_b).
    Index rows(Index b) const { return std::min(k_, cols(b)); }
    /// Columns of block b: the segment's candidate count n_b.
    Index cols(Index b) const { return seg_[idx(b) + 1] - seg_[idx(b)]; }
    /// First candidate of segment b in the stacked score vector.
    Index segment_begin(Index b) const { return seg_[idx(b)]; }
    /// Start of block b in `values()`.
    Index block_offset(Index b) const { return blk_[idx(b)]; }
    /// The K requested (each block has min(K, n_b) rows).
    Index k() const { return k_; }

    Eigen::Map<MatrixX<T>> block(Index b) { return {values_.data() + block_offset(b), rows(b), cols(b)}; }
    Eigen::Map<const MatrixX<T>> block(Index b) const {
        return {values_.data() + block_offset(b), rows(b), cols(b)};
    }
    /// All blocks, back to back (Σ_b K_b n_b entries).
    VectorX<T>& values() { return values_; }
    const VectorX<T>& values() const { return values_; }

    /// Shapes the buffer for segments `offsets` (B + 1 entries) and K. Allocates only
    /// when the shape grows past what it has held; contents are unspecified after.
    void resize(std::span<const Index> offsets, Index k) {
        k_ = k;
        seg_.assign(offsets.begin(), offsets.end());
        blk_.resize(seg_.size());
        blk_[0] = 0;
        for (std::size_t b = 0; b + 1 < seg_.size(); ++b) {
            const Index n = seg_[b + 1] - seg_[b];
            blk_[b + 1] = blk_[b] + std::min(k, n) * n;
        }
        values_.resize(blk_.back());
    }
    /// Same shape as `other` (for a gradient buffer dP̂).
    void resize_like(const TopKRows& other) { resize(other.seg_, other.k_); }
    bool same_shape(const TopKRows& other) const { return k_ == other.k_ && seg_ == other.seg_; }
    void setZero() { values_.setZero(); }

private:
    static std::size_t idx(Index b) { return static_cast<std::size_t>(b); }
    std::vector<Index> seg_{0};
    std::vector<Index> blk_{0};
    VectorX<T> values_;
    Index k_ = 0;
};

/// What `neural_sort` leaves for `neural_sort_backward`, owned by the caller and
/// reused across calls (no allocation once it has held the largest batch).
/// `p` is the OUTPUT P̂; the other members are internal state.
template <Scalar T>
struct NeuralSortCache {
    TopKRows<T> p;             ///< the output: first K rows per segment (layout above)
    std::vector<Index> order;  ///< stacked: order[begin_b + r] = local index of the r-th largest score
    VectorX<T> sorted;         ///< stacked: the scores in that order, minus the segment max
    VectorX<T> a;              ///< stacked, candidate order: A_j (shift-invariant, from `sorted`)
    VectorX<T> scratch;        ///< backward: per-candidate dL/dA (sized by forward)
    T tau = T(1);
};

namespace detail {
/// Descending order of s[0..n), ties to the lower index; a strict total order, so
/// std::sort (which, unlike stable_sort, never allocates) is deterministic.
/// (choice, for speed) Float scores sort as packed keys, with no indirection in the
/// comparisons: each entry of `order` first holds the score's bits, mapped so that
/// integer order is descending score order (+0 and -0 equal), above the index, and
/// std::sort compares plain integers; the same order as the comparator, which
/// double (whose bits do not fit beside an index) still uses.
template <Scalar T, class S>
void argsort_descending(const S& s, Index* order, Index n) {
    if constexpr (std::is_same_v<T, float>) {
        if (n <= (Index{1} << 31)) {
            for (Index i = 0; i < n; ++i) {
                std::uint32_t u = std::bit_cast<std::uint32_t>(static_cast<float>(s[i]) + 0.0f);  // -0 -> +0
                u = (u & 0x80000000u) != 0 ? ~u : (u | 0x80000000u);  // unsigned order = float order
                // ~u: larger scores first; the low word breaks ties by index; the top bit
                // flipped so that signed order is the unsigned order.
                const std::uint64_t key = (static_cast<std::uint64_t>(~u) << 32) | static_cast<std::uint64_t>(i);
                order[i] = static_cast<Index>(key ^ (std::uint64_t{1} << 63));
            }
            std::sort(order, order + n);
            for (Index i = 0; i < n; ++i) order[i] = static_cast<Index>(static_cast<std::uint64_t>(order[i]) & 0xffffffffu);
            return;
        }
    }
    for (Index i = 0; i < n; ++i) order[i] = i;
    std::sort(order, order + n, [&](Index x, Index y) { return s[x] > s[y] || (s[x] == s[y] && x < y); });
}

/// The first k entries (k <= n) of argsort_descending's order of s[0..n): the k
/// largest scores, ties to the lower index, in O(k n) without sorting the rest
/// (for DNA's K L_ce targets).
template <Scalar T, class S>
void top_k_descending(const S& s, Index* order, Index n, Index k) {
    for (Index r = 0; r < k; ++r) {
        // The best entry strictly after the previous pick in the total order.
        Index best = kNone;
        for (Index i = 0; i < n; ++i) {
            if (r > 0) {
                const Index p = order[r - 1];
                if (!(s[i] < s[p] || (s[i] == s[p] && i > p))) continue;
            }
            if (best == kNone || s[i] > s[best]) best = i;  // strict: ties keep the lower index
        }
        order[r] = best;
    }
}

}  // namespace detail

/// Hard argsort (the τ -> 0 limit of NeuralSort, used in serving): `order[r]` is the
/// index of the (r+1)-th largest score; ties go to the lower index first (choice).
/// Resizes `order` (no allocation once its capacity suffices).
template <Scalar T>
void hard_argsort(const Eigen::Ref<const VectorX<T>>& s, std::vector<Index>& order) {
    for (Index i = 0; i < s.size(); ++i)
        detail::require(std::isfinite(s[i]), "scores", i, "must be finite");
    order.resize(static_cast<std::size_t>(s.size()));
    detail::argsort_descending<T>(s, order.data(), s.size());
}

/// Forward NeuralSort over a ragged batch: `scores` stacks the segments given by
/// `offsets` (B + 1 entries, offsets[0] = 0, offsets[B] = scores.size(); empty
/// segments allowed). Writes the first min(k, n_b) rows of each segment's relaxed
/// permutation into `cache.p` (see TopKRows) and what the backward pass needs into
/// the rest of `cache`. Throws input_error for tau <= 0 or non-finite, k < 1,
/// non-finite scores or bad offsets. Scale: P̂(c·s, c·τ) = P̂(s, τ) for c > 0.
template <Scalar T>
void neural_sort(const Eigen::Ref<const VectorX<T>>& scores, std::span<const Index> offsets, Index k, T tau,
                 NeuralSortCache<T>& cache) {
    detail::require(tau > T(0) && std::isfinite(tau), "tau", kNone, "must be finite and > 0");
    detail::require(k >= 1, "k", kNone, "must be >= 1");
    detail::check_segment_offsets(offsets, scores.size());
    for (Index i = 0; i < scores.size(); ++i)
        detail::require(std::isfinite(scores[i]), "scores", i, "must be finite");

    const Index total = scores.size();
    cache.tau = tau;
    cache.p.resize(offsets, k);
    cache.order.resize(static_cast<std::size_t>(total));
    cache.sorted.resize(total);
    cache.a.resize(total);
    cache.scratch.resize(total);
    const T inv_tau = T(1) / tau;

    for (Index b = 0; b < cache.p.segments(); ++b) {
        const Index o = cache.p.segment_begin(b), n = cache.p.cols(b);
        if (n == 0) continue;
        Index* order = cache.order.data() + o;
        const auto s = scores.segment(o, n);
        detail::argsort_descending<T>(s, order, n);
        // Shift by the max: A and every row's softmax are invariant to it, and it keeps
        // prefix sums small for large scores.
        const T c = s[order[0]];
        T total_sum = T(0);
        for (Index r = 0; r < n; ++r) {
            cache.sorted[o + r] = s[order[r]] - c;
            total_sum += cache.sorted[o + r];
        }
        // Descending u_0 >= u_1 >= ...: A(u_r) = Σ_{q<r}(u_q - u_r) + Σ_{q>r}(u_r - u_q).
        T prefix = T(0);
        for (Index r = 0; r < n; ++r) {
            const T u = cache.sorted[o + r];
            const T above = prefix - static_cast<T>(r) * u;
            const T below = static_cast<T>(n - 1 - r) * u - (total_sum - prefix - u);
            cache.a[o + order[r]] = above + below;
            prefix += u;
        }
        auto p = cache.p.block(b);
        const auto a = cache.a.segment(o, n);
        for (Index row = 0; row < p.rows(); ++row) {
            const T coef = static_cast<T>(n + 1 - 2 * (row + 1));
            auto pr = p.row(row);
            pr = ((coef * (s.array() - c) - a.array()) * inv_tau).matrix().transpose();
            const T mx = pr.maxCoeff();
            pr = (pr.array() - mx).exp().matrix();
            pr /= pr.sum();
        }
    }
}

/// One segment: `offsets` = {0, n}.
template <Scalar T>
void neural_sort(const Eigen::Ref<const VectorX<T>>& scores, Index k, T tau, NeuralSortCache<T>& cache) {
    const Index offsets[2] = {0, scores.size()};
    neural_sort<T>(scores, std::span<const Index>(offsets, 2), k, tau, cache);
}

/// Backward pass: given dL/dP̂ in `dp` (same shape as `cache.p`), ADDS dL/ds into
/// `ds` (the stacked score gradient, scores.size() entries). Includes both the direct
/// path (n+1-2k)s/τ and the A(s) path through ∂|s_j - s_m|/∂s_j = sign(s_j - s_m), in O(n) per
/// segment after the forward sort (O(K n) for the softmax rows). Ties: sign(0) = 0,
/// the zero subgradient of |·| at a tie (choice). Writes only `cache.scratch`, so it
/// may be called again on the same cache.
template <Scalar T>
void neural_sort_backward(NeuralSortCache<T>& cache, const TopKRows<T>& dp, Eigen::Ref<VectorX<T>> ds) {
    detail::require(dp.same_shape(cache.p), "dp", kNone, "must have the shape of the forward output");
    const Index total = static_cast<Index>(cache.order.size());
    detail::require(ds.size() == total, "ds", kNone, "must have one entry per score");
    const T inv_tau = T(1) / cache.tau;

    for (Index b = 0; b < cache.p.segments(); ++b) {
        const Index o = cache.p.segment_begin(b), n = cache.p.cols(b);
        if (n == 0) continue;
        const auto p = cache.p.block(b);
        const auto d = dp.block(b);
        auto g = cache.scratch.segment(o, n);  // g_j = Σ_k dz_kj / τ  (dL/dA_j = -g_j)
        g.setZero();
        auto dseg = ds.segment(o, n);
        for (Index row = 0; row < p.rows(); ++row) {
            const T coef = static_cast<T>(n + 1 - 2 * (row + 1));
            const T dot = p.row(row).dot(d.row(row));
            // dz = P ⊙ (dP - <P, dP>), scaled by 1/τ; z = (coef s - A)/τ.
            for (Index j = 0; j < n; ++j) {
                const T dz = p(row, j) * (d(row, j) - dot) * inv_tau;
                dseg[j] += coef * dz;
                g[j] += dz;
            }
        }
        // A path (∂A_j/∂s_j = Σ_m sign(s_j - s_m), ∂A_i/∂s_j = -sign(s_i - s_j) for i ≠ j):
        // dL/ds_j += -g_j Σ_m sign(s_j - s_m) - Σ_i g_i sign(s_j - s_i),
        // evaluated per tie group [lo, hi) of the descending order.
        const Index* order = cache.order.data() + o;
        const auto u = cache.sorted.segment(o, n);
        T g_total = T(0);
        for (Index j = 0; j < n; ++j) g_total += g[j];
        T g_above = T(0);  // Σ g over positions < lo (strictly larger scores)
        Index lo = 0;
        while (lo < n) {
            Index hi = lo + 1;
            T g_group = g[order[lo]];
            while (hi < n && u[hi] == u[lo]) g_group += g[order[hi++]];
            const T g_below = g_total - g_above - g_group;
            const T sign_count = static_cast<T>((n - hi) - lo);  // #smaller - #larger
            for (Index r = lo; r < hi; ++r) {
                const Index j = order[r];
                dseg[j] -= g[j] * sign_count + (g_below - g_above);
            }
            g_above += g_group;
            lo = hi;
        }
    }
}

}  // namespace diffauction
