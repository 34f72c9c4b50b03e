// diffauction/data/synthetic_market.hpp - the built-in seeded synthetic market
// (SPEC §6): `MarketConfig` and `SyntheticMarket<T>`, which generates auctions
// with their ground truth and a GSP log with exploration.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <exception>
#include <memory>
#include <numbers>
#include <numeric>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/data/market_truth.hpp"
#include "diffauction/data/values.hpp"
#include "diffauction/mechanisms/baselines/gsp.hpp"

namespace diffauction {

namespace detail {

/// Nodes and weights of a trapezoid rule for E[f(Z)], Z ~ N(0, 1): step 0.25 on
/// [-10, 10] (81 nodes), weights normalised to sum to 1. For the smooth integrands
/// used here (sigmoids of sigma Z, sigma <= 3) its relative error is below 1e-10.
struct NormalGrid {
    static constexpr int size = 81;
    std::array<double, size> t{};
    std::array<double, size> w{};
};
inline const NormalGrid& normal_grid() {
    static const NormalGrid g = [] {
        NormalGrid r;
        double sum = 0;
        for (std::size_t k = 0; k < NormalGrid::size; ++k) {
            r.t[k] = -10.0 + 0.25 * static_cast<double>(k);
            r.w[k] = std::exp(-0.5 * r.t[k] * r.t[k]);
            sum += r.w[k];
        }
        for (double& w : r.w) w /= sum;
        return r;
    }();
    return g;
}

/// E[sigmoid(x + sigma Z)] - target and its derivative in x, by quadrature.
inline std::pair<double, double> noisy_sigmoid_gap(double x, double sigma, double target) {
    const NormalGrid& g = normal_grid();
    double f = -target, df = 0;
    for (std::size_t k = 0; k < NormalGrid::size; ++k) {
        const double s = sigmoid(x + sigma * g.t[k]);
        f += g.w[k] * s;
        df += g.w[k] * s * (1.0 - s);
    }
    return {f, df};
}

/// The shift c such that E[sigmoid(z + c + sigma Z)] = sigmoid(z), Z ~ N(0, 1): logit
/// noise shifted by c is unbiased in probability space ("calibrated noise"). The
/// expectation is strictly increasing in c: bracket the root, then Newton steps that
/// fall back to bisection when they leave the bracket. For z > 0 the symmetry
/// sigmoid(-x) = 1 - sigmoid(x) gives c(z) = -c(-z); solving on the side where the
/// sigmoid is small avoids cancellation in 1 - sigmoid.
inline double unbiased_logit_shift(double z, double sigma) {
    if (sigma == 0) return 0;
    if (z > 0) return -unbiased_logit_shift(-z, sigma);
    const double target = sigmoid(z);
    double lo = -sigma * sigma, hi = sigma * sigma;  // widened below until they bracket
    while (noisy_sigmoid_gap(z + lo, sigma, target).first > 0) lo *= 2;
    while (noisy_sigmoid_gap(z + hi, sigma, target).first < 0) hi *= 2;
    double c = 0.5 * (lo + hi);
    for (int it = 0; it < 200; ++it) {
        const auto [f, df] = noisy_sigmoid_gap(z + c, sigma, target);
        if (f == 0) break;
        (f > 0 ? hi : lo) = c;
        double next = c - f / df;
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (std::abs(next - c) <= 1e-13 * (1.0 + std::abs(c)) || hi - lo <= 1e-13) {
            c = next;
            break;
        }
        c = next;
    }
    return c;
}

/// `unbiased_logit_shift(z, sigma)` for one sigma, tabulated on z in [-30, 30] (step
/// 0.1) and read by cubic (Catmull-Rom) interpolation, whose error (~1e-9) is far
/// below any Monte-Carlo tolerance. Outside the table the shift has converged to its
/// limit (-sigma^2/2 as z -> -inf, +sigma^2/2 as z -> +inf, to within e^-30), so the
/// end value is used.
class LogitShiftTable {
public:
    explicit LogitShiftTable(double sigma = 0) : sigma_(sigma) {
        if (sigma == 0) return;
        values_.resize(static_cast<std::size_t>(kPoints));
        for (Index k = 0; k < kPoints; ++k)
            values_[static_cast<std::size_t>(k)] = unbiased_logit_shift(kLo + kStep * static_cast<double>(k), sigma);
    }
    double sigma() const { return sigma_; }
    double operator()(double z) const {
        if (sigma_ == 0) return 0;
        const double u = (z - kLo) / kStep;
        if (!(u > 1)) return values_.front();
        if (!(u < static_cast<double>(kPoints - 2))) return values_.back();
        const auto k = static_cast<std::size_t>(u);
        const double t = u - static_cast<double>(k);
        const double p0 = values_[k - 1], p1 = values_[k], p2 = values_[k + 1], p3 = values_[k + 2];
        return p1 + 0.5 * t * (p2 - p0 + t * (2 * p0 - 5 * p1 + 4 * p2 - p3 + t * (3 * (p1 - p2) + p3 - p0)));
    }

private:
    static constexpr double kLo = -30.0;
    static constexpr double kStep = 0.1;
    static constexpr Index kPoints = 601;
    double sigma_ = 0;
    std::vector<double> values_;
};

}  // namespace detail

/// Parameters of the synthetic market. Every field has a documented default; the
/// `SyntheticMarket` constructor validates them all (input_error naming the field).
struct MarketConfig {
    /// Candidates per auction: uniform on {min_candidates, ..., max_candidates}
    /// (set both equal for a fixed N). (choice) Default 10..20: mechanisms that
    /// enumerate ordered K-lists pay N!/(N-K)! per auction (6 840 lists for N = 20, K = 3).
    Index min_candidates = 10;
    Index max_candidates = 20;
    /// Position factors beta_1 >= ... >= beta_K; K = size. Default K = 3, (1, 0.7, 0.5).
    /// (choice) Each must be in (0, 1] so that true click probabilities stay <= 1.
    std::vector<double> slot_ctr{1.0, 0.7, 0.5};
    /// Number of ad categories C (>= 1). Default 8.
    Index num_categories = 8;
    /// Latent ad features E (>= 0): feature width D = 3 + C + E (MarketColumns). Default 4.
    Index embed_dim = 4;
    /// Length of the user vector `Auction::context` (>= 0). Default 4.
    Index context_dim = 4;
    /// Typical true top-slot CTR: the CTR logit's intercept is logit(ctr_base). In (0, 1). Default 0.05.
    double ctr_base = 0.05;
    /// Typical true CVR: the CVR logit's intercept is logit(cvr_base). In (0, 1). Default 0.05.
    double cvr_base = 0.05;
    /// Standard deviation of the noise on the logit of the predicted CTR (`Auction::ctr`),
    /// in [0, 3]. Default 0.3. (choice) Mean-corrected so that E[predicted | truth] = truth
    /// (predicted = sigmoid(z + c(z) + noise), c from detail::unbiased_logit_shift).
    double ctr_noise = 0.3;
    /// Same for the predicted CVR (`Auction::cvr`). Default 0.3.
    double cvr_noise = 0.3;
    /// Median item price (> 0); column 2 holds log(price / price_scale). Default 50.
    double price_scale = 50.0;
    /// Within-category standard deviation of the log item price (>= 0). Default 0.5.
    double price_spread = 0.5;
    /// Family of the per-click value distributions: uniform or exponential. Default uniform.
    ValueFamily value_family = ValueFamily::uniform;
    /// Scale of the per-click value means (> 0). Candidate i's mean is
    /// mu_i = value_scale * exp(hidden linear function of quality, log price, category and
    /// latent features), so expensive, high-quality items are worth more per click. Default 1.
    double value_scale = 1.0;
    /// Uniform family only: values ~ U[(1 - s) mu_i, (1 + s) mu_i], s in [0.01, 1]. Default 1 (U[0, 2 mu_i]).
    double uniform_spread = 1.0;
    /// Bids = bid_factor * values (> 0). Default 1: truthful bidding.
    double bid_factor = 1.0;
    /// Externality: logit penalty from a same-category neighbour (>= 0). Default 0.5.
    double similarity_penalty = 0.5;
    /// Externality: logit gain from a neighbour with a dearer item, times
    /// tanh(log price difference / price_gain_scale) (>= 0). Default 0.3.
    double price_gain = 0.3;
    /// Log-price difference at which the price effect saturates (> 0). Default 0.5.
    double price_gain_scale = 0.5;
    /// Geometric decay of both externalities per slot of distance beyond the adjacent
    /// one, in [0, 1] (0: only adjacent ads interact). Default 0.5.
    double externality_decay = 0.5;
    /// Probability that a logged list is a uniformly random list instead of GSP's, in [0, 1].
    /// Default 0.05.
    double exploration = 0.05;
    /// Seed of the hidden parameters (the market itself; samples take their own seed).
    std::uint64_t seed = 20240601;
};

/// Columns of `Log::metrics` (N x count) written by the synthetic market: expected
/// per-candidate values if the ad were shown alone in a slot of position factor 1.
struct MarketMetric {
    static constexpr Index ctr = 0;            ///< true point-wise CTR ctr*_i
    static constexpr Index ctr_cvr = 1;        ///< ctr*_i * cvr*_i (expected conversions)
    static constexpr Index ctr_cvr_price = 2;  ///< ctr*_i * cvr*_i * item price (expected GMV)
    static constexpr Index ctr_value = 3;      ///< ctr*_i * true value of i's bidder (expected welfare)
    static constexpr Index count = 4;
};

/// The built-in synthetic market (SPEC §6). The constructor draws the hidden
/// parameters from `config.seed`; `sample(seed, t)` draws auction t of a data set:
///  - N candidates (MarketConfig), each with a category (uniform), quality N(0,1),
///    item price price_scale * exp(category centre + price_spread N(0,1)) and E latent
///    features N(0,1); a user vector N(0, I) in `context`. Layout: MarketColumns.
///  - true CTR/CVR from the hidden logistic model (MarketTruth); `Auction::ctr`/`cvr`
///    are the truth with mean-corrected logit noise; `truth.cvr` the true CVR.
///  - one bidder per candidate; priors[i] = U[(1-s)mu_i, (1+s)mu_i] or Exp(mu_i),
///    truth.values[i] drawn from it, bids = bid_factor * values.
///  - the log: GSP (sigma = 1, on predicted ctr and bids) fills min(K, N) slots;
///    with probability `exploration` a uniformly random list of that length is shown
///    instead. Per slot: click_prob from MarketTruth, clicks ~ Bernoulli(click_prob),
///    conversions ~ Bernoulli(true cvr) after a click, gmv = conversion * item price.
///    `metrics` as in MarketMetric.
/// Sample t depends only on (market, seed, t), so data sets are reproducible and
/// independent of the thread count.
template <Scalar T>
class SyntheticMarket {
public:
    using scalar_type = T;

