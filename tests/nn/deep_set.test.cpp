#include <catch2/catch.hpp>

#include <diffauction/nn/deep_set.hpp>

#include <array>
#include <cmath>

#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {
constexpr Index kIn = 4;
constexpr std::array<Index, 2> kPhi1{6, 5};
constexpr std::array<Index, 1> kPhi2{3};
constexpr std::array<Index, 4> kOffsets{0, 1, 3, 8};  // auctions of n = 1, 2, 5

struct Model {
    ParamLayout layout;
    DeepSet<double> ds;
    Eigen::VectorXd theta;
    explicit Model(Rng& rng) : ds(layout, "set", kIn, kPhi1, kPhi2) {
        // Random weights and biases, so that pre-activations fall on both sides of 0.
        theta = test::random_vector(rng, layout.size(), 0.6);
    }
    MatrixX<double> run(const MatrixX<double>& x, std::span<const Index> offsets = kOffsets) const {
        DeepSet<double>::Cache c;
        return ds.forward(theta, x, offsets, c);
    }
};

double elu(double v) { return v > 0 ? v : std::expm1(v); }
}  // namespace

TEST_CASE("DeepSet: parameter and input gradients on a ragged batch (n = 1, 2, 5)", "[nn][deep_set][grad]") {
    Rng rng(301);
    Model m(rng);
    const MatrixX<double> x = test::random_matrix(rng, 8, kIn);
    const MatrixX<double> r = test::random_matrix(rng, 8, kPhi2.back());  // L = Σ R ⊙ h'
    const MatrixX<double> dx =
        test::check_segment_layer(m.ds, m.theta, x, kOffsets, r, test::random_matrix(rng, 8, kIn), kOffsets);
    // The single candidate of auction 0 has no others: nothing flows back to its features.
    CHECK(dx.row(0).norm() == 0.0);
}

TEST_CASE("DeepSet: an auction of one gets h' = ELU(phi2(0))", "[nn][deep_set]") {
    Rng rng(302);
    ParamLayout layout;
    const std::array<Index, 1> p1{3}, p2{2};
    DeepSet<double> ds(layout, "set", 2, p1, p2);
    Eigen::VectorXd theta = test::random_vector(rng, layout.size());
    view(theta, ds.phi2()[0].bias_slot()) << 0.4, -0.7;
    const MatrixX<double> x = test::random_matrix(rng, 1, 2);
    const std::array<Index, 2> off{0, 1};
    DeepSet<double>::Cache c;
    const MatrixX<double>& h = ds.forward(theta, x, off, c);
    CHECK(h(0, 0) == Approx(0.4).epsilon(1e-15));
    CHECK(h(0, 1) == Approx(std::expm1(-0.7)).epsilon(1e-15));
    // Two candidates: h'_0 = ELU(W2 h_1 + b2) with h_1 = ELU(W1 x_1 + b1), by hand.
    const MatrixX<double> x2 = test::random_matrix(rng, 2, 2);
    const std::array<Index, 2> off2{0, 2};
    const MatrixX<double>& h2 = ds.forward(theta, x2, off2, c);
    const auto w1 = view(theta, ds.phi1()[0].weight_slot()), b1 = view(theta, ds.phi1()[0].bias_slot());
    const auto w2 = view(theta, ds.phi2()[0].weight_slot()), b2 = view(theta, ds.phi2()[0].bias_slot());
    Eigen::VectorXd h1(3);
    for (Index k = 0; k < 3; ++k) h1[k] = elu(w1(0, k) * x2(1, 0) + w1(1, k) * x2(1, 1) + b1(0, k));
    for (Index k = 0; k < 2; ++k) CHECK(h2(0, k) == Approx(elu(w2.col(k).dot(h1) + b2(0, k))).epsilon(1e-13));
}

TEST_CASE("DeepSet: permutation equivariant within an auction; h'_i ignores x_i, not the others",
          "[nn][deep_set]") {
    Rng rng(303);
    Model m(rng);
    const MatrixX<double> x = test::random_matrix(rng, 8, kIn);
    const MatrixX<double> h = m.run(x);
    // Permute auction 2 (rows 3..7): 3 4 5 6 7 -> 6 3 7 5 4.
    const std::array<Index, 5> perm{6, 3, 7, 5, 4};
    MatrixX<double> xp = x;
    for (Index i = 0; i < 5; ++i) xp.row(3 + i) = x.row(perm[static_cast<std::size_t>(i)]);
    const MatrixX<double> hp = m.run(xp);
    for (Index i = 0; i < 5; ++i)
        CHECK((hp.row(3 + i) - h.row(perm[static_cast<std::size_t>(i)])).cwiseAbs().maxCoeff() < 1e-13);
    CHECK((hp.topRows(3) - h.topRows(3)).norm() == 0.0);

    // Change candidate 4's features: every other candidate of its auction moves, it does not.
    MatrixX<double> xc = x;
    xc.row(4) += test::random_vector(rng, kIn).transpose();
    const MatrixX<double> hc = m.run(xc);
    CHECK((hc.row(4) - h.row(4)).cwiseAbs().maxCoeff() < 1e-13);
    for (Index i : {3, 5, 6, 7}) CHECK((hc.row(i) - h.row(i)).norm() > 1e-4);
    CHECK((hc.topRows(3) - h.topRows(3)).norm() == 0.0);
}

