#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <vector>

#include <diffauction/nn/gru.hpp>
#include <diffauction/nn/pointer.hpp>

#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {

constexpr std::array<Index, 5> kOffsets{0, 1, 1, 5, 8};  // segments of 1, 0, 4, 3 rows
constexpr Index kB = 4, kRows = 8, kKey = 3, kQuery = 4, kAttn = 5, kSteps = 3;

/// K = 3 scoring steps over the same keys: L = Σ_t r_t · u_t(z, s_t).
struct Probe {
    ParamLayout layout;
    PointerAttention<double> ptr;
    Eigen::VectorXd theta;
    std::array<MatrixX<double>, kSteps> s;
    std::array<Eigen::VectorXd, kSteps> r;
    explicit Probe(Rng& rng) : ptr(layout, "ptr", kKey, kQuery, kAttn) {
        theta = test::random_vector(rng, layout.size(), 0.5);
        for (std::size_t t = 0; t < kSteps; ++t) {
            s[t] = test::random_matrix(rng, kB, kQuery);
            r[t] = test::random_vector(rng, kRows);
        }
    }
    double loss(const Eigen::VectorXd& th, const MatrixX<double>& z, const std::array<MatrixX<double>, kSteps>& ss) const {
        PointerAttention<double>::Keys keys;
        PointerAttention<double>::Cache c;
        ptr.project_keys(th, z, kOffsets, keys);
        double l = 0;
        for (std::size_t t = 0; t < kSteps; ++t) l += r[t].dot(ptr.score(th, keys, ss[t], c));
        return l;
    }
};

// Softmax over each segment of u.
void segment_softmax(const Eigen::VectorXd& u, std::span<const Index> off, Eigen::VectorXd& a) {
    a.resize(u.size());
    for (std::size_t b = 0; b + 1 < off.size(); ++b) {
        const Index o = off[b], n = off[b + 1] - o;
        if (n == 0) continue;
        const double m = u.segment(o, n).maxCoeff();
        a.segment(o, n) = (u.segment(o, n).array() - m).exp().matrix();
        a.segment(o, n) /= a.segment(o, n).sum();
    }
}

}  // namespace

TEST_CASE("PointerAttention: a hand-worked case (key 1, query 1, A = 2)", "[nn][pointer]") {
    ParamLayout layout;
    PointerAttention<double> ptr(layout, "ptr", 1, 1, 2);
    REQUIRE(layout.size() == 6);
    Eigen::VectorXd theta(layout.size());
    view(theta, ptr.key_weight_slot()) << 1.0, 0.0;    // W₁ = [1; 0]
    view(theta, ptr.query_weight_slot()) << 0.0, 1.0;  // W₂ = [0; 1]
    view(theta, ptr.v_slot()) << 1.0, 2.0;             // v  = [1, 2]
    const double ln2 = std::log(2.0), ln3 = std::log(3.0);
    // Segment 0: z = [ln2, ln3], s = ln2.  Segment 1: z = [0], s = ln3.
    // tanh(ln 2) = (2 − 1/2)/(2 + 1/2) = 0.6, tanh(ln 3) = (3 − 1/3)/(3 + 1/3) = 0.8.
    //   t_0 = tanh([ln2, ln2]) = [0.6, 0.6] -> u_0 = 0.6 + 2·0.6 = 1.8
    //   t_1 = tanh([ln3, ln2]) = [0.8, 0.6] -> u_1 = 0.8 + 1.2 = 2.0
    //   t_2 = tanh([0, ln3])   = [0, 0.8]   -> u_2 = 0 + 1.6 = 1.6
    MatrixX<double> z(3, 1), s(2, 1);
    z << ln2, ln3, 0.0;
    s << ln2, ln3;
    const std::array<Index, 3> off{0, 2, 3};
    PointerAttention<double>::Keys keys;
    PointerAttention<double>::Cache c;
    ptr.project_keys(theta, z, off, keys);
    const Eigen::VectorXd u = ptr.score(theta, keys, s, c);
    REQUIRE(u.size() == 3);
    CHECK(u[0] == Approx(1.8).epsilon(1e-14));
    CHECK(u[1] == Approx(2.0).epsilon(1e-14));
    CHECK(u[2] == Approx(1.6).epsilon(1e-14));

    // Backward with du = [1, 0, 1]:
    //   dL/d(k+q) rows: v ⊙ (1 − t²): row 0 = [0.64, 1.28], row 1 = 0, row 2 = [1, 2·0.36] = [1, 0.72]
    //   grad v  = t_0 + t_2 = [0.6, 1.4]
    //   dq      = [[0.64, 1.28], [1, 0.72]];  ds = dq W₂ = [1.28, 0.72]
    //   grad W₂ = dqᵀ s = [0.64 ln2 + ln3; 1.28 ln2 + 0.72 ln3]
    //   grad W₁ = (dL/dk)ᵀ z = [0.64 ln2; 1.28 ln2];  dz = (dL/dk) W₁ = [0.64, 0, 1]
    Eigen::Vector3d du(1.0, 0.0, 1.0);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> ds, dz;
    ptr.score_backward(theta, keys, s, c, du, grad, &ds);
    ptr.keys_backward(theta, z, keys, grad, &dz);
    CHECK(ds(0, 0) == Approx(1.28).epsilon(1e-14));
    CHECK(ds(1, 0) == Approx(0.72).epsilon(1e-14));
    CHECK(dz(0, 0) == Approx(0.64).epsilon(1e-14));
    CHECK(dz(1, 0) == 0.0);
    CHECK(dz(2, 0) == Approx(1.0).epsilon(1e-14));
    const auto gv = view(grad, ptr.v_slot());
    CHECK(gv(0, 0) == Approx(0.6).epsilon(1e-14));
    CHECK(gv(0, 1) == Approx(1.4).epsilon(1e-14));
    const auto gw2 = view(grad, ptr.query_weight_slot());
    CHECK(gw2(0, 0) == Approx(0.64 * ln2 + ln3).epsilon(1e-14));
    CHECK(gw2(1, 0) == Approx(1.28 * ln2 + 0.72 * ln3).epsilon(1e-14));
    const auto gw1 = view(grad, ptr.key_weight_slot());
    CHECK(gw1(0, 0) == Approx(0.64 * ln2).epsilon(1e-14));
    CHECK(gw1(1, 0) == Approx(1.28 * ln2).epsilon(1e-14));
}

