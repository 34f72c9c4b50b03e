// Shared by the tests of relaxed models (mechanisms/relaxed.hpp): C bid profiles of a
// batch and a random linear functional of a relaxed outcome, for gradient checks.
#pragma once

#include <diffauction/core/batch.hpp>
#include <diffauction/core/rng.hpp>
#include <diffauction/mechanisms/relaxed.hpp>

#include "support/gradcheck.hpp"

namespace diffauction::test {

/// C profiles of the batch: its own bids, then C − 1 random ones in [0, 1).
inline Eigen::VectorXd profiles_of(const Batch<double>& batch, Rng& rng, Index c) {
    Eigen::VectorXd own;
    relaxed_candidate_bids(batch, own);
    const Index total = batch.total_candidates();
    Eigen::VectorXd bids(c * total);
    bids.head(total) = own;
    for (Index i = total; i < c * total; ++i) bids[i] = rng.uniform();
    return bids;
}

/// L = Σ w_a ⊙ alloc + w_c · click + w_p · payment, and its gradient wrt the outcome.
struct Functional {
    MatrixX<double> wa;
    Eigen::VectorXd wc, wp;
    double operator()(const RelaxedOutcome<double>& o) const {
        return (wa.array() * o.alloc.array()).sum() + wc.dot(o.click) + wp.dot(o.payment);
    }
    RelaxedGradient<double> gradient() const { return {wa, wc, wp}; }
};

inline Functional random_functional(Rng& rng, const RelaxedOutcome<double>& o) {
    return {random_matrix(rng, o.alloc.rows(), o.alloc.cols()), random_vector(rng, o.rows()),
            random_vector(rng, o.rows())};
}

}  // namespace diffauction::test
