#include <catch2/catch.hpp>

#include <diffauction/nn/attention.hpp>

#include <array>
#include <cmath>

#include "attention_support.hpp"
#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {
constexpr Index kDim = 4, kHeads = 2;
constexpr std::array<Index, 5> kOffsets{0, 1, 1, 3, 8};  // segments of n = 1, 0, 2, 5

struct Self {
    ParamLayout layout;
    MultiHeadAttention<double> mha;
    Eigen::VectorXd theta;
    explicit Self(Rng& rng, Index dim = kDim, Index heads = kHeads) : mha(layout, "mha", dim, heads) {
        theta = test::random_vector(rng, layout.size(), 0.7);
    }
    MatrixX<double> run(const MatrixX<double>& x, std::span<const Index> offsets = kOffsets) const {
        MultiHeadAttention<double>::Cache c;
        return mha.forward(theta, x, offsets, c);
    }
};

struct Target {
    static constexpr Index kQuery = 3;
    ParamLayout layout;
    TargetAttention<double> ta;
    Eigen::VectorXd theta;
    explicit Target(Rng& rng) : ta(layout, "ta", kQuery, kDim, kDim, kHeads) {
        theta = test::random_vector(rng, layout.size(), 0.7);
    }
    MatrixX<double> run(const MatrixX<double>& q, const MatrixX<double>& x,
                        std::span<const Index> offsets = kOffsets) const {
        TargetAttention<double>::Cache c;
        return ta.forward(theta, q, x, offsets, c);
    }
};

MatrixX<double> mat(Index rows, Index cols, std::initializer_list<double> v) {
    MatrixX<double> m(rows, cols);
    std::copy(v.begin(), v.end(), m.data());
    return m;
}
const double kSig = 1.0 / (1.0 + std::exp(-1.0 / std::sqrt(2.0)));  // sigmoid(1/sqrt(2))
}  // namespace

TEST_CASE("MultiHeadAttention: hand-worked, E = 2, two rows, one and two heads", "[nn][attention]") {
    // Q = K = V = x (W_qkv = [I; I; I], zero bias), output W_o = diag(2, -1), b_o = (0.5, 0).
    // x_1 = (1, 0), x_2 = (1, 1).
    const MatrixX<double> x = mat(2, 2, {1, 0, 1, 1});
    const MatrixX<double> w_qkv = mat(6, 2, {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1});
    const MatrixX<double> w_o = mat(2, 2, {2, 0, 0, -1}), b_o = mat(1, 2, {0.5, 0});
    const std::array<Index, 2> off{0, 2};
    for (Index heads : {1, 2}) {
        INFO("heads " << heads);
        ParamLayout layout;
        MultiHeadAttention<double> mha(layout, "mha", 2, heads);
        Eigen::VectorXd theta = Eigen::VectorXd::Zero(layout.size());
        test::assign_dense(mha.qkv(), theta, w_qkv, MatrixX<double>::Zero(1, 6));
        test::assign_dense(mha.out(), theta, w_o, b_o);
        MultiHeadAttention<double>::Cache c;
        const MatrixX<double>& y = mha.forward(theta, x, off, c);
        MatrixX<double> expected(2, 2);
        if (heads == 1) {
            // d = 2, scores x_i . x_j / sqrt(2): row 1 (1, 1)/sqrt(2) -> p = (1/2, 1/2), C_1 = (1, 1/2);
            // row 2 (1, 2)/sqrt(2) -> p = (1 - s, s), s = sigmoid(1/sqrt(2)) = 0.6697615, C_2 = (1, s).
            CHECK(kSig == Approx(0.6697615).epsilon(1e-6));
            expected << 2.5, -0.5, 2.5, -kSig;
        } else {
            // d = 1, scale 1. Head 1 sees column 0: q = k = v = (1, 1) -> uniform, C = 1 for both rows.
            // Head 2 sees column 1: q = k = v = (0, 1). Row 1: scores (0, 0) -> C = 1/2;
            // row 2: scores (0, 1) -> p = (1, e)/(1 + e), C = e/(1 + e) = 0.7310586.
            const double s2 = std::exp(1.0) / (1.0 + std::exp(1.0));
            CHECK(s2 == Approx(0.7310586).epsilon(1e-6));
            expected << 2.5, -0.5, 2.5, -s2;
        }
        CHECK((y - expected).cwiseAbs().maxCoeff() < 1e-15);
    }
}

