#include <catch2/catch.hpp>

#include <diffauction/nn/transformer.hpp>

#include <array>
#include <cmath>

#include "attention_support.hpp"
#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {
constexpr Index kDim = 4, kHeads = 2, kFfn = 3;
constexpr std::array<Index, 5> kOffsets{0, 1, 1, 3, 8};  // segments of n = 1, 0, 2, 5

struct Model {
    ParamLayout layout;
    TransformerBlock<double> block;
    Eigen::VectorXd theta;
    Model(Rng& rng, Activation act) : block(layout, "enc", kDim, kHeads, kFfn, act) {
        theta = test::random_vector(rng, layout.size(), 0.7);
    }
    MatrixX<double> run(const MatrixX<double>& x, std::span<const Index> offsets = kOffsets) const {
        TransformerBlock<double>::Cache c;
        return block.forward(theta, x, offsets, c);
    }
};
}  // namespace

TEST_CASE("TransformerBlock: hand-worked with the attention and FFN weights at zero", "[nn][transformer]") {
    // All weights 0, LayerNorm gains 1 and biases 0, eps = 0.5, FFN output bias c = (2, 2.5, 3, 4.5):
    // MHSA(x) = 0, so y1 = LN(x) and y = LN(y1 + c).
    // Row (1, 2, 3, 6): mean 3, variance 3.5, 1/sqrt(3.5 + 0.5) = 0.5 -> y1 = (-1, -0.5, 0, 1.5);
    //   y1 + c = (1, 2, 3, 6) again -> y = (-1, -0.5, 0, 1.5).
    // Row (8, 5, 4, 3): mean 5, deviations (3, 0, -1, -2), variance 3.5 -> y1 = (1.5, 0, -0.5, -1);
    //   y1 + c = (3.5, 2.5, 2.5, 3.5): mean 3, variance 0.25, 1/sqrt(0.75) -> y = (1, -1, -1, 1)/sqrt(3).
    ParamLayout layout;
    TransformerBlock<double> block(layout, "enc", 4, 2, 3, Activation::relu, 0.5);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(layout.size());
    block.norm1().init(theta);
    block.norm2().init(theta);
    MatrixX<double> c(1, 4);
    c << 2, 2.5, 3, 4.5;
    test::assign_dense(block.ffn2(), theta, MatrixX<double>::Zero(4, 3), c);
    MatrixX<double> x(2, 4);
    x << 1, 2, 3, 6,  //
        8, 5, 4, 3;
    const std::array<Index, 2> off{0, 2};
    TransformerBlock<double>::Cache cache;
    const MatrixX<double>& y = block.forward(theta, x, off, cache);
    const double s = 1.0 / std::sqrt(3.0);
    MatrixX<double> expected(2, 4);
    expected << -1, -0.5, 0, 1.5,  //
        s, -s, -s, s;
    CHECK((y - expected).cwiseAbs().maxCoeff() < 1e-15);
}

