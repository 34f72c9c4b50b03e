// The relaxed-outcome contract (mechanisms/relaxed.hpp) and the serving contract
// (mechanisms/mechanism.hpp), checked the same way on every learned mechanism:
// finite-difference gradient of the relaxed outcome in θ and in the bids over C bid
// profiles of a ragged batch, an empty gradient member counting as zero,
// accumulation, profile and batch invariance, τ → 0 giving the served allocation,
// allocation-free and thread-safe serving. Save/load: tests/io/persist.test.cpp.
// A new learned mechanism joins by getting a small model in
// tests/support/learned_models.hpp and a place in `RelaxedModels`.
#include <catch2/catch.hpp>

#include <diffauction/core/batch.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>
#include <diffauction/mechanisms/relaxed.hpp>

#include <cmath>
#include <tuple>
#include <vector>

#include "support/gradcheck.hpp"
#include "support/relaxed_functional.hpp"
#include "support/learned_models.hpp"
#include "support/random_auction.hpp"
#include "support/serving.hpp"

using namespace diffauction;
using test::Functional;
using test::profiles_of;
using test::random_functional;

static_assert(RelaxedMechanism<Dna<float>> && RelaxedMechanism<Dna<double>>);
static_assert(RelaxedMechanism<EdgeNet<float>> && RelaxedMechanism<EdgeNet<double>>);

namespace {

using RelaxedModels = std::tuple<Dna<double>, EdgeNet<double>>;

/// A ragged batch of auctions with the given candidate counts, 2 slots, 3 features.
Batch<double> random_batch(Rng& rng, const std::vector<Index>& ns) {
    Batch<double> batch;
    for (const Index n : ns) batch.push_back(test::random_auction<double>(rng, n, 2, 3));
    return batch;
}


constexpr double kTau = 0.7;

}  // namespace

TEMPLATE_LIST_TEST_CASE("Relaxed contract: gradient in θ and in the bids over C profiles of a ragged batch",
                        "[mechanisms][learned][relaxed][grad]", RelaxedModels) {
    using M = TestType;
    for (const Index c : {Index{1}, Index{3}}) {
        INFO("profiles " << c << ", model seed 21, data seed " << 300 + c);
        const M m = test::small_learned_model<M>(21);
        Rng rng(300 + static_cast<std::uint64_t>(c));
        const Batch<double> batch = random_batch(rng, {2, 4, 1, 3});
        const Eigen::VectorXd bids = profiles_of(batch, rng, c);
        typename M::RelaxedCache cache;
        RelaxedOutcome<double> out;
        m.relaxed_forward(batch, bids, kTau, cache, out);
        REQUIRE(out.profiles == c);
        REQUIRE(out.rows() == c * batch.total_candidates());
        const Functional f = random_functional(rng, out);

        Eigen::VectorXd grad = Eigen::VectorXd::Zero(m.theta().size()), d_bids;
        m.relaxed_backward(cache, f.gradient(), grad, &d_bids);
        const auto loss_at = [&](const Eigen::VectorXd& theta, const Eigen::VectorXd& b) {
            M probe = m;
            probe.theta() = theta;
            typename M::RelaxedCache pc;
            RelaxedOutcome<double> po;
            probe.relaxed_forward(batch, b, kTau, pc, po);
            return f(po);
        };
        const Eigen::VectorXd ng = test::numeric_gradient([&](const Eigen::VectorXd& t) { return loss_at(t, bids); },
                                                          m.theta());
        CHECK(test::relative_error(grad, ng) < test::kGradTol);
        const Eigen::VectorXd nb =
            test::numeric_gradient([&](const Eigen::VectorXd& b) { return loss_at(m.theta(), b); }, bids);
        CHECK(test::relative_error(d_bids, nb) < test::kGradTol);
        CHECK(d_bids.norm() > 0);

        // Accumulation: a second backward on the same cache adds the same gradient.
        Eigen::VectorXd once = Eigen::VectorXd::Zero(m.theta().size());
        m.relaxed_backward(cache, f.gradient(), once, nullptr);
        m.relaxed_backward(cache, f.gradient(), grad, nullptr);
        CHECK((grad - 2 * once).norm() <= 1e-12 * once.norm());

        // An empty member of the gradient is zero.
        RelaxedGradient<double> part = f.gradient(), zeros = f.gradient();
        part.d_click.resize(0);
        zeros.d_click.setZero();
        Eigen::VectorXd g1 = Eigen::VectorXd::Zero(m.theta().size()), g2 = g1, b1, b2;
        m.relaxed_backward(cache, part, g1, &b1);
        m.relaxed_backward(cache, zeros, g2, &b2);
        CHECK((g1 - g2).norm() <= 1e-14 * (1 + g2.norm()));
        CHECK((b1 - b2).norm() <= 1e-14 * (1 + b2.norm()));
    }
}

