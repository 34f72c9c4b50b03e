#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <diffauction/click_models/click_model.hpp>
#include <diffauction/data/synthetic_market.hpp>

using namespace diffauction;

namespace {

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }
double logit(double p) { return std::log(p / (1 - p)); }

/// Six candidates, K = 3 slots with beta = (1, 0.7, 0.5), default externalities:
/// similarity 0.5, price_gain 0.3, price_gain_scale 0.5, decay 0.5.
MarketConfig six_ads(double decay = 0.5) {
    MarketConfig c;
    c.min_candidates = c.max_candidates = 6;
    c.slot_ctr = {1.0, 0.7, 0.5};
    c.externality_decay = decay;
    return c;
}

/// Sets candidate i's category (col 0 and the one-hot) and log price (col 2).
void set_ad(Auction<double>& a, Index i, Index category, double log_price, Index num_categories) {
    a.features(i, MarketColumns::category) = static_cast<double>(category);
    a.features.row(i).segment(MarketColumns::one_hot, num_categories).setZero();
    a.features(i, MarketColumns::one_hot + category) = 1;
    a.features(i, MarketColumns::log_price) = log_price;
}

enum : Index { A = 0, B = 1, C = 2, D = 3, E = 4, F = 5 };

/// Hand-built ads over a generated auction (its quality, latent features and user stay):
///   A: cat 0, lp 0   B: cat 0, lp 0   C: cat 1, lp 0
///   D: cat 2, lp 1   E: cat 1, lp 2   F: cat 3, lp 2
Auction<double> hand_auction(const SyntheticMarket<double>& m) {
    Auction<double> a = m.sample(1, 0).auction;
    const Index nc = m.config().num_categories;
    set_ad(a, A, 0, 0.0, nc);
    set_ad(a, B, 0, 0.0, nc);
    set_ad(a, C, 1, 0.0, nc);
    set_ad(a, D, 2, 1.0, nc);
    set_ad(a, E, 1, 2.0, nc);
    set_ad(a, F, 3, 2.0, nc);
    return a;
}

struct Probe {
    const MarketTruth& truth;
    const Auction<double>& a;
    std::vector<double> out = std::vector<double>(3);
    double operator()(std::vector<Index> list, std::size_t slot) {
        truth.list_ctr<double>(a, list, out);
        return out[slot];
    }
    /// beta_k * sigmoid(z_i + delta), z_i = logit(ctr*_i).
    double expect(Index slot, Index i, double delta) const {
        return a.slot_ctr[slot] * sigmoid(logit(truth.pointwise_ctr<double>(a, i)) + delta);
    }
};

}  // namespace

TEST_CASE("truth: an ad shown alone has click prob slot_ctr * ctr*", "[data][truth]") {
    const SyntheticMarket<double> m(six_ads());
    const MarketTruth truth = m.truth_model();
    const auto a = hand_auction(m);
    Probe p{truth, a};
    for (Index i = 0; i < 6; ++i) CHECK(p({i}, 0) == Approx(1.0 * truth.pointwise_ctr<double>(a, i)).epsilon(1e-14));
}

TEST_CASE("truth: (choice) externalities act on the logit; a same-category neighbour lowers CTR", "[data][truth][externality]") {
    const SyntheticMarket<double> m(six_ads());
    const MarketTruth truth = m.truth_model();
    const auto a = hand_auction(m);
    Probe p{truth, a};
    // [A, B]: same category, same price: each gets delta = -0.5 (adjacent, weight 1).
    CHECK(p({A, B}, 0) == Approx(p.expect(0, A, -0.5)).epsilon(1e-12));
    CHECK(p({A, B}, 1) == Approx(p.expect(1, B, -0.5)).epsilon(1e-12));
    // [A, C]: different categories, equal prices (tanh(0) = 0): no externality.
    CHECK(p({A, C}, 0) == Approx(p.expect(0, A, 0.0)).epsilon(1e-12));
    CHECK(p({A, B}, 0) < p({A, C}, 0));
    // So the list-wise CTR differs from the separable slot_ctr * ctr*.
    CHECK(p({A, B}, 0) < 0.99 * a.slot_ctr[0] * truth.pointwise_ctr<double>(a, A));
}