    explicit SyntheticMarket(MarketConfig config = {}) : cfg_(std::move(config)) {
        check_config(cfg_);
        params_ = std::make_shared<const detail::MarketParams>(draw_params(cfg_));
        ctr_shift_ = detail::LogitShiftTable(cfg_.ctr_noise);
        cvr_shift_ = detail::LogitShiftTable(cfg_.cvr_noise);
    }

    const MarketConfig& config() const { return cfg_; }
    Index feature_dim() const { return params_->feature_dim(); }
    Index context_dim() const { return cfg_.context_dim; }
    Index num_slots() const { return static_cast<Index>(cfg_.slot_ctr.size()); }

    /// The ground-truth list-wise click model (a ListCtrModel; shares the hidden parameters).
    MarketTruth truth_model() const { return MarketTruth(params_); }

    /// Auction t of the data set with seed `seed` (t >= 0).
    Sample<T> sample(std::uint64_t seed, Index t) const {
        detail::require(t >= 0, "t", t, "must be >= 0");
        Rng rng = Rng(seed).fork(static_cast<std::uint64_t>(t));
        Sample<T> s;
        draw_auction(rng, s);
        draw_log(rng, s);
        return s;
    }

    /// `count` samples: element t is `sample(seed, t)`. `threads` (>= 1) workers share
    /// the work; the result does not depend on their number.
    std::vector<Sample<T>> generate(Index count, std::uint64_t seed, int threads = 1) const {
        detail::require(count >= 0, "count", kNone, "must be >= 0");
        detail::require(threads >= 1, "threads", kNone, "must be >= 1");
        std::vector<Sample<T>> out(static_cast<std::size_t>(count));
        const Index workers = std::min<Index>(threads, std::max<Index>(count, 1));
        if (workers == 1) {
            for (Index t = 0; t < count; ++t) out[static_cast<std::size_t>(t)] = sample(seed, t);
            return out;
        }
        std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
        std::vector<std::thread> pool;
        pool.reserve(static_cast<std::size_t>(workers));
        for (Index w = 0; w < workers; ++w)
            pool.emplace_back([&, w] {
                try {
                    for (Index t = w; t < count; t += workers) out[static_cast<std::size_t>(t)] = sample(seed, t);
                } catch (...) {
                    errors[static_cast<std::size_t>(w)] = std::current_exception();
                }
            });
        for (auto& th : pool) th.join();
        for (auto& e : errors)
            if (e) std::rethrow_exception(e);
        return out;
    }

private:
    static void check_config(const MarketConfig& c) {
        using detail::require;
        auto finite_in = [](double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; };
        require(c.min_candidates >= 1, "min_candidates", kNone, "must be >= 1");
        require(c.max_candidates >= c.min_candidates, "max_candidates", kNone, "must be >= min_candidates");
        require(!c.slot_ctr.empty(), "slot_ctr", kNone, "is empty (at least one slot is needed)");
        for (std::size_t k = 0; k < c.slot_ctr.size(); ++k) {
            const double b = c.slot_ctr[k];
            require(std::isfinite(b) && b > 0 && b <= 1, "slot_ctr", static_cast<Index>(k), "must be in (0, 1]");
            if (k > 0)
                require(b <= c.slot_ctr[k - 1], "slot_ctr", static_cast<Index>(k),
                        "is larger than the slot above it (slot CTRs must be non-increasing)");
        }
        require(c.num_categories >= 1, "num_categories", kNone, "must be >= 1");
        require(c.embed_dim >= 0, "embed_dim", kNone, "must be >= 0");
        require(c.context_dim >= 0, "context_dim", kNone, "must be >= 0");
        require(std::isfinite(c.ctr_base) && c.ctr_base > 0 && c.ctr_base < 1, "ctr_base", kNone, "must be in (0, 1)");
        require(std::isfinite(c.cvr_base) && c.cvr_base > 0 && c.cvr_base < 1, "cvr_base", kNone, "must be in (0, 1)");
        require(finite_in(c.ctr_noise, 0, 3), "ctr_noise", kNone, "must be in [0, 3]");
        require(finite_in(c.cvr_noise, 0, 3), "cvr_noise", kNone, "must be in [0, 3]");
        require(std::isfinite(c.price_scale) && c.price_scale > 0, "price_scale", kNone, "must be finite and > 0");
        require(finite_in(c.price_spread, 0, 5), "price_spread", kNone, "must be in [0, 5]");
        require(c.value_family == ValueFamily::uniform || c.value_family == ValueFamily::exponential,
                "value_family", kNone, "must be uniform or exponential");
        require(std::isfinite(c.value_scale) && c.value_scale > 0, "value_scale", kNone, "must be finite and > 0");
        require(finite_in(c.uniform_spread, 0.01, 1), "uniform_spread", kNone, "must be in [0.01, 1]");
        require(std::isfinite(c.bid_factor) && c.bid_factor > 0, "bid_factor", kNone, "must be finite and > 0");
        require(finite_in(c.similarity_penalty, 0, 20), "similarity_penalty", kNone, "must be in [0, 20]");
        require(finite_in(c.price_gain, 0, 20), "price_gain", kNone, "must be in [0, 20]");
        require(std::isfinite(c.price_gain_scale) && c.price_gain_scale > 0, "price_gain_scale", kNone,
                "must be finite and > 0");
        require(finite_in(c.externality_decay, 0, 1), "externality_decay", kNone, "must be in [0, 1]");
        require(finite_in(c.exploration, 0, 1), "exploration", kNone, "must be in [0, 1]");
    }