TEST_CASE("PointerAttention: gradients wrt z, s and parameters over 3 steps match central differences",
          "[nn][pointer][grad]") {
    Rng rng(501);
    Probe p(rng);
    const MatrixX<double> z = test::random_matrix(rng, kRows, kKey);
    PointerAttention<double>::Keys keys;
    std::array<PointerAttention<double>::Cache, kSteps> c;
    p.ptr.project_keys(p.theta, z, kOffsets, keys);
    for (std::size_t t = 0; t < kSteps; ++t) p.ptr.score(p.theta, keys, p.s[t], c[t]);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(p.theta.size());
    std::array<MatrixX<double>, kSteps> ds;
    for (std::size_t t = kSteps; t-- > 0;) p.ptr.score_backward(p.theta, keys, p.s[t], c[t], p.r[t], grad, &ds[t]);
    MatrixX<double> dz;
    p.ptr.keys_backward(p.theta, z, keys, grad, &dz);

    const auto num_theta = test::numeric_gradient([&](const Eigen::VectorXd& t) { return p.loss(t, z, p.s); }, p.theta);
    CHECK(test::relative_error(grad, num_theta) < kGradTol);
    const auto num_z = test::numeric_gradient(
        [&](const Eigen::VectorXd& v) { return p.loss(p.theta, test::unflatten(v, kRows, kKey), p.s); },
        test::flatten(z));
    CHECK(test::relative_error(test::flatten(dz), num_z) < kGradTol);
    for (std::size_t t = 0; t < kSteps; ++t) {
        INFO("step " << t);
        const auto num_s = test::numeric_gradient(
            [&](const Eigen::VectorXd& v) {
                auto ss = p.s;
                ss[t] = test::unflatten(v, kB, kQuery);
                return p.loss(p.theta, z, ss);
            },
            test::flatten(p.s[t]));
        CHECK(test::relative_error(test::flatten(ds[t]), num_s) < kGradTol);
    }
    // The empty segment's query gets no gradient.
    CHECK(ds[0].row(1).norm() == 0.0);

    // Accumulation: a second round of backward calls doubles the parameter gradient and dz.
    Eigen::VectorXd twice = grad;
    for (std::size_t t = 0; t < kSteps; ++t) p.ptr.score_backward(p.theta, keys, p.s[t], c[t], p.r[t], twice, nullptr);
    MatrixX<double> dz2;
    // keys.grad now holds both rounds (2 dL/dk): W₁ gets 1 + 2 = 3 times its share, v and
    // W₂ twice theirs, and dz = 2 dL/dk W₁ doubles.
    p.ptr.keys_backward(p.theta, z, keys, twice, &dz2);
    CHECK((view(twice, p.ptr.key_weight_slot()) - 3 * view(grad, p.ptr.key_weight_slot())).norm() <=
          1e-12 * grad.norm());
    CHECK((view(twice, p.ptr.v_slot()) - 2 * view(grad, p.ptr.v_slot())).norm() <= 1e-12 * grad.norm());
    CHECK((view(twice, p.ptr.query_weight_slot()) - 2 * view(grad, p.ptr.query_weight_slot())).norm() <=
          1e-12 * grad.norm());
    CHECK((dz2 - 2 * dz).norm() <= 1e-12 * dz.norm());
}