TEMPLATE_LIST_TEST_CASE("Relaxed contract: each profile of a C-profile call is that profile alone",
                        "[mechanisms][learned][relaxed]", RelaxedModels) {
    using M = TestType;
    const M m = test::small_learned_model<M>(22);
    Rng rng(401);
    const Batch<double> batch = random_batch(rng, {3, 1, 5, 2});
    const Index c = 3, total = batch.total_candidates();
    const Eigen::VectorXd bids = profiles_of(batch, rng, c);
    typename M::RelaxedCache cache;
    RelaxedOutcome<double> all, one;
    m.relaxed_forward(batch, bids, kTau, cache, all);
    for (Index p = 0; p < c; ++p) {
        INFO("profile " << p);
        m.relaxed_forward(batch, Eigen::VectorXd(bids.segment(p * total, total)), kTau, cache, one);
        CHECK((all.alloc.middleRows(p * total, total) - one.alloc).cwiseAbs().maxCoeff() <= 1e-12);
        CHECK((all.click.segment(p * total, total) - one.click).cwiseAbs().maxCoeff() <= 1e-12);
        CHECK((all.payment.segment(p * total, total) - one.payment).cwiseAbs().maxCoeff() <= 1e-12);
        CHECK((all.price.segment(p * total, total) - one.price).cwiseAbs().maxCoeff() <= 1e-12);
    }
}

TEMPLATE_LIST_TEST_CASE("Relaxed contract: an auction's rows in a batch are that auction alone",
                        "[mechanisms][learned][relaxed]", RelaxedModels) {
    using M = TestType;
    const M m = test::small_learned_model<M>(23);
    Rng rng(402);
    const Batch<double> batch = random_batch(rng, {4, 2, 1, 5});
    Eigen::VectorXd bids;
    relaxed_candidate_bids(batch, bids);
    typename M::RelaxedCache cache;
    RelaxedOutcome<double> all, one;
    m.relaxed_forward(batch, bids, kTau, cache, all);
    for (Index b = 0; b < batch.size(); ++b) {
        INFO("auction " << b);
        Batch<double> alone;
        alone.push_back(batch.auction(b));
        Eigen::VectorXd own;
        relaxed_candidate_bids(alone, own);
        m.relaxed_forward(alone, own, kTau, cache, one);
        const Index o = batch.begin(b), n = batch.end(b) - o, k = one.max_slots();
        CHECK((all.alloc.block(o, 0, n, k) - one.alloc).cwiseAbs().maxCoeff() <= 1e-12);
        if (all.max_slots() > k) CHECK(all.alloc.block(o, k, n, all.max_slots() - k).isZero(0));
        CHECK((all.click.segment(o, n) - one.click).cwiseAbs().maxCoeff() <= 1e-12);
        CHECK((all.payment.segment(o, n) - one.payment).cwiseAbs().maxCoeff() <= 1e-12);
    }
}

TEMPLATE_LIST_TEST_CASE("Relaxed contract: at a small τ the relaxed allocation is the served one",
                        "[mechanisms][learned][relaxed]", RelaxedModels) {
    using M = TestType;
    const M m = test::small_learned_model<M>(24);
    Rng rng(403);
    typename M::Workspace ws;
    typename M::RelaxedCache cache;
    RelaxedOutcome<double> out;
    Outcome<double> served;
    for (int t = 0; t < 200; ++t) {
        INFO("auction " << t);
        Batch<double> one;
        one.push_back(test::random_auction<double>(rng, 1 + rng.uniform_int(6), 2, 3));
        const AuctionView<double> a = one.auction(0);
        m.run(a, served, ws);
        Eigen::VectorXd bids;
        relaxed_candidate_bids(one, bids);
        m.relaxed_forward(one, bids, 1e-4, cache, out);
        for (Index k = 0; k < out.max_slots(); ++k) {
            Index best = 0;
            out.alloc.col(k).maxCoeff(&best);
            CHECK(best == served.slots[static_cast<std::size_t>(k)]);
            CHECK(out.alloc(best, k) > 0.99);
        }
        // payment = price·click, and IR: a price never exceeds the bid.
        for (Index i = 0; i < out.rows(); ++i) {
            CHECK(std::abs(out.payment[i] - out.price[i] * out.click[i]) <= 1e-12);
            CHECK(out.price[i] <= bids[i] * (1 + 1e-12));
        }
    }
}

TEMPLATE_LIST_TEST_CASE("Serving contract: no allocation after warm-up, threads give the single-thread outcomes",
                        "[mechanisms][learned][serving]", RelaxedModels) {
    using M = TestType;
    const M m = test::small_learned_model<M>(25);
    Rng rng(404);
    std::vector<Auction<double>> pool;
    for (int t = 0; t < 30; ++t) pool.push_back(test::random_auction<double>(rng, 1 + rng.uniform_int(7), 2, 3));
    test::check_serving("learned mechanism", m, pool);
}