    /// The hidden parameters. Scales (U = context_dim, E = embed_dim, each weight drawn once):
    /// CTR: quality U[0.3, 0.6], log price -U[0.1, 0.3], category N(0, 0.3^2), latent
    /// N(0, 0.3^2/E), user x category N(0, 0.3^2/U), user x latent N(0, 0.2^2/(U E)).
    /// CVR: quality U[0.1, 0.3], log price -U[0.3, 0.6], category N(0, 0.3^2), latent
    /// N(0, 0.3^2/E), user x category N(0, 0.3^2/U).
    /// Value mean (log): log(value_scale) + quality U[0.2, 0.4] + log price U[0.3, 0.5]
    /// + category N(0, 0.2^2) + latent N(0, 0.2^2/E). Category log-price centres N(0, 0.5^2).
    static detail::MarketParams draw_params(const MarketConfig& c) {
        Rng rng(c.seed);
        detail::MarketParams p;
        const Index C = c.num_categories, E = c.embed_dim, U = c.context_dim;
        const double e_scale = 1.0 / std::sqrt(static_cast<double>(std::max<Index>(E, 1)));
        const double u_scale = 1.0 / std::sqrt(static_cast<double>(std::max<Index>(U, 1)));
        auto normals = [&rng](Index n, double sd) {
            Eigen::VectorXd v(n);
            for (Index i = 0; i < n; ++i) v[i] = rng.normal(0.0, sd);
            return v;
        };
        auto normal_matrix = [&rng](Index r, Index cols, double sd) {
            Eigen::MatrixXd m(r, cols);
            for (Index i = 0; i < r; ++i)
                for (Index j = 0; j < cols; ++j) m(i, j) = rng.normal(0.0, sd);
            return m;
        };
        p.num_categories = C;
        p.embed_dim = E;
        p.context_dim = U;
        p.ctr_bias = detail::logit(c.ctr_base);
        p.ctr_quality = rng.uniform(0.3, 0.6);
        p.ctr_price = -rng.uniform(0.1, 0.3);
        p.ctr_category = normals(C, 0.3);
        p.ctr_embed = normals(E, 0.3 * e_scale);
        p.ctr_user_category = normal_matrix(C, U, 0.3 * u_scale);
        p.ctr_user_embed = normal_matrix(U, E, 0.2 * u_scale * e_scale);
        p.cvr_bias = detail::logit(c.cvr_base);
        p.cvr_quality = rng.uniform(0.1, 0.3);
        p.cvr_price = -rng.uniform(0.3, 0.6);
        p.cvr_category = normals(C, 0.3);
        p.cvr_embed = normals(E, 0.3 * e_scale);
        p.cvr_user_category = normal_matrix(C, U, 0.3 * u_scale);
        p.value_log_base = std::log(c.value_scale);
        p.value_quality = rng.uniform(0.2, 0.4);
        p.value_price = rng.uniform(0.3, 0.5);
        p.value_category = normals(C, 0.2);
        p.value_embed = normals(E, 0.2 * e_scale);
        p.log_price_category = normals(C, 0.5);
        p.log_price_sd = c.price_spread;
        p.similarity = c.similarity_penalty;
        p.price_gain = c.price_gain;
        p.price_gain_scale = c.price_gain_scale;
        p.decay = c.externality_decay;
        return p;
    }