TEST_CASE("PointerAttention: step order of backward does not matter; caches are independent",
          "[nn][pointer]") {
    Rng rng(502);
    Probe p(rng);
    const MatrixX<double> z = test::random_matrix(rng, kRows, kKey);
    PointerAttention<double>::Keys k1, k2;
    std::array<PointerAttention<double>::Cache, kSteps> c;
    p.ptr.project_keys(p.theta, z, kOffsets, k1);
    p.ptr.project_keys(p.theta, z, kOffsets, k2);
    for (std::size_t t = 0; t < kSteps; ++t) p.ptr.score(p.theta, k1, p.s[t], c[t]);
    Eigen::VectorXd g1 = Eigen::VectorXd::Zero(p.theta.size()), g2 = g1;
    MatrixX<double> ds, dz1, dz2;
    for (std::size_t t = 0; t < kSteps; ++t) p.ptr.score_backward(p.theta, k1, p.s[t], c[t], p.r[t], g1, &ds);
    for (std::size_t t = kSteps; t-- > 0;) p.ptr.score_backward(p.theta, k2, p.s[t], c[t], p.r[t], g2, &ds);
    p.ptr.keys_backward(p.theta, z, k1, g1, &dz1);
    p.ptr.keys_backward(p.theta, z, k2, g2, &dz2);
    CHECK((g1 - g2).norm() <= 1e-12 * g1.norm());
    CHECK((dz1 - dz2).norm() <= 1e-12 * dz1.norm());
    // Scores of one step are unchanged by scoring other steps in between.
    PointerAttention<double>::Cache fresh;
    const Eigen::VectorXd u0 = p.ptr.score(p.theta, k1, p.s[0], fresh);
    CHECK((c[0].output() - u0).norm() == 0.0);
}

TEST_CASE("PointerAttention: a segment's scores and gradients do not depend on the other segments",
          "[nn][pointer]") {
    Rng rng(503);
    Probe p(rng);
    MatrixX<double> z = test::random_matrix(rng, kRows, kKey);
    MatrixX<double> s = p.s[0];
    PointerAttention<double>::Keys keys, k2;
    PointerAttention<double>::Cache c, c2;
    p.ptr.project_keys(p.theta, z, kOffsets, keys);
    const Eigen::VectorXd u = p.ptr.score(p.theta, keys, s, c);
    // Segment 2 (rows 1..4) alone.
    const std::array<Index, 2> alone{0, 4};
    p.ptr.project_keys(p.theta, z.middleRows(1, 4), alone, k2);
    const Eigen::VectorXd u2 = p.ptr.score(p.theta, k2, s.row(2), c2);
    CHECK((u.segment(1, 4) - u2).cwiseAbs().maxCoeff() <= 1e-15);
    // Other segments' rows and queries changed: segment 2 unchanged.
    z.topRows(1) = test::random_matrix(rng, 1, kKey);
    z.bottomRows(3) = test::random_matrix(rng, 3, kKey);
    s.row(0) = test::random_matrix(rng, 1, kQuery);
    s.row(3) = test::random_matrix(rng, 1, kQuery);
    p.ptr.project_keys(p.theta, z, kOffsets, keys);
    const Eigen::VectorXd u3 = p.ptr.score(p.theta, keys, s, c);
    CHECK((u3.segment(1, 4) - u2).cwiseAbs().maxCoeff() <= 1e-15);
    // A loss on segment 2 only: no gradient reaches the other rows or queries.
    Eigen::VectorXd du = Eigen::VectorXd::Zero(kRows);
    du.segment(1, 4) = test::random_vector(rng, 4);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(p.theta.size());
    MatrixX<double> ds, dz;
    p.ptr.score_backward(p.theta, keys, s, c, du, grad, &ds);
    p.ptr.keys_backward(p.theta, z, keys, grad, &dz);
    CHECK(dz.row(0).norm() == 0.0);
    CHECK(dz.bottomRows(3).norm() == 0.0);
    CHECK(ds.row(0).norm() == 0.0);
    CHECK(ds.row(3).norm() == 0.0);
    CHECK(ds.row(2).norm() > 0.0);
}

