// EdgeNet (SPEC §4.2): finite-difference gradients of the relaxed outcome in θ and
// in the bids (core pass; the augmented-Lagrangian regret objective through RelaxedTrainable),
// accumulation; a bid-free and permutation-equivariant encoder; serving properties
// (IR, no repeated ad, min(K, N) slots filled, logits monotone in the own bid);
// validation; allocation-free and thread-safe serving; save/load.
#include <catch2/catch.hpp>

#include <diffauction/mechanisms/learned/edgenet.hpp>
#include <diffauction/train/recipes/edgenet.hpp>
#include <diffauction/train/misreport.hpp>
#include <diffauction/train/objectives/regret_loss.hpp>
#include <diffauction/train/relaxed_trainable.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "support/extreme_inputs.hpp"
#include "support/gradcheck.hpp"
#include "support/learned_models.hpp"
#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/serving.hpp"

using namespace diffauction;
using test::field_of;
using test::kGradTol;

static_assert(Mechanism<EdgeNet<double>>);
static_assert(Mechanism<EdgeNet<float>>);
static_assert(RelaxedMechanism<EdgeNet<double>>);
static_assert(RelaxedMechanism<EdgeNet<float>>);

namespace {

EdgeNetConfig small_config() { return test::small_edgenet_config(); }

EdgeNet<double> small_model(std::uint64_t seed) {
    EdgeNet<double> m(small_config());
    m.init(seed);
    return m;
}

/// Fills the cache's inputs with B random auctions (sizes `ns`, K = 2) under `copies` bid profiles.
void random_rows(const EdgeNet<double>& m, Rng& rng, const std::vector<Index>& ns, Index copies,
                 EdgeNet<double>::Cache& c) {
    const Index nb = static_cast<Index>(ns.size());
    c.offsets.assign(1, 0);
    for (const Index n : ns) c.offsets.push_back(c.offsets.back() + n);
    const Index total = c.offsets.back();
    c.x.resize(total, m.input_dim());
    c.steps.resize(static_cast<std::size_t>(nb));
    c.beta.setZero(nb, m.config().max_slots);
    for (Index b = 0; b < nb; ++b) {
        const Auction<double> a = test::random_auction<double>(rng, ns[static_cast<std::size_t>(b)], 2, 3);
        write_candidate_inputs<double>(a, m.config().feature_dim, c.x, c.offsets[static_cast<std::size_t>(b)]);
        c.steps[static_cast<std::size_t>(b)] = std::min<Index>(2, ns[static_cast<std::size_t>(b)]);
        c.beta.row(b).head(c.steps[static_cast<std::size_t>(b)]) =
            a.slot_ctr.head(c.steps[static_cast<std::size_t>(b)]).transpose();
    }
    c.bids.resize(copies * total);
    for (Index i = 0; i < c.bids.size(); ++i) c.bids[i] = rng.uniform(0.1, 1.0);
}

/// Everything discrete in a pass: the hard picks (masks) and the rivals' order.
std::vector<Index> discrete_state(const EdgeNet<double>::Cache& c) {
    std::vector<Index> s = c.pick;
    s.insert(s.end(), c.rivals.begin(), c.rivals.end());
    return s;
}

}  // namespace

