// CriticalBid (mechanisms/critical_bid.hpp): around GSP and DNA it reproduces their
// own closed-form prices (both are critical bids); around EdgeNet's hard decoder the
// price is a threshold (the ad keeps its slot at every bid above it and loses it
// below: EdgeNet's slot is monotone in the own bid); IR; errors; serving contract.
#include <catch2/catch.hpp>

#include <diffauction/mechanisms/critical_bid.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>
#include <diffauction/mechanisms/baselines/gsp.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "support/mechanism_properties.hpp"
#include "support/random_auction.hpp"
#include "support/serving.hpp"

using namespace diffauction;
using test::field_of;
using test::slot_of;

static_assert(Mechanism<CriticalBid<Gsp<double>>>);
static_assert(Mechanism<CriticalBid<EdgeNet<float>>>);

namespace {

EdgeNet<double> small_edgenet(std::uint64_t seed) {
    EdgeNetConfig c;
    c.feature_dim = 3;
    c.embed_dim = 8;
    c.blocks = 1;
    c.heads = 2;
    c.ffn_dim = 8;
    c.attn_dim = 6;
    c.pay_hidden = {6};
    c.max_slots = 4;
    c.competitors = 2;
    c.bid_scale = 0.05;
    EdgeNet<double> m(c);
    m.init(seed);
    return m;
}

}  // namespace

TEMPLATE_TEST_CASE("CriticalBid around GSP reproduces the GSP prices (2 000 random auctions)", "[mechanisms][critical]",
                   float, double) {
    using T = TestType;
    const Gsp<T> gsp(T(0.8));
    const CriticalBid<Gsp<T>> crit(gsp);
    Rng rng(1301);
    typename Gsp<T>::Workspace gws;
    typename CriticalBid<Gsp<T>>::Workspace cws;
    Outcome<T> g, c;
    const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
    Index paying = 0;
    for (int t = 0; t < 2000; ++t) {
        const auto a = test::random_auction<T>(rng, 1 + rng.uniform_int(10), 1 + rng.uniform_int(4), 0, t % 3 == 0);
        gsp.run(a, g, gws);
        crit.run(a, c, cws);
        REQUIRE(c.slots == g.slots);
        REQUIRE(c.click_prob == g.click_prob);
        for (Index j = 0; j < a.num_bidders(); ++j) {
            const auto ju = static_cast<std::size_t>(j);
            REQUIRE(c.price[ju] <= a.bids[j]);  // IR, exactly
            CHECK(static_cast<double>(c.price[ju]) ==
                  Approx(static_cast<double>(g.price[ju])).margin(tol * static_cast<double>(a.bids[j])).epsilon(0));
            paying += g.price[ju] > T(0);
        }
    }
    CHECK(paying > 1000);  // the comparison is over real prices, not zeros
}

TEST_CASE("CriticalBid around DNA reproduces DNA's inverse-score prices", "[mechanisms][critical]") {
    DnaConfig cfg;
    cfg.feature_dim = 4;
    cfg.phi1 = {16, 8};
    cfg.phi2 = {4};
    Dna<double> dna(cfg);
    dna.init(77);
    const CriticalBid<Dna<double>> crit(dna);
    Rng rng(1302);
    Dna<double>::Workspace dws;
    CriticalBid<Dna<double>>::Workspace cws;
    Outcome<double> d, c;
    Index paying = 0;
    for (int t = 0; t < 500; ++t) {
        auto a = test::random_auction<double>(rng, 1 + rng.uniform_int(10), 1 + rng.uniform_int(4), 4);
        a.bids *= 4.0;
        dna.run(a, d, dws);
        crit.run(a, c, cws);
        REQUIRE(c.slots == d.slots);
        for (Index j = 0; j < a.num_bidders(); ++j) {
            const auto ju = static_cast<std::size_t>(j);
            REQUIRE(c.price[ju] <= a.bids[j]);
            CHECK(c.price[ju] == Approx(d.price[ju]).margin(1e-12 * (1 + a.bids[j])).epsilon(0));
            paying += d.price[ju] > 0;
        }
    }
    CHECK(paying > 300);
}

TEST_CASE("CriticalBid around EdgeNet: the price is the threshold of a monotone slot", "[mechanisms][critical][edgenet]") {
    const EdgeNet<double> net = small_edgenet(91);
    const CriticalBid<EdgeNet<double>> crit(net);
    Rng rng(1303);
    EdgeNet<double>::Workspace ews;
    CriticalBid<EdgeNet<double>>::Workspace cws;
    Outcome<double> e, c, probe;
    Index checked = 0, paying = 0, violations = 0;
    for (int t = 0; t < 300; ++t) {
        const Index n = 1 + rng.uniform_int(9), k = 1 + rng.uniform_int(4);
        Auction<double> a = test::random_auction<double>(rng, n, k, 3);
        a.bids *= 5.0;
        net.run(a, e, ews);
        crit.run(a, c, cws);
        REQUIRE(c.slots == e.slots);
        REQUIRE(c.click_prob == e.click_prob);
        Auction<double> b = a;
        for (Index s = 0; s < k; ++s) {
            const Index j = c.slots[static_cast<std::size_t>(s)];
            if (j == kNone) continue;
            const double p = c.price[static_cast<std::size_t>(j)], bid = a.bids[j];
            REQUIRE(p >= 0);
            REQUIRE(p <= bid);
            paying += p > 0;
            // Above the price the ad keeps slot s or better; below it, it drops lower.
            for (const double f : {0.0, 0.25, 0.5, 0.75, 0.999}) {
                b.bids[j] = p + f * (bid - p);
                net.run(b, probe, ews);
                violations += slot_of(probe, j) > s;
                if (p > 0) {
                    b.bids[j] = (1 - f) * p * (1 - 1e-9);
                    net.run(b, probe, ews);
                    violations += slot_of(probe, j) <= s;
                }
                ++checked;
            }
            b.bids[j] = bid;
        }
        for (Index j = 0; j < n; ++j)
            if (slot_of(c, j) == c.num_slots()) CHECK(c.price[static_cast<std::size_t>(j)] == 0);
    }
    CHECK(violations == 0);
    CHECK(checked > 1000);
    CHECK(paying > checked / 20);
}

TEST_CASE("CriticalBid: errors and the serving contract", "[mechanisms][critical][serving]") {
    const CriticalBid<Gsp<double>> crit{Gsp<double>(1.0)};
    Rng rng(1304);
    CriticalBid<Gsp<double>>::Workspace ws;
    Outcome<double> out;
    Auction<double> a = test::random_auction<double>(rng, 4, 2);
    a.bids[2] = std::numeric_limits<double>::quiet_NaN();
    CHECK(field_of([&] { crit.run(a, out, ws); }) == "bids");
    const Auction<double> joint = test::random_joint_auction<double>(rng, 2, 2, 2);
    CHECK(field_of([&] { crit.run(joint, out, ws); }) == "owners");

    std::vector<Auction<double>> pool;
    for (int t = 0; t < 60; ++t) pool.push_back(test::random_auction<double>(rng, 1 + rng.uniform_int(12), 1 + rng.uniform_int(4)));
    test::check_serving("CriticalBid<GSP>", crit, pool);
}