TEST_CASE("MultiHeadAttention: a segment of one row attends to itself only", "[nn][attention]") {
    // Random Q and K projections, V = identity + c_v, O = identity + c_o: y = x + c_v + c_o
    // for the single-row segment, whatever Q and K are.
    Rng rng(501);
    Self m(rng);
    MatrixX<double> w_qkv(3 * kDim, kDim), b_qkv(1, 3 * kDim);
    w_qkv.topRows(2 * kDim) = test::random_matrix(rng, 2 * kDim, kDim);
    w_qkv.bottomRows(kDim).setIdentity();
    b_qkv = test::random_matrix(rng, 1, 3 * kDim);
    const MatrixX<double> b_o = test::random_matrix(rng, 1, kDim);
    test::assign_dense(m.mha.qkv(), m.theta, w_qkv, b_qkv);
    test::assign_dense(m.mha.out(), m.theta, MatrixX<double>::Identity(kDim, kDim), b_o);
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const MatrixX<double> y = m.run(x);
    const MatrixX<double> expected = x.row(0) + b_qkv.rightCols(kDim) + b_o;
    CHECK((y.row(0) - expected).cwiseAbs().maxCoeff() < 1e-14);
    // The other segments do mix their rows: row 1 differs from x_1 + c_v + c_o.
    CHECK((y.row(1) - (x.row(1) + b_qkv.rightCols(kDim) + b_o)).norm() > 1e-3);
}

TEST_CASE("MultiHeadAttention: parameter and input gradients, accumulation, re-entrancy",
          "[nn][attention][grad]") {
    Rng rng(502);
    Self m(rng);
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const MatrixX<double> r = test::random_matrix(rng, 8, kDim);  // L = Σ R ⊙ y
    const std::array<Index, 3> off2{0, 4, 6};
    test::check_segment_layer(m.mha, m.theta, x, kOffsets, r, test::random_matrix(rng, 6, kDim), off2);
}

TEST_CASE("MultiHeadAttention: permutation equivariant within a segment; segments independent",
          "[nn][attention]") {
    Rng rng(503);
    Self m(rng);
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const MatrixX<double> y = m.run(x);
    // Permute the last segment (rows 3..7).
    const std::array<Index, 5> perm{3, 0, 4, 2, 1};
    const MatrixX<double> yp = m.run(test::permute_rows(x, 3, perm));
    CHECK((yp - test::permute_rows(y, 3, perm)).cwiseAbs().maxCoeff() < 1e-13);
    // Changing segment 2 (rows 1, 2) leaves the others exactly as they were.
    MatrixX<double> xc = x;
    xc.middleRows(1, 2) = test::random_matrix(rng, 2, kDim);
    const MatrixX<double> yc = m.run(xc);
    CHECK((yc.row(0) - y.row(0)).norm() == 0.0);
    CHECK((yc.bottomRows(5) - y.bottomRows(5)).norm() == 0.0);
    CHECK((yc.middleRows(1, 2) - y.middleRows(1, 2)).norm() > 1e-4);
    // Each segment alone gives its rows of the batch; the batch gradient is the sum.
    const MatrixX<double> r = test::random_matrix(rng, 8, kDim);
    MultiHeadAttention<double>::Cache c;
    Eigen::VectorXd g_all = Eigen::VectorXd::Zero(m.theta.size()), g_sum = g_all;
    m.mha.forward(m.theta, x, kOffsets, c);
    m.mha.backward(m.theta, x, c, r, g_all, nullptr);
    for (std::size_t b = 0; b + 1 < kOffsets.size(); ++b) {
        const Index o = kOffsets[b], n = kOffsets[b + 1] - o;
        const std::array<Index, 2> off{0, n};
        const MatrixX<double> xb = x.middleRows(o, n), rb = r.middleRows(o, n);
        if (n > 0) CHECK((m.run(xb, off) - y.middleRows(o, n)).cwiseAbs().maxCoeff() < 1e-14);
        m.mha.forward(m.theta, xb, off, c);
        m.mha.backward(m.theta, xb, c, rb, g_sum, nullptr);
    }
    CHECK((g_all - g_sum).norm() <= 1e-12 * g_all.norm());
}

