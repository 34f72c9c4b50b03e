// diffauction/nn/detail/gemm.hpp - the small dense product behind every layer's forward
// pass: y = epilogue(x · w + bias) over row-major operands, register-blocked with
// Eigen's packet primitives (SSE, AVX, AVX-512 or NEON, whatever Eigen targets).
//
// Why not Eigen's own product: the layers multiply a few dozen rows (one auction's
// candidates) by weight matrices of a few thousand entries. Eigen's general product
// packs both operands on every call and reaches about a third of the machine's peak
// at these sizes; this kernel reads the operands in place and reached about twice
// that (BENCHMARKS.md). Large products (training batches) use it too: it walks the
// weights in L1-sized column panels.
#pragma once


#include <algorithm>
#include <cmath>
#include <type_traits>

#include "diffauction/core/types.hpp"

namespace diffauction::detail {

/// What `gemm` starts each output from: zero, a bias per output column (a dense
/// layer), a bias per output row (the MIN-MAX scorer's units, computed transposed),
/// or the output's current value (y += x · w, for gradients).
enum class GemmInit { zero, column_bias, row_bias, output };

/// The left operand of `gemm`: element (r, p) at data[r·row_stride + p·col_stride].
/// Row-major x is {x, ld, 1}; its transpose is {x, 1, ld} (broadcast loads need no
/// contiguity, so a transposed left operand costs nothing).
template <Scalar T>
struct GemmLhs {
    const T* data;
    Index row_stride;
    Index col_stride = 1;
};

/// Epilogue applied to each finished output value (packets and scalars alike).
struct IdentityEpilogue {
    template <class V>
    V operator()(const V& v) const {
        return v;
    }
};
namespace gemm_impl {
// e^x for float packets with x <= 0 (the ELU branch): Cody-Waite reduction
// x = n ln2 + r, |r| <= ln2/2, the Cephes degree-6 polynomial for e^r, and 2^n
// added straight into the exponent bits (n comes out of the low mantissa bits of
// x·log2e + 1.5·2^23). Relative error below 1e-7 over [-86, 0] (tested); x is
// clamped at -86 so that 2^n stays a normal number (e^-86 ≈ 4e-38: ELU is -1 to
// float precision long before). About twice as fast as Eigen's general pexp,
// which handles the whole range and dominated the fused ELU.
template <class P>
P exp_nonpositive(const P& x_in) {
    namespace ei = Eigen::internal;
    using PI = typename ei::unpacket_traits<P>::integer_packet;
    const P magic = ei::pset1<P>(12582912.0f);  // 1.5 · 2^23
    const P x = ei::pmax(x_in, ei::pset1<P>(-86.0f));
    const P t = ei::pmadd(x, ei::pset1<P>(1.44269504088896341f), magic);
    const P n = ei::psub(t, magic);
    P r = ei::pmadd(n, ei::pset1<P>(-0.693359375f), x);
    r = ei::pmadd(n, ei::pset1<P>(2.12194440e-4f), r);
    P p = ei::pset1<P>(1.9875691500e-4f);
    p = ei::pmadd(p, r, ei::pset1<P>(1.3981999507e-3f));
    p = ei::pmadd(p, r, ei::pset1<P>(8.3334519073e-3f));
    p = ei::pmadd(p, r, ei::pset1<P>(4.1665795894e-2f));
    p = ei::pmadd(p, r, ei::pset1<P>(1.6666665459e-1f));
    p = ei::pmadd(p, r, ei::pset1<P>(5.0000001201e-1f));
    p = ei::pmadd(p, ei::pmul(r, r), ei::padd(r, ei::pset1<P>(1.0f)));
    const PI e = ei::plogical_shift_left<23>(ei::preinterpret<PI>(t));
    return ei::preinterpret<P>(ei::padd(ei::preinterpret<PI>(p), e));
}
}  // namespace gemm_impl

/// ELU (alpha = 1) as max(v, 0) + exp(min(v, 0)) - 1, the form nn/activation.hpp
/// uses. Float packets take gemm_impl::exp_nonpositive (within 1e-7 relative of
/// Eigen's exp); scalars and double take the standard exp.
struct EluEpilogue {
    template <class V>
    V operator()(const V& v) const {
        namespace ei = Eigen::internal;
        using S = typename ei::unpacket_traits<V>::type;
        if constexpr (std::is_same_v<V, S>) {
            return std::max(v, S(0)) + std::exp(std::min(v, S(0))) - S(1);
        } else {
            const V zero = ei::pset1<V>(S(0));
            V e;
            if constexpr (std::is_same_v<S, float>)
                e = gemm_impl::exp_nonpositive(ei::pmin(v, zero));
            else
                e = ei::pexp(ei::pmin(v, zero));
            return ei::padd(ei::pmax(v, zero), ei::psub(e, ei::pset1<V>(S(1))));
        }
    }
};
/// ReLU: max(v, 0).
struct ReluEpilogue {
    template <class V>
    V operator()(const V& v) const {
        namespace ei = Eigen::internal;
        using S = typename ei::unpacket_traits<V>::type;
        if constexpr (std::is_same_v<V, S>)
            return std::max(v, S(0));
        else
            return ei::pmax(v, ei::pset1<V>(S(0)));
    }
};

namespace gemm_impl {
namespace ei = Eigen::internal;

template <class T>
using Packet = typename ei::packet_traits<T>::type;
template <class T>
inline constexpr Index kPacket = ei::unpacket_traits<Packet<T>>::size;
inline constexpr Index kMaxRows = 6;  // rows per register tile (6 x 2 packets: 12 accumulators)

// One tile: R rows x C packets of y, k terms each. Every output value is computed
// by the same sequence (bias, then one multiply-add per p in order), so a row's
// result does not depend on how many rows the call has: one auction gives the same
// bits alone or inside a batch.
// Where element (r, p) of the left operand lies: row-major (col_stride 1),
// transposed (row_stride 1) or general strides. The first two are compile-time
// cases so that the compiler keeps the row addresses as constant offsets.
enum class Lhs { row_major, transposed, strided };
template <Lhs L, class T>
inline const T& lhs_at(const T* x, Index xr, Index xc, Index r, Index p) {
    if constexpr (L == Lhs::row_major)
        return x[r * xr + p];
    else if constexpr (L == Lhs::transposed)
        return x[r + p * xc];
    else
        return x[r * xr + p * xc];
}

template <class T, int R, int C, GemmInit B, Lhs L, class E>
inline void tile(Index k, const T* x, Index xr, Index xc, const T* w, Index ldw, const T* bias, T* y, Index ldy,
                 const E& ep) {
    using P = Packet<T>;
    constexpr Index PS = kPacket<T>;
    P acc[R][C];
    for (int c = 0; c < C; ++c)
        for (int r = 0; r < R; ++r) {
            if constexpr (B == GemmInit::column_bias)
                acc[r][c] = ei::ploadu<P>(bias + c * PS);
            else if constexpr (B == GemmInit::output)
                acc[r][c] = ei::ploadu<P>(y + r * ldy + c * PS);
            else if constexpr (B == GemmInit::row_bias)
                acc[r][c] = ei::pset1<P>(bias[r]);
            else
                acc[r][c] = ei::pset1<P>(T(0));
        }
    for (Index p = 0; p < k; ++p) {
        P wv[C];
        for (int c = 0; c < C; ++c) wv[c] = ei::ploadu<P>(w + p * ldw + c * PS);
        for (int r = 0; r < R; ++r) {
            const P xv = ei::pset1<P>(lhs_at<L>(x, xr, xc, r, p));
            for (int c = 0; c < C; ++c) acc[r][c] = ei::pmadd(xv, wv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) ei::pstoreu(y + r * ldy + c * PS, ep(acc[r][c]));
}

template <class T, int C, GemmInit B, Lhs L, class E>
inline void tile_rows(Index rows, Index k, const T* x, Index xr, Index xc, const T* w, Index ldw, const T* bias, T* y,
                      Index ldy, const E& ep) {
    switch (rows) {
        case 1: tile<T, 1, C, B, L>(k, x, xr, xc, w, ldw, bias, y, ldy, ep); break;
        case 2: tile<T, 2, C, B, L>(k, x, xr, xc, w, ldw, bias, y, ldy, ep); break;
        case 3: tile<T, 3, C, B, L>(k, x, xr, xc, w, ldw, bias, y, ldy, ep); break;
        case 4: tile<T, 4, C, B, L>(k, x, xr, xc, w, ldw, bias, y, ldy, ep); break;
        case 5: tile<T, 5, C, B, L>(k, x, xr, xc, w, ldw, bias, y, ldy, ep); break;
        default: tile<T, 6, C, B, L>(k, x, xr, xc, w, ldw, bias, y, ldy, ep); break;
    }
}
}  // namespace gemm_impl

/// y = ep(init + x · w) with x (m x k, see GemmLhs), w (k x n, row-major, leading
/// dimension ldw) and y (m x n, row-major, ldy); init per GemmInit (`bias` has n
/// entries for column_bias, m for row_bias, and is ignored otherwise). y must not
/// overlap x, w or bias. Allocates nothing.
/// Columns beyond the last whole packet (n mod the packet size) take a scalar path;
/// pad n to a multiple of `gemm_packet<T>()` where every column must take the same one.
namespace gemm_impl {
template <Scalar T, GemmInit B, Lhs L, class E>
void gemm_block(Index m, Index n, Index k, GemmLhs<T> x, const T* w, Index ldw, const T* bias, T* y, Index ldy,
                const E& ep) {
    constexpr Index PS = kPacket<T>;
    // Column panels whose slice of w (k x panel) stays in L1 (16 KiB) across row tiles.
    const Index fit = std::max<Index>(2 * PS, (Index{16384} / static_cast<Index>(sizeof(T))) / std::max<Index>(k, 1));
    const Index panel = std::max<Index>(2 * PS, fit / (2 * PS) * (2 * PS));
    for (Index j0 = 0; j0 < n; j0 += panel) {
        const Index j1 = std::min(n, j0 + panel);
        for (Index i = 0; i < m; i += kMaxRows) {
            const Index rows = std::min(kMaxRows, m - i);
            const T* xi = x.data + i * x.row_stride;
            const Index xr = x.row_stride, xc = x.col_stride;
            T* yi = y + i * ldy;
            const T* bias_i = B == GemmInit::row_bias ? bias + i : bias;
            Index j = j0;
            for (; j + 2 * PS <= j1; j += 2 * PS)
                tile_rows<T, 2, B, L>(rows, k, xi, xr, xc, w + j, ldw, B == GemmInit::column_bias ? bias + j : bias_i,
                                   yi + j, ldy, ep);
            for (; j + PS <= j1; j += PS)
                tile_rows<T, 1, B, L>(rows, k, xi, xr, xc, w + j, ldw, B == GemmInit::column_bias ? bias + j : bias_i,
                                   yi + j, ldy, ep);
            for (; j < j1; ++j)
                for (Index r = 0; r < rows; ++r) {
                    T s = B == GemmInit::column_bias ? bias[j]
                          : B == GemmInit::row_bias  ? bias_i[r]
                          : B == GemmInit::output    ? yi[r * ldy + j]
                                                     : T(0);
                    for (Index p = 0; p < k; ++p) s += lhs_at<L>(xi, xr, xc, r, p) * w[p * ldw + j];
                    yi[r * ldy + j] = ep(s);
                }
        }
    }
}
}  // namespace gemm_impl

/// y = ep(init + x · w) with x (m x k, see GemmLhs), w (k x n, row-major, leading
/// dimension ldw) and y (m x n, row-major, ldy); init per GemmInit (`bias` has n
/// entries for column_bias, m for row_bias, and is ignored otherwise). y must not
/// overlap x, w or bias. Allocates nothing.
/// Columns beyond the last whole packet (n mod the packet size) take a scalar path;
/// pad n to a multiple of `gemm_packet<T>()` where every column must take the same one.
/// Long inner dimensions (gradients over a batch: k = rows of the batch) run in
/// blocks of 256 terms, each accumulated into y, so that the slices of x and w a
/// block reads stay in cache; the epilogue runs after the last block.
template <Scalar T, GemmInit B, gemm_impl::Lhs L, class E>
void gemm_layout(Index m, Index n, Index k, GemmLhs<T> x, const T* w, Index ldw, const T* bias, T* y, Index ldy,
                 const E& ep) {
    constexpr Index kBlock = 256;
    if (k <= kBlock) {
        gemm_impl::gemm_block<T, B, L>(m, n, k, x, w, ldw, bias, y, ldy, ep);
        return;
    }
    for (Index p0 = 0; p0 < k; p0 += kBlock) {
        const Index kb = std::min(kBlock, k - p0);
        const GemmLhs<T> xb{x.data + p0 * x.col_stride, x.row_stride, x.col_stride};
        const T* wb = w + p0 * ldw;
        const bool last = p0 + kb == k;
        if (p0 == 0)
            gemm_impl::gemm_block<T, B, L>(m, n, kb, xb, wb, ldw, bias, y, ldy, IdentityEpilogue{});
        else if (!last)
            gemm_impl::gemm_block<T, GemmInit::output, L>(m, n, kb, xb, wb, ldw, bias, y, ldy, IdentityEpilogue{});
        else
            gemm_impl::gemm_block<T, GemmInit::output, L>(m, n, kb, xb, wb, ldw, bias, y, ldy, ep);
    }
}

template <Scalar T, GemmInit B, class E = IdentityEpilogue>
void gemm(Index m, Index n, Index k, GemmLhs<T> x, const T* w, Index ldw, const T* bias, T* y, Index ldy,
          const E& ep = {}) {
    using gemm_impl::Lhs;
    if (x.col_stride == 1)
        gemm_layout<T, B, Lhs::row_major>(m, n, k, x, w, ldw, bias, y, ldy, ep);
    else if (x.row_stride == 1)
        gemm_layout<T, B, Lhs::transposed>(m, n, k, x, w, ldw, bias, y, ldy, ep);
    else
        gemm_layout<T, B, Lhs::strided>(m, n, k, x, w, ldw, bias, y, ldy, ep);
}

/// The packet width (in scalars) `gemm` vectorises over.
template <Scalar T>
constexpr Index gemm_packet() {
    return gemm_impl::kPacket<T>;
}

/// x[i] ← e^{scale·x[i]} for n entries with scale·x[i] <= 0 (softmax after the max is
/// subtracted): float goes through gemm_impl::exp_nonpositive a packet at a time
/// (inputs below -86 give e^-86 ≈ 4e-38 instead of a smaller number), other scalars
/// and the tail through std::exp.
template <class T>
void exp_scaled_nonpositive(T* x, Index n, T scale) {
    namespace ei = Eigen::internal;
    Index i = 0;
    if constexpr (std::is_same_v<T, float>) {
        using P = gemm_impl::Packet<float>;
        constexpr Index ps = gemm_impl::kPacket<float>;
        const P sc = ei::pset1<P>(scale);
        for (; i + ps <= n; i += ps) ei::pstoreu(x + i, gemm_impl::exp_nonpositive(ei::pmul(ei::ploadu<P>(x + i), sc)));
    }
    for (; i < n; ++i) x[i] = std::exp(x[i] * scale);
}

}  // namespace diffauction::detail
