// DNA (SPEC §4.1): the relaxed outcome (gradient in θ and in the bids over C = 1 and 3
// bid profiles, accumulation, profile and batch invariance), serving properties at
// τ = 0 (IR, monotone allocation, Ψ_v = Ψ_p = 0), bid-free set encoder, permutation
// equivariance, a hand-worked single-unit case, validation, allocation-free and
// thread-safe serving, float instantiation. The rank loss over the outcome and the
// Trainer adapter: tests/train/objectives/rank_loss.test.cpp.
#include <catch2/catch.hpp>

#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/mechanisms/relaxed.hpp>
#include <diffauction/metrics/ic.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/dna_samples.hpp"
#include "support/extreme_inputs.hpp"
#include "support/gradcheck.hpp"
#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/serving.hpp"

using namespace diffauction;
using test::field_of;
using test::kGradTol;
using test::random_sample;
using test::slot_of;

static_assert(Mechanism<Dna<double>>);
static_assert(Mechanism<Dna<float>>);
static_assert(RelaxedMechanism<Dna<double>>);
static_assert(RelaxedMechanism<Dna<float>>);

namespace {

DnaConfig small_config() { return test::small_dna_config(); }

/// Everything discrete in a relaxed forward pass: active units of r and r⁻¹, the
/// hard orders and which raw prices are positive. Equal at x and x ± δ for every
/// coordinate means no tie is within δ: the outcome is smooth there.
std::vector<Index> discrete_state(const Dna<double>::RelaxedCache& c) {
    std::vector<Index> s = c.score.active;
    s.insert(s.end(), c.inverse.active.begin(), c.inverse.active.end());
    s.insert(s.end(), c.sort.order.begin(), c.sort.order.end());
    for (Index i = 0; i < c.raw.size(); ++i) s.push_back(c.raw[i] > 0 ? 1 : 0);
    return s;
}

/// L = Σ R_a ⊙ alloc + r_c·click + r_p·payment, a random linear functional.
struct Functional {
    MatrixX<double> ra;
    Eigen::VectorXd rc, rp;
    double operator()(const RelaxedOutcome<double>& o) const {
        return (ra.array() * o.alloc.array()).sum() + rc.dot(o.click) + rp.dot(o.payment);
    }
    RelaxedGradient<double> gradient() const { return {ra, rc, rp}; }
};

/// C profiles of the batch's bids: profile 0 truthful, the others scaled per
/// candidate by U[0.3, 1.7].
Eigen::VectorXd profiles_of(const Batch<double>& batch, Index c, Rng& rng) {
    Eigen::VectorXd one;
    relaxed_candidate_bids(batch, one);
    Eigen::VectorXd bids(c * one.size());
    for (Index p = 0; p < c; ++p)
        for (Index i = 0; i < one.size(); ++i) bids[p * one.size() + i] = one[i] * (p == 0 ? 1.0 : rng.uniform(0.3, 1.7));
    return bids;
}

/// Profile p of `out` as a one-profile outcome.
RelaxedOutcome<double> profile_of(const RelaxedOutcome<double>& out, Index p) {
    RelaxedOutcome<double> r;
    r.reset(1, out.total, out.max_slots());
    r.alloc = out.alloc.middleRows(out.row(p, 0), out.total);
    r.click = out.click.segment(out.row(p, 0), out.total);
    r.payment = out.payment.segment(out.row(p, 0), out.total);
    r.price = out.price.segment(out.row(p, 0), out.total);
    return r;
}

/// max |a − b| over the four members (alloc over the first min(Kmax) columns; the
/// rest must be 0 in both).
double max_diff(const RelaxedOutcome<double>& a, const RelaxedOutcome<double>& b) {
    REQUIRE(a.rows() == b.rows());
    const Index k = std::min(a.max_slots(), b.max_slots());
    double d = (a.alloc.leftCols(k) - b.alloc.leftCols(k)).cwiseAbs().maxCoeff();
    if (a.max_slots() > k) d = std::max(d, a.alloc.rightCols(a.max_slots() - k).cwiseAbs().maxCoeff());
    if (b.max_slots() > k) d = std::max(d, b.alloc.rightCols(b.max_slots() - k).cwiseAbs().maxCoeff());
    d = std::max(d, (a.click - b.click).cwiseAbs().maxCoeff());
    d = std::max(d, (a.payment - b.payment).cwiseAbs().maxCoeff());
    return std::max(d, (a.price - b.price).cwiseAbs().maxCoeff());
}

}  // namespace

