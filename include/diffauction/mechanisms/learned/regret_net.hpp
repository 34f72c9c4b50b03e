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
// It satisfies RegretMechanism (train/misreport.hpp) with no context
// (context_dim() = 0) and is trained by AugLagrangianTrainer.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/types.hpp"
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
    struct Cache {
        MatrixX<T> bids;                 ///< copy of the bids (B x N)
        typename Mlp<T>::Cache alloc;    ///< allocation net; alloc.output() = z (B x (N+1))
        typename Mlp<T>::Cache pay;      ///< payment net; pay.output() = q, payment logits (B x N)
        MatrixX<T> pi;                   ///< softmax(κ z) (B x (N+1))
        MatrixX<T> phi;                  ///< payment fractions σ(q) (B x N)
        MatrixX<T> dz, dq, dx;           ///< backward scratch
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
    Index context_dim() const { return 0; }

    /// Glorot-uniform weights, zero biases.
    void init(Rng& rng) {
        alloc_.init(theta_, rng);
        pay_.init(theta_, rng);
    }

    /// alloc (R x N) and expected payments (R x N) for bids (R x N); context must be
    /// B x 0 with R a multiple of B (RegretMechanism's blocks). Throws input_error
    /// for mismatched sizes or theta of the wrong size.
    void forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& context,
                 const Eigen::Ref<const MatrixX<T>>& bids, Cache& c, MatrixX<T>& alloc, MatrixX<T>& payment) const {
        const Index n = cfg_.bidders, b = bids.rows();
        detail::require(theta.size() == layout_.size(), "theta", kNone, "has the wrong size for this network");
        detail::require(bids.cols() == n && b >= 1, "bids", kNone, "must be B x N with B >= 1");
        detail::require(context.cols() == 0 && context.rows() >= 1 && b % context.rows() == 0, "context", kNone,
                        "must be B x 0 with B dividing the bid rows");
        c.bids = bids;
        const MatrixX<T>& logits = alloc_.forward(theta, c.bids, c.alloc);
        const MatrixX<T>& q = pay_.forward(theta, c.bids, c.pay);
        // π = softmax(κ z) per row, max subtracted first.
        c.pi.resize(b, n + 1);
        for (Index i = 0; i < b; ++i) {
            const T m = logits.row(i).maxCoeff();
            c.pi.row(i) = ((logits.row(i).array() - m) * cfg_.logit_scale).exp().matrix();
            c.pi.row(i) /= c.pi.row(i).sum();
        }
        c.phi.resize(b, n);
        activate<T>(Activation::sigmoid, q, c.phi);
        alloc = c.pi.leftCols(n);
        payment.resize(b, n);
        payment.array() = c.phi.array() * alloc.array() * c.bids.array();
    }

    /// From d_alloc and d_payment (B x N), ADDS dL/dθ into grad and writes *d_bids
    /// when asked (RegretMechanism's contract).
    void backward(const VectorX<T>& theta, Cache& c, const Eigen::Ref<const MatrixX<T>>& d_alloc,
                  const Eigen::Ref<const MatrixX<T>>& d_payment, VectorX<T>& grad, MatrixX<T>* d_bids) const {
        const Index n = cfg_.bidders, b = c.bids.rows();
        detail::require(d_alloc.rows() == b && d_alloc.cols() == n, "d_alloc", kNone, "must be B x N");
        detail::require(d_payment.rows() == b && d_payment.cols() == n, "d_payment", kNone, "must be B x N");
        detail::require(grad.size() == theta.size(), "grad", kNone, "must have theta's size");
        const Eigen::Ref<const MatrixX<T>> alloc = c.pi.leftCols(n);
        // payment = φ·a·b: dφ = dP·a·b, da += dP·φ·b, db = dP·φ·a.
        c.dq.resize(b, n);
        c.dq.array() = d_payment.array() * alloc.array() * c.bids.array();
        activate_backward<T>(Activation::sigmoid, c.pay.output(), c.phi, c.dq, c.dq);
        // dπ = [d_alloc + dP·φ·b, 0]; dz = κ π ⊙ (dπ − Σ_k dπ_k π_k).
        c.dz.resize(b, n + 1);
        c.dz.leftCols(n).array() = d_alloc.array() + d_payment.array() * c.phi.array() * c.bids.array();
        c.dz.col(n).setZero();
        for (Index i = 0; i < b; ++i) {
            const T dot = c.dz.row(i).dot(c.pi.row(i));
            c.dz.row(i).array() = cfg_.logit_scale * c.pi.row(i).array() * (c.dz.row(i).array() - dot);
        }
        const bool want = d_bids != nullptr;
        if (want) {
            d_bids->resize(b, n);
            d_bids->array() = d_payment.array() * c.phi.array() * alloc.array();
        }
        // Each net's input gradient is added to d_bids.
        alloc_.backward(theta, c.bids, c.alloc, c.dz, grad, want ? &c.dx : nullptr);
        if (want) *d_bids += c.dx;
        pay_.backward(theta, c.bids, c.pay, c.dq, grad, want ? &c.dx : nullptr);
        if (want) *d_bids += c.dx;
    }

private:
    RegretNetConfig<T> cfg_;
    ParamLayout layout_;
    Mlp<T> alloc_, pay_;  ///< hidden layers (activation f) then the linear output layer
    VectorX<T> theta_;
};

}  // namespace diffauction