    void draw_auction(Rng& rng, Sample<T>& s) const {
        const detail::MarketParams& p = *params_;
        Auction<T>& a = s.auction;
        const Index n = cfg_.min_candidates + rng.uniform_int(cfg_.max_candidates - cfg_.min_candidates + 1);
        const Index C = p.num_categories, E = p.embed_dim, U = p.context_dim;
        const Index x0 = MarketColumns::latent(C);

        a.context.resize(U);
        for (Index k = 0; k < U; ++k) a.context[k] = static_cast<T>(rng.normal());
        a.features = MatrixX<T>::Zero(n, p.feature_dim());
        for (Index i = 0; i < n; ++i) {
            const Index c = rng.uniform_int(C);
            a.features(i, MarketColumns::category) = static_cast<T>(c);
            a.features(i, MarketColumns::quality) = static_cast<T>(rng.normal());
            a.features(i, MarketColumns::log_price) =
                static_cast<T>(p.log_price_category[c] + p.log_price_sd * rng.normal());
            a.features(i, MarketColumns::one_hot + c) = T(1);
            for (Index e = 0; e < E; ++e) a.features(i, x0 + e) = static_cast<T>(rng.normal());
        }
        a.slot_ctr.resize(num_slots());
        for (Index k = 0; k < num_slots(); ++k) a.slot_ctr[k] = static_cast<T>(cfg_.slot_ctr[static_cast<std::size_t>(k)]);

        // Everything below is computed from the stored (rounded to T) features, exactly
        // as MarketTruth recomputes it from the auction.
        const AuctionView<T> v(a);
        a.ctr.resize(n);
        a.cvr.resize(n);
        a.price.resize(n);
        a.bids.resize(n);
        a.priors.resize(static_cast<std::size_t>(n));
        s.truth.values.resize(n);
        s.truth.cvr.resize(n);
        s.log.metrics.resize(n, MarketMetric::count);
        for (Index i = 0; i < n; ++i) {
            const double zc = detail::market_ctr_logit(p, v, i);
            const double zv = detail::market_cvr_logit(p, v, i);
            const double ctr_true = detail::sigmoid(zc);
            const double cvr_true = detail::sigmoid(zv);
            a.ctr[i] = static_cast<T>(
                detail::sigmoid(zc + ctr_shift_(zc) + cfg_.ctr_noise * rng.normal()));
            a.cvr[i] = static_cast<T>(
                detail::sigmoid(zv + cvr_shift_(zv) + cfg_.cvr_noise * rng.normal()));
            const double item_price =
                cfg_.price_scale * std::exp(static_cast<double>(a.features(i, MarketColumns::log_price)));
            a.price[i] = static_cast<T>(item_price);
            s.truth.cvr[i] = static_cast<T>(cvr_true);

            const double mu = detail::market_value_mean(p, v, i);
            ValueDist<T> prior = cfg_.value_family == ValueFamily::uniform
                                     ? ValueDist<T>::uniform(static_cast<T>((1 - cfg_.uniform_spread) * mu),
                                                             static_cast<T>((1 + cfg_.uniform_spread) * mu))
                                     : ValueDist<T>::exponential(static_cast<T>(mu));
            a.priors[static_cast<std::size_t>(i)] = prior;
            const T value = sample_value(prior, rng);
            s.truth.values[i] = value;
            a.bids[i] = static_cast<T>(cfg_.bid_factor * static_cast<double>(value));

            s.log.metrics(i, MarketMetric::ctr) = static_cast<T>(ctr_true);
            s.log.metrics(i, MarketMetric::ctr_cvr) = static_cast<T>(ctr_true * cvr_true);
            s.log.metrics(i, MarketMetric::ctr_cvr_price) = static_cast<T>(ctr_true * cvr_true * item_price);
            s.log.metrics(i, MarketMetric::ctr_value) = static_cast<T>(ctr_true * static_cast<double>(value));
        }
    }

