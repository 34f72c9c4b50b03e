// diffauction/mechanisms/learned/regret_net.hpp - RegretNet's additive network for n
// bidders and one item (one slot), SPEC §2 "Augmented-Lagrangian regret trainer"
// (Dütting et al. 2019, the "additive" allocation and payment networks, single item).
//
// Bids b (B x N) feed two MLPs of the same shape (N → H → … → H, activation f):
//  - allocation: logits z = MLP_a(b) (B x (N+1)), the last column a dummy "no
//    allocation"; π = softmax(κ·z) per row; alloc_j = π_j (the item goes to j with
//    probability π_j, to nobody with probability π_N);
//  - payment: φ = sigmoid(MLP_p(b)) (B x N); payment_j = φ_j·alloc_j·b_j, so a
//    truthful bidder's utility v_j·alloc_j·(1 − φ_j) is never negative (IR by
//    construction).
// A RelaxedModel (mechanisms/relaxed.hpp), not a serving Mechanism: its outcome is a
// lottery (randomized by design; κ, not τ, sets how sharp it is). Its auctions are
// single-item auctions of exactly N ordinary candidates with at least one slot (the
// item is slot 0; ctr, slot_ctr and features are not read): `single_item_samples`
// builds them from a matrix of values. Trained by RelaxedTrainable with RegretLoss
// (train/objectives/regret_loss.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/relaxed.hpp"
#include "diffauction/nn/activation.hpp"
#include "diffauction/nn/mlp.hpp"

namespace diffauction {

/// Shape of RegretNetAdditive.
template <Scalar T>
struct RegretNetConfig {
    Index bidders = 2;       ///< N
    Index hidden = 32;       ///< H, units per hidden layer
    Index hidden_layers = 2; ///< hidden layers per network (>= 1)
    Activation activation = Activation::tanh;  ///< RegretNet's choice
    /// κ: the softmax reads κ·z (choice: a fixed scale so that near-deterministic
    /// allocations are reachable with weights of order one).
    T logit_scale = T(1);
};

/// RegretNet, n bidders x 1 item (see the file comment). Owns its flat theta.
template <Scalar T>
class RegretNetAdditive {
public:
    using scalar_type = T;

    /// Forward state for backward, plus backward's scratch.
    struct RelaxedCache {
        MatrixX<T> bids;                 ///< the profiles' bids, one auction per row (C·B x N)
        typename Mlp<T>::Cache alloc;    ///< allocation net; alloc.output() = z (C·B x (N+1))
        typename Mlp<T>::Cache pay;      ///< payment net; pay.output() = q, payment logits (C·B x N)
        MatrixX<T> pi;                   ///< softmax(κ z) (C·B x (N+1))
        MatrixX<T> phi;                  ///< payment fractions σ(q) (C·B x N)
        MatrixX<T> d_alloc, d_payment;   ///< backward: dL/d(alloc), dL/d(payment) per auction row
        MatrixX<T> dz, dq, dx, d_bids;   ///< backward scratch
    };

    /// Builds the layout and initialises theta (Glorot weights, zero biases) from `seed`.
    /// Throws input_error for bidders < 1, hidden < 1, hidden_layers < 1, or a
    /// logit_scale that is not finite and > 0.
    explicit RegretNetAdditive(RegretNetConfig<T> config = {}, std::uint64_t seed = 1) : cfg_(config) {
        detail::require(cfg_.bidders >= 1, "bidders", kNone, "must be >= 1");
        detail::require(cfg_.hidden >= 1, "hidden", kNone, "must be >= 1");
        detail::require(cfg_.hidden_layers >= 1, "hidden_layers", kNone, "must be >= 1");
        detail::require(std::isfinite(cfg_.logit_scale) && cfg_.logit_scale > T(0), "logit_scale", kNone,
                        "must be finite and > 0");
        const Index n = cfg_.bidders, layers = cfg_.hidden_layers;
        // Hidden layers of H units then the output layer; the hidden activation applied
        // after the product (unfused: the bits the trained models were made with).
        std::vector<Index> widths(static_cast<std::size_t>(layers + 1), cfg_.hidden);
        widths.back() = n + 1;
        alloc_ = Mlp<T>(layout_, mlp_layer_names("alloc.hidden", layers, "alloc.out"), n, widths, cfg_.activation,
                        Activation::identity, MlpFusion::unfused);
        widths.back() = n;
        pay_ = Mlp<T>(layout_, mlp_layer_names("pay.hidden", layers, "pay.out"), n, widths, cfg_.activation,
                      Activation::identity, MlpFusion::unfused);
        theta_.setZero(layout_.size());
        Rng rng(seed);
        init(rng);
    }

