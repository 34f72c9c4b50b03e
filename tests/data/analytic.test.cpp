#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <diffauction/data/analytic.hpp>

#include "data/sample_equal.hpp"

using namespace diffauction;

TEMPLATE_TEST_CASE("analytic: auctions have the stated shape, ctr = 1, priors, bids = values", "[data][analytic]",
                   float, double) {
    struct Expect {
        AnalyticKind kind;
        Index n;
        std::vector<double> beta;
        ValueFamily family;
    };
    const std::vector<Expect> expect = {
        {AnalyticKind::uniform_2_one_slot, 2, {1.0}, ValueFamily::uniform},
        {AnalyticKind::uniform_3_one_slot, 3, {1.0}, ValueFamily::uniform},
        {AnalyticKind::uniform_5_three_slots, 5, {0.5, 0.3, 0.15}, ValueFamily::uniform},
        {AnalyticKind::exponential_3_one_slot, 3, {1.0}, ValueFamily::exponential},
    };
    for (const auto& e : expect) {
        const AnalyticSetting s = analytic_setting(e.kind);
        REQUIRE(s.kind == e.kind);
        REQUIRE(s.bidders == e.n);
        REQUIRE(s.slot_ctr == e.beta);
        REQUIRE(s.prior.family == e.family);
        for (const auto& smp : generate<TestType>(s, 200, 3)) {
            const auto& a = smp.auction;
            REQUIRE_NOTHROW(validate<TestType>(a));
            REQUIRE(a.num_candidates() == e.n);
            REQUIRE(a.num_bidders() == e.n);
            REQUIRE(a.num_slots() == static_cast<Index>(e.beta.size()));
            for (Index k = 0; k < a.num_slots(); ++k)
                REQUIRE(a.slot_ctr[k] == static_cast<TestType>(e.beta[static_cast<std::size_t>(k)]));
            REQUIRE(a.ctr == VectorX<TestType>::Ones(e.n));
            REQUIRE(a.bids == smp.truth.values);
            REQUIRE(static_cast<Index>(a.priors.size()) == e.n);
            for (const auto& p : a.priors) {
                REQUIRE(p.family == e.family);
                if (e.family == ValueFamily::uniform) {
                    REQUIRE(p.lo == TestType(0));
                    REQUIRE(p.hi == TestType(1));
                } else {
                    REQUIRE(p.mean == TestType(3));
                }
            }
            REQUIRE(a.features.size() == 0);
            REQUIRE(smp.log.list.empty());
        }
    }
    const auto setting = analytic_setting(AnalyticKind::uniform_5_three_slots);
    const auto a = generate<TestType>(setting, 50, 8), b = generate<TestType>(setting, 50, 8),
               c = generate<TestType>(setting, 50, 9);
    for (std::size_t t = 0; t < a.size(); ++t) {
        REQUIRE(test::same_sample(a[t], b[t]));
        REQUIRE_FALSE(test::same_sample(a[t], c[t]));
    }
    REQUIRE(test::same_sample(a[7], analytic_sample<TestType>(setting, 8, 7)));
}

TEST_CASE("analytic: values have the stated mean and variance", "[data][analytic]") {
    // U[0,1]: mean 1/2, variance 1/12, fourth central moment 1/80.
    // Exp(3): mean 3, variance 9, fourth central moment 9 * 81.
    const int count = 40000;
    for (const auto& s : analytic_settings()) {
        const bool uni = s.prior.family == ValueFamily::uniform;
        const double mu = uni ? 0.5 : 3.0, var = uni ? 1.0 / 12 : 9.0, mu4 = uni ? 1.0 / 80 : 9.0 * 81;
        double sum = 0, sum2 = 0, n = 0;
        for (const auto& smp : generate<double>(s, count, 17))
            for (Index i = 0; i < smp.truth.values.size(); ++i) {
                const double v = smp.truth.values[i];
                if (uni) REQUIRE((v >= 0 && v <= 1));
                sum += v;
                sum2 += v * v;
                n += 1;
            }
        const double mean = sum / n, sample_var = sum2 / n - mean * mean;
        INFO(s.name << ": mean " << mean << " variance " << sample_var);
        CHECK(std::abs(mean - mu) < 4 * std::sqrt(var / n));
        CHECK(std::abs(sample_var - var) < 4 * std::sqrt((mu4 - var * var) / n));
    }
}

