// diffauction/data/market_truth.hpp - the hidden ground truth of the synthetic
// market (SPEC §6): the feature column layout, the hidden logistic CTR/CVR model
// and `MarketTruth`, the list-wise click model with externalities.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <utility>


#include "diffauction/core/auction.hpp"
#include "diffauction/click_models/click_model.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// Column layout of `Auction::features` in the synthetic market (all bid-free).
/// With C categories and E latent ad features the width is D = 3 + C + E:
///   col 0            category id c in {0, ..., C-1}, stored as an exact integer
///   col 1            ad quality, N(0, 1)
///   col 2            log(item price / MarketConfig::price_scale)
///   cols 3 .. 3+C-1  one-hot encoding of the category (for learned models; the
///                    truth model reads the category from col 0 only)
///   cols 3+C .. D-1  E latent ad features, N(0, 1)
/// `Auction::context` is the user vector, context_dim entries, N(0, 1).
struct MarketColumns {
    static constexpr Index category = 0;
    static constexpr Index quality = 1;
    static constexpr Index log_price = 2;
    static constexpr Index one_hot = 3;  ///< first of the C one-hot columns
    /// First latent column for `num_categories` categories.
    static constexpr Index latent(Index num_categories) { return one_hot + num_categories; }
    /// Feature width D = 3 + C + E.
    static constexpr Index width(Index num_categories, Index embed_dim) {
        return one_hot + num_categories + embed_dim;
    }
};

namespace detail {

inline double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
    const double e = std::exp(z);
    return e / (1.0 + e);
}
inline double logit(double p) { return std::log(p / (1.0 - p)); }

/// The hidden parameters of a synthetic market. Only `MarketTruth` and the
/// generator read them; a mechanism sees nothing but the auction.
struct MarketParams {
    Index num_categories = 1;
    Index embed_dim = 0;
    Index context_dim = 0;

    // True point-wise CTR: sigmoid(ctr_bias + ctr_quality q + ctr_price lp + ctr_category[c]
    //   + ctr_embed . x + u . ctr_user_category.row(c) + u . (ctr_user_embed x)).
    double ctr_bias = 0, ctr_quality = 0, ctr_price = 0;
    Eigen::VectorXd ctr_category, ctr_embed;
    Eigen::MatrixXd ctr_user_category;  ///< C x U
    Eigen::MatrixXd ctr_user_embed;     ///< U x E
    // True CVR: sigmoid(cvr_bias + cvr_quality q + cvr_price lp + cvr_category[c]
    //   + cvr_embed . x + u . cvr_user_category.row(c)).
    double cvr_bias = 0, cvr_quality = 0, cvr_price = 0;
    Eigen::VectorXd cvr_category, cvr_embed;
    Eigen::MatrixXd cvr_user_category;  ///< C x U
    // Mean per-click value: exp(value_log_base + value_quality q + value_price lp
    //   + value_category[c] + value_embed . x).
    double value_log_base = 0, value_quality = 0, value_price = 0;
    Eigen::VectorXd value_category, value_embed;
    // Item prices: lp = log_price_category[c] + log_price_sd * N(0, 1).
    Eigen::VectorXd log_price_category;
    double log_price_sd = 0.5;
    // Externalities (MarketConfig documents them).
    double similarity = 0, price_gain = 0, price_gain_scale = 1, decay = 0;

    Index feature_dim() const { return MarketColumns::width(num_categories, embed_dim); }
};

/// Category of row i of `a` (column 0), checked to be an integer in [0, C).
template <Scalar T>
Index market_category(const MarketParams& p, const AuctionView<T>& a, Index i) {
    const double v = static_cast<double>(a.features(i, MarketColumns::category));
    const bool ok = std::isfinite(v) && v == std::floor(v) && v >= 0 &&
                    v < static_cast<double>(p.num_categories);
    // Tested before building the message: list_ctr must not allocate on valid input.
    if (!ok) throw input_error("features", i, "column 0 (category) is not an integer in [0, num_categories)");
    return static_cast<Index>(v);
}