TEST_CASE("EdgeNet: finite-difference gradient of the relaxed outcome in theta and bids", "[mechanisms][edgenet][grad]") {
    // Profiles: one; three; three with a focus (the second prices only candidate 2,
    // the third only candidate 0).
    const std::vector<std::vector<Index>> focuses{{}, {}, {kNone, 2, 0}};
    const std::vector<Index> copies_of{1, 3, 3};
    for (std::size_t run = 0; run < focuses.size(); ++run) {
        const Index copies = copies_of[run];
        INFO("copies " << copies << ", focus " << (focuses[run].empty() ? "none" : "{kNone, 2, 0}"));
        EdgeNet<double> m = small_model(5 + static_cast<std::uint64_t>(run));
        Rng rng(900 + static_cast<std::uint64_t>(run));
        EdgeNet<double>::Cache c;
        random_rows(m, rng, {1, 3, 4}, copies, c);
        c.focus = focuses[run];
        const double tau = 0.7;
        const Index tr = c.bids.size();
        const Eigen::VectorXd wc = test::random_matrix(rng, tr, 1).col(0), wp = test::random_matrix(rng, tr, 1).col(0);
        const auto loss_at = [&](const Eigen::VectorXd& theta, const Eigen::VectorXd& bids,
                                 std::vector<Index>* state) {
            EdgeNet<double>::Cache cc = c;
            cc.bids = bids;
            m.forward_rows(theta, copies, tau, cc);
            if (state != nullptr) *state = discrete_state(cc);
            return wc.dot(cc.click) + wp.dot(cc.payment);
        };
        m.forward_rows(m.theta(), copies, tau, c);
        const std::vector<Index> state = discrete_state(c);
        Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta().size()), d_bids;
        m.backward_rows(m.theta(), c, wc, wp, grad, &d_bids);

        // No discrete change within the difference step, so the loss is smooth here.
        std::vector<Index> s;
        const Eigen::VectorXd bids = c.bids;
        const Eigen::VectorXd ng = test::numeric_gradient(
            [&](const Eigen::VectorXd& th) {
                const double l = loss_at(th, bids, &s);
                REQUIRE(s == state);
                return l;
            },
            m.theta());
        CHECK(test::relative_error(grad, ng) < kGradTol);
        const Eigen::VectorXd nb = test::numeric_gradient(
            [&](const Eigen::VectorXd& b) {
                const double l = loss_at(m.theta(), b, &s);
                REQUIRE(s == state);
                return l;
            },
            bids);
        CHECK(test::relative_error(d_bids, nb) < kGradTol);
        CHECK(d_bids.norm() > 0);

        // Accumulation: a second backward doubles the gradient.
        m.backward_rows(m.theta(), c, wc, wp, grad, nullptr);
        Eigen::VectorXd once = Eigen::VectorXd::Zero(m.theta().size());
        m.backward_rows(m.theta(), c, wc, wp, once, nullptr);
        CHECK((grad - 2 * once).norm() <= 1e-12 * once.norm());
    }
}

TEST_CASE("EdgeNet: the C profiles of one call equal C separate calls", "[mechanisms][edgenet]") {
    EdgeNet<double> m = small_model(11);
    Rng rng(911);
    EdgeNet<double>::Cache all;
    random_rows(m, rng, {2, 5, 3}, 3, all);
    m.forward_rows(m.theta(), 3, 0.5, all);
    const Index total = all.total();
    for (Index p = 0; p < 3; ++p) {
        EdgeNet<double>::Cache one = all;
        one.bids = all.bids.segment(p * total, total);
        m.forward_rows(m.theta(), 1, 0.5, one);
        CHECK((one.payment - all.payment.segment(p * total, total)).cwiseAbs().maxCoeff() < 1e-14);
        CHECK((one.click - all.click.segment(p * total, total)).cwiseAbs().maxCoeff() < 1e-14);
    }
}