TEST_CASE("DeepSet: auctions of a batch do not affect each other", "[nn][deep_set]") {
    Rng rng(304);
    Model m(rng);
    const MatrixX<double> x = test::random_matrix(rng, 8, kIn);
    const MatrixX<double> h = m.run(x);
    // Changing auction 1 (rows 1, 2) leaves auctions 0 and 2 exactly as they were.
    MatrixX<double> xc = x;
    xc.middleRows(1, 2) = test::random_matrix(rng, 2, kIn);
    const MatrixX<double> hc = m.run(xc);
    CHECK((hc.row(0) - h.row(0)).norm() == 0.0);
    CHECK((hc.bottomRows(5) - h.bottomRows(5)).norm() == 0.0);
    CHECK((hc.middleRows(1, 2) - h.middleRows(1, 2)).norm() > 1e-4);
    // Each auction alone gives the same rows as inside the batch (up to GEMM rounding).
    for (std::size_t b = 0; b + 1 < kOffsets.size(); ++b) {
        const Index o = kOffsets[b], n = kOffsets[b + 1] - o;
        const std::array<Index, 2> off{0, n};
        const MatrixX<double> alone = m.run(x.middleRows(o, n), off);
        CHECK((alone - h.middleRows(o, n)).cwiseAbs().maxCoeff() < 1e-14);
    }
    // Backward: the batch gradient is the sum of the auctions' gradients.
    const MatrixX<double> r = test::random_matrix(rng, 8, kPhi2.back());
    DeepSet<double>::Cache c;
    Eigen::VectorXd g_all = Eigen::VectorXd::Zero(m.theta.size()), g_sum = g_all;
    m.ds.forward(m.theta, x, kOffsets, c);
    m.ds.backward(m.theta, x, c, r, g_all, nullptr);
    for (std::size_t b = 0; b + 1 < kOffsets.size(); ++b) {
        const Index o = kOffsets[b], n = kOffsets[b + 1] - o;
        const std::array<Index, 2> off{0, n};
        const MatrixX<double> xb = x.middleRows(o, n), rb = r.middleRows(o, n);
        m.ds.forward(m.theta, xb, off, c);
        m.ds.backward(m.theta, xb, c, rb, g_sum, nullptr);
    }
    CHECK((g_all - g_sum).norm() <= 1e-12 * g_all.norm());
}

TEST_CASE("DeepSet: no allocation in forward + backward after the first call", "[nn][deep_set][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    Rng rng(305);
    ParamLayout layout;
    const std::array<Index, 2> p1{128, 32};  // DNA sizes
    const std::array<Index, 1> p2{16};
    DeepSet<double> ds(layout, "set", 12, p1, p2);
    Eigen::VectorXd theta(layout.size());
    ds.init(theta, rng);
    const std::array<Index, 5> off{0, 30, 31, 60, 90};
    const MatrixX<double> x = test::random_matrix(rng, 90, 12), r = test::random_matrix(rng, 90, 16);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> dx;
    DeepSet<double>::Cache c;
    ds.forward(theta, x, off, c);
    ds.backward(theta, x, c, r, grad, &dx);
    const long before = test::allocations();
    for (int i = 0; i < 3; ++i) {
        ds.forward(theta, x, off, c);
        ds.backward(theta, x, c, r, grad, &dx);
    }
    CHECK(test::allocations() == before);
}

TEST_CASE("DeepSet: float instantiation agrees with double", "[nn][deep_set]") {
    Rng rng(307);
    Model m(rng);
    ParamLayout layout;
    DeepSet<float> dsf(layout, "set", kIn, kPhi1, kPhi2);
    const Eigen::VectorXf theta_f = m.theta.cast<float>();
    const MatrixX<double> x = test::random_matrix(rng, 8, kIn);
    const MatrixX<float> xf = x.cast<float>();
    DeepSet<float>::Cache cf;
    const MatrixX<float>& hf = dsf.forward(theta_f, xf, kOffsets, cf);
    CHECK((hf.cast<double>() - m.run(x)).cwiseAbs().maxCoeff() < 1e-5);
    Eigen::VectorXf grad = Eigen::VectorXf::Zero(theta_f.size());
    MatrixX<float> dx;
    dsf.backward(theta_f, xf, cf, MatrixX<float>::Ones(8, kPhi2.back()), grad, &dx);
    CHECK(grad.allFinite());
    CHECK(dx.allFinite());
}

TEST_CASE("DeepSet: bad input is an input_error", "[nn][deep_set][validate]") {
    Rng rng(306);
    Model m(rng);
    DeepSet<double>::Cache c;
    const std::array<Index, 3> short_end{0, 2, 7}, decreasing{0, 5, 3}, bad_start{1, 3, 8};
    const MatrixX<double> x = test::random_matrix(rng, 8, kIn);
    CHECK_THROWS_AS(m.ds.forward(m.theta, x, short_end, c), input_error);
    CHECK_THROWS_AS(m.ds.forward(m.theta, x, decreasing, c), input_error);
    CHECK_THROWS_AS(m.ds.forward(m.theta, x, bad_start, c), input_error);
    CHECK_THROWS_AS(m.ds.forward(m.theta, test::random_matrix(rng, 8, kIn + 1), kOffsets, c), input_error);
    m.ds.forward(m.theta, x, kOffsets, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta.size());
    CHECK_THROWS_AS(m.ds.backward(m.theta, x, c, test::random_matrix(rng, 8, 2), grad, nullptr), input_error);
    ParamLayout l2;
    const std::array<Index, 0> none{};
    CHECK_THROWS_AS(DeepSet<double>(l2, "bad", 3, none, kPhi2), input_error);
}
