// diffauction/mechanisms/relaxed.hpp - the relaxed-outcome contract (SPEC §1), next to
// Mechanism (mechanisms/mechanism.hpp): what a trainable mechanism computes at τ > 0,
// differentiable in its parameters and in the bids. The MODEL lives here; what is
// made of the outcome (a loss, a regret) is an OBJECTIVE (train/objectives/), and
// train/relaxed_trainable.hpp joins the two for the Trainer.
//
// A relaxed pass runs over a ragged `Batch<T>` (core/batch.hpp: the candidates of B
// auctions stacked row-wise, auction b on rows [begin(b), end(b)), `total` rows in
// all) under C >= 1 bid profiles at once:
//
//   m.relaxed_forward(batch, bids, tau, cache, out, focus = {})
//     bids   C·total per-candidate bids, profile-major: profile c, candidate row i
//            at c·total + i (for an ordinary auction, candidate i's bid is bidder i's;
//            `relaxed_candidate_bids` stacks the batch's own bids as one profile).
//            Only the bids vary between profiles; features, CTRs and slots are the
//            batch's.
//     tau    the temperature, finite and > 0.
//     cache  `typename M::RelaxedCache`, caller-owned, reused (resize only); it keeps
//            everything the backward needs (the outcome need not outlive the call).
//     out    a RelaxedOutcome (below) of C·total rows, overwritten.
//     focus  empty, or C entries: focus[c] is kNone (the caller reads every row of
//            profile c) or a local candidate index j (the caller reads only candidate
//            j's rows of profile c, in every auction that has one). A hint: a
//            mechanism may skip work for rows nobody reads, or ignore it; the rows the
//            caller reads are the same either way.
//   m.relaxed_backward(cache, d, grad, d_bids)
//     d      a RelaxedGradient: dL/d(alloc, click, payment) of the last forward on
//            `cache`; each member either the shape of the outcome's or empty (= 0).
//     grad   ADDS dL/dθ (theta's layout), so gradients of several passes add up.
//     d_bids null, or WRITTEN with dL/dbids (C·total entries).
//   The backward only reads the cache's forward values (its scratch aside), so it may
//   be called again on the same cache: a second call adds the same gradient again.
//
// Conventions of the outcome, per candidate row i of profile c (row c·total + i) of
// auction b with K_b = min(slots of b, N_b) usable slots:
//   alloc(row, k)  A[k, i], the soft probability that candidate i gets slot k: for
//                  k < K_b, slot k's entries sum to 1 over the (profile, auction)
//                  segment (at most 1 for a model that may leave a slot empty, as
//                  RegretNet's lottery may keep its item); 0 for k >= K_b. alloc has Kmax = max_b K_b columns. (A
//                  candidate's entries over k need not sum to <= 1: NeuralSort's
//                  relaxation is row- but not doubly stochastic.)
//   click          expected click probability of what the candidate is given (for a
//                  separable click model: ctr_i Σ_k β_k A[k, i]).
//   payment        expected payment = price·click (a per-click price times clicks).
//   price          price per click. INFORMATIONAL: objectives may read it (e.g. to
//                  rank candidates by realised revenue), but it carries no gradient:
//                  d has no price member, and the gradient of the price reaches θ and
//                  the bids only through `payment`.
#pragma once

#include <cmath>
#include <concepts>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/mechanism.hpp"

namespace diffauction {

/// The relaxed outcome of a batch under C bid profiles (see the file comment): one
/// row per (profile, candidate), row c·total + i.
template <Scalar T>
struct RelaxedOutcome {
    Index profiles = 0;  ///< C
    Index total = 0;     ///< candidate rows of the batch (rows per profile)
    MatrixX<T> alloc;    ///< C·total x Kmax: alloc(row, k) = A[k, i] (0 for k >= K_b)
    VectorX<T> click;    ///< C·total: expected click probability
    VectorX<T> payment;  ///< C·total: expected payment = price·click
    VectorX<T> price;    ///< C·total: price per click (informational, no gradient)

    Index rows() const { return profiles * total; }
    /// Kmax: the largest K_b = min(slots, N_b) of the batch.
    Index max_slots() const { return alloc.cols(); }
    /// Row of candidate row i (of the batch) under profile c.
    Index row(Index c, Index i) const { return c * total + i; }
    /// Shapes the outcome for C profiles of `total` rows and Kmax slots; alloc is zeroed
    /// (so that a mechanism fills only the k < K_b entries), the rest unspecified.
    void reset(Index c, Index rows_per_profile, Index kmax) {
        profiles = c;
        total = rows_per_profile;
        alloc.setZero(c * rows_per_profile, kmax);
        click.resize(c * rows_per_profile);
        payment.resize(c * rows_per_profile);
        price.resize(c * rows_per_profile);
    }
};

/// dL/d(alloc, click, payment) of a RelaxedOutcome, what relaxed_backward takes. Each
/// member is either the shape of the outcome's member or empty, which stands for 0
/// (so that an objective reading only payments leaves alloc and click empty).
template <Scalar T>
struct RelaxedGradient {
    MatrixX<T> d_alloc;    ///< C·total x Kmax, or empty
    VectorX<T> d_click;    ///< C·total, or empty
    VectorX<T> d_payment;  ///< C·total, or empty

