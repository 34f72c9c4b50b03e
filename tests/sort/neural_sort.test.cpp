#include <catch2/catch.hpp>

#include <diffauction/sort/neural_sort.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {
/// The weights R of the probe loss L = Σ_b Σ R_b ⊙ P̂_b, stacked like P̂.
TopKRows<double> random_weights(const TopKRows<double>& shape, Rng& rng) {
    TopKRows<double> r;
    r.resize_like(shape);
    for (Index i = 0; i < r.values().size(); ++i) r.values()[i] = rng.normal();
    return r;
}

double probe_loss(const Eigen::VectorXd& s, std::span<const Index> offsets, Index k, double tau,
                  const TopKRows<double>& r) {
    NeuralSortCache<double> c;
    neural_sort<double>(s, offsets, k, tau, c);
    return c.p.values().dot(r.values());
}

Eigen::VectorXd probe_gradient(const Eigen::VectorXd& s, std::span<const Index> offsets, Index k, double tau,
                               const TopKRows<double>& r) {
    NeuralSortCache<double> c;
    neural_sort<double>(s, offsets, k, tau, c);
    Eigen::VectorXd ds = Eigen::VectorXd::Zero(s.size());
    neural_sort_backward<double>(c, r, ds);
    return ds;
}

/// Row r of the hard permutation: one-hot at the (r+1)-th largest score.
MatrixX<double> hard_rows(const Eigen::VectorXd& s, Index k) {
    std::vector<Index> order;
    hard_argsort<double>(s, order);
    MatrixX<double> p = MatrixX<double>::Zero(k, s.size());
    for (Index r = 0; r < k; ++r) p(r, order[static_cast<std::size_t>(r)]) = 1.0;
    return p;
}
}  // namespace