    const RegretNetConfig<T>& config() const { return cfg_; }
    const ParamLayout& layout() const { return layout_; }
    VectorX<T>& theta() { return theta_; }
    const VectorX<T>& theta() const { return theta_; }
    Index num_bidders() const { return cfg_.bidders; }

    /// Glorot-uniform weights, zero biases.
    void init(Rng& rng) {
        alloc_.init(theta_, rng);
        pay_.init(theta_, rng);
    }

    /// Auction `index` is one the network takes: exactly N candidates, ordinary, one
    /// bidder per candidate ("candidates", "owners"); the rest as `validate` (core/auction.hpp).
    void check_auction(const AuctionView<T>& a, Index index = kNone) const {
        validate(a, index);
        detail::require(a.num_candidates() == cfg_.bidders && a.num_bidders() == cfg_.bidders, "candidates", kNone,
                        [&] {
                            return "has " + std::to_string(a.num_candidates()) + " candidates but the network has " +
                                   std::to_string(cfg_.bidders) + " bidders";
                        },
                        index);
        detail::require(!a.joint(), "owners", kNone, "must be empty: RegretNet's bidders are single", index);
    }

    // ----- the relaxed-outcome contract (mechanisms/relaxed.hpp) -----

    /// The lottery of every (profile, auction) of `batch` under the C profiles of `bids`
    /// (mechanisms/relaxed.hpp): alloc(row, 0) = click = π_i (the item's probability
    /// of going to candidate i; the dummy keeps the rest), price = φ_i·b_i, payment =
    /// price·click. τ is checked but not read (κ sets the sharpness), focus is ignored.
    void relaxed_forward(const Batch<T>& batch, const Eigen::Ref<const VectorX<T>>& bids, T tau, RelaxedCache& c,
                         RelaxedOutcome<T>& out, std::span<const Index> focus = {}) const {
        const Index copies = detail::check_relaxed_args(batch, bids, tau, focus);
        const Index n = cfg_.bidders, nb = batch.size(), total = batch.total_candidates();
        for (Index b = 0; b < nb; ++b) check_auction(batch.auction(b), b);
        // Every auction has N candidates: the profiles' bids, row-major, are C·B auction rows.
        c.bids = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
            bids.data(), copies * nb, n);
        forward_rows(c);
        out.reset(copies, total, 1);
        for (Index r = 0; r < copies * nb; ++r)
            for (Index i = 0; i < n; ++i) {
                const Index row = r * n + i;
                out.alloc(row, 0) = out.click[row] = c.pi(r, i);
                out.price[row] = c.phi(r, i) * c.bids(r, i);
                out.payment[row] = c.phi(r, i) * c.pi(r, i) * c.bids(r, i);
            }
    }

    /// Backward of the last relaxed_forward into `c`: ADDS dL/dθ into grad, writes
    /// dL/d(bids) into *d_bids (C·total) when given.
    void relaxed_backward(RelaxedCache& c, const RelaxedGradient<T>& d, VectorX<T>& grad, VectorX<T>* d_bids) const {
        const Index n = cfg_.bidders, rows = c.bids.rows();
        detail::check_relaxed_gradient(d, rows * n, 1);
        detail::require(grad.size() == theta_.size(), "grad", kNone, "must have theta's size");
        // click = alloc = π: both gradients reach π.
        c.d_alloc.setZero(rows, n);
        c.d_payment.setZero(rows, n);
        for (Index r = 0; r < rows; ++r)
            for (Index i = 0; i < n; ++i) {
                const Index row = r * n + i;
                if (d.d_alloc.size() != 0) c.d_alloc(r, i) += d.d_alloc(row, 0);
                if (d.d_click.size() != 0) c.d_alloc(r, i) += d.d_click[row];
                if (d.d_payment.size() != 0) c.d_payment(r, i) = d.d_payment[row];
            }
        backward_rows(c, grad, d_bids != nullptr);
        if (d_bids == nullptr) return;
        d_bids->resize(rows * n);
        for (Index r = 0; r < rows; ++r)
            for (Index i = 0; i < n; ++i) (*d_bids)[r * n + i] = c.d_bids(r, i);
    }

private:
    // alloc (π) and payment fractions (φ) of the auction rows c.bids (R x N).
    void forward_rows(RelaxedCache& c) const {
        const Index n = cfg_.bidders, b = c.bids.rows();
        const MatrixX<T>& logits = alloc_.forward(theta_, c.bids, c.alloc);
        const MatrixX<T>& q = pay_.forward(theta_, c.bids, c.pay);
        // π = softmax(κ z) per row, max subtracted first.
        c.pi.resize(b, n + 1);
        for (Index i = 0; i < b; ++i) {
            const T m = logits.row(i).maxCoeff();
            c.pi.row(i) = ((logits.row(i).array() - m) * cfg_.logit_scale).exp().matrix();
            c.pi.row(i) /= c.pi.row(i).sum();
        }
        c.phi.resize(b, n);
        activate<T>(Activation::sigmoid, q, c.phi);
    }

