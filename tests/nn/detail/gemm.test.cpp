// The register-blocked product behind the layers (nn/detail/gemm.hpp) against Eigen's
// product, over shapes that exercise every row tile (1..6 and remainders), whole
// and partial packets, column panels (large k) and leading dimensions wider than n.
#include <catch2/catch.hpp>

#include <diffauction/nn/detail/gemm.hpp>

#include "support/gradcheck.hpp"

using namespace diffauction;
using detail::GemmInit;

namespace {
template <class T>
MatrixX<T> random_of(Rng& rng, Index rows, Index cols) {
    return test::random_matrix(rng, rows, cols).template cast<T>();
}

template <class T>
void check_shapes(T tol) {
    Rng rng(2024);
    const Index ms[] = {1, 2, 5, 6, 7, 13, 30};
    const Index ns[] = {1, 3, 4, 8, 9, 16, 17, 33, 100};
    const Index ks[] = {0, 1, 5, 18, 700};  // 700: several column panels
    for (Index m : ms)
        for (Index n : ns)
            for (Index k : ks) {
                INFO("m " << m << " n " << n << " k " << k);
                // Operands inside wider buffers: leading dimensions > the used width.
                const MatrixX<T> xbuf = random_of<T>(rng, m, k + 3), wbuf = random_of<T>(rng, k, n + 5);
                const MatrixX<T> bcol = random_of<T>(rng, 1, n), brow = random_of<T>(rng, m, 1);
                const MatrixX<T> x = xbuf.leftCols(k), w = wbuf.leftCols(n);
                MatrixX<T> y = MatrixX<T>::Constant(m, n + 2, T(99)), want;
                const T* xp = k > 0 ? xbuf.data() : nullptr;
                const T* wp = k > 0 ? wbuf.data() : nullptr;

                want = x * w;
                detail::gemm<T, GemmInit::zero>(m, n, k, {xp, k + 3}, wp, n + 5, nullptr, y.data(), n + 2);
                CHECK((y.leftCols(n) - want).cwiseAbs().maxCoeff() <= tol * (1 + static_cast<T>(k)));
                CHECK((y.rightCols(2).array() == T(99)).all());  // nothing beyond n is written

                want = (x * w).rowwise() + bcol.row(0);
                detail::gemm<T, GemmInit::column_bias>(m, n, k, {xp, k + 3}, wp, n + 5, bcol.data(), y.data(), n + 2);
                CHECK((y.leftCols(n) - want).cwiseAbs().maxCoeff() <= tol * (1 + static_cast<T>(k)));

                want = (x * w).colwise() + brow.col(0);
                detail::gemm<T, GemmInit::row_bias>(m, n, k, {xp, k + 3}, wp, n + 5, brow.data(), y.data(), n + 2,
                                                   detail::EluEpilogue{});
                const MatrixX<T> elu = (want.array().max(T(0)) + want.array().min(T(0)).exp() - T(1)).matrix();
                CHECK((y.leftCols(n) - elu).cwiseAbs().maxCoeff() <= tol * (1 + static_cast<T>(k)));

                // y += xᵀ·w with x read transposed in place (GemmLhs strides {1, ld}).
                const MatrixX<T> xtbuf = random_of<T>(rng, k, m + 2);
                const MatrixX<T> y0 = random_of<T>(rng, m, n);
                want = y0 + xtbuf.leftCols(m).transpose() * w;
                MatrixX<T> acc = y0;
                detail::gemm<T, GemmInit::output>(m, n, k, {k > 0 ? xtbuf.data() : nullptr, 1, m + 2}, wp, n + 5,
                                                  nullptr, acc.data(), n);
                CHECK((acc - want).cwiseAbs().maxCoeff() <= tol * (1 + static_cast<T>(k)));
            }
}
}  // namespace

TEST_CASE("gemm: equals Eigen's product for every tile shape, bias kind and leading dimension", "[nn][gemm]") {
    SECTION("double") { check_shapes<double>(1e-13); }
    SECTION("float") { check_shapes<float>(1e-5f); }
}

TEST_CASE("gemm: a row's result does not depend on the other rows of the call (bit for bit)", "[nn][gemm]") {
    Rng rng(7);
    const Index k = 18, n = 37;
    const MatrixX<float> x = random_of<float>(rng, 31, k), w = random_of<float>(rng, k, n), b = random_of<float>(rng, 1, n);
    MatrixX<float> all(31, n), one(1, n);
    detail::gemm<float, GemmInit::column_bias>(31, n, k, {x.data(), k}, w.data(), n, b.data(), all.data(), n,
                                              detail::EluEpilogue{});
    for (Index i = 0; i < 31; ++i) {
        detail::gemm<float, GemmInit::column_bias>(1, n, k, {x.data() + i * k, k}, w.data(), n, b.data(), one.data(), n,
                                                  detail::EluEpilogue{});
        CHECK((one.row(0).array() == all.row(i).array()).all());
    }
}
