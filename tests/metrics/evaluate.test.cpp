#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <diffauction/mechanisms/baselines/gsp.hpp>
#include <diffauction/metrics/evaluate.hpp>

#include "metrics/metrics_support.hpp"

using namespace diffauction;

TEST_CASE("evaluate: IC metrics on the first ic_auctions samples only", "[metrics][evaluate]") {
    const auto data = test::random_samples<double>(21, 200, 6, 1, 3);
    const std::span<const Sample<double>> all(data);
    EvalOptions opt;
    opt.ic = true;
    opt.ic_auctions = 50;
    const Report r = evaluate(Gsp<double>(), all, SeparableCtr{}, opt);
    CHECK(r.business.impressions == 200);
    REQUIRE(r.ic.has_value());
    CHECK(r.ic->auctions == 50);
    const IcMetrics direct = ic_metrics(Gsp<double>(), all.first(50), opt.ic_options);
    CHECK(r.ic->ic_r == direct.ic_r);
    CHECK(r.ic->regret_max == direct.regret_max);
    CHECK(r.ic->winners == direct.winners);
    // The business part does not depend on the IC switch.
    const Report plain = evaluate(Gsp<double>(), all);
    CHECK_FALSE(plain.ic.has_value());
    CHECK(plain.business.rpm == r.business.rpm);
    CHECK(plain.business.swpm == r.business.swpm);
    // More IC auctions than samples: all of them.
    opt.ic_auctions = 5000;
    opt.ic_options.psi = false;
    CHECK(evaluate(Gsp<double>(), all, SeparableCtr{}, opt).ic->auctions == 200);
}

TEST_CASE("evaluate: RPM equals 1000 x the mean of per-auction revenue", "[metrics][evaluate]") {
    // Independent recomputation with the separable truth: revenue of an auction under
    // SeparableCtr is exactly the outcome's own sum_j price_j * click_prob_j for GSP.
    const auto data = test::random_samples<double>(22, 500, 10, 1, 4);
    double total = 0;
    for (const auto& s : data) total += run(Gsp<double>(), s.auction.view()).revenue();
    const Report r = evaluate(Gsp<double>(), std::span<const Sample<double>>(data));
    CHECK(r.business.rpm == Approx(1000.0 * total / 500.0).epsilon(1e-12));
    CHECK(r.business.revenue_se > 0.0);
    CHECK(r.business.rpm_se == Approx(1000.0 * r.business.revenue_se));
}

TEST_CASE("evaluate: float data sets", "[metrics][evaluate]") {
    const auto data = test::random_samples<float>(23, 100, 6, 1, 3);
    EvalOptions opt;
    opt.ic = true;
    opt.ic_auctions = 20;
    const Report r = evaluate(Gsp<float>(), std::span<const Sample<float>>(data), SeparableCtr{}, opt);
    CHECK(r.business.impressions == 100);
    CHECK(r.business.rpm > 0.0);
    REQUIRE(r.ic.has_value());
    CHECK(r.ic->psi_p == 0.0);
}

TEST_CASE("evaluate: validation", "[metrics][evaluate][validation]") {
    auto data = test::random_samples<double>(24, 5, 5, 1, 2);
    const std::span<const Sample<double>> all(data);
    const Gsp<double> gsp;
    SECTION("empty data set") {
        try {
            evaluate(gsp, std::span<const Sample<double>>());
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "data");
        }
        CHECK_THROWS_AS(business_metrics(gsp, std::span<const Sample<double>>()), input_error);
    }
    SECTION("truth.values size mismatch names the field and the sample") {
        data[3].truth.values.resize(data[3].truth.values.size() + 2);
        data[3].truth.values.setOnes();
        try {
            evaluate(gsp, all);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "truth.values");
            CHECK(e.auction() == 3);
        }
    }
    SECTION("truth.cvr size mismatch names the field and the sample") {
        data[4].truth.cvr = Eigen::VectorXd::Constant(data[4].auction.ctr.size() + 1, 0.1);
        try {
            evaluate(gsp, all);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "truth.cvr");
            CHECK(e.auction() == 4);
        }
    }
    SECTION("an invalid auction names the sample") {
        data[1].auction.bids[0] = -1.0;
        try {
            evaluate(gsp, all);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "bids");
            CHECK(e.auction() == 1);
        }
    }
    SECTION("ic_auctions must be >= 1 when IC metrics are on") {
        EvalOptions opt;
        opt.ic = true;
        opt.ic_auctions = 0;
        try {
            evaluate(gsp, all, SeparableCtr{}, opt);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "ic_auctions");
        }
        opt.ic = false;  // ignored when IC is off
        CHECK_NOTHROW(evaluate(gsp, all, SeparableCtr{}, opt));
    }
    SECTION("bad IC grid") {
        EvalOptions opt;
        opt.ic = true;
        opt.ic_options.misreport_grid = {1.0, std::nan("")};
        CHECK_THROWS_AS(evaluate(gsp, all, SeparableCtr{}, opt), input_error);
    }
    SECTION("reference SWPM must be finite and > 0") {
        EvalOptions opt;
        opt.reference_swpm = 0.0;
        try {
            evaluate(gsp, all, SeparableCtr{}, opt);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "reference_swpm");
        }
        opt.reference_swpm = -3.0;
        CHECK_THROWS_AS(evaluate(gsp, all, SeparableCtr{}, opt), input_error);
    }
    SECTION("a reference mechanism with zero welfare cannot define SWMR") {
        for (auto& s : data) s.truth.values.setZero();
        try {
            evaluate(gsp, all, SeparableCtr{}, gsp);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == "reference");
        }
    }
}
