#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include <diffauction/data/synthetic_market.hpp>
#include <diffauction/mechanisms/baselines/gsp.hpp>

#include "data/sample_equal.hpp"

using namespace diffauction;

namespace {

MarketConfig small_k_config() {
    MarketConfig c;
    c.value_family = ValueFamily::exponential;
    c.min_candidates = c.max_candidates = 1;  // K = 3 > N = 1: one slot filled
    return c;
}
MarketConfig bare_config() {
    MarketConfig c;
    c.embed_dim = 0;
    c.context_dim = 0;
    c.num_categories = 1;
    c.min_candidates = 2;
    c.max_candidates = 4;
    c.slot_ctr = {0.9, 0.9, 0.4, 0.2, 0.1};  // ties between slots are legal
    c.exploration = 1;
    c.ctr_noise = c.cvr_noise = 0;
    return c;
}

}  // namespace

TEMPLATE_TEST_CASE("market: generated auctions pass validate and have the documented shapes", "[data][market]",
                   float, double) {
    for (const MarketConfig& cfg : {MarketConfig{}, small_k_config(), bare_config()}) {
        const SyntheticMarket<TestType> market(cfg);
        const Index d = 3 + cfg.num_categories + cfg.embed_dim;
        REQUIRE(market.feature_dim() == d);
        for (const auto& s : market.generate(300, 7)) {
            const auto& a = s.auction;
            REQUIRE_NOTHROW(validate<TestType>(a));
            const Index n = a.num_candidates();
            REQUIRE(n >= cfg.min_candidates);
            REQUIRE(n <= cfg.max_candidates);
            REQUIRE(a.features.rows() == n);
            REQUIRE(a.features.cols() == d);
            REQUIRE(a.context.size() == cfg.context_dim);
            REQUIRE(a.num_bidders() == n);
            REQUIRE(a.cvr.size() == n);
            REQUIRE(a.price.size() == n);
            REQUIRE(a.owners.empty());
            REQUIRE(static_cast<Index>(a.priors.size()) == n);
            REQUIRE(s.truth.values.size() == n);
            REQUIRE(s.truth.cvr.size() == n);
            REQUIRE(a.num_slots() == static_cast<Index>(cfg.slot_ctr.size()));
            for (Index k = 0; k < a.num_slots(); ++k)
                REQUIRE(a.slot_ctr[k] == static_cast<TestType>(cfg.slot_ctr[static_cast<std::size_t>(k)]));
            for (Index i = 0; i < n; ++i) {
                // Layout: col 0 category id, cols 3.. one-hot of the same category.
                const auto c = static_cast<Index>(a.features(i, MarketColumns::category));
                REQUIRE(a.features(i, MarketColumns::category) == static_cast<TestType>(c));
                REQUIRE(a.features.row(i).segment(MarketColumns::one_hot, cfg.num_categories).sum() == TestType(1));
                REQUIRE(a.features(i, MarketColumns::one_hot + c) == TestType(1));
                // Column 2 is log(price / price_scale).
                REQUIRE(a.price[i] == Approx(cfg.price_scale * std::exp(static_cast<double>(
                                                                   a.features(i, MarketColumns::log_price))))
                                          .epsilon(1e-6));
                REQUIRE(a.priors[static_cast<std::size_t>(i)].family == cfg.value_family);
                REQUIRE(a.bids[i] == s.truth.values[i]);  // truthful by default
            }
        }
    }
}

TEST_CASE("market: (choice) defaults: 10..20 candidates, K = 3, slot CTRs in (0, 1]", "[data][market]") {
    const MarketConfig c;
    CHECK(c.min_candidates == 10);
    CHECK(c.max_candidates == 20);
    CHECK(c.slot_ctr == std::vector<double>{1.0, 0.7, 0.5});
    // Every N in 10..20 occurs (uniform on 11 values: each has probability 1/11 per auction).
    std::vector<int> seen(21, 0);
    for (const auto& s : SyntheticMarket<double>().generate(400, 2)) ++seen[static_cast<std::size_t>(s.auction.num_candidates())];
    for (std::size_t n = 10; n <= 20; ++n) CHECK(seen[n] > 0);
}

