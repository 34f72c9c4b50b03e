#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include <diffauction/core/rng.hpp>
#include <diffauction/train/adam.hpp>
#include <diffauction/train/schedule.hpp>

#include "support/alloc_counter.hpp"

using namespace diffauction;

TEST_CASE("Adam: the first two steps on a 2-vector, worked by hand", "[train][adam]") {
    // lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8; theta0 = (1, -2).
    // Step 1, g1 = (0.5, -1):
    //   m1 = 0.1 g1 = (0.05, -0.1)            v1 = 0.001 g1^2 = (0.00025, 0.001)
    //   m^ = m1 / (1 - 0.9)   = (0.5, -1)     v^ = v1 / (1 - 0.999) = (0.25, 1)
    //   theta1 = theta0 - 0.1 * m^ / (sqrt(v^) + eps)
    //          = (1 - 0.1 * 0.5/(0.5 + 1e-8), -2 + 0.1 * 1/(1 + 1e-8))
    //          = (0.9000000019999999600, -1.9000000009999999900)
    //   (the first step moves every coordinate by lr, whatever the gradient's scale).
    // Step 2, g2 = (-0.25, 2):
    //   m2 = 0.9 m1 + 0.1 g2 = (0.045 - 0.025, -0.09 + 0.2) = (0.02, 0.11)
    //   v2 = 0.999 v1 + 0.001 g2^2 = (0.00024975 + 0.0000625, 0.000999 + 0.004) = (0.00031225, 0.004999)
    //   m^ = m2 / (1 - 0.81) = (0.02/0.19, 0.11/0.19) = (0.105263157894736842, 0.578947368421052632)
    //   v^ = v2 / (1 - 0.998001) = (0.00031225/0.001999, 0.004999/0.001999)
    //      = (0.156203101550775388, 2.500750375187593797)
    //   sqrt(v^) = (0.395225380701664184, 1.581376101750495595)
    //   theta2 = theta1 - 0.1 * m^ / (sqrt(v^) + eps)
    //          = (0.9000000020 - 0.0266337032921, -1.9000000010 - 0.0366103524721)
    //          = (0.873366298707846163, -1.936610353472075088)
    AdamOptions<double> o;
    o.learning_rate = 0.1;
    Adam<double> adam(o);
    Eigen::VectorXd theta(2), g(2);
    theta << 1.0, -2.0;
    g << 0.5, -1.0;
    adam.step(theta, g);
    CHECK(adam.steps() == 1);
    CHECK(adam.first_moment()[0] == Approx(0.05).epsilon(1e-15));
    CHECK(adam.second_moment()[1] == Approx(0.001).epsilon(1e-15));
    CHECK(theta[0] == Approx(0.90000000199999996).epsilon(1e-15));
    CHECK(theta[1] == Approx(-1.90000000099999999).epsilon(1e-15));
    g << -0.25, 2.0;
    adam.step(theta, g);
    CHECK(adam.steps() == 2);
    CHECK(adam.first_moment()[0] == Approx(0.02).epsilon(1e-14));
    CHECK(adam.first_moment()[1] == Approx(0.11).epsilon(1e-14));
    CHECK(adam.second_moment()[0] == Approx(0.00031225).epsilon(1e-14));
    CHECK(adam.second_moment()[1] == Approx(0.004999).epsilon(1e-14));
    CHECK(theta[0] == Approx(0.873366298707846163).epsilon(1e-14));
    CHECK(theta[1] == Approx(-1.936610353472075088).epsilon(1e-14));
}