TEST_CASE("DNA relaxed outcome: finite-difference gradient in θ and in the bids (C = 1, 3; N = 2, 4, 5)",
          "[mechanisms][dna][grad]") {
    for (const Index np : {Index{1}, Index{3}}) {
        int checked = 0;
        for (std::uint64_t seed = 1; seed < 40 && checked < 2; ++seed) {
            Rng rng(700 + seed);
            std::vector<Sample<double>> samples;
            // K = 3, 2, 3: auction 0 has K_b = N = 2 < Kmax = 3, auction 1 K_b = 2.
            samples.push_back(random_sample<double>(rng, 2, 3, 3, 3.0));
            samples.push_back(random_sample<double>(rng, 4, 2, 3, 3.0));
            samples.push_back(random_sample<double>(rng, 5, 3, 3, 3.0));
            const Batch<double> batch = test::batch_of(samples, {0, 1, 2});
            const Eigen::VectorXd bids0 = profiles_of(batch, np, rng);
            Dna<double> model(small_config());
            model.init(seed);
            model.theta() += test::random_vector(rng, model.theta().size(), 0.2);  // biases off 0, both ELU sides
            const double tau = checked == 0 ? 0.5 : 1.0;
            const Index rows = np * batch.total_candidates();
            const Functional fn{test::random_matrix(rng, rows, 3), test::random_vector(rng, rows),
                                test::random_vector(rng, rows)};

            Dna<double>::RelaxedCache c;
            RelaxedOutcome<double> out;
            const Eigen::VectorXd theta0 = model.theta();
            auto at = [&](const Eigen::VectorXd& th, const Eigen::VectorXd& bids) {
                model.theta() = th;
                model.relaxed_forward(batch, bids, tau, c, out);
                model.theta() = theta0;
                return fn(out);
            };
            // Perturb away from ties: redraw unless no discrete choice flips within ±1e-4.
            at(theta0, bids0);
            const std::vector<Index> state = discrete_state(c);
            bool stable = true;
            for (Index i = 0; i < theta0.size() + rows && stable; ++i)
                for (double delta : {-1e-4, 1e-4}) {
                    Eigen::VectorXd th = theta0, bids = bids0;
                    if (i < theta0.size()) th[i] += delta;
                    else bids[i - theta0.size()] += delta;
                    at(th, bids);
                    stable = stable && discrete_state(c) == state;
                }
            if (!stable) continue;
            INFO("C " << np << ", seed " << seed << ", tau " << tau);

            at(theta0, bids0);
            REQUIRE(out.rows() == rows);
            REQUIRE(out.max_slots() == 3);
            // K_b = 2 for auctions 0 and 1: their third slot is empty.
            for (Index p = 0; p < np; ++p)
                CHECK(out.alloc.col(2).segment(out.row(p, 0), 6).cwiseAbs().maxCoeff() == 0.0);
            // The price path is live: some candidate has a positive price.
            CHECK(out.price.maxCoeff() > 0);
            CHECK((out.payment - out.price.cwiseProduct(out.click)).norm() == 0.0);
            Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta0.size()), d_bids;
            model.relaxed_backward(c, fn.gradient(), grad, &d_bids);
            REQUIRE(d_bids.size() == rows);
            CHECK(test::relative_error(
                      grad, test::numeric_gradient([&](const Eigen::VectorXd& th) { return at(th, bids0); }, theta0)) <
                  kGradTol);
            CHECK(test::relative_error(
                      d_bids, test::numeric_gradient([&](const Eigen::VectorXd& b) { return at(theta0, b); }, bids0)) <
                  kGradTol);
            // Each member on its own (so that none hides behind the others), empty = 0.
            for (int part = 0; part < 3; ++part) {
                RelaxedGradient<double> d;  // the other members empty: 0
                Functional f = fn;
                f.ra.setZero();
                f.rc.setZero();
                f.rp.setZero();
                if (part == 0) d.d_alloc = f.ra = fn.ra;
                if (part == 1) d.d_click = f.rc = fn.rc;
                if (part == 2) d.d_payment = f.rp = fn.rp;
                at(theta0, bids0);
                Eigen::VectorXd g = Eigen::VectorXd::Zero(theta0.size()), db;
                model.relaxed_backward(c, d, g, &db);
                auto fp = [&](const Eigen::VectorXd& th, const Eigen::VectorXd& b) {
                    model.theta() = th;
                    model.relaxed_forward(batch, b, tau, c, out);
                    model.theta() = theta0;
                    return f(out);
                };
                CHECK(g.norm() > 0);
                CHECK(test::relative_error(
                          g, test::numeric_gradient([&](const Eigen::VectorXd& th) { return fp(th, bids0); }, theta0)) <
                      kGradTol);
                CHECK(test::relative_error(
                          db, test::numeric_gradient([&](const Eigen::VectorXd& b) { return fp(theta0, b); }, bids0)) <
                      kGradTol);
            }
            // Accumulation: a second backward on the same cache doubles the gradient and
            // writes the same d_bids.
            at(theta0, bids0);
            Eigen::VectorXd once = Eigen::VectorXd::Zero(theta0.size()), db1, db2;
            model.relaxed_backward(c, fn.gradient(), once, &db1);
            Eigen::VectorXd twice = once;
            model.relaxed_backward(c, fn.gradient(), twice, &db2);
            CHECK((twice - 2 * once).norm() <= 1e-12 * once.norm());
            CHECK((db2 - db1).norm() == 0.0);
            Eigen::VectorXd g_null = Eigen::VectorXd::Zero(theta0.size());
            model.relaxed_backward(c, fn.gradient(), g_null, nullptr);
            CHECK((g_null - once).norm() == 0.0);
            ++checked;
        }
        REQUIRE(checked == 2);
    }
}