TEMPLATE_TEST_CASE("market: the same seed gives bit-identical data, another seed different data",
                   "[data][market][determinism]", float, double) {
    const SyntheticMarket<TestType> market;
    const auto a = market.generate(150, 42);
    const auto b = market.generate(150, 42, /*threads=*/3);
    const auto c = SyntheticMarket<TestType>(MarketConfig{}).generate(150, 42);  // same market seed
    const auto other = market.generate(150, 43);
    MarketConfig cfg2;
    cfg2.seed += 1;
    const auto other_market = SyntheticMarket<TestType>(cfg2).generate(150, 42);
    int same_other = 0, same_other_market = 0;
    for (std::size_t t = 0; t < a.size(); ++t) {
        REQUIRE(test::same_sample(a[t], b[t]));
        REQUIRE(test::same_sample(a[t], c[t]));
        same_other += test::same_sample(a[t], other[t]);
        same_other_market += test::same_sample(a[t], other_market[t]);
    }
    REQUIRE(test::same_sample(a[17], market.sample(42, 17)));
    CHECK(same_other == 0);
    CHECK(same_other_market == 0);
    // Different hidden parameters: the same sample seed draws the same N and user, but
    // the category price centres and the truth differ.
    CHECK(a[0].auction.num_candidates() == other_market[0].auction.num_candidates());
    CHECK(a[0].auction.price != other_market[0].auction.price);
}

TEMPLATE_TEST_CASE("market: log fields are consistent with the truth model", "[data][market][log]", float,
                   double) {
    MarketConfig cfg;
    cfg.exploration = 0.3;
    const SyntheticMarket<TestType> market(cfg);
    const MarketTruth truth = market.truth_model();
    const double tol = std::is_same_v<TestType, float> ? 1e-5 : 1e-12;
    std::vector<TestType> probs;
    for (const auto& s : market.generate(400, 3)) {
        const auto& a = s.auction;
        const auto& log = s.log;
        const Index n = a.num_candidates(), len = std::min(n, a.num_slots());
        REQUIRE(static_cast<Index>(log.list.size()) == len);
        REQUIRE(log.clicks.size() == len);
        REQUIRE(log.conversions.size() == len);
        REQUIRE(log.gmv.size() == len);
        REQUIRE(log.click_prob.size() == len);
        REQUIRE(log.metrics.rows() == n);
        REQUIRE(log.metrics.cols() == MarketMetric::count);
        for (Index k = 0; k < len; ++k) {
            const Index i = log.list[static_cast<std::size_t>(k)];
            REQUIRE(i >= 0);
            REQUIRE(i < n);
            for (Index j = 0; j < k; ++j) REQUIRE(log.list[static_cast<std::size_t>(j)] != i);
            REQUIRE((log.clicks[k] == 0 || log.clicks[k] == 1));
            REQUIRE(log.conversions[k] <= log.clicks[k]);
            REQUIRE((log.conversions[k] == 0 || log.conversions[k] == 1));
            REQUIRE(log.gmv[k] == log.conversions[k] * a.price[i]);
        }
        probs.assign(static_cast<std::size_t>(len), TestType(0));
        truth.list_ctr<TestType>(a, log.list, probs);
        for (Index k = 0; k < len; ++k) REQUIRE(log.click_prob[k] == probs[static_cast<std::size_t>(k)]);
        for (Index i = 0; i < n; ++i) {
            const double ctr = static_cast<double>(truth.pointwise_ctr<TestType>(a, i));
            const double cvr = static_cast<double>(truth.cvr<TestType>(a, i));
            REQUIRE(s.truth.cvr[i] == static_cast<TestType>(cvr));
            REQUIRE(log.metrics(i, MarketMetric::ctr) == static_cast<TestType>(ctr));
            REQUIRE(log.metrics(i, MarketMetric::ctr_cvr) == Approx(ctr * cvr).epsilon(tol));
            REQUIRE(log.metrics(i, MarketMetric::ctr_cvr_price) ==
                    Approx(ctr * cvr * static_cast<double>(a.price[i])).epsilon(tol));
            REQUIRE(log.metrics(i, MarketMetric::ctr_value) ==
                    Approx(ctr * static_cast<double>(s.truth.values[i])).epsilon(tol));
        }
    }
}