TEST_CASE("Adam: per-step learning rate, DNA's beta2 and decoupled weight decay", "[train][adam]") {
    Eigen::VectorXd theta(2), g(2);
    g << 0.5, -1.0;
    SECTION("the lr argument overrides the options' (first step moves by lr)") {
        Adam<double> adam;  // options' lr 1e-3
        theta << 1.0, -2.0;
        adam.step(theta, g, 0.25);
        // 0.25 * 0.5/(0.5 + 1e-8) = 0.25 - 5e-9 ; 0.25 * 1/(1 + 1e-8) = 0.25 - 2.5e-9
        CHECK(theta[0] == Approx(0.750000005).epsilon(1e-15));
        CHECK(theta[1] == Approx(-1.7500000025).epsilon(1e-15));
        adam.set_learning_rate(0.5);
        CHECK(adam.learning_rate() == 0.5);
    }
    SECTION("beta2 = 0.99: v1 = 0.01 g^2, the bias-corrected first step is unchanged") {
        AdamOptions<double> o;
        o.beta2 = 0.99;
        o.learning_rate = 0.1;
        Adam<double> adam(o);
        theta << 1.0, -2.0;
        adam.step(theta, g);
        CHECK(adam.second_moment()[0] == Approx(0.0025).epsilon(1e-15));
        CHECK(theta[0] == Approx(0.900000002).epsilon(1e-15));
    }
    SECTION("weight decay 0.5: theta1 = theta0 - lr (m^/(sqrt(v^)+eps) + 0.5 theta0)") {
        AdamOptions<double> o;
        o.learning_rate = 0.1;
        o.weight_decay = 0.5;
        Adam<double> adam(o);
        theta << 1.0, -2.0;
        adam.step(theta, g);
        // (1 - 0.1 (1 - 2e-8) - 0.05, -2 + 0.1 (1 - 1e-8) + 0.1)
        CHECK(theta[0] == Approx(0.850000002).epsilon(1e-15));
        CHECK(theta[1] == Approx(-1.800000001).epsilon(1e-15));
    }
}

TEST_CASE("Adam: minimises a convex quadratic to 1e-6", "[train][adam]") {
    // f(theta) = 1/2 (theta - c)^T A (theta - c), A = [[3, 1, 0], [1, 2, 0.5], [0, 0.5, 1]]
    // (diagonally dominant, so SPD), minimum at c. The learning rate decays
    // exponentially so that Adam's limit cycle (of size ~lr) shrinks to the minimum.
    Eigen::Matrix3d a;
    a << 3, 1, 0, 1, 2, 0.5, 0, 0.5, 1;
    Eigen::VectorXd c(3);
    c << 1.5, -0.5, 2.0;
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(3), grad(3);
    Adam<double> adam;
    const ExponentialSchedule<double> lr(0.1, 0.5, 300);
    for (std::int64_t k = 0; k < 6000; ++k) {
        grad = a * (theta - c);
        adam.step(theta, grad, lr.at(k));
    }
    INFO("theta = " << theta.transpose());
    CHECK((theta - c).norm() < 1e-6);
}

TEST_CASE("clip_grad_norm: scales to exactly max_norm, leaves small gradients alone", "[train][adam][clip]") {
    Eigen::VectorXd g(2);
    g << 3.0, 4.0;  // norm 5
    CHECK(clip_grad_norm(g, 1.0) == 5.0);
    CHECK(g[0] == Approx(0.6).epsilon(1e-15));
    CHECK(g[1] == Approx(0.8).epsilon(1e-15));
    CHECK(std::abs(g.norm() - 1.0) <= 4 * std::numeric_limits<double>::epsilon());

    g << 0.3, 0.4;  // norm 0.5 < 1: bit-for-bit unchanged
    CHECK(clip_grad_norm(g, 1.0) == Approx(0.5).epsilon(1e-15));
    CHECK(g[0] == 0.3);
    CHECK(g[1] == 0.4);

    for (double off : {0.0, -1.0, std::numeric_limits<double>::infinity()}) {
        g << 30.0, 40.0;
        CHECK(clip_grad_norm(g, off) == 50.0);
        CHECK(g[0] == 30.0);
        CHECK(g[1] == 40.0);
    }

    Eigen::VectorXf f(3);  // float entries whose squares overflow: the norm is still right
    f << 3e30f, 4e30f, 0.0f;
    CHECK(clip_grad_norm(f, 10.0f) == Approx(5e30f).epsilon(1e-6));
    CHECK(f.norm() == Approx(10.0f).epsilon(1e-6));
}

