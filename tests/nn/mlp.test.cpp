// Mlp: finite-difference gradients in θ and in the input for every activation and
// both placements, accumulation and re-entrancy, layout names, validation, no
// allocation after warm-up, and bit equality (==) with the hand-written Dense
// stacks it replaced (fused as in DeepSet, unfused as in RegretNet and EdgeNet),
// DeepSet's forward and backward included.
#include <catch2/catch.hpp>

#include <diffauction/nn/deep_set.hpp>
#include <diffauction/nn/mlp.hpp>

#include <array>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/gradcheck.hpp"

using namespace diffauction;
using test::kGradTol;

namespace {
constexpr const char* name(Activation f) { return activation_name(f); }
const char* name(MlpFusion f) { return f == MlpFusion::fused ? "fused" : "unfused"; }

constexpr Index kIn = 4, kRows = 7;
constexpr std::array<Index, 3> kWidths{6, 5, 3};

// The stacks the Mlp replaced, written out with Dense: hidden activation after every
// layer but the last, `out` after the last; fused = Dense::forward(x, y, f) (DeepSet),
// unfused = Dense::forward(x, pre) then activate(f, pre, post) (RegretNet, EdgeNet).
template <Scalar T>
struct HandStack {
    std::vector<Dense<T>> layers;
    Activation hidden, out;
    MlpFusion fusion;
    std::vector<MatrixX<T>> pre, post;
    MatrixX<T> dh, dh2;

    Activation act(std::size_t l) const { return l + 1 == layers.size() ? out : hidden; }
    const MatrixX<T>& forward(const VectorX<T>& theta, const MatrixX<T>& x) {
        pre.resize(layers.size());
        post.resize(layers.size());
        for (std::size_t l = 0; l < layers.size(); ++l) {
            const MatrixX<T>& in = l == 0 ? x : post[l - 1];
            if (fusion == MlpFusion::fused) {
                layers[l].forward(theta, in, post[l], act(l));
                if (act(l) == Activation::softplus) layers[l].forward(theta, in, pre[l]);  // for backward
            } else {
                layers[l].forward(theta, in, pre[l]);
                post[l].resize(pre[l].rows(), pre[l].cols());
                activate<T>(act(l), pre[l], post[l]);
            }
        }
        return post.back();
    }
    // As RegretNet's backward_mlp: dh in place, swapped with dh2 layer by layer.
    void backward(const VectorX<T>& theta, const MatrixX<T>& x, const MatrixX<T>& d_out, VectorX<T>& grad,
                  MatrixX<T>& dx) {
        dh = d_out;
        for (std::size_t l = layers.size(); l-- > 0;) {
            // Unfused: from the pre-activation (RegretNet's); fused: only softplus' needs it.
            const bool z = fusion == MlpFusion::unfused || act(l) == Activation::softplus;
            activate_backward<T>(act(l), z ? pre[l] : post[l], post[l], dh, dh);
            if (l > 0) {
                layers[l].backward(theta, post[l - 1], dh, grad, &dh2);
                std::swap(dh, dh2);
            } else {
                layers[0].backward(theta, x, dh, grad, &dx);
            }
        }
    }
};

template <Scalar T>
HandStack<T> hand_stack(ParamLayout& layout, const std::string& prefix, Index in, std::span<const Index> widths,
                        Activation hidden, Activation out, MlpFusion fusion) {
    HandStack<T> h{{}, hidden, out, fusion, {}, {}, {}, {}};
    for (std::size_t l = 0; l < widths.size(); ++l) {
        h.layers.emplace_back(layout, prefix + std::to_string(l), in, widths[l]);
        in = widths[l];
    }
    return h;
}

/// L = Σ R ⊙ mlp(x) with Mlp built in a fresh layout.
struct Probe {
    ParamLayout layout;
    Mlp<double> mlp;
    MatrixX<double> r;
    Probe(Activation hidden, Activation out, MlpFusion fusion, Rng& rng)
        : mlp(layout, "m", kIn, kWidths, hidden, out, fusion), r(test::random_matrix(rng, kRows, kWidths.back())) {}
    double loss(const Eigen::VectorXd& theta, const MatrixX<double>& x) const {
        Mlp<double>::Cache c;
        return (mlp.forward(theta, x, c).array() * r.array()).sum();
    }
};
}  // namespace