template <Scalar T>
double market_ctr_logit(const MarketParams& p, const AuctionView<T>& a, Index i) {
    const Index c = market_category(p, a, i);
    const Index x0 = MarketColumns::latent(p.num_categories);
    double z = p.ctr_bias + p.ctr_quality * static_cast<double>(a.features(i, MarketColumns::quality)) +
               p.ctr_price * static_cast<double>(a.features(i, MarketColumns::log_price)) +
               p.ctr_category[c];
    for (Index e = 0; e < p.embed_dim; ++e) z += p.ctr_embed[e] * static_cast<double>(a.features(i, x0 + e));
    for (Index k = 0; k < p.context_dim; ++k) {
        double w = p.ctr_user_category(c, k);
        for (Index e = 0; e < p.embed_dim; ++e)
            w += p.ctr_user_embed(k, e) * static_cast<double>(a.features(i, x0 + e));
        z += static_cast<double>(a.context[k]) * w;
    }
    return z;
}

template <Scalar T>
double market_cvr_logit(const MarketParams& p, const AuctionView<T>& a, Index i) {
    const Index c = market_category(p, a, i);
    const Index x0 = MarketColumns::latent(p.num_categories);
    double z = p.cvr_bias + p.cvr_quality * static_cast<double>(a.features(i, MarketColumns::quality)) +
               p.cvr_price * static_cast<double>(a.features(i, MarketColumns::log_price)) +
               p.cvr_category[c];
    for (Index e = 0; e < p.embed_dim; ++e) z += p.cvr_embed[e] * static_cast<double>(a.features(i, x0 + e));
    for (Index k = 0; k < p.context_dim; ++k)
        z += static_cast<double>(a.context[k]) * p.cvr_user_category(c, k);
    return z;
}

template <Scalar T>
double market_value_mean(const MarketParams& p, const AuctionView<T>& a, Index i) {
    const Index c = market_category(p, a, i);
    const Index x0 = MarketColumns::latent(p.num_categories);
    double z = p.value_log_base +
               p.value_quality * static_cast<double>(a.features(i, MarketColumns::quality)) +
               p.value_price * static_cast<double>(a.features(i, MarketColumns::log_price)) +
               p.value_category[c];
    for (Index e = 0; e < p.embed_dim; ++e) z += p.value_embed[e] * static_cast<double>(a.features(i, x0 + e));
    return std::exp(z);
}

}  // namespace detail

/// The ground-truth list-wise click model of a synthetic market (SPEC §6). It
/// satisfies `ListCtrModel` for float and double and reads only the bid-free
/// `features`, `context` and `slot_ctr` of the auction (layout: MarketColumns).
///
/// Candidate i has a true point-wise CTR ctr*_i = sigmoid(z_i), z_i the hidden
/// logistic model of its features and the user vector: its click probability at a
/// position factor of 1 with no other ad shown. In a list l, the ad in slot k has
///   click_k = slot_ctr[k] * sigmoid(z_{l_k} + Delta_k),
///   Delta_k = sum_{j != k} decay^(|j-k|-1) * ( -similarity * [cat_{l_j} == cat_{l_k}]
///             + price_gain * tanh((lp_{l_j} - lp_{l_k}) / price_gain_scale) ),
/// lp = log item price (column 2). So a same-category neighbour depresses an ad, a
/// neighbour with a dearer item lifts it (an ad priced below its neighbours gains),
/// and both effects decay geometrically with slot distance (adjacent: weight 1).
/// (choice) The externality acts on the logit, so click_k stays in (0, slot_ctr[k]].
/// Shared-ownership of the hidden parameters makes copies cheap; the model is
/// immutable, so threads may share it. `list_ctr` does not allocate.
class MarketTruth {
public:
    MarketTruth() = default;
    explicit MarketTruth(std::shared_ptr<const detail::MarketParams> params) : p_(std::move(params)) {
        detail::require(p_ != nullptr, "params", kNone, "is null");
    }

    /// Feature width D the model expects (3 + categories + latent features).
    Index feature_dim() const { return params().feature_dim(); }
    /// Length of the user vector (`Auction::context`) the model expects.
    Index context_dim() const { return params().context_dim; }
    /// Number of categories C.
    Index num_categories() const { return params().num_categories; }

