// Extreme-but-finite inputs over every baseline, float and double (issue 15): a typed
// error or a sound outcome, never NaN, a negative price or a price above the bid; the
// limits of SupportedRange are accepted, inputs past them rejected
// (tests/support/extreme_inputs.hpp has the table; DNA and EdgeNet run it in their
// own suites).
#include <catch2/catch.hpp>

#include <diffauction/mechanisms/baselines/gsp.hpp>
#include <diffauction/mechanisms/baselines/jama.hpp>
#include <diffauction/mechanisms/baselines/joint_vcg.hpp>
#include <diffauction/mechanisms/baselines/myerson.hpp>
#include <diffauction/mechanisms/baselines/ugsp.hpp>
#include <diffauction/mechanisms/baselines/vcg.hpp>
#include <diffauction/mechanisms/baselines/wvcg.hpp>

#include <chrono>
#include <span>
#include <string>
#include <type_traits>

#include "support/extreme_inputs.hpp"
#include "support/toy_click_model.hpp"

using namespace diffauction;

TEMPLATE_TEST_CASE("Extreme inputs: every baseline gives a typed error or a finite, IR outcome", "[extreme]",
                   float, double) {
    using T = TestType;
    test::check_extreme_inputs("GSP sigma=1", Gsp<T>(T(1)), false);
    test::check_extreme_inputs("GSP sigma=0.5", Gsp<T>(T(0.5)), false);
    test::check_extreme_inputs("GSP sigma=2", Gsp<T>(T(2)), false);
    test::check_extreme_inputs("uGSP", Ugsp<T>(T(1), T(0.3), T(0.2)), false);
    test::check_extreme_inputs("uGFP", Ugfp<T>(T(1), T(0.3), T(0.2)), false);
    test::check_extreme_inputs("VCG", Vcg<T>(), false);
    test::check_extreme_inputs("VCG, externalities", Vcg<T, test::ToyCategoryCtr>(), false);
    const auto weight = [](const AuctionView<T>& a, Index i) { return T(1) + a.cvr[i]; };
    test::check_extreme_inputs("WVCG", Wvcg<T>(weight), false);
    // Boost 0 on every list: exact ties between boosted lists. A length boost: lists
    // with the winner are worth more than those without (negative prices under SPEC's pivot).
    const auto tie_boost = [](const AuctionView<T>&, std::span<const Index> l) { return T(0) * T(l.size()); };
    const auto len_boost = [](const AuctionView<T>&, std::span<const Index> l) { return T(0.01) * T(l.size()); };
    test::check_extreme_inputs("WVCG + boost", Wvcg<T>(weight, tie_boost), false);
    test::check_extreme_inputs("WVCG + length boost", Wvcg<T>(weight, len_boost), false);
    test::check_extreme_inputs("WVCG, externalities", Wvcg<T, test::ToyCategoryCtr>(weight), false);
    test::check_extreme_inputs("Myerson", Myerson<T>(), false);
    test::check_extreme_inputs("Myerson, externalities", Myerson<T, test::ToyCategoryCtr>(), false);
    test::check_extreme_inputs("joint VCG", JointVcg<T>(), true);
    const auto mu = [](const AuctionView<T>&, Index j) { return j % 2 ? T(1) : T(1.5); };
    test::check_extreme_inputs("JAMA", Jama<T>(mu), true);
    test::check_extreme_inputs("JAMA + length boost", Jama<T>(mu, len_boost), true);
    test::check_extreme_inputs("JAMA, externalities", Jama<T, test::ToyCategoryCtr>(mu), true);
    // The opt-in SPEC §3 pivot of joint auctions documents negative prices (a brand is
    // credited with its partners' value): finite and <= bid still.
    test::check_extreme_inputs("joint VCG, without-bidder pivot", JointVcg<T>(ClarkePivot::without_bidder), true, true);
    test::check_extreme_inputs("JAMA, without-bidder pivot", Jama<T>(mu, {}, SeparableCtr{}, ClarkePivot::without_bidder),
                   true, true);
}