namespace {
/// EdgeNet with its focus hint dropped: every profile prices every candidate.
struct Unfocused {
    using scalar_type = double;
    using RelaxedCache = EdgeNet<double>::RelaxedCache;
    EdgeNet<double>* m;
    Eigen::VectorXd& theta() { return m->theta(); }
    const Eigen::VectorXd& theta() const { return m->theta(); }
    void relaxed_forward(const Batch<double>& batch, const Eigen::Ref<const Eigen::VectorXd>& bids, double tau,
                         RelaxedCache& c, RelaxedOutcome<double>& out, std::span<const Index> = {}) const {
        m->relaxed_forward(batch, bids, tau, c, out);
    }
    void relaxed_backward(RelaxedCache& c, const RelaxedGradient<double>& d, Eigen::VectorXd& grad,
                          Eigen::VectorXd* d_bids) const {
        m->relaxed_backward(c, d, grad, d_bids);
    }
};
static_assert(RelaxedModel<Unfocused>);

std::vector<Sample<double>> truthful_samples(Rng& rng, const std::vector<Index>& sizes) {
    std::vector<Sample<double>> samples;
    for (const Index n : sizes) {
        Sample<double> s;
        s.auction = test::random_auction<double>(rng, n, 2, 3);
        s.truth.values = s.auction.bids;
        samples.push_back(std::move(s));
    }
    return samples;
}

std::vector<Index> all_items(std::size_t n) {
    std::vector<Index> items(n);
    for (std::size_t i = 0; i < n; ++i) items[i] = static_cast<Index>(i);
    return items;
}
}  // namespace

TEST_CASE("EdgeNet: focused regret searches and loss equal the unfocused ones", "[mechanisms][edgenet]") {
    EdgeNet<double> m = small_model(25);
    Unfocused plain{&m};
    Rng rng(925);
    const std::vector<Sample<double>> samples = truthful_samples(rng, {2, 5, 3, 4, 2, 5});
    Batch<double> batch;
    for (const Sample<double>& s : samples) batch.push_back(s.auction);
    Eigen::VectorXd values;
    truthful_values(std::span<const Sample<double>>(samples), values);
    MisreportOptions<double> opt;
    opt.multipliers = {0.0, 0.5, 1.0, 1.5};
    opt.ascent.steps = 3;
    Eigen::VectorXd mis_f = values, mis_p = values, u_f, u_p;
    MisreportWorkspace<EdgeNet<double>> wf;
    MisreportWorkspace<Unfocused> wp;
    search_misreports(m, batch, values, 0.4, mis_f, u_f, opt, wf);
    search_misreports(plain, batch, values, 0.4, mis_p, u_p, opt, wp);
    CHECK((mis_f - mis_p).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((u_f - u_p).cwiseAbs().maxCoeff() < 1e-12);

    // The loss of a training step (same options and seed: same warm starts and searches).
    RegretLossOptions<double> ro;
    ro.lambda0 = 3;
    ro.rho0 = 2;
    ro.misreport = opt;
    RelaxedTrainable<EdgeNet<double>, RegretLoss<EdgeNet<double>>> tf(m, samples, RegretLoss<EdgeNet<double>>(ro));
    RelaxedTrainable<Unfocused, RegretLoss<Unfocused>> tp(plain, samples, RegretLoss<Unfocused>(ro));
    tf.set_tau(0.4);
    tp.set_tau(0.4);
    const std::vector<Index> items = all_items(samples.size());
    Eigen::VectorXd gf = Eigen::VectorXd::Zero(m.theta().size()), gp = gf;
    const double loss_f = tf.loss_and_grad(items, gf);
    const double loss_p = tp.loss_and_grad(items, gp);
    CHECK(loss_f == Approx(loss_p).epsilon(1e-12));
    CHECK((gf - gp).norm() <= 1e-10 * gp.norm());
    CHECK(gp.norm() > 0);
    CHECK(tf.objective().last_regret().maxCoeff() > 0);
}

TEST_CASE("EdgeNet: gradient of the augmented-Lagrangian regret objective through RelaxedTrainable",
          "[mechanisms][edgenet][grad]") {
    EdgeNet<double> m = small_model(21);
    Rng rng(921);
    const std::vector<Sample<double>> samples = truthful_samples(rng, {4, 2, 3});
    // No search (grid off, no ascent steps): the misreports are the warm starts drawn
    // in [0, 1], fixed from call to call, so the loss is a function of θ alone.
    RegretLossOptions<double> ro;
    ro.lambda0 = 2;
    ro.rho0 = 1.5;
    ro.misreport.grid = false;
    ro.misreport.ascent.steps = 0;
    RelaxedTrainable<EdgeNet<double>, RegretLoss<EdgeNet<double>>> t(m, samples, RegretLoss<EdgeNet<double>>(ro));
    t.set_tau(0.6);
    const std::vector<Index> items = all_items(samples.size());
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta().size());
    t.loss_and_grad(items, grad);
    REQUIRE(t.objective().lambda().size() == 4);  // positions: the largest auction's size
    CHECK(t.objective().last_regret().maxCoeff() > 0);  // the regret terms take part
    const Eigen::VectorXd ng = test::numeric_gradient_in_place(m.theta(), [&] { return t.loss(items); });
    CHECK(test::relative_error(grad, ng) < kGradTol);
}

