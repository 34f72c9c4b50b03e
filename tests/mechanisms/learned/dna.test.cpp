// DNA (SPEC §4.1): gradient of the full training loss, serving properties at τ = 0
// (IR, monotone allocation, Ψ_v = Ψ_p = 0), bid-free set encoder, permutation
// equivariance, a hand-worked single-unit case, validation, allocation-free and
// thread-safe serving, float instantiation, and the Trainer adapter.
#include <catch2/catch.hpp>

#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/train/dna_training.hpp>
#include <diffauction/metrics/ic.hpp>
#include <diffauction/train/trainer.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"
#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/serving.hpp"

using namespace diffauction;
using test::field_of;
using test::kGradTol;
using test::slot_of;

static_assert(Mechanism<Dna<double>>);
static_assert(Mechanism<Dna<float>>);
static_assert(TrainableModel<DnaTrainable<double>, double>);
static_assert(TrainableModel<DnaTrainable<float>, float>);

namespace {

/// The gradient-check sizes of the brief: D = 3, φ₁ {6, 4}, φ₂ {3}, Q = 2, Z = 3.
DnaConfig small_config() {
    DnaConfig c;
    c.feature_dim = 3;
    c.phi1 = {6, 4};
    c.phi2 = {3};
    c.groups = 2;
    c.units = 3;
    return c;
}

/// A sample around test::random_auction: truthful values = bids, bids scaled by
/// `bid_scale`, and N x 4 positive metric columns.
template <Scalar T>
Sample<T> random_sample(Rng& rng, Index n, Index k, Index d, double bid_scale = 1.0) {
    Sample<T> s;
    s.auction = test::random_auction<T>(rng, n, k, d);
    s.auction.bids *= static_cast<T>(bid_scale);
    s.truth.values = s.auction.bids;
    s.log.metrics.resize(n, 4);
    for (Index i = 0; i < s.log.metrics.size(); ++i) s.log.metrics.data()[i] = static_cast<T>(rng.uniform(0.01, 1.0));
    return s;
}

/// Everything discrete in a relaxed forward pass: active units of r and r⁻¹, the
/// hard orders, the F_all orders and which raw prices are positive. Equal at θ and
/// θ ± δ for every coordinate means no tie is within δ: the loss is smooth there.
std::vector<Index> discrete_state(const Dna<double>::TrainCache& c) {
    std::vector<Index> s = c.score.active;
    s.insert(s.end(), c.inverse.active.begin(), c.inverse.active.end());
    s.insert(s.end(), c.sort.order.begin(), c.sort.order.end());
    s.insert(s.end(), c.target.begin(), c.target.end());
    for (Index i = 0; i < c.raw.size(); ++i) s.push_back(c.raw[i] > 0 ? 1 : 0);
    return s;
}

}  // namespace

