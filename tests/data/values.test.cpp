#include <catch2/catch.hpp>

#include <cmath>

#include <diffauction/data/values.hpp>

using namespace diffauction;

TEST_CASE("values: mean and variance of U[a,b] and Exp(mu) by hand", "[data][values]") {
    // U[2, 6]: mean (2 + 6) / 2 = 4, variance (6 - 2)^2 / 12 = 16 / 12.
    CHECK(value_mean(ValueDist<double>::uniform(2, 6)) == 4.0);
    CHECK(value_variance(ValueDist<double>::uniform(2, 6)) == Approx(16.0 / 12.0));
    // Exp(mean 3): mean 3, variance 3^2 = 9.
    CHECK(value_mean(ValueDist<double>::exponential(3)) == 3.0);
    CHECK(value_variance(ValueDist<double>::exponential(3)) == 9.0);
    // The uniform mean comes from lo and hi, not from the (here inconsistent) mean field.
    ValueDist<double> d{ValueFamily::uniform, 0, 1, 7};
    CHECK(value_mean(d) == 0.5);
}

TEMPLATE_TEST_CASE("values: sample moments match the distribution (200 000 draws)", "[data][values]", float,
                   double) {
    const int n = 200000;
    for (const auto& d : {ValueDist<TestType>::uniform(TestType(2), TestType(6)),
                          ValueDist<TestType>::exponential(TestType(2.5))}) {
        Rng rng(11);
        double sum = 0, sum2 = 0;
        for (int i = 0; i < n; ++i) {
            const double v = static_cast<double>(sample_value(d, rng));
            if (d.family == ValueFamily::uniform) {
                REQUIRE(v >= 2.0);
                REQUIRE(v <= 6.0);
            } else {
                REQUIRE(v >= 0.0);
            }
            sum += v;
            sum2 += v * v;
        }
        const double mean = sum / n, var = sum2 / n - mean * mean;
        const double mu = static_cast<double>(value_mean(d)), sigma2 = static_cast<double>(value_variance(d));
        // Standard error of the mean: sigma / sqrt(n). Of the variance: sqrt((mu4 - sigma^4) / n),
        // mu4 = 9/5 sigma^4 for a uniform (mu4 - sigma^4 = 4/5 sigma^4), 9 sigma^4 for an exponential.
        const double excess = d.family == ValueFamily::uniform ? 0.8 : 8.0;
        INFO("family " << static_cast<int>(d.family) << " mean " << mean << " var " << var);
        CHECK(std::abs(mean - mu) < 4 * std::sqrt(sigma2 / n));
        CHECK(std::abs(var - sigma2) < 4 * sigma2 * std::sqrt(excess / n));
    }
}

TEST_CASE("values: the same Rng state gives the same draws", "[data][values]") {
    Rng a(5), b(5);
    const auto d = ValueDist<double>::exponential(1);
    for (int i = 0; i < 100; ++i) REQUIRE(sample_value(d, a) == sample_value(d, b));
}

TEST_CASE("values: invalid distributions are input errors", "[data][values][validation]") {
    Rng rng(1);
    ValueDist<double> none;
    CHECK_THROWS_AS(sample_value(none, rng), input_error);
    CHECK_THROWS_AS(sample_value(ValueDist<double>::uniform(1, 1), rng), input_error);
    CHECK_THROWS_AS(sample_value(ValueDist<double>::uniform(-1, 1), rng), input_error);
    CHECK_THROWS_AS(value_mean(ValueDist<double>::exponential(0)), input_error);
    CHECK_THROWS_AS(value_variance(ValueDist<double>::exponential(NAN)), input_error);
    try {
        validate_value_dist(none, "priors", 3);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "priors");
        CHECK(e.index() == 3);
    }
}
