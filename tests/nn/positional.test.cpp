#include <catch2/catch.hpp>

#include <diffauction/nn/attention.hpp>
#include <diffauction/nn/positional.hpp>

#include <array>

#include "attention_support.hpp"
#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

TEST_CASE("PositionalEncoding: hand-worked table", "[nn][positional]") {
    // dim 4: PE(pos) = (sin pos, cos pos, sin(pos/100), cos(pos/100)) since 10000^(2/4) = 100.
    const PositionalEncoding<double> pe(4, 8);
    CHECK(pe.dim() == 4);
    CHECK(pe.max_len() == 8);
    MatrixX<double> expected(3, 4);
    expected << 0, 1, 0, 1,                                        //
        0.8414709848, 0.5403023059, 0.0099998333, 0.9999500004,  //
        0.9092974268, -0.4161468365, 0.0199986667, 0.9998000067;
    CHECK((pe.table().topRows(3) - expected).cwiseAbs().maxCoeff() < 1e-10);
    // Odd width 3: the last column is a sine with frequency 10000^(-2/3) = 1/464.1588834.
    const PositionalEncoding<double> odd(3, 4);
    CHECK(odd.table()(1, 0) == Approx(0.8414709848).epsilon(1e-9));
    CHECK(odd.table()(1, 1) == Approx(0.5403023059).epsilon(1e-9));
    CHECK(odd.table()(1, 2) == Approx(0.0021544330).epsilon(1e-7));
    CHECK(odd.table()(0, 2) == 0.0);
    // float rounds the double table.
    const PositionalEncoding<float> pf(4, 8);
    CHECK((pf.table().cast<double>() - pe.table()).cwiseAbs().maxCoeff() < 1e-7);
}

TEST_CASE("PositionalEncoding: positions restart in every segment", "[nn][positional]") {
    Rng rng(701);
    const PositionalEncoding<double> pe(4, 8);
    const std::array<Index, 4> off{0, 2, 2, 5};  // n = 2, 0, 3
    const MatrixX<double> x = test::random_matrix(rng, 5, 4);
    MatrixX<double> y;
    pe.forward(x, off, y);
    const MatrixX<double> d = y - x;
    CHECK((d.row(0) - pe.table().row(0)).norm() < 1e-15);
    CHECK((d.row(1) - pe.table().row(1)).norm() < 1e-15);
    CHECK((d.row(2) - pe.table().row(0)).norm() < 1e-15);
    CHECK((d.row(3) - pe.table().row(1)).norm() < 1e-15);
    CHECK((d.row(4) - pe.table().row(2)).norm() < 1e-15);
    // add_to and the in-place forward (y = x) agree.
    MatrixX<double> inplace = x;
    pe.add_to(inplace, off);
    CHECK((inplace - y).norm() == 0.0);
    MatrixX<double> same = x;
    pe.forward(same, off, same);
    CHECK((same - y).norm() == 0.0);
}

TEST_CASE("PositionalEncoding: backward is the identity (checked numerically)", "[nn][positional][grad]") {
    Rng rng(702);
    const PositionalEncoding<double> pe(5, 16);
    const std::array<Index, 3> off{0, 3, 7};
    const MatrixX<double> x = test::random_matrix(rng, 7, 5), r = test::random_matrix(rng, 7, 5);
    auto loss = [&](const Eigen::VectorXd& v) {
        MatrixX<double> y;
        pe.forward(test::unflatten(v, 7, 5), off, y);
        return (y.array().sin() * r.array()).sum();  // nonlinear in y, so the added PE matters
    };
    MatrixX<double> y, dy, dx;
    pe.forward(x, off, y);
    dy = (y.array().cos() * r.array()).matrix();
    pe.backward(dy, dx);
    CHECK((dx - dy).norm() == 0.0);
    CHECK(test::relative_error(test::flatten(dx), test::numeric_gradient(loss, test::flatten(x))) < kGradTol);
}

TEST_CASE("PositionalEncoding: breaks the permutation equivariance of self-attention", "[nn][positional]") {
    // Why sets take none: with PE, attention sees the order of the rows.
    Rng rng(703);
    ParamLayout layout;
    MultiHeadAttention<double> mha(layout, "mha", 4, 2);
    Eigen::VectorXd theta(layout.size());
    mha.init(theta, rng);
    const PositionalEncoding<double> pe(4, 8);
    const std::array<Index, 2> off{0, 3};
    const MatrixX<double> x = test::random_matrix(rng, 3, 4);
    const std::array<Index, 3> perm{2, 0, 1};
    auto run = [&](const MatrixX<double>& in) {
        MatrixX<double> e;
        pe.forward(in, off, e);
        MultiHeadAttention<double>::Cache c;
        return MatrixX<double>(mha.forward(theta, e, off, c));
    };
    const MatrixX<double> y = run(x), yp = run(test::permute_rows(x, 0, perm));
    CHECK((yp - test::permute_rows(y, 0, perm)).norm() > 1e-3);
}

TEST_CASE("PositionalEncoding: no allocation after the first call", "[nn][positional][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    Rng rng(704);
    const PositionalEncoding<float> pe(32, 64);
    const std::array<Index, 4> off{0, 30, 31, 61};
    const MatrixX<float> x = test::random_matrix(rng, 61, 32).cast<float>();
    MatrixX<float> y, dx;
    pe.forward(x, off, y);
    pe.backward(y, dx);
    const long before = test::allocations();
    for (int i = 0; i < 3; ++i) {
        pe.forward(x, off, y);
        pe.add_to(y, off);
        pe.backward(y, dx);
    }
    CHECK(test::allocations() == before);
}

TEST_CASE("PositionalEncoding: bad input is an input_error", "[nn][positional][validate]") {
    Rng rng(705);
    const PositionalEncoding<double> pe(4, 3);
    MatrixX<double> y;
    const std::array<Index, 2> too_long{0, 4};
    CHECK_THROWS_AS(pe.forward(test::random_matrix(rng, 4, 4), too_long, y), input_error);
    const std::array<Index, 3> ok{0, 2, 4};
    CHECK_NOTHROW(pe.forward(test::random_matrix(rng, 4, 4), ok, y));
    CHECK_THROWS_AS(pe.forward(test::random_matrix(rng, 4, 5), ok, y), input_error);
    const std::array<Index, 3> short_end{0, 2, 3};
    CHECK_THROWS_AS(pe.forward(test::random_matrix(rng, 4, 4), short_end, y), input_error);
    MatrixX<double> inplace = test::random_matrix(rng, 4, 4);
    CHECK_THROWS_AS(pe.add_to(inplace, too_long), input_error);
    MatrixX<double> dx;
    CHECK_THROWS_AS(pe.backward(test::random_matrix(rng, 4, 3), dx), input_error);
    CHECK_THROWS_AS(PositionalEncoding<double>(0), input_error);
    CHECK_THROWS_AS(PositionalEncoding<double>(4, 0), input_error);
    CHECK_THROWS_AS(PositionalEncoding<double>(4, 8, 1.0), input_error);
}