TEST_CASE("truth: swapping two ads changes a third ad's CTR (slot-distance decay)", "[data][truth][externality]") {
    const SyntheticMarket<double> m(six_ads());
    const MarketTruth truth = m.truth_model();
    const auto a = hand_auction(m);
    Probe p{truth, a};
    // B in slot 2. [A, C, B]: A (same category) two slots away -> -0.5 * 0.5 = -0.25; C differs.
    // [C, A, B]: A adjacent -> -0.5; C two slots away, other category -> 0.
    CHECK(p({A, C, B}, 2) == Approx(p.expect(2, B, -0.25)).epsilon(1e-12));
    CHECK(p({C, A, B}, 2) == Approx(p.expect(2, B, -0.5)).epsilon(1e-12));
    CHECK(p({A, C, B}, 2) > p({C, A, B}, 2));
}

TEST_CASE("truth: an ad priced below its neighbour gains, the dearer one loses", "[data][truth][externality]") {
    const SyntheticMarket<double> m(six_ads());
    const MarketTruth truth = m.truth_model();
    const auto a = hand_auction(m);
    Probe p{truth, a};
    // [A, D]: lp_D - lp_A = 1, so A gets 0.3 * tanh(1 / 0.5) = 0.3 * 0.9640276 = 0.2892083,
    // and D gets -0.2892083. Different categories: no similarity term.
    const double gain = 0.3 * std::tanh(2.0);
    CHECK(gain == Approx(0.2892083).epsilon(1e-6));
    CHECK(p({A, D}, 0) == Approx(p.expect(0, A, gain)).epsilon(1e-12));
    CHECK(p({A, D}, 1) == Approx(p.expect(1, D, -gain)).epsilon(1e-12));
    CHECK(p({A, D}, 0) > a.slot_ctr[0] * truth.pointwise_ctr<double>(a, A));
}

TEST_CASE("truth: position-only CTR is not monotone for every list", "[data][truth][externality]") {
    const SyntheticMarket<double> m(six_ads());
    const MarketTruth truth = m.truth_model();
    const auto a = hand_auction(m);
    Probe p{truth, a};
    // A in slot 0 of [A, B, E]: B adjacent, same category: -0.5; E two slots away, dearer by
    // lp 2: 0.5 * 0.3 * tanh(4) = 0.1498994. delta = -0.3501006.
    // A in slot 1 of [F, A, D]: F adjacent, dearer by 2: 0.3 * tanh(4) = 0.2997988; D adjacent,
    // dearer by 1: 0.2892083. delta = 0.5890071.
    const double top = -0.5 + 0.5 * 0.3 * std::tanh(4.0), second = 0.3 * std::tanh(4.0) + 0.3 * std::tanh(2.0);
    CHECK(top == Approx(-0.3501006).epsilon(1e-6));
    CHECK(second == Approx(0.5890071).epsilon(1e-6));
    CHECK(p({A, B, E}, 0) == Approx(p.expect(0, A, top)).epsilon(1e-12));
    CHECK(p({F, A, D}, 1) == Approx(p.expect(1, A, second)).epsilon(1e-12));
    // The logit gap 0.939 beats the position factor 0.7 whenever ctr*_A is small:
    // 0.7 sigmoid(z + 0.589) > sigmoid(z - 0.350) holds for every z < -0.85 (ctr* < 0.3).
    REQUIRE(truth.pointwise_ctr<double>(a, A) < 0.3);
    CHECK(p({F, A, D}, 1) > p({A, B, E}, 0));
}