TEST_CASE("DNA relaxed outcome: profile c of a C-profile run is that profile run alone",
          "[mechanisms][dna][grad]") {
    Rng rng(705);
    std::vector<Sample<double>> samples;
    for (Index n : {1, 3, 6, 4}) samples.push_back(random_sample<double>(rng, n, 1 + rng.uniform_int(3), 3, 3.0));
    const Batch<double> batch = test::batch_of(samples, {0, 1, 2, 3});
    const Index total = batch.total_candidates(), np = 3;
    const Eigen::VectorXd bids = profiles_of(batch, np, rng);
    Dna<double> model(small_config());
    model.init(12);
    model.theta() += test::random_vector(rng, model.theta().size(), 0.2);
    const double tau = 0.7;
    Dna<double>::RelaxedCache c;
    RelaxedOutcome<double> all;
    const std::vector<Index> focus{kNone, 2, kNone};  // a hint DNA ignores
    model.relaxed_forward(batch, bids, tau, c, all, focus);
    const Functional fn{test::random_matrix(rng, np * total, all.max_slots()), test::random_vector(rng, np * total),
                        test::random_vector(rng, np * total)};
    Eigen::VectorXd g_all = Eigen::VectorXd::Zero(model.theta().size()), db_all;
    model.relaxed_backward(c, fn.gradient(), g_all, &db_all);

    Eigen::VectorXd g_sum = Eigen::VectorXd::Zero(model.theta().size());
    for (Index p = 0; p < np; ++p) {
        INFO("profile " << p);
        RelaxedOutcome<double> one;
        model.relaxed_forward(batch, bids.segment(p * total, total), tau, c, one);
        CHECK(max_diff(profile_of(all, p), one) <= 1e-12);
        CHECK(max_diff(profile_of(all, p), one) == 0.0);  // in fact bit for bit
        const RelaxedGradient<double> d{fn.ra.middleRows(p * total, total), fn.rc.segment(p * total, total),
                                        fn.rp.segment(p * total, total)};
        Eigen::VectorXd db;
        model.relaxed_backward(c, d, g_sum, &db);
        CHECK((db - db_all.segment(p * total, total)).cwiseAbs().maxCoeff() <= 1e-12 * (1 + db.cwiseAbs().maxCoeff()));
    }
    CHECK((g_all - g_sum).norm() <= 1e-12 * g_all.norm());
}

