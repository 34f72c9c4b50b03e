// diffauction/data/values.hpp - drawing per-click values from a `ValueDist`
// (uniform or exponential), plus its mean and variance (SPEC §6, §3).
#pragma once

#include <cmath>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/rng.hpp"

namespace diffauction {

/// Throws input_error(field, index, ...) unless `d` is a valid uniform
/// (0 <= lo < hi, finite) or exponential (finite mean > 0) distribution,
/// the same rule `validate` applies to `Auction::priors`.
template <Scalar T>
void validate_value_dist(const ValueDist<T>& d, const char* field = "value_dist", Index index = kNone) {
    const bool ok = (d.family == ValueFamily::uniform && std::isfinite(d.lo) && std::isfinite(d.hi) &&
                     d.lo >= T(0) && d.hi > d.lo) ||
                    (d.family == ValueFamily::exponential && std::isfinite(d.mean) && d.mean > T(0));
    detail::require(ok, field, index, "is not a valid uniform or exponential distribution");
}

/// Mean of `d`: (lo + hi) / 2 for U[lo, hi], the mean for Exp. Computed from the
/// family's parameters, not from the `mean` field of a uniform distribution.
template <Scalar T>
T value_mean(const ValueDist<T>& d) {
    validate_value_dist(d);
    return d.family == ValueFamily::uniform ? (d.lo + d.hi) / T(2) : d.mean;
}

/// Variance of `d`: (hi - lo)^2 / 12 for U[lo, hi], mean^2 for Exp.
template <Scalar T>
T value_variance(const ValueDist<T>& d) {
    validate_value_dist(d);
    if (d.family == ValueFamily::uniform) return (d.hi - d.lo) * (d.hi - d.lo) / T(12);
    return d.mean * d.mean;
}

/// One draw from `d` using `rng` (one call to rng.uniform() for U[lo, hi),
/// one or more for Exp). The draw is computed in double and rounded to T, so a
/// float uniform draw may round up to `hi` itself (the support is then [lo, hi]).
template <Scalar T>
T sample_value(const ValueDist<T>& d, Rng& rng) {
    validate_value_dist(d);
    if (d.family == ValueFamily::uniform)
        return static_cast<T>(rng.uniform(static_cast<double>(d.lo), static_cast<double>(d.hi)));
    return static_cast<T>(rng.exponential(static_cast<double>(d.mean)));
}

}  // namespace diffauction