TEST_CASE("truth: decay 0 keeps only adjacent interactions", "[data][truth][externality]") {
    const SyntheticMarket<double> m(six_ads(/*decay=*/0.0));
    const MarketTruth truth = m.truth_model();
    const auto a = hand_auction(m);
    Probe p{truth, a};
    CHECK(p({A, C, B}, 2) == Approx(p.expect(2, B, 0.0)).epsilon(1e-12));   // A two slots away: ignored
    CHECK(p({A, B, C}, 0) == Approx(p.expect(0, A, -0.5)).epsilon(1e-12));  // B adjacent: counted
}

TEMPLATE_TEST_CASE("truth: without externalities the model is separable on the true CTR", "[data][truth]", float,
                   double) {
    MarketConfig cfg;
    cfg.similarity_penalty = 0;
    cfg.price_gain = 0;
    const SyntheticMarket<TestType> m(cfg);
    const MarketTruth truth = m.truth_model();
    std::vector<TestType> out(3);
    for (const auto& s : m.generate(200, 4)) {
        truth.list_ctr<TestType>(s.auction, s.log.list, out);
        for (std::size_t k = 0; k < s.log.list.size(); ++k)
            REQUIRE(out[k] == Approx(s.auction.slot_ctr[static_cast<Index>(k)] *
                                     s.log.metrics(s.log.list[k], MarketMetric::ctr))
                                  .epsilon(1e-5));
    }
}

TEST_CASE("truth: the externality changes CTRs in generated logs", "[data][truth][externality]") {
    const SyntheticMarket<double> m;
    int differ = 0, total = 0;
    for (const auto& s : m.generate(200, 12))
        for (std::size_t k = 0; k < s.log.list.size(); ++k, ++total) {
            const double separable = s.auction.slot_ctr[static_cast<Index>(k)] *
                                     s.log.metrics(s.log.list[k], MarketMetric::ctr);
            differ += std::abs(s.log.click_prob[static_cast<Index>(k)] - separable) > 1e-3 * separable;
        }
    // Every shown ad has neighbours with other prices, so nearly every CTR moves.
    CHECK(differ > total / 2);
}

TEST_CASE("truth: bad input is an input error", "[data][truth][validation]") {
    const SyntheticMarket<double> m(six_ads());
    const MarketTruth truth = m.truth_model();
    const auto good = hand_auction(m);
    std::vector<double> out(3);
    auto field_of = [&](const Auction<double>& a, std::vector<Index> list, std::size_t out_size = 3) {
        std::vector<double> o(out_size);
        try {
            truth.list_ctr<double>(a, list, o);
        } catch (const input_error& e) {
            return e.field();
        }
        return std::string("none");
    };
    CHECK(field_of(good, {A, B, C}) == "none");
    CHECK(field_of(good, {A, B, C, D}) == "list");  // longer than K = 3
    CHECK(field_of(good, {A, A}) == "list");        // repeats a candidate
    CHECK(field_of(good, {6}) == "list");           // not a candidate
    CHECK(field_of(good, {A, B}, 1) == "out");      // output too short
    auto narrow = good;
    narrow.features.conservativeResize(Eigen::NoChange, good.features.cols() - 1);
    CHECK(field_of(narrow, {A}) == "features");
    auto no_user = good;
    no_user.context.resize(0);
    CHECK(field_of(no_user, {A}) == "context");
    for (const double bad_category : {1.5, -1.0, 8.0, double(NAN)}) {
        auto a = good;
        a.features(B, MarketColumns::category) = bad_category;
        try {
            truth.list_ctr<double>(a, std::vector<Index>{A, B}, out);
            FAIL("no throw for category " << bad_category);
        } catch (const input_error& e) {
            CHECK(e.field() == "features");
            CHECK(e.index() == B);
        }
    }
    try {
        (void)truth.pointwise_ctr<double>(good, 6);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "candidate");
        CHECK(e.index() == 6);
    }
    CHECK_THROWS_AS(MarketTruth().feature_dim(), input_error);
    CHECK_THROWS_AS(MarketTruth(nullptr), input_error);
}