TEST_CASE("NeuralSort: SPEC test vector s = [3,1,2], tau = 1", "[sort][neural_sort]") {
    MatrixX<double> expected(3, 3);
    expected << 0.721399, 0.013213, 0.265388,  //
        0.211942, 0.211942, 0.576117,          //
        0.013213, 0.721399, 0.265388;
    Eigen::VectorXd s(3);
    s << 3, 1, 2;
    NeuralSortCache<double> c;
    neural_sort<double>(s, 3, 1.0, c);
    REQUIRE(c.p.segments() == 1);
    REQUIRE(c.p.rows(0) == 3);
    REQUIRE(c.p.cols(0) == 3);
    CHECK((c.p.block(0) - expected).cwiseAbs().maxCoeff() < 1e-6);

    // K = 2 computes just the first two rows, identical to the full ones.
    NeuralSortCache<double> c2;
    neural_sort<double>(s, 2, 1.0, c2);
    REQUIRE(c2.p.rows(0) == 2);
    CHECK((c2.p.block(0) - expected.topRows(2)).cwiseAbs().maxCoeff() < 1e-6);

    // K > n is clipped to n.
    neural_sort<double>(s, 10, 1.0, c2);
    CHECK(c2.p.rows(0) == 3);

    // Float instantiation: same numbers to float precision.
    Eigen::VectorXf sf = s.cast<float>();
    NeuralSortCache<float> cf;
    neural_sort<float>(sf, 3, 1.0f, cf);
    CHECK((cf.p.block(0).cast<double>() - expected).cwiseAbs().maxCoeff() < 2e-6);
    // ... and the float backward agrees with the double one.
    TopKRows<float> df;
    df.resize_like(cf.p);
    df.values().setLinSpaced(-1.0f, 2.0f);
    Eigen::VectorXf dsf = Eigen::VectorXf::Zero(3);
    neural_sort_backward<float>(cf, df, dsf);
    TopKRows<double> dd;
    dd.resize_like(c.p);
    dd.values() = df.values().cast<double>();
    Eigen::VectorXd dsd = Eigen::VectorXd::Zero(3);
    neural_sort_backward<double>(c, dd, dsd);
    CHECK((dsf.cast<double>() - dsd).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("NeuralSort: rows sum to 1 and tau -> 0 gives the hard argsort rows", "[sort][neural_sort]") {
    Rng rng(101);
    for (int trial = 0; trial < 20; ++trial) {
        const Index n = 1 + rng.uniform_int(9);
        // A shuffled ladder 0, 0.5, 1, ... plus noise below 0.1: gaps of at least 0.3.
        Eigen::VectorXd s(n);
        for (Index i = 0; i < n; ++i) s[i] = 0.5 * static_cast<double>(i) + 0.1 * rng.uniform();
        for (Index i = n - 1; i > 0; --i) std::swap(s[i], s[rng.uniform_int(i + 1)]);
        const Index k = 1 + rng.uniform_int(n);
        NeuralSortCache<double> c;
        neural_sort<double>(s, k, 0.7, c);
        for (Index r = 0; r < c.p.rows(0); ++r) CHECK(c.p.block(0).row(r).sum() == Approx(1.0).epsilon(1e-12));
        CHECK(c.p.block(0).minCoeff() >= 0.0);

        // Gaps far above tau = 1e-4: the relaxation is one-hot to rounding.
        neural_sort<double>(s, k, 1e-4, c);
        CHECK((c.p.block(0) - hard_rows(s, c.p.rows(0))).cwiseAbs().maxCoeff() < 1e-12);
    }
}

TEST_CASE("hard_argsort: descending, ties to the lower index", "[sort][neural_sort]") {
    Eigen::VectorXd s(6);
    s << 1, 2, 2, 0, 5, 2;
    std::vector<Index> order;
    hard_argsort<double>(s, order);
    CHECK(order == std::vector<Index>{4, 1, 2, 5, 0, 3});
    Eigen::VectorXd bad(2);
    bad << 1, std::nan("");
    CHECK_THROWS_AS(hard_argsort<double>(bad, order), input_error);
}

TEST_CASE("NeuralSort: gradient wrt the scores matches central differences", "[sort][neural_sort][grad]") {
    Rng rng(102);
    for (double tau : {0.5, 1.0, 2.0}) {
        for (Index k : {Index(2), Index(6)}) {  // K < n and K = n
            INFO("tau = " << tau << ", K = " << k);
            const Eigen::VectorXd s = test::random_vector(rng, 6);
            const std::array<Index, 2> off{0, 6};
            NeuralSortCache<double> c;
            neural_sort<double>(s, off, k, tau, c);
            const TopKRows<double> r = random_weights(c.p, rng);
            const Eigen::VectorXd ds = probe_gradient(s, off, k, tau, r);
            const Eigen::VectorXd num = test::numeric_gradient(
                [&](const Eigen::VectorXd& v) { return probe_loss(v, off, k, tau, r); }, s);
            CHECK(test::relative_error(ds, num) < kGradTol);
        }
    }
    // A ragged batch (segments of 1, 4, 0 and 7 scores), K = 3.
    const std::array<Index, 5> off{0, 1, 5, 5, 12};
    const Eigen::VectorXd s = test::random_vector(rng, 12);
    NeuralSortCache<double> c;
    neural_sort<double>(s, off, 3, 0.8, c);
    const TopKRows<double> r = random_weights(c.p, rng);
    const Eigen::VectorXd ds = probe_gradient(s, off, 3, 0.8, r);
    const Eigen::VectorXd num =
        test::numeric_gradient([&](const Eigen::VectorXd& v) { return probe_loss(v, off, 3, 0.8, r); }, s);
    CHECK(test::relative_error(ds, num) < kGradTol);
    CHECK(ds[0] == 0.0);  // a segment of one: P̂ = [1] whatever the score
}

TEST_CASE("NeuralSort: at exact ties the A path uses sign(0) = 0", "[sort][neural_sort][grad]") {
    // The central difference straddles the kink of |s_j - s_m| symmetrically, so it
    // agrees with the zero subgradient up to O(eps) (hence the looser bound); any other
    // choice (e.g. sign(0) = 1) would be off by O(1).
    Rng rng(103);
    Eigen::VectorXd s(5);
    s << 0.3, 1.2, 0.3, -0.4, 1.2;
    const std::array<Index, 2> off{0, 5};
    NeuralSortCache<double> c;
    neural_sort<double>(s, off, 4, 1.0, c);
    const TopKRows<double> r = random_weights(c.p, rng);
    const Eigen::VectorXd ds = probe_gradient(s, off, 4, 1.0, r);
    const Eigen::VectorXd num =
        test::numeric_gradient([&](const Eigen::VectorXd& v) { return probe_loss(v, off, 4, 1.0, r); }, s);
    CHECK(test::relative_error(ds, num) < 1e-4);
}

TEST_CASE("NeuralSort: backward accumulates; interleaved caches do not interfere", "[sort][neural_sort]") {
    Rng rng(104);
    const std::array<Index, 3> off{0, 5, 8};
    const Eigen::VectorXd s1 = test::random_vector(rng, 8), s2 = test::random_vector(rng, 8);
    NeuralSortCache<double> c1, c2;
    neural_sort<double>(s1, off, 3, 1.0, c1);
    neural_sort<double>(s2, off, 3, 1.0, c2);
    const TopKRows<double> r = random_weights(c1.p, rng);
    Eigen::VectorXd ds1 = Eigen::VectorXd::Zero(8), ds2 = Eigen::VectorXd::Zero(8);
    neural_sort_backward<double>(c1, r, ds1);
    neural_sort_backward<double>(c2, r, ds2);
    CHECK((ds1 - probe_gradient(s1, off, 3, 1.0, r)).norm() == 0.0);
    CHECK((ds2 - probe_gradient(s2, off, 3, 1.0, r)).norm() == 0.0);
    Eigen::VectorXd twice = ds1;
    neural_sort_backward<double>(c1, r, twice);
    CHECK((twice - 2 * ds1).norm() <= 1e-15 * ds1.norm());
}

TEST_CASE("NeuralSort: segments of a ragged batch equal separate calls", "[sort][neural_sort]") {
    Rng rng(105);
    const std::array<Index, 4> off{0, 3, 9, 11};
    const Eigen::VectorXd s = test::random_vector(rng, 11);
    NeuralSortCache<double> all;
    neural_sort<double>(s, off, 4, 0.9, all);
    REQUIRE(all.p.segments() == 3);
    CHECK(all.p.values().size() == 3 * 3 + 4 * 6 + 2 * 2);
    for (Index b = 0; b < 3; ++b) {
        const Eigen::VectorXd seg = s.segment(off[b], off[b + 1] - off[b]);
        NeuralSortCache<double> one;
        neural_sort<double>(seg, 4, 0.9, one);
        CHECK(all.p.rows(b) == one.p.rows(0));
        // Equal up to rounding: SIMD and scalar exp may differ in the last bit.
        CHECK((all.p.block(b) - one.p.block(0)).cwiseAbs().maxCoeff() < 1e-15);
    }
}

TEST_CASE("NeuralSort: large scores do not overflow", "[sort][neural_sort]") {
    // P̂(c s, c τ) = P̂(s, τ): the SPEC vector scaled by 1e4.
    Eigen::VectorXd s(3);
    s << 3e4, 1e4, 2e4;
    NeuralSortCache<double> c;
    neural_sort<double>(s, 3, 1e4, c);
    CHECK(c.p.block(0)(0, 0) == Approx(0.721399).margin(1e-6));
    CHECK(c.p.block(0)(1, 2) == Approx(0.576117).margin(1e-6));
    // Scores ~1e4 at τ = 1: logits ~1e5 would overflow exp without the max shift.
    Rng rng(106);
    const Eigen::VectorXd big = test::random_vector(rng, 8, 1e4);
    neural_sort<double>(big, 8, 1.0, c);
    CHECK(c.p.values().allFinite());
    CHECK((c.p.block(0) - hard_rows(big, 8)).cwiseAbs().maxCoeff() < 1e-12);
    Eigen::VectorXf bigf = (big.array() + 1e4).cast<float>().matrix();
    NeuralSortCache<float> cf;
    neural_sort<float>(bigf, 8, 1.0f, cf);
    CHECK(cf.p.values().allFinite());
    CHECK((cf.p.block(0).cast<double>() - hard_rows(big, 8)).cwiseAbs().maxCoeff() < 1e-6);
    Eigen::VectorXd ds = Eigen::VectorXd::Zero(8);
    TopKRows<double> r = random_weights(c.p, rng);
    neural_sort_backward<double>(c, r, ds);
    CHECK(ds.allFinite());
}

TEST_CASE("NeuralSort: bad input is an input_error", "[sort][neural_sort][validate]") {
    Eigen::VectorXd s(3);
    s << 3, 1, 2;
    NeuralSortCache<double> c;
    CHECK_THROWS_AS(neural_sort<double>(s, 2, 0.0, c), input_error);
    CHECK_THROWS_AS(neural_sort<double>(s, 2, -1.0, c), input_error);
    CHECK_THROWS_AS(neural_sort<double>(s, 2, std::nan(""), c), input_error);
    CHECK_THROWS_AS(neural_sort<double>(s, 0, 1.0, c), input_error);
    s[1] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(neural_sort<double>(s, 2, 1.0, c), input_error);
    s[1] = std::nan("");
    try {
        neural_sort<double>(s, 2, 1.0, c);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "scores");
        CHECK(e.index() == 1);
    }
    s[1] = 1;
    const std::array<Index, 3> short_end{0, 1, 2}, decreasing{0, 2, 1}, bad_start{1, 2, 3};
    CHECK_THROWS_AS(neural_sort<double>(s, short_end, 1, 1.0, c), input_error);
    CHECK_THROWS_AS(neural_sort<double>(s, decreasing, 1, 1.0, c), input_error);
    CHECK_THROWS_AS(neural_sort<double>(s, bad_start, 1, 1.0, c), input_error);
    neural_sort<double>(s, 2, 1.0, c);
    TopKRows<double> wrong;
    const std::array<Index, 2> other{0, 3};
    wrong.resize(other, 3);
    Eigen::VectorXd ds = Eigen::VectorXd::Zero(3);
    CHECK_THROWS_AS(neural_sort_backward<double>(c, wrong, ds), input_error);
}

TEST_CASE("NeuralSort: no allocation in forward + backward once the cache has its size",
          "[sort][neural_sort][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    Rng rng(107);
    const std::array<Index, 4> off{0, 30, 42, 60};
    const Eigen::VectorXd s = test::random_vector(rng, 60);
    NeuralSortCache<double> c;
    neural_sort<double>(s, off, 5, 1.0, c);
    const TopKRows<double> r = random_weights(c.p, rng);
    Eigen::VectorXd ds = Eigen::VectorXd::Zero(60);
    neural_sort_backward<double>(c, r, ds);
    const long before = test::allocations();
    for (int i = 0; i < 3; ++i) {
        neural_sort<double>(s, off, 5, 1.0, c);
        neural_sort_backward<double>(c, r, ds);
    }
    CHECK(test::allocations() == before);
}

TEST_CASE("argsort_descending: float packed keys give the comparator's order; top_k_descending its first k",
          "[sort][argsort]") {
    // Ties (including +0 and -0, which compare equal), negatives, infinities, repeats.
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<std::vector<float>> cases{
        {0.0f, -0.0f, 1.0f, -1.0f, 0.0f, -0.0f, inf, -inf, 1.0f, -1.0f, 2.5e-39f, -2.5e-39f},
        {3.0f, 3.0f, 3.0f},
        {-5.0f},
    };
    std::uint64_t state = 20261123;  // fixed seed, printed on failure
    INFO("seed 20261123");  // values from 256 levels, so ties are common
    for (int c = 0; c < 50; ++c) {
        std::vector<float> v(static_cast<std::size_t>(1 + c % 40));
        for (float& x : v) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            x = static_cast<float>(static_cast<int>(state >> 56) - 128) * 0.37f;
        }
        cases.push_back(v);
    }
    for (const std::vector<float>& v : cases) {
        const Index n = static_cast<Index>(v.size());
        std::vector<Index> expect(v.size()), got(v.size()), top(v.size(), kNone);
        for (Index i = 0; i < n; ++i) expect[static_cast<std::size_t>(i)] = i;
        std::sort(expect.begin(), expect.end(), [&](Index x, Index y) {
            const float a = v[static_cast<std::size_t>(x)], b = v[static_cast<std::size_t>(y)];
            return a > b || (a == b && x < y);
        });
        diffauction::detail::argsort_descending<float>(v, got.data(), n);
        CHECK(got == expect);
        for (Index k = 1; k <= n; ++k) {
            diffauction::detail::top_k_descending<float>(v, top.data(), n, k);
            CHECK(std::equal(top.begin(), top.begin() + k, expect.begin()));
        }
    }
}