TEST_CASE("analytic: Monte Carlo revenues of the truthful VCG and Myerson rules match the references",
          "[data][analytic]") {
    // The revenue of each rule is a function of the sorted values (computed here, not by a
    // mechanism), so this checks both the generator and the reference constants.
    // Hand values: 1/3, 5/12; 1/2, 17/32; 13/30, 151/320; 2.5, 9/e - 4.5/e^2 + 1/e^3.
    const std::vector<std::pair<double, double>> hand = {
        {1.0 / 3, 5.0 / 12}, {0.5, 17.0 / 32}, {13.0 / 30, 151.0 / 320},
        {2.5, 9 / std::exp(1.0) - 4.5 / std::exp(2.0) + 1 / std::exp(3.0)}};
    const int count = 50000;
    std::size_t idx = 0;
    for (const auto& s : analytic_settings()) {
        CHECK(s.vcg_revenue == Approx(hand[idx].first).epsilon(1e-15));
        CHECK(s.myerson_revenue == Approx(hand[idx].second).epsilon(1e-15));
        ++idx;
        const auto& beta = s.slot_ctr;
        const std::size_t k_slots = beta.size();
        double vcg = 0, vcg2 = 0, mye = 0, mye2 = 0;
        std::vector<double> v;
        for (const auto& smp : generate<double>(s, count, 23)) {
            v.assign(smp.truth.values.data(), smp.truth.values.data() + smp.truth.values.size());
            std::sort(v.begin(), v.end(), std::greater<>());
            // VCG: sum_k (beta_k - beta_{k+1}) * k * v_(k+1), beta_{K+1} = 0.
            double r = 0;
            for (std::size_t k = 0; k < k_slots; ++k)
                r += (beta[k] - (k + 1 < k_slots ? beta[k + 1] : 0.0)) * static_cast<double>(k + 1) * v[k + 1];
            // Myerson: sum_k beta_k * max(phi(v_(k)), 0).
            double m = 0;
            for (std::size_t k = 0; k < k_slots; ++k) m += beta[k] * std::max(s.prior.virtual_value(v[k]), 0.0);
            vcg += r, vcg2 += r * r, mye += m, mye2 += m * m;
        }
        const double n = count;
        const double vcg_mean = vcg / n, mye_mean = mye / n;
        const double vcg_se = std::sqrt((vcg2 / n - vcg_mean * vcg_mean) / n);
        const double mye_se = std::sqrt((mye2 / n - mye_mean * mye_mean) / n);
        INFO(s.name << ": VCG " << vcg_mean << " +- " << vcg_se << ", Myerson " << mye_mean << " +- " << mye_se);
        CHECK(std::abs(vcg_mean - s.vcg_revenue) < 4 * vcg_se);
        CHECK(std::abs(mye_mean - s.myerson_revenue) < 4 * mye_se);
    }
}

TEST_CASE("analytic: invalid settings are input errors", "[data][analytic][validation]") {
    auto field_of = [](const AnalyticSetting& s) {
        try {
            generate<double>(s, 1, 1);
        } catch (const input_error& e) {
            return e.field();
        }
        return std::string("none");
    };
    AnalyticSetting s = analytic_setting(AnalyticKind::uniform_5_three_slots);
    CHECK(field_of(s) == "none");
    s.bidders = 0;
    CHECK(field_of(s) == "bidders");
    s = analytic_setting(AnalyticKind::uniform_5_three_slots);
    s.slot_ctr = {0.3, 0.5};
    CHECK(field_of(s) == "slot_ctr");
    s.slot_ctr.clear();
    CHECK(field_of(s) == "slot_ctr");
    s = analytic_setting(AnalyticKind::uniform_2_one_slot);
    s.prior = ValueDist<double>::uniform(1, 0);
    CHECK(field_of(s) == "prior");
    CHECK_THROWS_AS(generate<double>(analytic_setting(AnalyticKind::uniform_2_one_slot), -1, 1), input_error);
}