TEST_CASE("DNA relaxed outcome: an auction's rows in a batch are that auction alone (batch invariance)",
          "[mechanisms][dna][grad]") {
    Rng rng(710);
    std::vector<Sample<double>> samples;
    for (Index n : {1, 3, 6, 2}) samples.push_back(random_sample<double>(rng, n, 1 + rng.uniform_int(3), 3, 3.0));
    const Batch<double> batch = test::batch_of(samples, {0, 1, 2, 3});
    const Index total = batch.total_candidates(), np = 2;
    const Eigen::VectorXd bids = profiles_of(batch, np, rng);
    Dna<double> model(small_config());
    model.init(11);
    Dna<double>::RelaxedCache c;
    RelaxedOutcome<double> all;
    model.relaxed_forward(batch, bids, 0.8, c, all);
    for (Index b = 0; b < batch.size(); ++b) {
        INFO("auction " << b);
        const Index o = batch.begin(b), n = batch.end(b) - o;
        const Batch<double> alone = test::batch_of(samples, {b});
        Eigen::VectorXd own(np * n);
        for (Index p = 0; p < np; ++p) own.segment(p * n, n) = bids.segment(p * total + o, n);
        RelaxedOutcome<double> one;
        model.relaxed_forward(alone, own, 0.8, c, one);
        RelaxedOutcome<double> mine;
        mine.reset(np, n, all.max_slots());
        for (Index p = 0; p < np; ++p) {
            mine.alloc.middleRows(p * n, n) = all.alloc.middleRows(all.row(p, o), n);
            mine.click.segment(p * n, n) = all.click.segment(all.row(p, o), n);
            mine.payment.segment(p * n, n) = all.payment.segment(all.row(p, o), n);
            mine.price.segment(p * n, n) = all.price.segment(all.row(p, o), n);
        }
        CHECK(max_diff(mine, one) <= 1e-12);
    }
}

TEST_CASE("DNA: τ = 0 serving over 1 000 random auctions: IR, monotone allocation, Ψ_v = Ψ_p = 0",
          "[mechanisms][dna][properties]") {
    DnaConfig cfg;
    cfg.feature_dim = 4;
    cfg.phi1 = {16, 8};
    cfg.phi2 = {4};  // Q = 5, Z = 20 (defaults)
    Dna<double> model(cfg);
    model.init(2024);
    Rng rng(720);
    std::vector<Sample<double>> samples;
    for (int t = 0; t < 1000; ++t)
        samples.push_back(random_sample<double>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 4, 4.0));

    Dna<double>::Workspace ws;
    Outcome<double> out, dev;
    Index winners = 0, paying = 0, ir_violations = 0, monotone_violations = 0;
    for (const auto& s : samples) {
        const Auction<double>& a = s.auction;
        model.run(a, out, ws);
        REQUIRE(out.num_shown() == std::min(a.num_slots(), a.num_candidates()));
        for (Index j = 0; j < a.num_bidders(); ++j) {
            const double p = out.price[static_cast<std::size_t>(j)];
            if (!(p >= 0 && p <= a.bids[j])) ++ir_violations;
            if (slot_of(out, j) < out.num_slots()) {
                ++winners;
                paying += p > 0;
            }
        }
        // Raise each bid: the bidder's slot never worsens.
        Auction<double> b = a;
        for (Index j = 0; j < a.num_bidders(); ++j) {
            const Index before = slot_of(out, j);
            for (double raised : {a.bids[j] * 1.01 + 1e-3, a.bids[j] * 1.5 + 0.1, a.bids[j] + 5.0}) {
                b.bids[j] = raised;
                model.run(b, dev, ws);
                if (slot_of(dev, j) > before) ++monotone_violations;
            }
            b.bids[j] = a.bids[j];
        }
    }
    CHECK(ir_violations == 0);
    CHECK(monotone_violations == 0);
    // Non-trivial prices: a good share of winners pay a positive critical bid.
    INFO("winners " << winners << ", paying " << paying);
    CHECK(paying > winners / 4);

    IcOptions opt;
    opt.regret = false;
    const IcMetrics ic = ic_metrics(model, std::span<const Sample<double>>(samples), opt);
    CHECK(ic.winners == winners);
    CHECK(ic.psi_v == 0.0);
    CHECK(ic.psi_p <= 1e-12);
}

