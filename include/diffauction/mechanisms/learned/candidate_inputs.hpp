// diffauction/mechanisms/learned/candidate_inputs.hpp - the bid-free per-candidate input
// x_i = [features_i, ctr_i, cvr_i] that the learned mechanisms (DNA, EdgeNet) read,
// and the check that an auction fits a model with D feature columns.
//
// (choice) cvr_i = 0 when the auction has no cvr; `context` (user features) and the
// item `price` are not used (the synthetic market already carries log item price as
// a feature column).
#pragma once

#include <string>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// Width of x_i for D feature columns: D + 2.
constexpr Index candidate_input_dim(Index feature_dim) { return feature_dim + 2; }

/// Rows o..o+N of x (at least o + N rows, D + 2 columns) = [features, ctr, cvr (0
/// when absent)] of auction `a`, whose features must be N x D (see
/// check_candidate_inputs).
template <Scalar T>
void write_candidate_inputs(const AuctionView<T>& a, Index feature_dim, MatrixX<T>& x, Index o) {
    const Index n = a.num_candidates(), d = feature_dim;
    if (d > 0) x.block(o, 0, n, d) = a.features;
    x.col(d).segment(o, n) = a.ctr;
    if (a.cvr.size() != 0)
        x.col(d + 1).segment(o, n) = a.cvr;
    else
        x.col(d + 1).segment(o, n).setZero();
}

/// Throws input_error unless `a` is a valid ordinary auction (validate) with N x D
/// features (no columns when D = 0); `mechanism` names the model in the message.
template <Scalar T>
void check_candidate_inputs(const AuctionView<T>& a, Index feature_dim, const char* mechanism,
                            Index auction = kNone) {
    validate(a, auction);
    detail::require(!a.joint(), "owners", kNone, [&] {
        return std::string(mechanism) + " takes ordinary auctions, not joint ones";
    }, auction);
    const Index d = feature_dim;
    const bool ok =
        d == 0 ? a.features.cols() == 0 : (a.features.cols() == d && a.features.rows() == a.num_candidates());
    detail::require(ok, "features", kNone, [&] {
        return "is " + std::to_string(a.features.rows()) + " x " + std::to_string(a.features.cols()) +
               " but the model takes N x " + std::to_string(d);
    }, auction);
}

/// Throws input_error (field "features") unless every entry of a learned model's
/// serving output `v` (DNA's rank scores, EdgeNet's prices) is finite. Inputs inside
/// SupportedRange keep a model with moderate weights finite; this catches a model whose
/// weights drive some auction's activations past the scalar's range, before a NaN
/// could reach the ranking or a price.
template <class Derived>
void require_finite_output(const Eigen::DenseBase<Derived>& v, const char* mechanism, const char* quantity,
                           Index auction = kNone) {
    detail::require(detail::all_finite(v), "features", kNone, [&] {
        return std::string("drive ") + mechanism + "'s " + quantity +
               " out of the floating-point range (a non-finite value): the model cannot serve this auction";
    }, auction);
}

}  // namespace diffauction