TEST_CASE("market: realised clicks and conversions match their probabilities", "[data][market][log]") {
    MarketConfig cfg;
    cfg.ctr_base = 0.2;  // more clicks, so conversions are well sampled too
    const SyntheticMarket<double> market(cfg);
    const auto data = market.generate(6000, 21);
    // Sums of independent Bernoulli residuals: z = sum(x - p) / sqrt(sum p (1 - p)) ~ N(0, 1).
    double click_res = 0, click_var = 0, conv_res = 0, conv_var = 0;
    for (const auto& s : data)
        for (Index k = 0; k < s.log.clicks.size(); ++k) {
            const double p = s.log.click_prob[k];
            click_res += s.log.clicks[k] - p;
            click_var += p * (1 - p);
            if (s.log.clicks[k] == 1) {
                const double q = s.truth.cvr[s.log.list[static_cast<std::size_t>(k)]];
                conv_res += s.log.conversions[k] - q;
                conv_var += q * (1 - q);
            }
        }
    CHECK(std::abs(click_res) < 4 * std::sqrt(click_var));
    CHECK(std::abs(conv_res) < 4 * std::sqrt(conv_var));
}

TEST_CASE("market: the realised exploration rate is close to epsilon", "[data][market][log]") {
    // N = 10, K = 3: a random list equals GSP's with probability 1 / (10 * 9 * 8) = 1/720,
    // so the share of logs that differ from GSP is eps * 719/720.
    const int n = 3000;
    for (const double eps : {0.0, 0.2, 1.0}) {
        MarketConfig cfg;
        cfg.min_candidates = cfg.max_candidates = 10;
        cfg.exploration = eps;
        const SyntheticMarket<double> market(cfg);
        const Gsp<double> gsp;
        Gsp<double>::Workspace ws;
        Outcome<double> out;
        int differ = 0;
        for (const auto& s : market.generate(n, 99)) {
            gsp.run(s.auction, out, ws);
            const std::vector<Index> shown(out.slots.begin(), out.slots.begin() + 3);
            differ += (shown != s.log.list);
        }
        const double rate = static_cast<double>(differ) / n, expected = eps * 719.0 / 720.0;
        INFO("eps " << eps << " realised " << rate);
        // Binomial: four standard errors (zero when eps = 0: then no log may differ).
        CHECK(std::abs(rate - expected) <= 4 * std::sqrt(expected * (1 - expected) / n));
    }
}

TEST_CASE("market: the unbiased logit shift makes noisy predictions mean-correct", "[data][market][noise]") {
    // Independent check by Simpson's rule on [-12, 12] (4 800 intervals):
    // E[sigmoid(z + c + sigma Z)] must equal sigmoid(z).
    auto noisy_mean = [](double x, double sigma) {
        const int m = 4800;
        const double h = 24.0 / m;
        double acc = 0;
        for (int k = 0; k <= m; ++k) {
            const double t = -12.0 + h * k;
            const double f = std::exp(-0.5 * t * t) / std::sqrt(2 * std::numbers::pi) / (1 + std::exp(-(x + sigma * t)));
            acc += f * (k == 0 || k == m ? 1 : (k % 2 == 1 ? 4 : 2));
        }
        return acc * h / 3;
    };
    for (const double sigma : {0.3, 1.0, 3.0})
        for (const double z : {-10.0, -3.0, 0.0, 2.0}) {
            const double c = detail::unbiased_logit_shift(z, sigma);
            INFO("z " << z << " sigma " << sigma << " c " << c);
            CHECK(noisy_mean(z + c, sigma) == Approx(1 / (1 + std::exp(-z))).epsilon(1e-9));
            // Symmetry sigmoid(-x) = 1 - sigmoid(x) gives c(-z) = -c(z), so c(0) = 0.
            CHECK(detail::unbiased_logit_shift(-z, sigma) == Approx(-c).margin(1e-10));
            // The table agrees with the direct solution.
            CHECK(detail::LogitShiftTable(sigma)(z) == Approx(c).margin(1e-7));
        }
    // Far tails: sigmoid(x) ~ e^x, and E[e^(x + sigma Z)] = e^(x + sigma^2/2), so c -> -sigma^2/2.
    CHECK(detail::unbiased_logit_shift(-25.0, 1.0) == Approx(-0.5).margin(1e-6));
    CHECK(detail::unbiased_logit_shift(25.0, 1.0) == Approx(0.5).margin(1e-6));
    CHECK(detail::unbiased_logit_shift(-3.0, 0.0) == 0.0);
}