TEST_CASE("TargetAttention: hand-worked, E = 2, one head, two keys", "[nn][attention][target]") {
    // W_q = I, W_kv = [I; I] (K = V = x), W_o = I, zero biases. Keys x_1 = (1, 0), x_2 = (1, 1).
    ParamLayout layout;
    TargetAttention<double> ta(layout, "ta", 2, 2, 2, 1);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(layout.size());
    const MatrixX<double> eye = MatrixX<double>::Identity(2, 2), zero2 = MatrixX<double>::Zero(1, 2);
    test::assign_dense(ta.q(), theta, eye, zero2);
    test::assign_dense(ta.kv(), theta, mat(4, 2, {1, 0, 0, 1, 1, 0, 0, 1}), MatrixX<double>::Zero(1, 4));
    test::assign_dense(ta.out(), theta, eye, zero2);
    // Two segments with the same two keys; queries (1, 0) and (0, 1).
    // Query (1, 0): scores (1, 1)/sqrt(2) -> p = (1/2, 1/2), y = (1, 1/2).
    // Query (0, 1): scores (0, 1)/sqrt(2) -> p = (1 - s, s), s = sigmoid(1/sqrt(2)), y = (1, s).
    const MatrixX<double> x = mat(4, 2, {1, 0, 1, 1, 1, 0, 1, 1});
    const MatrixX<double> q = mat(2, 2, {1, 0, 0, 1});
    const std::array<Index, 3> off{0, 2, 4};
    TargetAttention<double>::Cache c;
    const MatrixX<double>& y = ta.forward(theta, q, x, off, c);
    const MatrixX<double> expected = mat(2, 2, {1, 0.5, 1, kSig});
    CHECK((y - expected).cwiseAbs().maxCoeff() < 1e-15);
}

TEST_CASE("TargetAttention: gradients wrt query, keys/values and parameters", "[nn][attention][target][grad]") {
    Rng rng(504);
    Target m(rng);
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const MatrixX<double> q = test::random_matrix(rng, 4, Target::kQuery);
    const MatrixX<double> r = test::random_matrix(rng, 4, kDim);
    auto loss = [&](const Eigen::VectorXd& th, const MatrixX<double>& qq, const MatrixX<double>& xx) {
        TargetAttention<double>::Cache c;
        return (m.ta.forward(th, qq, xx, kOffsets, c).array() * r.array()).sum();
    };
    TargetAttention<double>::Cache c;
    m.ta.forward(m.theta, q, x, kOffsets, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta.size());
    MatrixX<double> dq, dx;
    m.ta.backward(m.theta, q, x, c, r, grad, &dq, &dx);
    CHECK(test::relative_error(grad, test::numeric_gradient(
                                         [&](const Eigen::VectorXd& th) { return loss(th, q, x); }, m.theta)) <
          kGradTol);
    CHECK(test::relative_error(test::flatten(dq),
                               test::numeric_gradient(
                                   [&](const Eigen::VectorXd& v) {
                                       return loss(m.theta, test::unflatten(v, 4, Target::kQuery), x);
                                   },
                                   test::flatten(q))) < kGradTol);
    CHECK(test::relative_error(
              test::flatten(dx),
              test::numeric_gradient(
                  [&](const Eigen::VectorXd& v) { return loss(m.theta, q, test::unflatten(v, 8, kDim)); },
                  test::flatten(x))) < kGradTol);
    // The empty segment (1) gives y = b_o and no query gradient; a segment of one row
    // (0) gives a softmax of 1: its query does not matter.
    CHECK(dq.row(1).norm() == 0.0);
    CHECK(dq.row(0).norm() < 1e-15);
    CHECK(dq.row(3).norm() > 1e-3);

    Eigen::VectorXd twice = grad;
    MatrixX<double> dq2, dx2;
    m.ta.backward(m.theta, q, x, c, r, twice, &dq2, &dx2);
    CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
    CHECK((dq2 - dq).norm() == 0.0);
    CHECK((dx2 - dx).norm() == 0.0);
    // Re-entrancy.
    TargetAttention<double>::Cache other;
    const std::array<Index, 2> off2{0, 3};
    m.ta.forward(m.theta, test::random_matrix(rng, 1, Target::kQuery), test::random_matrix(rng, 3, kDim), off2, other);
    Eigen::VectorXd g3 = Eigen::VectorXd::Zero(m.theta.size());
    m.ta.backward(m.theta, q, x, c, r, g3, nullptr, nullptr);
    CHECK((g3 - grad).norm() == 0.0);
}

