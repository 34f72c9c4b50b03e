// RegretNetAdditive on Mlp: the same layout (names, shapes, order), the same initial
// θ and the same relaxed outcome (alloc, click, payment, price through
// relaxed_forward, over one and several bid profiles), bit for bit (==), as the
// hand-written Dense stacks it had before (hidden activation applied after the
// product, linear output layers). Its gradients are covered by
// tests/train/misreport.test.cpp, its training by tests/train/objectives/.
#include <catch2/catch.hpp>

#include <diffauction/core/batch.hpp>
#include <diffauction/mechanisms/learned/regret_net.hpp>
#include <diffauction/mechanisms/relaxed.hpp>

#include <string>
#include <vector>

#include "support/gradcheck.hpp"

using namespace diffauction;

namespace {
template <Scalar T>
struct HandNet {
    std::vector<Dense<T>> layers;  // hidden layers, then the output layer
    Activation f;
    MatrixX<T> run(const VectorX<T>& theta, const MatrixX<T>& x) const {
        std::vector<MatrixX<T>> pre(layers.size() - 1), post(layers.size() - 1);
        for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
            layers[l].forward(theta, l == 0 ? x : post[l - 1], pre[l]);
            post[l].resize(pre[l].rows(), pre[l].cols());
            activate<T>(f, pre[l], post[l]);
        }
        MatrixX<T> out;
        layers.back().forward(theta, post.back(), out);
        return out;
    }
};

template <Scalar T>
void check_against_dense(Activation f, Index layers) {
    INFO((sizeof(T) == 4 ? "float" : "double") << ", activation " << static_cast<int>(f) << ", layers " << layers);
    RegretNetConfig<T> cfg;
    cfg.bidders = 3;
    cfg.hidden = 9;
    cfg.hidden_layers = layers;
    cfg.activation = f;
    cfg.logit_scale = T(2);
    RegretNetAdditive<T> net(cfg, 77);

    // The former construction, layer by layer.
    ParamLayout layout;
    const Index n = cfg.bidders, h = cfg.hidden;
    HandNet<T> alloc{{}, f}, pay{{}, f};
    for (Index l = 0; l < layers; ++l)
        alloc.layers.emplace_back(layout, "alloc.hidden" + std::to_string(l), l == 0 ? n : h, h);
    alloc.layers.emplace_back(layout, "alloc.out", h, n + 1);
    for (Index l = 0; l < layers; ++l)
        pay.layers.emplace_back(layout, "pay.hidden" + std::to_string(l), l == 0 ? n : h, h);
    pay.layers.emplace_back(layout, "pay.out", h, n);
    REQUIRE(net.layout().entries().size() == layout.entries().size());
    for (std::size_t i = 0; i < layout.entries().size(); ++i) {
        const auto& a = net.layout().entries()[i];
        const auto& b = layout.entries()[i];
        CHECK(a.name == b.name);
        CHECK(a.slot.offset == b.slot.offset);
        CHECK(a.slot.rows == b.slot.rows);
        CHECK(a.slot.cols == b.slot.cols);
    }
    VectorX<T> theta = VectorX<T>::Zero(layout.size());
    Rng init_rng(77);
    for (const auto& d : alloc.layers) d.init(theta, init_rng);
    for (const auto& d : pay.layers) d.init(theta, init_rng);
    CHECK(theta == net.theta());

    Rng rng(78);
    theta += test::random_vector(rng, theta.size(), 0.3).template cast<T>();  // nonzero biases
    net.theta() = theta;
    // One profile of 11 auctions, then 3 profiles of 4 auctions (the auctions' own bids
    // first): the relaxed pass runs every (profile, auction) as one row of the nets.
    for (const Index profiles : {Index{1}, Index{3}}) {
        INFO("profiles " << profiles);
        const Index b = profiles == 1 ? 11 : 4, rows = profiles * b;
        MatrixX<T> own(b, n);
        for (Index i = 0; i < own.size(); ++i) own.data()[i] = static_cast<T>(rng.uniform(0.0, 1.5));
        Batch<T> batch;
        for (const Sample<T>& s : single_item_samples<T>(own)) batch.push_back(s.auction);
        MatrixX<T> bids(rows, n);  // row c·B + a: auction a under profile c
        bids.topRows(b) = own;
        for (Index i = b * n; i < bids.size(); ++i) bids.data()[i] = static_cast<T>(rng.uniform(0.0, 1.5));
        const VectorX<T> flat_bids = Eigen::Map<const VectorX<T>>(bids.data(), bids.size());
        typename RegretNetAdditive<T>::RelaxedCache c;
        RelaxedOutcome<T> out;
        net.relaxed_forward(batch, flat_bids, T(1), c, out);
        REQUIRE(out.profiles == profiles);
        REQUIRE(out.total == b * n);
        REQUIRE(out.max_slots() == 1);

        // The former forward: π = softmax(κ z), φ = σ(q), payment = φ·alloc·b.
        const MatrixX<T> z = alloc.run(theta, bids), q = pay.run(theta, bids);
        CHECK(c.alloc.output() == z);
        CHECK(c.pay.output() == q);
        MatrixX<T> pi(rows, n + 1), phi(rows, n);
        for (Index i = 0; i < rows; ++i) {
            const T m = z.row(i).maxCoeff();
            pi.row(i) = ((z.row(i).array() - m) * cfg.logit_scale).exp().matrix();
            pi.row(i) /= pi.row(i).sum();
        }
        activate<T>(Activation::sigmoid, q, phi);
        const MatrixX<T> want_alloc = pi.leftCols(n);
        MatrixX<T> want_pay(rows, n), want_price(rows, n);
        want_pay.array() = phi.array() * want_alloc.array() * bids.array();
        want_price.array() = phi.array() * bids.array();
        // Outcome row c·total + a·N + i is candidate i of auction a under profile c:
        // entry (c·B + a, i) of the row-major matrices.
        const auto flat = [](const MatrixX<T>& m) {
            return VectorX<T>(Eigen::Map<const VectorX<T>>(m.data(), m.size()));
        };
        CHECK(VectorX<T>(out.alloc.col(0)) == flat(want_alloc));
        CHECK(out.click == flat(want_alloc));
        CHECK(out.payment == flat(want_pay));
        CHECK(out.price == flat(want_price));
    }
}
}  // namespace

TEST_CASE("RegretNetAdditive: layout, initial theta and outcome identical (==) to its former Dense stacks",
          "[mechanisms][regret_net]") {
    for (Activation f : {Activation::tanh, Activation::elu, Activation::relu, Activation::softplus,
                         Activation::sigmoid})
        for (Index layers : {1, 2, 3}) {
            check_against_dense<double>(f, layers);
            check_against_dense<float>(f, layers);
        }
}