    // From c.d_alloc and c.d_payment (R x N; alloc = π, payment = φ·π·b), ADDS dL/dθ
    // into grad and, with want_bids, writes c.d_bids (R x N).
    void backward_rows(RelaxedCache& c, VectorX<T>& grad, bool want_bids) const {
        const Index n = cfg_.bidders, b = c.bids.rows();
        const Eigen::Ref<const MatrixX<T>> alloc = c.pi.leftCols(n);
        // payment = φ·a·b: dφ = dP·a·b, da += dP·φ·b, db = dP·φ·a.
        c.dq.resize(b, n);
        c.dq.array() = c.d_payment.array() * alloc.array() * c.bids.array();
        activate_backward<T>(Activation::sigmoid, c.pay.output(), c.phi, c.dq, c.dq);
        // dπ = [d_alloc + dP·φ·b, 0]; dz = κ π ⊙ (dπ − Σ_k dπ_k π_k).
        c.dz.resize(b, n + 1);
        c.dz.leftCols(n).array() = c.d_alloc.array() + c.d_payment.array() * c.phi.array() * c.bids.array();
        c.dz.col(n).setZero();
        for (Index i = 0; i < b; ++i) {
            const T dot = c.dz.row(i).dot(c.pi.row(i));
            c.dz.row(i).array() = cfg_.logit_scale * c.pi.row(i).array() * (c.dz.row(i).array() - dot);
        }
        if (want_bids) {
            c.d_bids.resize(b, n);
            c.d_bids.array() = c.d_payment.array() * c.phi.array() * alloc.array();
        }
        // Each net's input gradient is added to d_bids.
        alloc_.backward(theta_, c.bids, c.alloc, c.dz, grad, want_bids ? &c.dx : nullptr);
        if (want_bids) c.d_bids += c.dx;
        pay_.backward(theta_, c.bids, c.pay, c.dq, grad, want_bids ? &c.dx : nullptr);
        if (want_bids) c.d_bids += c.dx;
    }

    RegretNetConfig<T> cfg_;
    ParamLayout layout_;
    Mlp<T> alloc_, pay_;  ///< hidden layers (activation f) then the linear output layer
    VectorX<T> theta_;
};

/// One single-item auction per row of `values` (S x N, finite, >= 0): N candidates
/// bidding their values (truthful), ctr 1, one slot of factor 1, no features; the
/// samples' truth.values are the values. What RegretNetAdditive trains and is
/// evaluated on. Throws input_error for an empty matrix or a bad value (naming the
/// sample).
template <Scalar T>
std::vector<Sample<T>> single_item_samples(const Eigen::Ref<const MatrixX<T>>& values) {
    detail::require(values.rows() >= 1 && values.cols() >= 1, "values", kNone, "must be S x N with S, N >= 1");
    std::vector<Sample<T>> out(static_cast<std::size_t>(values.rows()));
    for (Index s = 0; s < values.rows(); ++s) {
        Sample<T>& smp = out[static_cast<std::size_t>(s)];
        smp.auction.bids = values.row(s).transpose();
        smp.auction.ctr.setOnes(values.cols());
        smp.auction.slot_ctr.setOnes(1);
        smp.auction.features.resize(values.cols(), 0);
        smp.truth.values = smp.auction.bids;
        validate(AuctionView<T>(smp.auction), s);
    }
    return out;
}

}  // namespace diffauction
