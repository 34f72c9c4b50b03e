#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <diffauction/train/schedule.hpp>

using namespace diffauction;

static_assert(ScheduleFor<ConstantSchedule<float>, float>);
static_assert(ScheduleFor<ExponentialSchedule<double>, double>);
static_assert(ScheduleFor<PolynomialSchedule<double>, double>);
static_assert(ScheduleFor<Schedule<double>, double>);

TEST_CASE("Schedules: values at hand-picked steps", "[train][schedule]") {
    SECTION("constant") {
        const ConstantSchedule<double> s(0.5);
        CHECK(s.at(0) == 0.5);
        CHECK(s.at(123456) == 0.5);
    }
    SECTION("exponential: 1 * 0.5^(step/10), floor 0.1") {
        const ExponentialSchedule<double> s(1.0, 0.5, 10, 0.1);
        CHECK(s.at(0) == 1.0);
        CHECK(s.at(5) == Approx(0.70710678118654752).epsilon(1e-14));  // 2^-1/2
        CHECK(s.at(10) == Approx(0.5).epsilon(1e-15));
        CHECK(s.at(20) == Approx(0.25).epsilon(1e-15));
        CHECK(s.at(30) == Approx(0.125).epsilon(1e-15));
        CHECK(s.at(40) == 0.1);  // 0.0625 is below the floor
        CHECK(s.at(1000000) == 0.1);
    }
    SECTION("exponential, staircase: the exponent is floor(step/10)") {
        const ExponentialSchedule<double> s(2.0, 0.5, 10, 0.0, true);
        CHECK(s.at(9) == 2.0);
        CHECK(s.at(10) == Approx(1.0).epsilon(1e-15));
        CHECK(s.at(19) == Approx(1.0).epsilon(1e-15));
        CHECK(s.at(25) == Approx(0.5).epsilon(1e-15));
    }
    SECTION("polynomial: 0.1 + 0.9 (1 - step/100)^2, holding 0.1 after step 100") {
        const PolynomialSchedule<double> s(1.0, 0.1, 100, 2.0);
        CHECK(s.at(0) == 1.0);
        CHECK(s.at(50) == Approx(0.325).epsilon(1e-15));  // 0.1 + 0.9 * 0.25
        CHECK(s.at(90) == Approx(0.109).epsilon(1e-14));  // 0.1 + 0.9 * 0.01
        CHECK(s.at(100) == 0.1);
        CHECK(s.at(150) == 0.1);
        const PolynomialSchedule<float> linear(0.0f, 1.0f, 4);  // increasing (warm-up) is allowed
        CHECK(linear.at(1) == Approx(0.25f));
        CHECK(linear.at(3) == Approx(0.75f));
        CHECK(linear.at(8) == 1.0f);
    }
    SECTION("Schedule<T> holds any of them") {
        Schedule<double> s = ConstantSchedule<double>(0.3);
        CHECK(s.at(7) == 0.3);
        s = PolynomialSchedule<double>(1.0, 0.0, 4);
        CHECK(s.at(1) == Approx(0.75).epsilon(1e-15));
        CHECK(std::holds_alternative<PolynomialSchedule<double>>(s.get()));
        s = ExponentialSchedule<double>(4.0, 0.5, 1);
        CHECK(s.at(2) == Approx(1.0).epsilon(1e-15));
    }
}

TEST_CASE("Schedules: invalid parameters and negative steps throw input_error", "[train][schedule][validate]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    auto field = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const input_error& e) {
            return e.field();
        }
        return "(no throw)";
    };
    CHECK(field([&] { ConstantSchedule<double>{-1.0}; }) == "value");
    CHECK(field([&] { ConstantSchedule<double>{nan}; }) == "value");
    CHECK(field([&] { ConstantSchedule<double>(1.0).at(-1); }) == "step");
    CHECK(field([&] { ExponentialSchedule<double>(0.0, 0.5, 10); }) == "initial");
    CHECK(field([&] { ExponentialSchedule<double>(1.0, 0.0, 10); }) == "gamma");
    CHECK(field([&] { ExponentialSchedule<double>(1.0, 1.5, 10); }) == "gamma");
    CHECK(field([&] { ExponentialSchedule<double>(1.0, 0.5, 0); }) == "period");
    CHECK(field([&] { ExponentialSchedule<double>(1.0, 0.5, 10, 2.0); }) == "floor");
    CHECK(field([&] { ExponentialSchedule<double>(1.0, 0.5, 10).at(-3); }) == "step");
    CHECK(field([&] { PolynomialSchedule<double>(nan, 0.1, 10); }) == "initial");
    CHECK(field([&] { PolynomialSchedule<double>(1.0, -0.1, 10); }) == "end");
    CHECK(field([&] { PolynomialSchedule<double>(1.0, 0.1, 0); }) == "steps");
    CHECK(field([&] { PolynomialSchedule<double>(1.0, 0.1, 10, 0.0); }) == "power");
    CHECK(field([&] { PolynomialSchedule<double>(1.0, 0.1, 10).at(-1); }) == "step");
}