TEST_CASE("market: (choice) predicted CTR and CVR are unbiased given the truth, so calibrated on average", "[data][market][noise]") {
    // Strong noise (0.8 on the logit): uncorrected noise would bias the mean by ~20 %.
    MarketConfig cfg;
    cfg.ctr_noise = cfg.cvr_noise = 0.8;
    const SyntheticMarket<double> market(cfg);
    struct Pair {
        double truth, pred;
    };
    std::vector<Pair> ctr, cvr;
    for (const auto& s : market.generate(12000, 5))
        for (Index i = 0; i < s.auction.num_candidates(); ++i) {
            ctr.push_back({s.log.metrics(i, MarketMetric::ctr), s.auction.ctr[i]});
            cvr.push_back({s.truth.cvr[i], s.auction.cvr[i]});
        }
    // E[pred | truth] = truth: the mean residual within each fifth of the truth's range,
    // and overall, is zero within four standard errors.
    for (auto* v : {&ctr, &cvr}) {
        std::sort(v->begin(), v->end(), [](const Pair& a, const Pair& b) { return a.truth < b.truth; });
        const std::size_t n = v->size();
        auto check_range = [&](std::size_t lo, std::size_t hi) {
            double sum = 0, sum2 = 0, truth = 0;
            for (std::size_t i = lo; i < hi; ++i) {
                const double r = (*v)[i].pred - (*v)[i].truth;
                sum += r;
                sum2 += r * r;
                truth += (*v)[i].truth;
            }
            const double m = static_cast<double>(hi - lo), mean = sum / m;
            const double se = std::sqrt((sum2 / m - mean * mean) / m);
            INFO((v == &ctr ? "ctr" : "cvr") << " rows " << lo << ".." << hi << " mean truth " << truth / m
                                             << " mean residual " << mean << " se " << se);
            CHECK(std::abs(mean) < 4 * se);
        };
        check_range(0, n);
        for (std::size_t q = 0; q < 5; ++q) check_range(n * q / 5, n * (q + 1) / 5);
    }
}

TEST_CASE("market: values match their priors, whose means depend on the features", "[data][market][values]") {
    for (const ValueFamily family : {ValueFamily::uniform, ValueFamily::exponential}) {
        MarketConfig cfg;
        cfg.value_family = family;
        cfg.uniform_spread = 0.5;
        const SyntheticMarket<double> market(cfg);
        // Standardised residuals (v - mu_i) / sd_i are i.i.d. with mean 0 and variance 1,
        // so their sum over n draws is N(0, n) and its mean is within 4 / sqrt(n) of 0.
        double zsum = 0, n = 0;
        // Correlation of log mu_i with log item price: positive by construction
        // (value_price ~ U[0.3, 0.5] in the hidden model).
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (const auto& s : market.generate(3000, 8)) {
            for (Index i = 0; i < s.auction.num_candidates(); ++i) {
                const auto& prior = s.auction.priors[static_cast<std::size_t>(i)];
                REQUIRE(prior.family == family);
                const double mu = value_mean(prior), v = s.truth.values[i];
                if (family == ValueFamily::uniform) {
                    // U[(1 - 0.5) mu, (1 + 0.5) mu].
                    REQUIRE(prior.lo == Approx(0.5 * mu));
                    REQUIRE(prior.hi == Approx(1.5 * mu));
                    REQUIRE(v >= prior.lo);
                    REQUIRE(v <= prior.hi);
                }
                zsum += (v - mu) / std::sqrt(value_variance(prior));
                n += 1;
                const double x = s.auction.features(i, MarketColumns::log_price), y = std::log(mu);
                sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
            }
        }
        INFO("family " << static_cast<int>(family) << " n " << n);
        CHECK(std::abs(zsum / n) < 4 / std::sqrt(n));
        const double corr = (sxy / n - sx / n * sy / n) /
                            std::sqrt((sxx / n - sx / n * sx / n) * (syy / n - sy / n * sy / n));
        CHECK(corr > 0.2);
    }
}