TEST_CASE("PointerAttention: bad input is an input_error", "[nn][pointer][validate]") {
    Rng rng(504);
    Probe p(rng);
    const MatrixX<double> z = test::random_matrix(rng, kRows, kKey);
    PointerAttention<double>::Keys keys;
    PointerAttention<double>::Cache c;
    const std::array<Index, 3> short_end{0, 2, 7}, decreasing{0, 5, 3}, bad_start{1, 3, 8};
    CHECK_THROWS_AS(p.ptr.project_keys(p.theta, z, short_end, keys), input_error);
    CHECK_THROWS_AS(p.ptr.project_keys(p.theta, z, decreasing, keys), input_error);
    CHECK_THROWS_AS(p.ptr.project_keys(p.theta, z, bad_start, keys), input_error);
    CHECK_THROWS_AS(p.ptr.project_keys(p.theta, test::random_matrix(rng, kRows, kKey + 1), kOffsets, keys),
                    input_error);
    // Scoring keys that were never projected.
    CHECK_THROWS_AS(p.ptr.score(p.theta, keys, p.s[0], c), input_error);
    p.ptr.project_keys(p.theta, z, kOffsets, keys);
    CHECK_THROWS_AS(p.ptr.score(p.theta, keys, test::random_matrix(rng, kB, kQuery + 1), c), input_error);
    CHECK_THROWS_AS(p.ptr.score(p.theta, keys, test::random_matrix(rng, kB - 1, kQuery), c), input_error);
    p.ptr.score(p.theta, keys, p.s[0], c);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(p.theta.size());
    MatrixX<double> ds, dz;
    CHECK_THROWS_AS(p.ptr.score_backward(p.theta, keys, p.s[0], c, Eigen::VectorXd::Zero(kRows - 1), grad, &ds),
                    input_error);
    CHECK_THROWS_AS(p.ptr.keys_backward(p.theta, test::random_matrix(rng, kRows - 1, kKey), keys, grad, &dz),
                    input_error);
    CHECK(grad.norm() == 0.0);
    ParamLayout l2;
    CHECK_THROWS_AS(PointerAttention<double>(l2, "p", 3, 4, 0), input_error);
}

