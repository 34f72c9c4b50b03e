// diffauction/metrics/evaluate.hpp - the evaluation routine (SPEC §5): runs any
// Mechanism over a data set of Samples and reports the business metrics and,
// optionally, the IC metrics (Psi_v, Psi_p, IC-R, ex-post regret).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <optional>
#include <span>

#include "diffauction/click_models/click_model.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/mechanisms/mechanism.hpp"
#include "diffauction/metrics/business.hpp"
#include "diffauction/metrics/ic.hpp"

namespace diffauction {

/// Options of `evaluate`.
struct EvalOptions {
    /// Compute the IC metrics (they rerun the mechanism about
    /// M * |misreport_grid| + winners * psi_perturbations times per auction).
    bool ic = false;
    /// IC metrics are computed on the first `ic_auctions` auctions of the data set
    /// (all of them when it has fewer). Must be >= 1 when `ic` is on.
    Index ic_auctions = 1000;
    IcOptions ic_options{};
    /// SWPM of the reference mechanism (VCG) on the same data; gives SWMR. Finite, > 0.
    std::optional<double> reference_swpm;
};

/// Everything `evaluate` measures.
struct Report {
    BusinessMetrics business;
    std::optional<IcMetrics> ic;  ///< present when EvalOptions::ic was on
};

namespace detail {
template <Scalar T>
void validate_data(std::span<const Sample<T>> data) {
    require(!data.empty(), "data", kNone, "is empty (no samples to evaluate)");
    for (std::size_t b = 0; b < data.size(); ++b) validate_sample(data[b], static_cast<Index>(b));
}

template <Mechanism M, class Model>
BusinessAccumulator accumulate_business(const M& mech, std::span<const Sample<typename M::scalar_type>> data,
                                        const Model& truth) {
    using T = typename M::scalar_type;
    typename M::Workspace ws;
    Outcome<T> out;
    BusinessWorkspace<T> bws;
    BusinessAccumulator acc;
    for (std::size_t b = 0; b < data.size(); ++b) {
        const AuctionView<T> a = data[b].auction.view();
        mech.run(a, out, ws);
        acc.add(auction_metrics(a, data[b].truth, out, truth, bws, static_cast<Index>(b)));
    }
    return acc;
}
}  // namespace detail

/// Business metrics of `mech` over `data` under the ground-truth click model
/// `truth` (see business.hpp). Validates every sample first (errors carry the
/// sample index); `reference_swpm`, when given, yields SWMR.
template <Mechanism M, class Model = SeparableCtr>
    requires ListCtrModel<Model, typename M::scalar_type>
BusinessMetrics business_metrics(const M& mech, std::span<const Sample<typename M::scalar_type>> data,
                                 const Model& truth = Model{},
                                 std::optional<double> reference_swpm = std::nullopt) {
    detail::validate_data(data);
    return detail::accumulate_business(mech, data, truth).result(reference_swpm);
}

/// Runs `mech` over every sample of `data` and returns its business metrics and,
/// when `opt.ic`, its IC metrics on the first `opt.ic_auctions` samples.
/// Throws input_error for an empty data set ("data"), a sample whose auction or
/// truth is invalid (field such as "truth.values", auction index = sample index),
/// or bad options ("ic_auctions", "reference_swpm", "misreport_grid", ...).
template <Mechanism M, class Model = SeparableCtr>
    requires ListCtrModel<Model, typename M::scalar_type>
Report evaluate(const M& mech, std::span<const Sample<typename M::scalar_type>> data,
                const Model& truth = Model{}, const EvalOptions& opt = {}) {
    if (opt.ic) {
        detail::require(opt.ic_auctions >= 1, "ic_auctions", kNone, "must be >= 1 when ic is on");
        validate_ic_options(opt.ic_options);
    }
    if (opt.reference_swpm)
        detail::require(std::isfinite(*opt.reference_swpm) && *opt.reference_swpm > 0.0, "reference_swpm",
                        kNone, "must be finite and > 0");
    detail::validate_data(data);
    Report r;
    r.business = detail::accumulate_business(mech, data, truth).result(opt.reference_swpm);
    if (opt.ic) {
        const std::size_t n = std::min(data.size(), static_cast<std::size_t>(opt.ic_auctions));
        r.ic = ic_metrics(mech, data.first(n), opt.ic_options);
    }
    return r;
}

/// As above, with SWMR taken against `reference` (normally `Vcg<T>`): its SWPM on
/// the same data and truth replaces `opt.reference_swpm`.
template <Mechanism M, Mechanism R, class Model>
    requires ListCtrModel<Model, typename M::scalar_type> &&
             std::same_as<typename M::scalar_type, typename R::scalar_type>
Report evaluate(const M& mech, std::span<const Sample<typename M::scalar_type>> data, const Model& truth,
                const R& reference, EvalOptions opt = {}) {
    detail::validate_data(data);
    const double ref = detail::accumulate_business(reference, data, truth).result().swpm;
    detail::require(ref > 0.0, "reference", kNone,
                    "has zero social welfare on this data set, so SWMR is undefined");
    opt.reference_swpm = ref;
    return evaluate(mech, data, truth, opt);
}

}  // namespace diffauction