TEST_CASE("Mlp: parameter gradient and input Jacobian match central differences; accumulation; re-entrancy",
          "[nn][mlp][grad]") {
    for (MlpFusion fusion : {MlpFusion::fused, MlpFusion::unfused})
        for (Activation hidden : kActivations)
            for (Activation out : {Activation::identity, Activation::elu, Activation::sigmoid, Activation::softplus}) {
                INFO(name(fusion) << ", hidden " << name(hidden) << ", output " << name(out));
                Rng rng(401);
                Probe p(hidden, out, fusion, rng);
                // Random weights and biases: pre-activations on both sides of 0, away
                // from the ReLU/ELU kinks by more than the difference step for this seed.
                const Eigen::VectorXd theta = test::random_vector(rng, p.layout.size(), 0.6);
                const MatrixX<double> x = test::random_matrix(rng, kRows, kIn);
                Mlp<double>::Cache c;
                p.mlp.forward(theta, x, c);
                Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
                MatrixX<double> dx;
                p.mlp.backward(theta, x, c, p.r, grad, &dx);
                const auto num_theta =
                    test::numeric_gradient([&](const Eigen::VectorXd& t) { return p.loss(t, x); }, theta);
                CHECK(test::relative_error(grad, num_theta) < kGradTol);
                const auto num_x = test::numeric_gradient(
                    [&](const Eigen::VectorXd& v) { return p.loss(theta, test::unflatten(v, kRows, kIn)); },
                    test::flatten(x));
                CHECK(test::relative_error(test::flatten(dx), num_x) < kGradTol);

                // Accumulation: a second backward doubles the gradient and repeats dx.
                Eigen::VectorXd twice = grad;
                MatrixX<double> dx2;
                p.mlp.backward(theta, x, c, p.r, twice, &dx2);
                CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
                CHECK((dx2 - dx).norm() == 0.0);
                // Re-entrancy: a forward through another cache in between changes nothing;
                // dx = nullptr gives the same parameter gradient.
                Mlp<double>::Cache other;
                p.mlp.forward(theta, test::random_matrix(rng, 3, kIn), other);
                Eigen::VectorXd g3 = Eigen::VectorXd::Zero(theta.size());
                p.mlp.backward(theta, x, c, p.r, g3, nullptr);
                CHECK((g3 - grad).norm() == 0.0);
            }
}

TEST_CASE("Mlp: outputs and gradients are bit-identical to the hand-written Dense stacks", "[nn][mlp]") {
    // Odd sizes, so that packet loops and scalar tails both run.
    const std::array<Index, 4> widths{9, 13, 5, 3};
    const auto run = [&]<class T>(T, MlpFusion fusion, Activation hidden, Activation out) {
        INFO((sizeof(T) == 4 ? "float" : "double") << ", " << name(fusion) << ", hidden " << name(hidden)
                                                   << ", output " << name(out));
        Rng rng(402);
        ParamLayout la, lb;
        const Mlp<T> mlp(la, "net.", 7, widths, hidden, out, fusion);
        HandStack<T> hand = hand_stack<T>(lb, "net.", 7, widths, hidden, out, fusion);
        REQUIRE(la.size() == lb.size());
        VectorX<T> theta(la.size()), theta_b(lb.size());
        Rng r1(9), r2(9);
        mlp.init(theta, r1);
        for (const auto& d : hand.layers) d.init(theta_b, r2);
        CHECK(theta == theta_b);  // same Glorot draws in the same order
        theta += test::random_vector(rng, theta.size(), 0.4).template cast<T>();
        const MatrixX<T> x = test::random_matrix(rng, 11, 7, 2.0).template cast<T>();
        const MatrixX<T> r = test::random_matrix(rng, 11, 3).template cast<T>();
        typename Mlp<T>::Cache c;
        CHECK(mlp.forward(theta, x, c) == hand.forward(theta, x));
        VectorX<T> ga = VectorX<T>::Zero(theta.size()), gb = ga;
        MatrixX<T> dxa, dxb;
        mlp.backward(theta, x, c, r, ga, &dxa);
        hand.backward(theta, x, r, gb, dxb);
        CHECK(ga == gb);
        CHECK(dxa == dxb);
    };
    for (MlpFusion fusion : {MlpFusion::fused, MlpFusion::unfused})
        for (Activation hidden : kActivations)
            for (Activation out : {Activation::identity, Activation::elu, Activation::tanh}) {
                run(0.0, fusion, hidden, out);
                run(0.0f, fusion, hidden, out);
            }
}

