// diffauction/nn/gemm.hpp - the small dense product behind every layer's forward
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

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "diffauction/core/types.hpp"

namespace diffauction::detail {

/// Where the bias of `gemm` lives: none, one per output column (a dense layer), or
/// one per output row (the MIN-MAX scorer's units, computed transposed).
enum class GemmBias { none, per_column, per_row };

/// Epilogue applied to each finished output value (packets and scalars alike).
struct IdentityEpilogue {
    template <class V>
    V operator()(const V& v) const {
        return v;
    }
};
/// ELU (alpha = 1) as max(v, 0) + exp(min(v, 0)) - 1, the form nn/activation.hpp uses.
struct EluEpilogue {
    template <class V>
    V operator()(const V& v) const {
        namespace ei = Eigen::internal;
        using S = typename ei::unpacket_traits<V>::type;
        if constexpr (std::is_same_v<V, S>) {
            return std::max(v, S(0)) + std::exp(std::min(v, S(0))) - S(1);
        } else {
            const V zero = ei::pset1<V>(S(0));
            return ei::psub(ei::padd(ei::pmax(v, zero), ei::pexp(ei::pmin(v, zero))), ei::pset1<V>(S(1)));
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
template <class T, int R, int C, GemmBias B, class E>
inline void tile(Index k, const T* x, Index ldx, const T* w, Index ldw, const T* bias, T* y, Index ldy, const E& ep) {
    using P = Packet<T>;
    constexpr Index PS = kPacket<T>;
    P acc[R][C];
    for (int c = 0; c < C; ++c)
        for (int r = 0; r < R; ++r) {
            if constexpr (B == GemmBias::per_column)
                acc[r][c] = ei::ploadu<P>(bias + c * PS);
            else if constexpr (B == GemmBias::per_row)
                acc[r][c] = ei::pset1<P>(bias[r]);
            else
                acc[r][c] = ei::pset1<P>(T(0));
        }
    for (Index p = 0; p < k; ++p) {
        P wv[C];
        for (int c = 0; c < C; ++c) wv[c] = ei::ploadu<P>(w + p * ldw + c * PS);
        for (int r = 0; r < R; ++r) {
            const P xv = ei::pset1<P>(x[r * ldx + p]);
            for (int c = 0; c < C; ++c) acc[r][c] = ei::pmadd(xv, wv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) ei::pstoreu(y + r * ldy + c * PS, ep(acc[r][c]));
}

template <class T, int C, GemmBias B, class E>
inline void tile_rows(Index rows, Index k, const T* x, Index ldx, const T* w, Index ldw, const T* bias, T* y,
                      Index ldy, const E& ep) {
    switch (rows) {
        case 1: tile<T, 1, C, B>(k, x, ldx, w, ldw, bias, y, ldy, ep); break;
        case 2: tile<T, 2, C, B>(k, x, ldx, w, ldw, bias, y, ldy, ep); break;
        case 3: tile<T, 3, C, B>(k, x, ldx, w, ldw, bias, y, ldy, ep); break;
        case 4: tile<T, 4, C, B>(k, x, ldx, w, ldw, bias, y, ldy, ep); break;
        case 5: tile<T, 5, C, B>(k, x, ldx, w, ldw, bias, y, ldy, ep); break;
        default: tile<T, 6, C, B>(k, x, ldx, w, ldw, bias, y, ldy, ep); break;
    }
}
}  // namespace gemm_impl

/// y = ep(x · w + bias) with x (m x k, leading dimension ldx), w (k x n, ldw) and
/// y (m x n, ldy) row-major. `bias` has n entries (per_column), m entries (per_row)
/// or is ignored (none). y must not overlap x, w or bias. Allocates nothing.
/// Columns beyond the last whole packet (n mod the packet size) take a scalar path;
/// pad n to a multiple of `gemm_packet<T>()` where every column must take the same one.
template <Scalar T, GemmBias B, class E = IdentityEpilogue>
void gemm(Index m, Index n, Index k, const T* x, Index ldx, const T* w, Index ldw, const T* bias, T* y, Index ldy,
          const E& ep = {}) {
    using namespace gemm_impl;
    constexpr Index PS = kPacket<T>;
    // Column panels whose slice of w (k x panel) stays in L1 (16 KiB) across row tiles.
    const Index fit = std::max<Index>(2 * PS, (Index{16384} / static_cast<Index>(sizeof(T))) / std::max<Index>(k, 1));
    const Index panel = std::max<Index>(2 * PS, fit / (2 * PS) * (2 * PS));
    for (Index j0 = 0; j0 < n; j0 += panel) {
        const Index j1 = std::min(n, j0 + panel);
        for (Index i = 0; i < m; i += kMaxRows) {
            const Index rows = std::min(kMaxRows, m - i);
            const T* xi = x + i * ldx;
            T* yi = y + i * ldy;
            const T* bias_i = B == GemmBias::per_row ? bias + i : bias;
            Index j = j0;
            for (; j + 2 * PS <= j1; j += 2 * PS)
                tile_rows<T, 2, B>(rows, k, xi, ldx, w + j, ldw, B == GemmBias::per_column ? bias + j : bias_i,
                                   yi + j, ldy, ep);
            for (; j + PS <= j1; j += PS)
                tile_rows<T, 1, B>(rows, k, xi, ldx, w + j, ldw, B == GemmBias::per_column ? bias + j : bias_i,
                                   yi + j, ldy, ep);
            for (; j < j1; ++j)
                for (Index r = 0; r < rows; ++r) {
                    T s = B == GemmBias::per_column ? bias[j] : B == GemmBias::per_row ? bias_i[r] : T(0);
                    for (Index p = 0; p < k; ++p) s += xi[r * ldx + p] * w[p * ldw + j];
                    yi[r * ldy + j] = ep(s);
                }
        }
    }
}

/// The packet width (in scalars) `gemm` vectorises over.
template <Scalar T>
constexpr Index gemm_packet() {
    return gemm_impl::kPacket<T>;
}

}  // namespace diffauction::detail