TEST_CASE("DNA: the set encoder ignores bids", "[mechanisms][dna]") {
    Dna<double> model(small_config());
    model.init(31);
    Rng rng(730);
    for (int t = 0; t < 50; ++t) {
        Auction<double> a = test::random_auction<double>(rng, 2 + rng.uniform_int(8), 3, 3);
        Dna<double>::Workspace ws;
        Outcome<double> out;
        model.run(a, out, ws);
        const MatrixX<double> h = ws.last().set.output();
        const Eigen::VectorXd r = ws.last().r;
        const Index j = rng.uniform_int(a.num_candidates());
        a.bids[j] = a.bids[j] * 3 + 1;
        model.run(a, out, ws);
        CHECK(ws.last().set.output() == h);  // no context feature changes, bit for bit
        for (Index i = 0; i < a.num_candidates(); ++i)
            if (i != j) CHECK(ws.last().r[i] == r[i]);  // nor anybody else's score
        CHECK(ws.last().r[j] > r[j]);
    }
}

TEST_CASE("DNA: permutation equivariance of the outcome", "[mechanisms][dna]") {
    Dna<double> model(small_config());
    model.init(41);
    Rng rng(740);
    Dna<double>::Workspace ws;
    for (int t = 0; t < 100; ++t) {
        const Index n = 1 + rng.uniform_int(10);
        const Auction<double> a = test::random_auction<double>(rng, n, 1 + rng.uniform_int(4), 3);
        std::vector<Index> perm(static_cast<std::size_t>(n));  // candidate perm[i] of a is candidate i of b
        for (Index i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = i;
        for (Index i = n - 1; i > 0; --i) std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(rng.uniform_int(i + 1))]);
        Auction<double> b = a;
        for (Index i = 0; i < n; ++i) {
            const Index src = perm[static_cast<std::size_t>(i)];
            b.bids[i] = a.bids[src];
            b.ctr[i] = a.ctr[src];
            b.cvr[i] = a.cvr[src];
            b.price[i] = a.price[src];
            b.features.row(i) = a.features.row(src);
        }
        Outcome<double> oa, ob;
        model.run(a, oa, ws);
        model.run(b, ob, ws);
        for (Index s = 0; s < oa.num_slots(); ++s) {
            const Index ia = oa.slots[static_cast<std::size_t>(s)], ib = ob.slots[static_cast<std::size_t>(s)];
            REQUIRE((ia == kNone) == (ib == kNone));
            if (ia != kNone) CHECK(perm[static_cast<std::size_t>(ib)] == ia);
        }
        for (Index i = 0; i < n; ++i) {
            const auto src = static_cast<std::size_t>(perm[static_cast<std::size_t>(i)]);
            CHECK(ob.price[static_cast<std::size_t>(i)] == Approx(oa.price[src]).margin(1e-12));
            CHECK(ob.click_prob[static_cast<std::size_t>(i)] == oa.click_prob[src]);
        }
    }
}