TEST_CASE("Mlp: DeepSet's forward and backward are bit-identical to its former Dense stacks", "[nn][mlp][deep_set]") {
    // DeepSet before Mlp: φ₁ and φ₂ Dense stacks with fused ELU after every layer,
    // the leave-one-out mean between them.
    const auto run = [&]<class T>(T) {
        Rng rng(403);
        const std::array<Index, 2> p1{128, 32};
        const std::array<Index, 1> p2{16};
        const std::array<Index, 5> off{0, 30, 31, 60, 91};
        ParamLayout la, lb;
        const DeepSet<T> ds(la, "set", 12, p1, p2);
        HandStack<T> h1 = hand_stack<T>(lb, "set.phi1.", 12, p1, Activation::elu, Activation::elu, MlpFusion::fused);
        HandStack<T> h2 = hand_stack<T>(lb, "set.phi2.", 32, p2, Activation::elu, Activation::elu, MlpFusion::fused);
        REQUIRE(la.entries().size() == lb.entries().size());
        for (std::size_t i = 0; i < la.entries().size(); ++i) {
            CHECK(la.entries()[i].name == lb.entries()[i].name);
            CHECK(la.entries()[i].slot.offset == lb.entries()[i].slot.offset);
        }
        VectorX<T> theta(la.size());
        ds.init(theta, rng);
        theta += test::random_vector(rng, theta.size(), 0.2).template cast<T>();
        const MatrixX<T> x = test::random_matrix(rng, 91, 12).template cast<T>();
        const MatrixX<T> r = test::random_matrix(rng, 91, 16).template cast<T>();
        typename DeepSet<T>::Cache c;
        const MatrixX<T> out = ds.forward(theta, x, off, c);
        // By hand: h = φ₁(x); m_i = leave-one-out mean; h' = φ₂(m).
        const MatrixX<T> h = h1.forward(theta, x);
        MatrixX<T> m(h.rows(), h.cols());
        RowVectorX<T> sum;
        const auto loo = [&](const MatrixX<T>& v, MatrixX<T>& o) {
            o.resize(v.rows(), v.cols());
            for (std::size_t b = 0; b + 1 < off.size(); ++b) {
                const Index s = off[b], n = off[b + 1] - s;
                if (n == 1) {
                    o.row(s).setZero();
                    continue;
                }
                sum.noalias() = v.middleRows(s, n).colwise().sum();
                const T inv = T(1) / static_cast<T>(n - 1);
                for (Index i = s; i < s + n; ++i) o.row(i) = (sum - v.row(i)) * inv;
            }
        };
        loo(h, m);
        CHECK(out == h2.forward(theta, m));
        VectorX<T> ga = VectorX<T>::Zero(theta.size()), gb = ga;
        MatrixX<T> dxa, dxb, dm, dh;
        ds.backward(theta, x, c, r, ga, &dxa);
        h2.backward(theta, m, r, gb, dm);
        loo(dm, dh);
        h1.backward(theta, x, dh, gb, dxb);
        CHECK(ga == gb);
        CHECK(dxa == dxb);
    };
    run(0.0);
    run(0.0f);
}

TEST_CASE("Mlp: layout names and shapes, in layer order", "[nn][mlp]") {
    ParamLayout a;
    const std::array<Index, 2> w{5, 2};
    const Mlp<double> m(a, "set.phi1.", 3, w, Activation::elu);
    REQUIRE(a.entries().size() == 4);
    const std::array<std::string, 4> names{"set.phi1.0.W", "set.phi1.0.b", "set.phi1.1.W", "set.phi1.1.b"};
    for (std::size_t i = 0; i < 4; ++i) CHECK(a.entries()[i].name == names[i]);
    CHECK(a.entries()[0].slot.rows == 3);
    CHECK(a.entries()[0].slot.cols == 5);
    CHECK(a.entries()[3].slot.rows == 1);
    CHECK(a.entries()[3].slot.cols == 2);
    CHECK(a.size() == 3 * 5 + 5 + 5 * 2 + 2);
    CHECK(m.in_dim() == 3);
    CHECK(m.out_dim() == 2);
    CHECK(m.num_layers() == 2);

    // Explicit names: RegretNet's ("alloc.hidden<l>", "alloc.out") and EdgeNet's
    // ("edgenet.pay<l>" from 1, "edgenet.pay_out").
    CHECK(mlp_layer_names("alloc.hidden", 2, "alloc.out") ==
          std::vector<std::string>{"alloc.hidden0", "alloc.hidden1", "alloc.out"});
    CHECK(mlp_layer_names("edgenet.pay", 2, "edgenet.pay_out", 1) ==
          std::vector<std::string>{"edgenet.pay1", "edgenet.pay2", "edgenet.pay_out"});
    CHECK(mlp_layer_names("edgenet.pay", 0, "edgenet.pay_out", 1) == std::vector<std::string>{"edgenet.pay_out"});
    ParamLayout b;
    b.add("before", 1, 1);
    const std::array<Index, 3> w3{4, 4, 3};
    const Mlp<float> r(b, mlp_layer_names("alloc.hidden", 2, "alloc.out"), 2, w3, Activation::tanh,
                       Activation::identity, MlpFusion::unfused);
    REQUIRE(b.entries().size() == 7);
    CHECK(b.entries()[1].name == "alloc.hidden0.W");
    CHECK(b.entries()[1].slot.offset == 1);
    CHECK(b.entries()[5].name == "alloc.out.W");
    CHECK(b.entries()[6].name == "alloc.out.b");
    CHECK(r.layers()[2].weight_slot().offset == b.entries()[5].slot.offset);
    CHECK(r.hidden_activation() == Activation::tanh);
    CHECK(r.output_activation() == Activation::identity);
    CHECK(r.fusion() == MlpFusion::unfused);
}