TEST_CASE("Adam and clipping: bad input throws input_error naming the field and index", "[train][adam][validate]") {
    Adam<double> adam;
    Eigen::VectorXd theta(3), g(3);
    theta << 1, 2, 3;
    g << 0.1, 0.2, 0.3;
    const Eigen::VectorXd before = theta;

    auto field_index = [](auto&& f) -> std::pair<std::string, Index> {
        try {
            f();
        } catch (const input_error& e) {
            return {e.field(), e.index()};
        }
        return {"(no throw)", kNone};
    };

    const Eigen::VectorXd short_grad = Eigen::VectorXd::Zero(2);
    CHECK(field_index([&] { adam.step(theta, short_grad); }) == std::pair<std::string, Index>{"grad", kNone});
    g[1] = std::numeric_limits<double>::quiet_NaN();
    CHECK(field_index([&] { adam.step(theta, g); }) == std::pair<std::string, Index>{"grad", 1});
    g[1] = 0.2;
    g[2] = -std::numeric_limits<double>::infinity();
    CHECK(field_index([&] { adam.step(theta, g); }) == std::pair<std::string, Index>{"grad", 2});
    CHECK(field_index([&] { clip_grad_norm(g, 1.0); }) == std::pair<std::string, Index>{"grad", 2});
    g[2] = 0.3;
    CHECK(field_index([&] { adam.step(theta, g, -0.1); }).first == "learning_rate");
    CHECK(field_index([&] { clip_grad_norm(g, std::numeric_limits<double>::quiet_NaN()); }).first == "max_norm");
    // Nothing changed by the failed calls.
    CHECK(adam.steps() == 0);
    CHECK(theta == before);

    adam.step(theta, g);
    Eigen::VectorXd other(4), other_g = Eigen::VectorXd::Zero(4);
    other.setZero();
    CHECK(field_index([&] { adam.step(other, other_g); }).first == "theta");
    adam.reset();
    CHECK(adam.steps() == 0);
    adam.step(other, other_g);  // a fresh state takes the new size
    CHECK(adam.first_moment().size() == 4);

    AdamOptions<double> o;
    o.beta1 = 1.0;
    CHECK(field_index([&] { Adam<double>{o}; }).first == "beta1");
    o = {};
    o.beta2 = -0.1;
    CHECK(field_index([&] { Adam<double>{o}; }).first == "beta2");
    o = {};
    o.epsilon = 0;
    CHECK(field_index([&] { Adam<double>{o}; }).first == "epsilon");
    o = {};
    o.weight_decay = -1;
    CHECK(field_index([&] { Adam<double>{o}; }).first == "weight_decay");
    CHECK(field_index([&] { adam.set_state(Eigen::VectorXd::Zero(2), Eigen::VectorXd::Zero(3), 1); }).first == "v");
    CHECK(field_index([&] { adam.set_state(Eigen::VectorXd::Ones(2), -Eigen::VectorXd::Ones(2), 1); }).first == "v");
    CHECK(field_index([&] { adam.set_state(Eigen::VectorXd::Ones(2), Eigen::VectorXd::Ones(2), 0); }).first == "t");
}

TEST_CASE("Adam: a saved state (m, v, t) continues the run bit for bit", "[train][adam]") {
    Rng rng(31);
    Eigen::VectorXd theta(5), g(5);
    for (Index i = 0; i < 5; ++i) theta[i] = rng.normal();
    Adam<double> a;
    for (int k = 0; k < 3; ++k) {
        for (Index i = 0; i < 5; ++i) g[i] = rng.normal();
        a.step(theta, g, 0.05);
    }
    Adam<double> b;
    b.set_state(a.first_moment(), a.second_moment(), a.steps());
    Eigen::VectorXd ta = theta, tb = theta;
    for (Index i = 0; i < 5; ++i) g[i] = rng.normal();
    a.step(ta, g, 0.05);
    b.step(tb, g, 0.05);
    CHECK(b.steps() == 4);
    CHECK((ta.array() == tb.array()).all());
    // A fresh optimiser (t = 0) takes a different, bias-corrected step.
    Adam<double> fresh;
    Eigen::VectorXd tf = theta;
    fresh.step(tf, g, 0.05);
    CHECK((tf - ta).norm() > 1e-6);
}

TEMPLATE_TEST_CASE("Adam and clip_grad_norm: no allocation per step after the first", "[train][adam][alloc]", float,
                   double) {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    using T = TestType;
    VectorX<T> theta = VectorX<T>::Ones(257), g = VectorX<T>::Constant(257, T(0.5));
    AdamOptions<T> o;
    o.weight_decay = T(0.01);
    Adam<T> adam(o);
    adam.step(theta, g);  // sizes m and v
    const long before = test::allocations();
    for (int k = 0; k < 10; ++k) {
        g[k] = T(-2);
        clip_grad_norm(g, T(1));
        adam.step(theta, g, T(0.01));
    }
    CHECK(test::allocations() == before);
    CHECK(adam.steps() == 11);
}