TEST_CASE("EdgeNet: the encoder ignores bids and is permutation-equivariant", "[mechanisms][edgenet]") {
    EdgeNet<double> m = small_model(31);
    Rng rng(931);
    EdgeNet<double>::Workspace ws;
    for (int t = 0; t < 100; ++t) {
        const Index n = 1 + rng.uniform_int(8);
        Auction<double> a = test::random_auction<double>(rng, n, 1 + rng.uniform_int(2), 3);
        Outcome<double> oa, ob;
        m.run(a, oa, ws);
        const MatrixX<double> z = ws.last().z;
        const MatrixX<double> g = ws.last().g;
        // Bids: no encoder output changes, bit for bit.
        Auction<double> rebid = a;
        for (Index i = 0; i < n; ++i) rebid.bids[i] = rng.uniform(0.0, 3.0);
        m.run(rebid, ob, ws);
        CHECK(ws.last().z == z);
        CHECK(ws.last().g == g);

        // Permutation: candidate perm[i] of a is candidate i of b.
        std::vector<Index> perm(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = i;
        for (Index i = n - 1; i > 0; --i)
            std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(rng.uniform_int(i + 1))]);
        Auction<double> b = a;
        for (Index i = 0; i < n; ++i) {
            const Index src = perm[static_cast<std::size_t>(i)];
            b.bids[i] = a.bids[src];
            b.ctr[i] = a.ctr[src];
            b.cvr[i] = a.cvr[src];
            b.price[i] = a.price[src];
            b.features.row(i) = a.features.row(src);
        }
        m.run(b, ob, ws);
        for (Index i = 0; i < n; ++i)
            CHECK((ws.last().z.row(i) - z.row(perm[static_cast<std::size_t>(i)])).cwiseAbs().maxCoeff() < 1e-12);
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

TEST_CASE("EdgeNet: serving over 2 000 random auctions: IR, distinct ads, min(K, N) slots filled",
          "[mechanisms][edgenet]") {
    EdgeNetConfig cfg = small_config();
    cfg.max_slots = 4;
    EdgeNet<double> m(cfg);
    m.init(41);
    Rng rng(941);
    EdgeNet<double>::Workspace ws;
    Outcome<double> out;
    for (int t = 0; t < 2000; ++t) {
        const Index n = 1 + rng.uniform_int(10), k = 1 + rng.uniform_int(4);
        Auction<double> a = test::random_auction<double>(rng, n, k, 3, t % 5 == 0);
        a.bids *= 5.0;
        m.run(a, out, ws);
        std::vector<char> shown(static_cast<std::size_t>(n), 0);
        for (Index s = 0; s < k; ++s) {
            const Index i = out.slots[static_cast<std::size_t>(s)];
            if (s < std::min(k, n)) {
                REQUIRE(i != kNone);
                CHECK(!shown[static_cast<std::size_t>(i)]);
                shown[static_cast<std::size_t>(i)] = 1;
                CHECK(out.click_prob[static_cast<std::size_t>(i)] == a.slot_ctr[s] * a.ctr[i]);
            } else {
                CHECK(i == kNone);
            }
        }
        for (Index i = 0; i < n; ++i) {
            const double p = out.price[static_cast<std::size_t>(i)];
            CHECK(p >= 0);
            CHECK(p <= a.bids[i]);  // IR
            if (!shown[static_cast<std::size_t>(i)]) CHECK((p == 0 && out.click_prob[static_cast<std::size_t>(i)] == 0));
        }
    }
}

TEST_CASE("EdgeNet: a higher bid never lowers the ad's logit at any decoding step (same earlier picks)",
          "[mechanisms][edgenet]") {
    EdgeNetConfig cfg = small_config();
    cfg.max_slots = 3;
    EdgeNet<double> m(cfg);
    m.init(51);
    Rng rng(951);
    EdgeNet<double>::Workspace ws;
    Outcome<double> out;
    Index compared = 0;
    for (int t = 0; t < 1000; ++t) {
        const Index n = 2 + rng.uniform_int(8);
        Auction<double> a = test::random_auction<double>(rng, n, 3, 3);
        m.run(a, out, ws);
        const EdgeNet<double>::Cache before = ws.last();
        const Index i = rng.uniform_int(n);
        Auction<double> up = a;
        up.bids[i] += rng.uniform(0.0, 2.0);
        m.run(up, out, ws);
        const EdgeNet<double>::Cache& after = ws.last();
        const Index steps = std::min<Index>(3, n);
        for (Index s = 0; s < steps; ++s) {
            bool same_prefix = true;
            for (Index q = 0; q < s; ++q) same_prefix = same_prefix && before.pick[static_cast<std::size_t>(q)] ==
                                                                          after.pick[static_cast<std::size_t>(q)];
            if (!same_prefix) break;
            CHECK(after.logit(i, s) >= before.logit(i, s));
            for (Index j = 0; j < n; ++j)  // nobody else's logit moves
                if (j != i) CHECK(after.logit(j, s) == before.logit(j, s));
            ++compared;
        }
    }
    CHECK(compared > 1000);
}

TEST_CASE("EdgeNet: validation errors name the field", "[mechanisms][edgenet]") {
    EdgeNet<double> m = small_model(61);
    Rng rng(961);
    EdgeNet<double>::Workspace ws;
    Outcome<double> out;
    const Auction<double> good = test::random_auction<double>(rng, 4, 2, 3);
    CHECK_NOTHROW(m.run(good, out, ws));
    Auction<double> a = good;
    a.bids[1] = std::nan("");
    CHECK(field_of([&] { m.run(a, out, ws); }) == "bids");
    a = good;
    a.bids[2] = -1;
    CHECK(field_of([&] { m.run(a, out, ws); }) == "bids");
    a = test::random_auction<double>(rng, 4, 2, 2);  // 2 feature columns, model takes 3
    CHECK(field_of([&] { m.run(a, out, ws); }) == "features");
    a = test::random_auction<double>(rng, 5, 3, 3);  // 3 slots to fill, model decodes 2
    CHECK(field_of([&] { m.run(a, out, ws); }) == "slot_ctr");
    a = test::random_auction<double>(rng, 2, 3, 3);  // 3 slots but only 2 ads: 2 steps, fine
    CHECK_NOTHROW(m.run(a, out, ws));
    CHECK(out.slots[2] == kNone);

    EdgeNetConfig bad = small_config();
    bad.heads = 3;  // does not divide 4
    CHECK(field_of([&] { EdgeNet<double> x(bad); }) == "heads");
    bad = small_config();
    bad.bid_scale = 0;
    CHECK(field_of([&] { EdgeNet<double> x(bad); }) == "bid_scale");
    // Training samples are checked once, naming the sample.
    std::vector<Sample<double>> bad_samples = truthful_samples(rng, {3, 4});
    bad_samples[1].truth.values.resize(3);
    CHECK(field_of([&] { train_edgenet(m, std::span<const Sample<double>>(bad_samples)); }) == "truth.values");
    bad_samples = truthful_samples(rng, {3, 4});
    bad_samples[0].auction = test::random_auction<double>(rng, 5, 3, 3);  // 3 slots to fill, model decodes 2
    bad_samples[0].truth.values = bad_samples[0].auction.bids;
    CHECK(field_of([&] { train_edgenet(m, std::span<const Sample<double>>(bad_samples)); }) == "slot_ctr");
    CHECK(field_of([&] { train_edgenet(m, std::span<const Sample<double>>()); }) == "samples");
    EdgeNetTrainOptions<double> bad_opt;
    bad_opt.regret.rho0 = -1;
    CHECK(field_of([&] { train_edgenet(m, std::span<const Sample<double>>(truthful_samples(rng, {3})), bad_opt); }) ==
          "rho0");
}

TEST_CASE("EdgeNet: serving allocates nothing after warm-up and is thread-safe", "[mechanisms][edgenet][serving]") {
    EdgeNetConfig cfg = small_config();
    cfg.max_slots = 4;
    EdgeNet<double> m(cfg);
    m.init(71);
    Rng rng(971);
    std::vector<Auction<double>> pool;
    for (int t = 0; t < 60; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4), 3);
        if (t % 4 == 0) a.cvr.resize(0);
        pool.push_back(std::move(a));
    }
    test::check_serving("EdgeNet", m, pool);
}