TEST_CASE("DNA: single-unit scorer (Q = Z = 1) prices like a GSP with offsets", "[mechanisms][dna]") {
    // With one unit r(b, x') = e^w b + uᵀx' + a, so r⁻¹(t; x'_i) = (t - a - uᵀx'_i)/e^w and
    // the winner above candidate `next` pays
    //   (r_next - a - uᵀx'_i)/e^w = (e^w b_next + uᵀx'_next + a - a - uᵀx'_i)/e^w
    //                             = (b_next e^w + uᵀ(x'_next - x'_i)) / e^w.
    DnaConfig cfg;
    cfg.feature_dim = 1;
    cfg.phi1 = {3};
    cfg.phi2 = {2};
    cfg.groups = 1;
    cfg.units = 1;
    Dna<double> model(cfg);
    model.init(51);
    const MinMaxScorer<double>& sc = model.scorer();
    REQUIRE(model.scorer_dim() == 5);  // x' = [f, ctr, cvr, h'_1, h'_2]
    view(model.theta(), sc.w_slot())(0, 0) = std::log(2.0);
    view(model.theta(), sc.u_slot()).row(0) << 1.0, 10.0, 0.0, 0.0, 0.0;  // h' weighs 0: hand-checkable
    view(model.theta(), sc.a_slot())(0, 0) = 0.5;

    // Candidates (f, ctr, b): A (0.2, 0.1, 1.0), B (-0.5, 0.2, 1.5), C (0, 0.05, 0.8); no cvr.
    //   uᵀx' = f + 10 ctr: A 1.2, B 1.5, C 0.5;  r = 2b + uᵀx' + 0.5: A 3.7, B 5.0, C 2.6.
    // Order B, A, C. B pays (2·1.0 + 1.2 - 1.5)/2 = 0.85, A pays (2·0.8 + 0.5 - 1.2)/2 = 0.45.
    Auction<double> a;
    a.bids.resize(3);
    a.bids << 1.0, 1.5, 0.8;
    a.ctr.resize(3);
    a.ctr << 0.1, 0.2, 0.05;
    a.features.resize(3, 1);
    a.features << 0.2, -0.5, 0.0;
    a.slot_ctr.resize(2);
    a.slot_ctr << 1.0, 0.6;
    Dna<double>::Workspace ws;
    Outcome<double> out;
    model.run(a, out, ws);
    CHECK(out.slots == std::vector<Index>{1, 0});
    CHECK(out.price[1] == Approx(0.85).epsilon(1e-14));
    CHECK(out.price[0] == Approx(0.45).epsilon(1e-14));
    CHECK(out.price[2] == 0.0);
    CHECK(out.click_prob[1] == Approx(0.2).epsilon(1e-15));   // β₁ ctr_B = 1·0.2
    CHECK(out.click_prob[0] == Approx(0.06).epsilon(1e-15));  // β₂ ctr_A = 0.6·0.1
    CHECK(out.click_prob[2] == 0.0);

    // K = 3: C takes slot 3 with nobody below it: price 0.
    a.slot_ctr.resize(3);
    a.slot_ctr << 1.0, 0.6, 0.3;
    model.run(a, out, ws);
    CHECK(out.slots == std::vector<Index>{1, 0, 2});
    CHECK(out.price[0] == Approx(0.45).epsilon(1e-14));
    CHECK(out.price[2] == 0.0);
    CHECK(out.click_prob[2] == Approx(0.015).epsilon(1e-14));

    // A with f = 5: uᵀx'_A = 6, r_A = 2 + 6 + 0.5 = 8.5 tops B (5.0) even at bid 0
    // (r_A(0) = 6.5): r⁻¹ = (5.0 - 0.5 - 6)/2 = -0.75, so its critical bid is 0.
    // B now pays against C: (2·0.8 + 0.5 - 1.5)/2 = 0.3.
    a.slot_ctr.resize(2);
    a.slot_ctr << 1.0, 0.6;
    a.features(0, 0) = 5.0;
    model.run(a, out, ws);
    CHECK(out.slots == std::vector<Index>{0, 1});
    CHECK(out.price[0] == 0.0);
    CHECK(out.price[1] == Approx(0.3).epsilon(1e-14));

    // Random u (h' weighed too): the price is the formula above with the model's x'.
    Rng rng(750);
    for (int t = 0; t < 50; ++t) {
        auto u = view(model.theta(), sc.u_slot());
        for (Index j = 0; j < u.cols(); ++j) u(0, j) = rng.normal();
        const Auction<double> r = test::random_auction<double>(rng, 2 + rng.uniform_int(6), 1 + rng.uniform_int(3), 1);
        model.run(r, out, ws);
        const MatrixX<double>& xp = ws.last().xp;
        const Index shown = std::min(r.num_slots(), r.num_candidates());
        // The full order by score (ties to the lower index): the candidate right below slot s is order[s + 1].
        std::vector<Index> order(static_cast<std::size_t>(r.num_candidates()));
        for (Index i = 0; i < r.num_candidates(); ++i) order[static_cast<std::size_t>(i)] = i;
        const Eigen::VectorXd& score = ws.last().r;
        std::sort(order.begin(), order.end(),
                  [&](Index x, Index y) { return score[x] > score[y] || (score[x] == score[y] && x < y); });
        for (Index s = 0; s + 1 < r.num_candidates() && s < shown; ++s) {
            const Index next = order[static_cast<std::size_t>(s) + 1];
            const Index i = out.slots[static_cast<std::size_t>(s)];
            REQUIRE(order[static_cast<std::size_t>(s)] == i);
            const double formula = (r.bids[next] * 2.0 + u.row(0).dot(xp.row(next) - xp.row(i))) / 2.0;
            CHECK(out.price[static_cast<std::size_t>(i)] == Approx(std::max(0.0, formula)).margin(1e-12));
        }
    }
}