TEST_CASE("GRU decoder + pointer attention + soft pick (EdgeNet shape): gradients match central differences",
          "[nn][pointer][gru][grad]") {
    // s_t = GRU(s_{t−1}, y_{t−1}), u_t = pointer(z, s_t), A_t = softmax per segment,
    // y_t = Σ_i A_{t,i} z_i, L = Σ_t Σ_i w_{t,i} A_{t,i}; y_0 and s_0 given.
    Rng rng(505);
    const std::array<Index, 3> off{0, 3, 7};
    constexpr Index kZ = 3, kH = 4;
    ParamLayout layout;
    GruCell<double> gru(layout, "dec", kZ, kH);
    PointerAttention<double> ptr(layout, "ptr", kZ, kH, 5);
    const Eigen::VectorXd theta = test::random_vector(rng, layout.size(), 0.5);
    const MatrixX<double> z = test::random_matrix(rng, 7, kZ), s0 = test::random_matrix(rng, 2, kH),
                          y0 = test::random_matrix(rng, 2, kZ);
    std::array<Eigen::VectorXd, kSteps> w;
    for (auto& v : w) v = test::random_vector(rng, 7);

    struct Run {
        PointerAttention<double>::Keys keys;
        std::array<GruCell<double>::Cache, kSteps> gc;
        std::array<PointerAttention<double>::Cache, kSteps> pc;
        std::array<MatrixX<double>, kSteps + 1> s, y;  // s[t], y[t]: state and pick after step t (t = 0: given)
        std::array<Eigen::VectorXd, kSteps> a;
    };
    auto forward = [&](const Eigen::VectorXd& th, const MatrixX<double>& zz, const MatrixX<double>& ss0, Run& r) {
        ptr.project_keys(th, zz, off, r.keys);
        r.s[0] = ss0;
        r.y[0] = y0;
        double l = 0;
        for (std::size_t t = 0; t < kSteps; ++t) {
            r.s[t + 1] = gru.forward(th, r.y[t], r.s[t], r.gc[t]);
            segment_softmax(ptr.score(th, r.keys, r.s[t + 1], r.pc[t]), off, r.a[t]);
            r.y[t + 1].resize(2, kZ);
            for (Index b = 0; b < 2; ++b)
                r.y[t + 1].row(b) = r.a[t].segment(off[b], off[b + 1] - off[b]).transpose() *
                                    zz.middleRows(off[b], off[b + 1] - off[b]);
            l += w[t].dot(r.a[t]);
        }
        return l;
    };

    Run r;
    forward(theta, z, s0, r);
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    MatrixX<double> dz = MatrixX<double>::Zero(7, kZ), dy = MatrixX<double>::Zero(2, kZ), ds = MatrixX<double>::Zero(2, kH);
    MatrixX<double> ds_ptr, dkeys_z;
    for (std::size_t t = kSteps; t-- > 0;) {
        // dL/dA_{t,i} = w_{t,i} + dL/dy_t[b] · z_i; soft pick also gives dz_i += A_{t,i} dL/dy_t[b].
        Eigen::VectorXd da = w[t], du(7);
        for (Index b = 0; b < 2; ++b)
            for (Index i = off[b]; i < off[b + 1]; ++i) {
                da[i] += dy.row(b).dot(z.row(i));
                dz.row(i) += r.a[t][i] * dy.row(b);
            }
        for (Index b = 0; b < 2; ++b) {  // softmax backward: du = A ⊙ (dA − A·dA)
            const Index o = off[b], n = off[b + 1] - o;
            const double dot = r.a[t].segment(o, n).dot(da.segment(o, n));
            du.segment(o, n) = (r.a[t].segment(o, n).array() * (da.segment(o, n).array() - dot)).matrix();
        }
        ptr.score_backward(theta, r.keys, r.s[t + 1], r.pc[t], du, grad, &ds_ptr);
        ds += ds_ptr;  // dL/ds_{t+1}: from the scores and from the next step
        gru.backward(theta, r.y[t], r.s[t], r.gc[t], ds, grad, &dy, &ds);
    }
    ptr.keys_backward(theta, z, r.keys, grad, &dkeys_z);
    dz += dkeys_z;

    const auto num_theta = test::numeric_gradient(
        [&](const Eigen::VectorXd& th) {
            Run rr;
            return forward(th, z, s0, rr);
        },
        theta);
    CHECK(test::relative_error(grad, num_theta) < kGradTol);
    const auto num_z = test::numeric_gradient(
        [&](const Eigen::VectorXd& v) {
            Run rr;
            return forward(theta, test::unflatten(v, 7, kZ), s0, rr);
        },
        test::flatten(z));
    CHECK(test::relative_error(test::flatten(dz), num_z) < kGradTol);
    const auto num_s0 = test::numeric_gradient(
        [&](const Eigen::VectorXd& v) {
            Run rr;
            return forward(theta, z, test::unflatten(v, 2, kH), rr);
        },
        test::flatten(s0));
    CHECK(test::relative_error(test::flatten(ds), num_s0) < kGradTol);
}

TEST_CASE("PointerAttention: no allocation after warm-up (N = 30, A = 32, K = 3)", "[nn][pointer][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    Rng rng(510);
    ParamLayout layout;
    PointerAttention<float> ptr(layout, "ptr", 32, 32, 32);
    Eigen::VectorXf theta(layout.size());
    ptr.init(theta, rng);
    const std::array<Index, 4> off{0, 30, 31, 61};
    const MatrixX<float> z = test::random_matrix(rng, 61, 32).cast<float>();
    const MatrixX<float> s = test::random_matrix(rng, 3, 32).cast<float>();
    const Eigen::VectorXf du = test::random_vector(rng, 61).cast<float>();
    PointerAttention<float>::Keys keys;
    std::array<PointerAttention<float>::Cache, kSteps> c;
    Eigen::VectorXf grad = Eigen::VectorXf::Zero(theta.size());
    MatrixX<float> ds, dz;
    auto run = [&] {
        ptr.project_keys(theta, z, off, keys);
        for (auto& ct : c) ptr.score(theta, keys, s, ct);
        for (auto& ct : c) ptr.score_backward(theta, keys, s, ct, du, grad, &ds);
        ptr.keys_backward(theta, z, keys, grad, &dz);
    };
    run();
    const long before = test::allocations();
    for (int i = 0; i < 3; ++i) run();
    CHECK(test::allocations() == before);
    CHECK(grad.allFinite());
}