TEST_CASE("TargetAttention: invariant to the order of a segment's rows; segments independent",
          "[nn][attention][target]") {
    Rng rng(505);
    Target m(rng);
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const MatrixX<double> q = test::random_matrix(rng, 4, Target::kQuery);
    const MatrixX<double> y = m.run(q, x);
    const std::array<Index, 5> perm{4, 2, 0, 1, 3};
    CHECK((m.run(q, test::permute_rows(x, 3, perm)) - y).cwiseAbs().maxCoeff() < 1e-13);
    // The empty segment's output is the output bias: the same for any query.
    MatrixX<double> q2 = q;
    q2.row(1) = test::random_matrix(rng, 1, Target::kQuery);
    q2.row(2) = test::random_matrix(rng, 1, Target::kQuery);
    const MatrixX<double> y2 = m.run(q2, x);
    CHECK((y2.row(1) - y.row(1)).norm() == 0.0);
    CHECK((y2.row(2) - y.row(2)).norm() > 1e-4);
    CHECK((y2.row(0) - y.row(0)).norm() == 0.0);
    CHECK((y2.row(3) - y.row(3)).norm() == 0.0);
    for (std::size_t b = 0; b + 1 < kOffsets.size(); ++b) {
        const Index o = kOffsets[b], n = kOffsets[b + 1] - o;
        const std::array<Index, 2> off{0, n};
        const MatrixX<double> qb = q.row(static_cast<Index>(b));
        CHECK((m.run(qb, x.middleRows(o, n), off) - y.row(static_cast<Index>(b))).cwiseAbs().maxCoeff() < 1e-14);
    }
}