TEMPLATE_TEST_CASE("EdgeNet: a saved and reloaded model gives bit-identical outcomes; bad files are typed errors",
                   "[mechanisms][edgenet][io]", float, double) {
    using T = TestType;
    EdgeNetConfig cfg = small_config();
    EdgeNet<T> m(cfg);
    m.init(81);
    std::stringstream file;
    save(m, file);
    const std::string bytes = file.str();
    std::istringstream in(bytes);
    const EdgeNet<T> back = load<EdgeNet<T>>(in);
    CHECK(back.theta() == m.theta());
    CHECK(back.config().bid_scale == cfg.bid_scale);
    Rng rng(981);
    typename EdgeNet<T>::Workspace w1, w2;
    Outcome<T> o1, o2;
    for (int t = 0; t < 50; ++t) {
        const Auction<T> a = test::random_auction<T>(rng, 1 + rng.uniform_int(6), 2, 3);
        m.run(a, o1, w1);
        back.run(a, o2, w2);
        CHECK(o1.slots == o2.slots);
        CHECK(o1.price == o2.price);
        CHECK(o1.click_prob == o2.click_prob);
    }
    std::istringstream cut(bytes.substr(0, bytes.size() / 2));
    CHECK_THROWS_AS(load<EdgeNet<T>>(cut), truncated_model_file);
    std::string flipped = bytes;
    flipped[flipped.size() - 20] = static_cast<char>(flipped[flipped.size() - 20] ^ 0x5a);
    std::istringstream bad(flipped);
    CHECK_THROWS_AS(load<EdgeNet<T>>(bad), corrupt_model_file);
    // A DNA-kind reader refuses it: wrong kind.
    std::istringstream other(bytes);
    CHECK_THROWS_AS(load_model<T>(other, "dna", 1), wrong_model_kind);
}

TEMPLATE_TEST_CASE("EdgeNet: extreme inputs give a typed error or a finite, IR outcome (issue 15)",
                   "[mechanisms][edgenet][extreme]", float, double) {
    auto edgenet = test::small_learned_model<EdgeNet<TestType>>(7);
    test::check_extreme_inputs("EdgeNet", edgenet, false);
    // Weights that overflow the scalar: a typed error naming "features", never a NaN
    // reaching the ranking or a price (mechanisms/learned/candidate_inputs.hpp).
    edgenet.theta().setConstant(std::numeric_limits<TestType>::max() / 16);
    Rng rng(11);
    const auto a = test::random_auction<TestType>(rng, 4, 2, 3);
    try {
        (void)run(edgenet, a);
        FAIL("a model with overflowing weights served");
    } catch (const input_error& e) {
        CHECK(e.field() == "features");
        CHECK(std::string(e.what()).find("out of the floating-point range") != std::string::npos);
    }
}