TEST_CASE("DNA: finite-difference gradient of the full loss (N = 2, 4, 5; K = 2)", "[mechanisms][dna][grad]") {
    const std::vector<Sample<double>> none;
    const std::vector<Index> items{0, 1, 2};
    int checked = 0;
    for (std::uint64_t seed = 1; seed < 40 && checked < 3; ++seed) {
        Rng rng(700 + seed);
        std::vector<Sample<double>> samples;
        for (Index n : {2, 4, 5}) samples.push_back(random_sample<double>(rng, n, 2, 3, 3.0));
        Dna<double> model(small_config());
        model.init(seed);
        model.theta() += test::random_vector(rng, model.theta().size(), 0.2);  // biases off 0, both ELU sides
        DnaObjective<double> obj;
        obj.revenue = 1.0;
        obj.metrics = {0.5, 0.0, 0.3};
        obj.alpha = 0.7;
        obj = normalise_objective<double>(obj, samples);
        const double tau = checked == 0 ? 0.5 : 1.0;

        Dna<double>::TrainCache c;
        const Eigen::VectorXd theta0 = model.theta();
        auto loss_at = [&](const Eigen::VectorXd& th) {
            model.theta() = th;
            const double l = model.relaxed_forward(samples, items, obj, tau, c);
            model.theta() = theta0;
            return l;
        };
        // Perturb away from ties: redraw unless no discrete choice flips within ±1e-4.
        loss_at(theta0);
        const std::vector<Index> state = discrete_state(c);
        bool stable = true;
        for (Index i = 0; i < theta0.size() && stable; ++i)
            for (double delta : {-1e-4, 1e-4}) {
                Eigen::VectorXd th = theta0;
                th[i] += delta;
                loss_at(th);
                stable = stable && discrete_state(c) == state;
            }
        if (!stable) continue;
        INFO("seed " << seed << ", tau " << tau);

        const double loss = model.relaxed_forward(samples, items, obj, tau, c);
        CHECK(std::isfinite(loss));
        CHECK(c.loss_tgt < 0);  // F_all > 0 here (positive metrics), so L_tgt = -Σ β P̂ F < 0
        CHECK(c.loss_ce > 0);
        // The revenue path is live: some candidate has a positive price.
        CHECK(c.price.maxCoeff() > 0);
        Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta0.size());
        model.relaxed_backward(c, grad);
        const Eigen::VectorXd num = test::numeric_gradient(loss_at, theta0);
        CHECK(test::relative_error(grad, num) < kGradTol);
        // Each part on its own (so neither hides behind the other).
        for (int part = 0; part < 2; ++part) {
            DnaObjective<double> o = obj;
            if (part == 0) o.alpha = 0;                       // L_tgt only (through prices and P̂)
            else o.revenue = 0, o.metrics = {}, o.alpha = 1;  // L_ce only
            auto f = [&](const Eigen::VectorXd& th) {
                model.theta() = th;
                const double l = model.relaxed_forward(samples, items, o, tau, c);
                model.theta() = theta0;
                return l;
            };
            model.relaxed_forward(samples, items, o, tau, c);
            Eigen::VectorXd g = Eigen::VectorXd::Zero(theta0.size());
            model.relaxed_backward(c, g);
            CHECK(g.norm() > 0);
            CHECK(test::relative_error(g, test::numeric_gradient(f, theta0)) < kGradTol);
        }
        // Accumulation: a second backward on the same cache doubles the gradient.
        model.relaxed_forward(samples, items, obj, tau, c);
        Eigen::VectorXd twice = grad;
        model.relaxed_backward(c, twice);
        CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
        ++checked;
    }
    REQUIRE(checked == 3);
}