TEST_CASE("Mlp: bad sizes are an input_error naming the field", "[nn][mlp][validate]") {
    const auto field_of = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const input_error& e) {
            return e.field();
        }
        return "(no throw)";
    };
    ParamLayout l;
    const std::array<Index, 2> w{3, 2};
    const std::array<Index, 0> none{};
    const std::array<Index, 2> zero{3, 0};
    const std::vector<std::string> one_name{"a"};
    CHECK(field_of([&] { Mlp<double>(l, "a", 0, w, Activation::elu); }) == "in");
    CHECK(field_of([&] { Mlp<double>(l, "b", 2, none, Activation::elu); }) == "widths");
    CHECK(field_of([&] { Mlp<double>(l, "c", 2, zero, Activation::elu); }) == "widths");
    CHECK(field_of([&] { Mlp<double>(l, one_name, 2, w, Activation::elu); }) == "names");
    CHECK(field_of([&] {
              Mlp<double>(l, "d", 2, w, Activation::elu);
              Mlp<double>(l, "d", 2, w, Activation::elu);
          }) == "name");  // a name declared twice

    Rng rng(404);
    ParamLayout layout;
    const Mlp<double> m(layout, "m", 2, w, Activation::tanh);
    const Eigen::VectorXd theta = test::random_vector(rng, layout.size());
    Mlp<double>::Cache c;
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
    const MatrixX<double> x = test::random_matrix(rng, 4, 2);
    CHECK(field_of([&] { m.backward(theta, x, c, MatrixX<double>::Zero(4, 2), grad, nullptr); }) == "d_out");
    CHECK(field_of([&] { m.forward(theta, test::random_matrix(rng, 4, 3), c); }) == "x");
    m.forward(theta, x, c);
    CHECK(field_of([&] { m.backward(theta, x, c, MatrixX<double>::Zero(4, 3), grad, nullptr); }) == "d_out");
    CHECK(field_of([&] { m.backward(theta, x, c, MatrixX<double>::Zero(5, 2), grad, nullptr); }) == "d_out");
    CHECK(field_of([&] { m.backward(theta, test::random_matrix(rng, 5, 2), c, MatrixX<double>::Zero(4, 2), grad,
                                    nullptr); }) == "x");
    Eigen::VectorXd short_grad = Eigen::VectorXd::Zero(theta.size() - 1);
    CHECK(field_of([&] { m.backward(theta, x, c, MatrixX<double>::Zero(4, 2), short_grad, nullptr); }) == "grad");
}

TEST_CASE("Mlp: no allocation in forward + backward after the first call", "[nn][mlp][alloc]") {
    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    for (MlpFusion fusion : {MlpFusion::fused, MlpFusion::unfused})
        for (Activation hidden : {Activation::elu, Activation::softplus}) {
            INFO(name(fusion) << ", hidden " << name(hidden));
            Rng rng(405);
            ParamLayout layout;
            const std::array<Index, 3> w{128, 32, 16};
            const Mlp<double> m(layout, "m", 12, w, hidden, Activation::sigmoid, fusion);
            Eigen::VectorXd theta(layout.size());
            m.init(theta, rng);
            const MatrixX<double> x = test::random_matrix(rng, 90, 12), r = test::random_matrix(rng, 90, 16);
            Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta.size());
            MatrixX<double> dx;
            Mlp<double>::Cache c;
            m.forward(theta, x, c);
            m.backward(theta, x, c, r, grad, &dx);
            const long before = test::allocations();
            for (int i = 0; i < 3; ++i) {
                m.forward(theta, x, c);
                m.backward(theta, x, c, r, grad, &dx);
            }
            CHECK(test::allocations() == before);
        }
}