    /// All three members zero, in the shapes of `out`.
    void set_zero_like(const RelaxedOutcome<T>& out) {
        d_alloc.setZero(out.alloc.rows(), out.alloc.cols());
        d_click.setZero(out.rows());
        d_payment.setZero(out.rows());
    }
    /// All three members empty (L does not depend on the outcome).
    void clear() {
        d_alloc.resize(0, 0);
        d_click.resize(0);
        d_payment.resize(0);
    }
};

namespace detail {
template <class M, class T>
concept RelaxedMechanismOf = Scalar<T> &&
    requires(const M& cm, M& m, const Batch<T>& batch, const VectorX<T>& bids, T tau, typename M::RelaxedCache& cache,
             RelaxedOutcome<T>& out, std::span<const Index> focus, const RelaxedGradient<T>& d, VectorX<T>& grad,
             VectorX<T>* d_bids) {
        { cm.relaxed_forward(batch, bids, tau, cache, out, focus) } -> std::same_as<void>;
        { cm.relaxed_forward(batch, bids, tau, cache, out) } -> std::same_as<void>;
        { cm.relaxed_backward(cache, d, grad, d_bids) } -> std::same_as<void>;
        { m.theta() } -> std::same_as<VectorX<T>&>;
        { cm.theta() } -> std::same_as<const VectorX<T>&>;
    };
}  // namespace detail

/// A model with a relaxed outcome (the file comment is the contract): `scalar_type`, a
/// const `relaxed_forward(batch, bids, tau, cache, out[, focus])`, a const
/// `relaxed_backward(cache, d, grad, d_bids)` over a `RelaxedCache`, and its flat
/// parameter vector `theta()` (the layout of `grad`). What the trainer and the
/// objectives (train/) need; a model need not serve (RegretNet's randomized lottery,
/// mechanisms/learned/regret_net.hpp, is one that does not).
template <class M>
concept RelaxedModel = requires { typename M::scalar_type; } && Scalar<typename M::scalar_type> &&
                       detail::RelaxedMechanismOf<M, typename M::scalar_type>;

/// A Mechanism (serving) that is also a RelaxedModel (training): DNA, EdgeNet.
template <class M>
concept RelaxedMechanism = Mechanism<M> && RelaxedModel<M>;

/// The batch's own bids as one profile (total entries): row i holds candidate i's
/// bid, AuctionView::candidate_bid (the sum of its owners' bids for a bundle).
template <Scalar T>
void relaxed_candidate_bids(const Batch<T>& batch, VectorX<T>& bids) {
    bids.resize(batch.total_candidates());
    for (Index b = 0; b < batch.size(); ++b) {
        const AuctionView<T> a = batch.auction(b);
        const Index o = batch.begin(b);
        if (!a.joint() && a.num_bidders() == a.num_candidates())
            bids.segment(o, a.num_candidates()) = a.bids;
        else
            for (Index i = 0; i < a.num_candidates(); ++i) bids[o + i] = a.candidate_bid(i);
    }
}

namespace detail {
/// Checks the arguments every relaxed_forward shares and returns C: a non-empty batch
/// with candidates ("batch"), finite bids of C·total entries with C >= 1 ("bids"), τ
/// finite and > 0 ("tau"), focus empty or C entries, each kNone or >= 0 ("focus").
template <Scalar T>
Index check_relaxed_args(const Batch<T>& batch, const Eigen::Ref<const VectorX<T>>& bids, T tau,
                         std::span<const Index> focus) {
    const Index total = batch.total_candidates(), bids_size = bids.size();
    require(!batch.empty() && total > 0, "batch", kNone, "has no candidates");
    require(bids_size >= total && bids_size % total == 0, "bids", kNone, [&] {
        return "has " + std::to_string(bids_size) + " entries: needs C x " + std::to_string(total) +
               " (C >= 1 profiles of the batch's candidate rows)";
    });
    const Index c = bids_size / total;
    if (!all_finite(bids)) [[unlikely]]
        for (Index i = 0; i < bids_size; ++i) require(std::isfinite(bids[i]), "bids", i, "must be finite");
    require(std::isfinite(tau) && tau > T(0), "tau", kNone, "must be finite and > 0");
    require(focus.empty() || static_cast<Index>(focus.size()) == c, "focus", kNone,
            [&] { return "must be empty or have one entry per profile (" + std::to_string(c) + ")"; });
    for (std::size_t p = 0; p < focus.size(); ++p)
        require(focus[p] == kNone || focus[p] >= 0, "focus", static_cast<Index>(p),
                "must be kNone or a candidate index >= 0");
    return c;
}

/// Checks `d` against an outcome of `rows` rows and `kmax` slots: each member of that
/// shape or empty ("d_alloc", "d_click", "d_payment").
template <Scalar T>
void check_relaxed_gradient(const RelaxedGradient<T>& d, Index rows, Index kmax) {
    require(d.d_alloc.size() == 0 || (d.d_alloc.rows() == rows && d.d_alloc.cols() == kmax), "d_alloc", kNone,
            "must be empty or have the outcome's shape (C·total x Kmax)");
    require(d.d_click.size() == 0 || d.d_click.size() == rows, "d_click", kNone,
            "must be empty or have one entry per outcome row");
    require(d.d_payment.size() == 0 || d.d_payment.size() == rows, "d_payment", kNone,
            "must be empty or have one entry per outcome row");
}

/// The C·B + 1 offsets of the (profile, auction) segments of C profiles of a batch with
/// candidate offsets `offsets` (B + 1 entries): segment c·B + b is rows
/// [c·total + offsets[b], c·total + offsets[b+1]). What per-auction set operations
/// (NeuralSort) take when they run once per profile.
inline void relaxed_segments(std::span<const Index> offsets, Index profiles, std::vector<Index>& segments) {
    const Index nb = static_cast<Index>(offsets.size()) - 1, total = offsets.back();
    segments.resize(static_cast<std::size_t>(profiles * nb + 1));
    segments[0] = 0;
    for (Index c = 0; c < profiles; ++c)
        for (Index b = 0; b < nb; ++b)
            segments[static_cast<std::size_t>(c * nb + b + 1)] = c * total + offsets[static_cast<std::size_t>(b) + 1];
}
}  // namespace detail

}  // namespace diffauction