TEST_CASE("Attention: float agrees with double", "[nn][attention]") {
    Rng rng(506);
    Self m(rng);
    ParamLayout layout;
    MultiHeadAttention<float> mf(layout, "mha", kDim, kHeads);
    const Eigen::VectorXf theta_f = m.theta.cast<float>();
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const MatrixX<float> xf = x.cast<float>();
    MultiHeadAttention<float>::Cache cf;
    CHECK((mf.forward(theta_f, xf, kOffsets, cf).cast<double>() - m.run(x)).cwiseAbs().maxCoeff() < 1e-5);
    Eigen::VectorXf grad = Eigen::VectorXf::Zero(theta_f.size());
    MatrixX<float> dx;
    mf.backward(theta_f, xf, cf, MatrixX<float>::Ones(8, kDim), grad, &dx);
    CHECK(grad.allFinite());
    CHECK(dx.allFinite());

    Target t(rng);
    ParamLayout l2;
    TargetAttention<float> tf(l2, "ta", Target::kQuery, kDim, kDim, kHeads);
    const MatrixX<double> q = test::random_matrix(rng, 4, Target::kQuery);
    TargetAttention<float>::Cache ct;
    const Eigen::VectorXf tt = t.theta.cast<float>();
    const MatrixX<float> qf = q.cast<float>();
    CHECK((tf.forward(tt, qf, xf, kOffsets, ct).cast<double>() - t.run(q, x)).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("Attention: large logits do not overflow (max subtracted)", "[nn][attention]") {
    Rng rng(507);
    Self m(rng);
    const MatrixX<double> x = 1e3 * test::random_matrix(rng, 8, kDim);
    CHECK(m.run(x).allFinite());
    ParamLayout layout;
    MultiHeadAttention<float> mf(layout, "mha", kDim, kHeads);
    const Eigen::VectorXf theta_f = m.theta.cast<float>();
    MultiHeadAttention<float>::Cache cf;
    const MatrixX<float> xf = x.cast<float>();
    CHECK(mf.forward(theta_f, xf, kOffsets, cf).allFinite());
}

TEST_CASE("Attention: no allocation in forward + backward after the first call", "[nn][attention][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    Rng rng(508);
    ParamLayout layout;
    MultiHeadAttention<float> mha(layout, "mha", 32, 4);
    TargetAttention<float> ta(layout, "ta", 16, 32, 32, 4);
    Eigen::VectorXf theta(layout.size());
    mha.init(theta, rng);
    ta.init(theta, rng);
    const std::array<Index, 5> off{0, 30, 31, 60, 90};
    const MatrixX<float> x = test::random_matrix(rng, 90, 32).cast<float>();
    const MatrixX<float> q = test::random_matrix(rng, 4, 16).cast<float>();
    const MatrixX<float> r = test::random_matrix(rng, 90, 32).cast<float>();
    const MatrixX<float> rq = test::random_matrix(rng, 4, 32).cast<float>();
    Eigen::VectorXf grad = Eigen::VectorXf::Zero(theta.size());
    MatrixX<float> dx, dq;
    MultiHeadAttention<float>::Cache c;
    TargetAttention<float>::Cache ct;
    auto step = [&] {
        mha.forward(theta, x, off, c);
        mha.backward(theta, x, c, r, grad, &dx);
        ta.forward(theta, q, x, off, ct);
        ta.backward(theta, q, x, ct, rq, grad, &dq, &dx);
    };
    step();
    const long before = test::allocations();
    for (int i = 0; i < 3; ++i) step();
    CHECK(test::allocations() == before);
}

TEST_CASE("Attention: bad input is an input_error", "[nn][attention][validate]") {
    Rng rng(509);
    ParamLayout bad;
    CHECK_THROWS_AS(MultiHeadAttention<double>(bad, "a", 6, 4), input_error);  // 6 % 4 != 0
    CHECK_THROWS_AS(MultiHeadAttention<double>(bad, "b", 4, 0), input_error);
    CHECK_THROWS_AS(TargetAttention<double>(bad, "c", 3, 6, 6, 4), input_error);
    CHECK(bad.size() == 0);  // nothing was declared by the failed constructions

    Self m(rng);
    MultiHeadAttention<double>::Cache c;
    const MatrixX<double> x = test::random_matrix(rng, 8, kDim);
    const std::array<Index, 3> short_end{0, 2, 7}, decreasing{0, 5, 3}, bad_start{1, 3, 8};
    CHECK_THROWS_AS(m.mha.forward(m.theta, x, short_end, c), input_error);
    CHECK_THROWS_AS(m.mha.forward(m.theta, x, decreasing, c), input_error);
    CHECK_THROWS_AS(m.mha.forward(m.theta, x, bad_start, c), input_error);
    CHECK_THROWS_AS(m.mha.forward(m.theta, test::random_matrix(rng, 8, kDim + 1), kOffsets, c), input_error);
    m.mha.forward(m.theta, x, kOffsets, c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta.size());
    CHECK_THROWS_AS(m.mha.backward(m.theta, x, c, test::random_matrix(rng, 8, 2), grad, nullptr), input_error);
    CHECK_THROWS_AS(m.mha.backward(m.theta, x.topRows(5), c, test::random_matrix(rng, 8, kDim), grad, nullptr),
                    input_error);

    Target t(rng);
    TargetAttention<double>::Cache ct;
    const MatrixX<double> q = test::random_matrix(rng, 4, Target::kQuery);
    CHECK_THROWS_AS(t.ta.forward(t.theta, q.topRows(3), x, kOffsets, ct), input_error);  // one query per segment
    CHECK_THROWS_AS(t.ta.forward(t.theta, test::random_matrix(rng, 4, 2), x, kOffsets, ct), input_error);
    CHECK_THROWS_AS(t.ta.forward(t.theta, q, test::random_matrix(rng, 8, 3), kOffsets, ct), input_error);
    CHECK_THROWS_AS(t.ta.forward(t.theta, q, x, short_end, ct), input_error);
    t.ta.forward(t.theta, q, x, kOffsets, ct);
    Eigen::VectorXd tg = Eigen::VectorXd::Zero(t.theta.size());
    CHECK_THROWS_AS(t.ta.backward(t.theta, q, x, ct, test::random_matrix(rng, 3, kDim), tg, nullptr, nullptr),
                    input_error);
}