TEST_CASE("Size limits: every enumerating mechanism refuses too many lists at once, with size_limit_error",
          "[extreme][size]") {
    // N = 60, K = 6 is 3.6e10 lists (the JAMA hang of issue 15); N = 40, K = 4 is 2.2
    // million, just past kMaxEnumeratedLists. Each must be refused before enumerating
    // (well under a second even under the sanitizers); the closed forms take any size.
    Rng rng(60);
    auto big = test::random_auction<double>(rng, 60, 6, 3);
    test::set_categories(big, rng, 3);
    big.priors.assign(60, ValueDist<double>::uniform(0, 1));
    for (Index i = 0; i < 60; ++i) big.bids[i] = 0.6 + 0.4 * rng.uniform();  // all eligible for Myerson
    auto edge = big;
    edge.slot_ctr.conservativeResize(4);
    edge.bids.conservativeResize(40);
    edge.ctr.conservativeResize(40);
    edge.cvr.conservativeResize(40);
    edge.price.conservativeResize(40);
    edge.features.conservativeResize(40, 3);
    edge.priors.resize(40);
    auto joint = test::random_joint_auction<double>(rng, 8, 8, 6, 1.0);  // 64 bundles
    REQUIRE(joint.num_candidates() >= 60);
    const auto weight = [](const AuctionView<double>&, Index) { return 1.0; };
    const auto boost = [](const AuctionView<double>&, std::span<const Index> l) { return 0.01 * double(l.size()); };

    const auto refused = [](const std::string& name, const auto& m, const Auction<double>& a) {
        INFO(name << ", N = " << a.num_candidates() << ", K = " << a.num_slots());
        typename std::decay_t<decltype(m)>::Workspace ws;
        Outcome<double> out;
        const auto t0 = std::chrono::steady_clock::now();
        try {
            m.run(a, out, ws);
            FAIL("an auction past the enumeration limit ran");
        } catch (const size_limit_error& e) {
            CHECK(e.field() == "ctr");
            CHECK(e.limit() == kMaxEnumeratedLists);
            CHECK(e.count() == count_lists_up_to(a.num_candidates(), a.num_slots()));
            CHECK(e.count() > e.limit());
            CHECK(std::string(e.what()).find("kMaxEnumeratedLists") != std::string::npos);
        }
        CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 1.0);
    };
    for (const auto* a : {&big, &edge}) {
        refused("VCG, externalities", Vcg<double, test::ToyCategoryCtr>(), *a);
        refused("WVCG + boost", Wvcg<double>(weight, boost), *a);
        refused("WVCG, externalities", Wvcg<double, test::ToyCategoryCtr>(), *a);
        refused("Myerson, externalities", Myerson<double, test::ToyCategoryCtr>(), *a);
    }
    refused("JAMA", Jama<double>(), joint);
    refused("JAMA + boost", Jama<double>(weight, boost), joint);
    refused("JAMA, externalities", Jama<double, test::ToyCategoryCtr>(), joint);

    // The closed forms do not enumerate: the same auctions run.
    CHECK_NOTHROW(run(Vcg<double>(), big));
    CHECK_NOTHROW(run(Wvcg<double>(weight), big));
    CHECK_NOTHROW(run(Myerson<double>(), big));
    CHECK_NOTHROW(run(JointVcg<double>(), joint));
    // Myerson's eligible-ads rule enumerates the eligible ads only: N = 60 with one
    // eligible ad runs; the default all-ads rule counts all 60.
    auto few = big;
    few.bids.setConstant(0.1);
    few.bids[7] = 0.9;
    using ToyMyerson = Myerson<double, test::ToyCategoryCtr>;
    const ToyMyerson eligible_only({}, ToyMyerson::default_tolerance(), MyersonLists::eligible_ads);
    CHECK(run(eligible_only, few).slots[0] == 7);
    refused("Myerson, externalities, all ads", ToyMyerson(), few);
}