TEST_CASE("market: bid_factor scales the bids", "[data][market][values]") {
    MarketConfig cfg;
    cfg.bid_factor = 0.8;
    for (const auto& s : SyntheticMarket<double>(cfg).generate(50, 1))
        for (Index i = 0; i < s.auction.num_bidders(); ++i)
            REQUIRE(s.auction.bids[i] == Approx(0.8 * s.truth.values[i]).epsilon(1e-15));
}

TEST_CASE("market: every invalid config parameter is an input error naming it ((choice) slot CTRs <= 1)", "[data][market][validation]") {
    const std::vector<std::pair<std::string, std::function<void(MarketConfig&)>>> cases = {
        {"min_candidates", [](MarketConfig& c) { c.min_candidates = 0; }},
        {"max_candidates", [](MarketConfig& c) { c.max_candidates = c.min_candidates - 1; }},
        {"slot_ctr", [](MarketConfig& c) { c.slot_ctr.clear(); }},
        {"slot_ctr", [](MarketConfig& c) { c.slot_ctr = {0.5, 0.7}; }},
        {"slot_ctr", [](MarketConfig& c) { c.slot_ctr = {1.2}; }},  // (choice) factors above 1 rejected
        {"slot_ctr", [](MarketConfig& c) { c.slot_ctr = {0.0}; }},
        {"num_categories", [](MarketConfig& c) { c.num_categories = 0; }},
        {"embed_dim", [](MarketConfig& c) { c.embed_dim = -1; }},
        {"context_dim", [](MarketConfig& c) { c.context_dim = -1; }},
        {"ctr_base", [](MarketConfig& c) { c.ctr_base = 1; }},
        {"cvr_base", [](MarketConfig& c) { c.cvr_base = 0; }},
        {"ctr_noise", [](MarketConfig& c) { c.ctr_noise = -0.1; }},
        {"cvr_noise", [](MarketConfig& c) { c.cvr_noise = 3.5; }},
        {"price_scale", [](MarketConfig& c) { c.price_scale = 0; }},
        {"price_spread", [](MarketConfig& c) { c.price_spread = NAN; }},
        {"value_family", [](MarketConfig& c) { c.value_family = ValueFamily::none; }},
        {"value_scale", [](MarketConfig& c) { c.value_scale = -1; }},
        {"uniform_spread", [](MarketConfig& c) { c.uniform_spread = 0; }},
        {"bid_factor", [](MarketConfig& c) { c.bid_factor = 0; }},
        {"similarity_penalty", [](MarketConfig& c) { c.similarity_penalty = -1; }},
        {"price_gain", [](MarketConfig& c) { c.price_gain = INFINITY; }},
        {"price_gain_scale", [](MarketConfig& c) { c.price_gain_scale = 0; }},
        {"externality_decay", [](MarketConfig& c) { c.externality_decay = 1.5; }},
        {"exploration", [](MarketConfig& c) { c.exploration = -0.01; }},
    };
    for (const auto& [field, mutate] : cases) {
        MarketConfig c;
        mutate(c);
        INFO("field " << field);
        try {
            SyntheticMarket<double> m(c);
            FAIL("no throw");
        } catch (const input_error& e) {
            CHECK(e.field() == field);
        }
    }
    const SyntheticMarket<double> m;
    CHECK_THROWS_AS(m.generate(-1, 1), input_error);
    CHECK_THROWS_AS(m.generate(1, 1, 0), input_error);
    CHECK_THROWS_AS(m.sample(1, -1), input_error);
    CHECK(m.generate(0, 1).empty());
}