TEST_CASE("DNA: validation errors", "[mechanisms][dna]") {
    Dna<double> model(small_config());
    model.init(61);
    Rng rng(760);
    Dna<double>::Workspace ws;
    Outcome<double> out;
    const Auction<double> good = test::random_auction<double>(rng, 4, 2, 3);
    CHECK(field_of([&] { model.run(good, out, ws); }) == "(no error)");

    Auction<double> joint = good;  // two single-owner bundles of bidders 0..3: a joint auction
    joint.owners = {{0, 1}, {1, 2}, {2, 3}, {3, kNone}};
    CHECK(field_of([&] { model.run(joint, out, ws); }) == "owners");

    Auction<double> wide = test::random_auction<double>(rng, 4, 2, 4);  // D = 4, model takes 3
    CHECK(field_of([&] { model.run(wide, out, ws); }) == "features");
    Auction<double> none = good;
    none.features.resize(0, 0);
    CHECK(field_of([&] { model.run(none, out, ws); }) == "features");
    Auction<double> neg = good;
    neg.bids[2] = -0.1;
    CHECK(field_of([&] { model.run(neg, out, ws); }) == "bids");

    // Relaxed side.
    Batch<double> batch;
    batch.push_back(good);
    const Eigen::VectorXd bids = good.bids;
    Dna<double>::RelaxedCache c;
    RelaxedOutcome<double> ro;
    CHECK(field_of([&] { model.relaxed_forward(batch, bids, 1.0, c, ro); }) == "(no error)");
    CHECK(field_of([&] { model.relaxed_forward(batch, bids, 0.0, c, ro); }) == "tau");
    const Eigen::VectorXd five = Eigen::VectorXd::Ones(5), empty(0);
    CHECK(field_of([&] { model.relaxed_forward(batch, five, 1.0, c, ro); }) == "bids");
    CHECK(field_of([&] { model.relaxed_forward(batch, empty, 1.0, c, ro); }) == "bids");
    Eigen::VectorXd nan_bids = bids;
    nan_bids[1] = std::nan("");
    CHECK(field_of([&] { model.relaxed_forward(batch, nan_bids, 1.0, c, ro); }) == "bids");
    const std::vector<Index> two{kNone, kNone}, negative{-2}, fine{7};
    CHECK(field_of([&] { model.relaxed_forward(batch, bids, 1.0, c, ro, two); }) == "focus");
    CHECK(field_of([&] { model.relaxed_forward(batch, bids, 1.0, c, ro, negative); }) == "focus");
    CHECK(field_of([&] { model.relaxed_forward(batch, bids, 1.0, c, ro, fine); }) == "(no error)");
    CHECK(field_of([&] { model.relaxed_forward(Batch<double>(), bids, 1.0, c, ro); }) == "batch");
    Batch<double> wide_batch;
    wide_batch.push_back(wide);
    CHECK(field_of([&] { model.relaxed_forward(wide_batch, bids, 1.0, c, ro); }) == "features");
    Batch<double> joint_batch;
    joint_batch.push_back(joint);
    CHECK(field_of([&] { model.relaxed_forward(joint_batch, bids, 1.0, c, ro); }) == "owners");

    Dna<double>::RelaxedCache fresh;
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(model.theta().size()), short_grad(3);
    RelaxedGradient<double> d;
    CHECK(field_of([&] { model.relaxed_backward(fresh, d, grad, nullptr); }) == "cache");
    model.relaxed_forward(batch, bids, 1.0, c, ro);
    CHECK(field_of([&] { model.relaxed_backward(c, d, grad, nullptr); }) == "(no error)");
    CHECK(field_of([&] { model.relaxed_backward(c, d, short_grad, nullptr); }) == "grad");
    d.d_click = Eigen::VectorXd::Ones(3);  // 4 rows
    CHECK(field_of([&] { model.relaxed_backward(c, d, grad, nullptr); }) == "d_click");
    d.d_click.resize(0);
    d.d_alloc = MatrixX<double>::Ones(4, 5);  // Kmax = 2
    CHECK(field_of([&] { model.relaxed_backward(c, d, grad, nullptr); }) == "d_alloc");
    d.d_alloc.resize(0, 0);
    d.d_payment = Eigen::VectorXd::Ones(5);
    CHECK(field_of([&] { model.relaxed_backward(c, d, grad, nullptr); }) == "d_payment");
}