    void draw_log(Rng& rng, Sample<T>& s) const {
        const Auction<T>& a = s.auction;
        Log<T>& log = s.log;
        const Index n = a.num_candidates();
        const Index len = std::min(n, a.num_slots());
        log.list.resize(static_cast<std::size_t>(len));
        if (rng.bernoulli(cfg_.exploration)) {
            // Partial Fisher-Yates: the first len entries of a uniform random permutation.
            std::vector<Index> perm(static_cast<std::size_t>(n));
            std::iota(perm.begin(), perm.end(), Index(0));
            for (Index k = 0; k < len; ++k) {
                const Index j = k + rng.uniform_int(n - k);
                std::swap(perm[static_cast<std::size_t>(k)], perm[static_cast<std::size_t>(j)]);
                log.list[static_cast<std::size_t>(k)] = perm[static_cast<std::size_t>(k)];
            }
        } else {
            const Gsp<T> gsp(T(1));
            typename Gsp<T>::Workspace ws;
            Outcome<T> out;
            gsp.run(a, out, ws);
            for (Index k = 0; k < len; ++k) log.list[static_cast<std::size_t>(k)] = out.slots[static_cast<std::size_t>(k)];
        }
        log.click_prob.resize(len);
        log.clicks.resize(len);
        log.conversions.resize(len);
        log.gmv.resize(len);
        const MarketTruth truth(params_);
        truth.list_ctr<T>(a, log.list, std::span<T>(log.click_prob.data(), static_cast<std::size_t>(len)));
        for (Index k = 0; k < len; ++k) {
            const Index i = log.list[static_cast<std::size_t>(k)];
            const bool click = rng.bernoulli(static_cast<double>(log.click_prob[k]));
            const bool conversion = click && rng.bernoulli(static_cast<double>(s.truth.cvr[i]));
            log.clicks[k] = click ? T(1) : T(0);
            log.conversions[k] = conversion ? T(1) : T(0);
            log.gmv[k] = conversion ? a.price[i] : T(0);
        }
    }

    MarketConfig cfg_;
    std::shared_ptr<const detail::MarketParams> params_;
    detail::LogitShiftTable ctr_shift_, cvr_shift_;
};

}  // namespace diffauction