    /// True point-wise CTR ctr*_i (position factor 1, no neighbours).
    template <Scalar T>
    T pointwise_ctr(const AuctionView<T>& a, Index i) const {
        check_shape(a);
        check_candidate(a, i, "candidate");
        return static_cast<T>(detail::sigmoid(detail::market_ctr_logit(params(), a, i)));
    }
    /// True conversion rate of candidate i (per click).
    template <Scalar T>
    T cvr(const AuctionView<T>& a, Index i) const {
        check_shape(a);
        check_candidate(a, i, "candidate");
        return static_cast<T>(detail::sigmoid(detail::market_cvr_logit(params(), a, i)));
    }

    /// Writes into out[k] the true click probability of list[k] shown in slot k
    /// (formula in the class comment). Checks the shapes, that the list fits the
    /// slots and `out`, and that its entries are distinct candidates; it does not
    /// run the full `validate` (it is called for every enumerated list).
    template <Scalar T>
    void list_ctr(const AuctionView<T>& a, std::span<const Index> list, std::span<T> out) const {
        const detail::MarketParams& p = params();
        check_shape(a);
        const auto len = static_cast<Index>(list.size());
        // Each check is tested before its message is built, so valid calls allocate nothing.
        if (len > a.num_slots()) throw input_error("list", kNone, "is longer than the number of slots");
        if (out.size() < list.size()) throw input_error("out", kNone, "is shorter than the list");
        for (Index k = 0; k < len; ++k) {
            const Index i = list[static_cast<std::size_t>(k)];
            check_candidate(a, i, "list");
            for (Index j = 0; j < k; ++j)
                if (list[static_cast<std::size_t>(j)] == i) throw input_error("list", k, "repeats a candidate");
        }
        for (Index k = 0; k < len; ++k) {
            const Index i = list[static_cast<std::size_t>(k)];
            const Index ci = detail::market_category(p, a, i);
            const double lpi = static_cast<double>(a.features(i, MarketColumns::log_price));
            double delta = 0;
            for (Index j = 0; j < len; ++j) {
                if (j == k) continue;
                const Index o = list[static_cast<std::size_t>(j)];
                double w = 1;
                for (Index d = std::abs(j - k); d > 1; --d) w *= p.decay;
                const double lpo = static_cast<double>(a.features(o, MarketColumns::log_price));
                double effect = p.price_gain * std::tanh((lpo - lpi) / p.price_gain_scale);
                if (detail::market_category(p, a, o) == ci) effect -= p.similarity;
                delta += w * effect;
            }
            const double z = detail::market_ctr_logit(p, a, i) + delta;
            out[static_cast<std::size_t>(k)] = static_cast<T>(static_cast<double>(a.slot_ctr[k]) * detail::sigmoid(z));
        }
    }

    /// The hidden parameters (for diagnostics and tests; a mechanism must not use them).
    const detail::MarketParams& params() const {
        if (p_ == nullptr) throw input_error("MarketTruth", kNone, "is default-constructed (no market)");
        return *p_;
    }

private:
    template <Scalar T>
    void check_shape(const AuctionView<T>& a) const {
        const detail::MarketParams& p = params();
        if (a.features.cols() != p.feature_dim() || a.features.rows() != a.num_candidates())
            throw input_error("features", kNone,
                              "must be N x " + std::to_string(p.feature_dim()) + " (the synthetic market's layout)");
        if (a.context.size() != p.context_dim)
            throw input_error("context", kNone,
                              "must have " + std::to_string(p.context_dim) + " entries (the user vector)");
    }
    template <Scalar T>
    static void check_candidate(const AuctionView<T>& a, Index i, const char* field) {
        if (i < 0 || i >= a.num_candidates()) throw input_error(field, i, "is not a candidate index");
    }
    std::shared_ptr<const detail::MarketParams> p_;
};

static_assert(ListCtrModel<MarketTruth, float> && ListCtrModel<MarketTruth, double>);

}  // namespace diffauction