TEST_CASE("TransformerBlock: equals its parts composed by hand", "[nn][transformer]") {
    Rng rng(601);
    Model m(rng, Activation::elu);
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    MultiHeadAttention<double>::Cache ca;
    LayerNorm<double>::Cache c1, c2;
    const MatrixX<double> r1 = x + m.block.attention().forward(m.theta, x, kOffsets, ca);
    const MatrixX<double> y1 = m.block.norm1().forward(m.theta, r1, c1);
    MatrixX<double> z, h, f;
    m.block.ffn1().forward(m.theta, y1, z);
    h = (z.array().max(0.0) + z.array().min(0.0).exp() - 1.0).matrix();  // ELU
    m.block.ffn2().forward(m.theta, h, f);
    const MatrixX<double> r2 = y1 + f;
    const MatrixX<double> y = m.block.norm2().forward(m.theta, r2, c2);
    CHECK((m.run(x) - y).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("TransformerBlock: parameter and input gradients, accumulation, re-entrancy",
          "[nn][transformer][grad]") {
    for (Activation act : {Activation::relu, Activation::elu}) {
        INFO((act == Activation::relu ? "relu" : "elu"));
        Rng rng(602);
        Model m(rng, act);
        const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
        const MatrixX<double> r = test::random_matrix(rng, 8, kDim);
        TransformerBlock<double>::Cache c;
        m.block.forward(m.theta, x, kOffsets, c);
        // Away from the ReLU kink, so that central differences see one side only.
        CHECK(c.z.cwiseAbs().minCoeff() > 1e-3);
        const std::array<Index, 3> off2{0, 2, 6};
        test::check_segment_layer(m.block, m.theta, x, kOffsets, r, test::random_matrix(rng, 6, kDim), off2);
    }
}

TEST_CASE("TransformerBlock: two stacked blocks (EdgeNet's encoder) backpropagate through each other",
          "[nn][transformer][grad]") {
    Rng rng(603);
    ParamLayout layout;
    TransformerBlock<double> b1(layout, "enc0", kDim, kHeads, kFfn), b2(layout, "enc1", kDim, kHeads, kFfn);
    const Eigen::VectorXd theta = test::random_vector(rng, layout.size(), 0.7);
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim), r = test::random_matrix(rng, 8, kDim);
    auto loss = [&](const Eigen::VectorXd& th, const MatrixX<double>& xx) {
        TransformerBlock<double>::Cache c1, c2;
        const MatrixX<double>& h = b1.forward(th, xx, kOffsets, c1);
        return (b2.forward(th, h, kOffsets, c2).array() * r.array()).sum();
    };
    TransformerBlock<double>::Cache c1, c2;
    const MatrixX<double>& h = b1.forward(theta, x, kOffsets, c1);
    b2.forward(theta, h, kOffsets, c2);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> dh, dx;
    b2.backward(theta, c1.output(), c2, r, grad, &dh);
    b1.backward(theta, x, c1, dh, grad, &dx);
    CHECK(test::relative_error(grad, test::numeric_gradient(
                                         [&](const Eigen::VectorXd& th) { return loss(th, x); }, theta)) < kGradTol);
    CHECK(test::relative_error(
              test::flatten(dx),
              test::numeric_gradient([&](const Eigen::VectorXd& v) { return loss(theta, test::unflatten(v, 8, kDim)); },
                                     test::flatten(x))) < kGradTol);
}

TEST_CASE("TransformerBlock: permutation equivariant within a segment; segments independent",
          "[nn][transformer]") {
    Rng rng(604);
    Model m(rng, Activation::relu);
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const MatrixX<double> y = m.run(x);
    const std::array<Index, 5> perm{2, 4, 1, 0, 3};
    CHECK((m.run(test::permute_rows(x, 3, perm)) - test::permute_rows(y, 3, perm)).cwiseAbs().maxCoeff() < 1e-13);
    const std::array<Index, 2> swap{1, 0};
    CHECK((m.run(test::permute_rows(x, 1, swap)) - test::permute_rows(y, 1, swap)).cwiseAbs().maxCoeff() < 1e-13);
    MatrixX<double> xc = x;
    xc.bottomRows(5) = test::random_matrix(rng, 5, kDim);
    const MatrixX<double> yc = m.run(xc);
    CHECK((yc.topRows(3) - y.topRows(3)).norm() == 0.0);
    CHECK((yc.bottomRows(5) - y.bottomRows(5)).norm() > 1e-4);
    const MatrixX<double> r = test::random_matrix(rng, 8, kDim);
    TransformerBlock<double>::Cache c;
    Eigen::VectorXd g_all = Eigen::VectorXd::Zero(m.theta.size()), g_sum = g_all;
    m.block.forward(m.theta, x, kOffsets, c);
    m.block.backward(m.theta, x, c, r, g_all, nullptr);
    for (std::size_t b = 0; b + 1 < kOffsets.size(); ++b) {
        const Index o = kOffsets[b], n = kOffsets[b + 1] - o;
        const std::array<Index, 2> off{0, n};
        const MatrixX<double> xb = x.middleRows(o, n), rb = r.middleRows(o, n);
        if (n > 0) CHECK((m.run(xb, off) - y.middleRows(o, n)).cwiseAbs().maxCoeff() < 1e-14);
        m.block.forward(m.theta, xb, off, c);
        m.block.backward(m.theta, xb, c, rb, g_sum, nullptr);
    }
    CHECK((g_all - g_sum).norm() <= 1e-12 * g_all.norm());
}

TEST_CASE("TransformerBlock: float agrees with double", "[nn][transformer]") {
    Rng rng(605);
    Model m(rng, Activation::elu);
    ParamLayout layout;
    TransformerBlock<float> bf(layout, "enc", kDim, kHeads, kFfn, Activation::elu);
    const Eigen::VectorXf theta_f = m.theta.cast<float>();
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const MatrixX<float> xf = x.cast<float>();
    TransformerBlock<float>::Cache cf;
    CHECK((bf.forward(theta_f, xf, kOffsets, cf).cast<double>() - m.run(x)).cwiseAbs().maxCoeff() < 1e-4);
}

TEST_CASE("TransformerBlock: no allocation in forward + backward after the first call (EdgeNet sizes)",
          "[nn][transformer][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    Rng rng(606);
    ParamLayout layout;
    TransformerBlock<float> b1(layout, "enc0", 32, 4, 64), b2(layout, "enc1", 32, 4, 64, Activation::elu);
    Eigen::VectorXf theta(layout.size());
    b1.init(theta, rng);
    b2.init(theta, rng);
    const std::array<Index, 5> off{0, 30, 31, 60, 90};
    const MatrixX<float> x = test::random_matrix(rng, 90, 32).cast<float>();
    const MatrixX<float> r = test::random_matrix(rng, 90, 32).cast<float>();
    Eigen::VectorXf grad = Eigen::VectorXf::Zero(theta.size());
    MatrixX<float> dh, dx;
    TransformerBlock<float>::Cache c1, c2;
    auto step = [&] {
        b2.forward(theta, b1.forward(theta, x, off, c1), off, c2);
        b2.backward(theta, c1.output(), c2, r, grad, &dh);
        b1.backward(theta, x, c1, dh, grad, &dx);
    };
    step();
    const long before = test::allocations();
    for (int i = 0; i < 3; ++i) step();
    CHECK(test::allocations() == before);
}

TEST_CASE("TransformerBlock: bad input is an input_error", "[nn][transformer][validate]") {
    Rng rng(607);
    ParamLayout bad;
    CHECK_THROWS_AS(TransformerBlock<double>(bad, "a", 6, 4, 8), input_error);
    CHECK_THROWS_AS(TransformerBlock<double>(bad, "b", 4, 2, 0), input_error);
    CHECK_THROWS_AS(TransformerBlock<double>(bad, "c", 4, 2, 8, Activation::relu, 0.0), input_error);
    Model m(rng, Activation::relu);
    TransformerBlock<double>::Cache c;
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const std::array<Index, 3> short_end{0, 2, 7};
    CHECK_THROWS_AS(m.block.forward(m.theta, x, short_end, c), input_error);
    CHECK_THROWS_AS(m.block.forward(m.theta, test::random_matrix(rng, 8, kDim + 2), kOffsets, c), input_error);
    m.block.forward(m.theta, x, kOffsets, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta.size());
    CHECK_THROWS_AS(m.block.backward(m.theta, x, c, test::random_matrix(rng, 7, kDim), grad, nullptr), input_error);
}