TEST_CASE("DNA: the loss is the mean over auctions (batch invariance)", "[mechanisms][dna][grad]") {
    Rng rng(710);
    std::vector<Sample<double>> samples;
    for (Index n : {1, 3, 6}) samples.push_back(random_sample<double>(rng, n, 2, 3, 3.0));
    Dna<double> model(small_config());
    model.init(11);
    DnaObjective<double> obj;
    obj.metrics = {1.0};
    Dna<double>::TrainCache c;
    double sum = 0;
    Eigen::VectorXd gsum = Eigen::VectorXd::Zero(model.theta().size());
    for (Index b = 0; b < 3; ++b) {
        const std::vector<Index> one{b};
        sum += model.relaxed_forward(samples, one, obj, 0.8, c);
        model.relaxed_backward(c, gsum);
    }
    const std::vector<Index> all{0, 1, 2};
    Eigen::VectorXd g = Eigen::VectorXd::Zero(model.theta().size());
    CHECK(model.relaxed_forward(samples, all, obj, 0.8, c) == Approx(sum / 3).epsilon(1e-12));
    model.relaxed_backward(c, g);
    CHECK((g - gsum / 3).norm() <= 1e-12 * g.norm());
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

    // Training side.
    std::vector<Sample<double>> samples{random_sample<double>(rng, 3, 2, 3)};
    Dna<double>::TrainCache c;
    const std::vector<Index> bad_item{1}, item{0};
    DnaObjective<double> obj;
    CHECK(field_of([&] { model.relaxed_forward(samples, bad_item, obj, 1.0, c); }) == "items");
    CHECK(field_of([&] { model.relaxed_forward(samples, item, obj, 0.0, c); }) == "tau");
    obj.metrics = {0, 0, 0, 0, 1.0};  // column 4 does not exist
    CHECK(field_of([&] { model.relaxed_forward(samples, item, obj, 1.0, c); }) == "log.metrics");
    CHECK(field_of([&] { DnaTrainable<double> t(model, samples, obj); }) == "log.metrics");
    obj.metrics = {};
    obj.alpha = -1;
    CHECK(field_of([&] { model.relaxed_forward(samples, item, obj, 1.0, c); }) == "objective.alpha");
    samples[0].auction.owners = {{0, 1}, {1, 2}, {2, kNone}};
    obj.alpha = 1;
    CHECK(field_of([&] { model.relaxed_forward(samples, item, obj, 1.0, c); }) == "owners");
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

TEST_CASE("DNA: float instantiation serves and trains", "[mechanisms][dna][float]") {
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
    DnaObjective<float> obj;
    obj.metrics = {0.5f};
    DnaTrainable<float> train(model, samples, obj);
    std::vector<Index> items(20);
    for (Index i = 0; i < 20; ++i) items[static_cast<std::size_t>(i)] = i;
    VectorX<float> grad = VectorX<float>::Zero(model.theta().size());
    const float loss = train.loss_and_grad(items, grad);
    CHECK(std::isfinite(loss));
    CHECK(grad.allFinite());
    CHECK(grad.norm() > 0.0f);
}

TEST_CASE("DNA: the Trainer drives DnaTrainable (τ schedule through begin_step)", "[mechanisms][dna][train]") {
    SECTION("default schedule: exponential from 1 to a floor of 0.05") {
        const Schedule<double> s = default_dna_tau_schedule<double>();
        CHECK(s.at(0) == 1.0);
        CHECK(s.at(100) == Approx(std::pow(0.999, 100)).epsilon(1e-12));
        CHECK(s.at(100000) == 0.05);
    }
    Rng rng(790);
    std::vector<Sample<double>> samples;
    for (int t = 0; t < 24; ++t) samples.push_back(random_sample<double>(rng, 1 + rng.uniform_int(6), 2, 3, 3.0));
    Dna<double> model(small_config());
    model.init(91);
    const Eigen::VectorXd theta0 = model.theta();
    DnaObjective<double> obj;
    obj.metrics = {0.0, 1.0};
    DnaTrainable<double> train(model, samples, obj, ExponentialSchedule<double>(1.0, 0.5, 1, 0.1));
    CHECK(train.objective().revenue_scale > 0);
    CHECK(train.objective().metric_scales.size() == 2);
    TrainerOptions<double> opt;
    opt.epochs = 2;
    opt.batch_size = 8;
    opt.progress = ProgressMode::never;
    Trainer<double> trainer(opt);
    const auto result = trainer.train(train, train.num_items());
    CHECK(result.steps == 6);
    CHECK(train.tau() == Approx(std::max(0.1, std::pow(0.5, 5))));  // last step is step 5
    CHECK((model.theta() - theta0).norm() > 0);
    CHECK(train.metrics().size() == 4);
}

TEST_CASE("DNA: DnaTrainable's chunked batches give the whole-batch loss, gradient and metrics",
          "[mechanisms][dna][train]") {
    Rng rng(795);
    std::vector<Sample<double>> samples;
    for (int t = 0; t < 23; ++t) samples.push_back(random_sample<double>(rng, 1 + rng.uniform_int(7), 3, 3, 3.0));
    Dna<double> model(small_config());
    model.init(93);
    DnaObjective<double> obj;
    obj.metrics = {0.5, 1.0};
    DnaTrainable<double> train(model, samples, obj, ConstantSchedule<double>(0.7));
    std::vector<Index> items;
    for (Index i = 22; i >= 0; i -= 2) items.push_back(i);  // 12 items, out of order
    for (Index i = 1; i < 23; i += 5) items.push_back(i);   // and 5 more, some repeated
    // Reference: one pass over the whole batch through the public forward/backward.
    Dna<double>::TrainCache c;
    const double whole = model.relaxed_forward(samples, items, train.objective(), 0.7, c);
    Eigen::VectorXd g_whole = Eigen::VectorXd::Zero(model.theta().size());
    model.relaxed_backward(c, g_whole);
    CHECK(train.chunk_auctions() == 16);
    for (const Index chunk : {Index{1}, Index{4}, Index{7}, Index{16}, Index{100}}) {
        INFO("chunk " << chunk);
        train.set_chunk_auctions(chunk);
        Eigen::VectorXd g = Eigen::VectorXd::Ones(model.theta().size());  // accumulates
        const double l = train.loss_and_grad(items, g);
        CHECK(l == Approx(whole).epsilon(1e-13));
        CHECK((g.array() - 1.0 - g_whole.array()).abs().maxCoeff() <= 1e-13 * (1 + g_whole.lpNorm<Eigen::Infinity>()));
        CHECK(train.metrics()[1].value == Approx(c.loss_tgt).epsilon(1e-13));
        CHECK(train.metrics()[2].value == Approx(c.loss_ce).epsilon(1e-13));
        CHECK(train.metrics()[3].value == Approx(c.revenue).epsilon(1e-13));
        CHECK(train.loss(items) == Approx(whole).epsilon(1e-13));
    }
    CHECK(field_of([&] { train.set_chunk_auctions(0); }) == "chunk_auctions");
}