TEST_CASE("DNA: serving allocates nothing after warm-up and is thread-safe", "[mechanisms][dna][serving]") {
    DnaConfig cfg;
    cfg.feature_dim = 3;
    cfg.phi1 = {32, 16};
    cfg.phi2 = {8};
    Dna<double> model(cfg);
    model.init(71);
    Rng rng(770);
    std::vector<Auction<double>> pool;
    for (int t = 0; t < 80; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 3);
        a.bids *= 4.0;
        if (t % 4 == 0) a.cvr.resize(0);
        pool.push_back(std::move(a));
    }
    test::check_serving("DNA", model, pool);
}

TEST_CASE("DNA: allocation counting sees a cold workspace allocate", "[mechanisms][dna][serving]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    // Guards the test above against a counter that never counts.
    Dna<double> model(small_config());
    model.init(72);
    Rng rng(771);
    const Auction<double> a = test::random_auction<double>(rng, 5, 2, 3);
    Dna<double>::Workspace ws;
    Outcome<double> out;
    const long before = test::allocations();
    model.run(a, out, ws);
    CHECK(test::allocations() - before > 0);
}

TEST_CASE("DNA: float instantiation serves and runs the relaxed pass", "[mechanisms][dna][float]") {
    DnaConfig cfg = small_config();
    Dna<float> model(cfg);
    model.init(81);
    Rng rng(780);
    Dna<float>::Workspace ws;
    Outcome<float> out;
    std::vector<Sample<float>> samples;
    for (int t = 0; t < 20; ++t) {
        samples.push_back(random_sample<float>(rng, 1 + rng.uniform_int(8), 1 + rng.uniform_int(3), 3, 4.0));
        const Auction<float>& a = samples.back().auction;
        model.run(a, out, ws);
        CHECK(out.num_shown() == std::min(a.num_slots(), a.num_candidates()));
        for (Index j = 0; j < a.num_bidders(); ++j) {
            CHECK(out.price[static_cast<std::size_t>(j)] >= 0.0f);
            CHECK(out.price[static_cast<std::size_t>(j)] <= a.bids[j]);
        }
    }
    // The relaxed pass in float, under two profiles.
    Batch<float> batch;
    for (const auto& smp : samples) batch.push_back(smp.auction);
    VectorX<float> one;
    relaxed_candidate_bids(batch, one);
    VectorX<float> bids(2 * one.size());
    bids << one, 0.5f * one;
    Dna<float>::RelaxedCache c;
    RelaxedOutcome<float> ro;
    model.relaxed_forward(batch, bids, 0.5f, c, ro);
    CHECK(ro.alloc.allFinite());
    CHECK(ro.payment.allFinite());
    CHECK(ro.payment.sum() > 0.0f);
    RelaxedGradient<float> d;
    d.d_payment = VectorX<float>::Ones(ro.rows());
    VectorX<float> grad = VectorX<float>::Zero(model.theta().size()), d_bids;
    model.relaxed_backward(c, d, grad, &d_bids);
    CHECK(grad.allFinite());
    CHECK(grad.norm() > 0.0f);
    CHECK(d_bids.allFinite());
}

TEMPLATE_TEST_CASE("DNA: extreme inputs give a typed error or a finite, IR outcome (issue 15)",
                   "[mechanisms][dna][extreme]", float, double) {
    Dna<TestType> dna(test::small_dna_config());
    dna.init(7);
    test::check_extreme_inputs("DNA", dna, false);
    // Weights that overflow the scalar: a typed error naming "features", never a NaN
    // reaching the ranking or a price (mechanisms/learned/candidate_inputs.hpp).
    dna.theta().setConstant(std::numeric_limits<TestType>::max() / 16);
    Rng rng(11);
    const auto a = test::random_auction<TestType>(rng, 4, 2, 3);
    try {
        (void)run(dna, a);
        FAIL("a model with overflowing weights served");
    } catch (const input_error& e) {
        CHECK(e.field() == "features");
        CHECK(std::string(e.what()).find("out of the floating-point range") != std::string::npos);
    }
}
