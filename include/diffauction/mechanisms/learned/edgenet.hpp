// diffauction/mechanisms/learned/edgenet.hpp - EdgeNet (SPEC §4.2; Shen et al., CIKM 2023):
// a transformer encoder over the ads' bid-free features, a GRU auto-regressive
// decoder with pointer attention and a positive bid channel, and a payment network
// with price = sigmoid(·)·bid; trained with the augmented-Lagrangian regret objective
// (train/objectives/regret_loss.hpp) through RelaxedTrainable (train_edgenet,
// train/recipes/edgenet.hpp).
//
//   x_i  = [features_i, ctr_i, cvr_i]                       bid-free input (mechanisms/learned/candidate_inputs.hpp)
//   z    = FC(Transformer^L(Embed(x)))  per auction (no positional encoding: a set)
//   g    = mean_i z_i;  s_0 = g;  y_0 = learned start token
//   step t = 1..K' (K' = min(K, N)):
//     s_t     = GRU(s_{t−1}, y_{t−1})
//     u_{t,i} = vᵀ tanh(W₁ z_i + W₂ s_t) + softplus(κ_t)·q_i,   q_i = b_i·ctr_i / bid_scale
//     A_t     = softmax(u_t / τ) over the ads not picked at earlier steps
//     pick_t  = argmax_i A_{t,i} (ties → lower index);  y_t = Σ_i A_{t,i} z_i
//   click_i = ctr_i·Σ_t β_t A_{t,i}
//   price_i = sigmoid(MLP([z_i; g; Σ_t A_{t,i} s_t; q_i; top-C of the others' q; mean of the others' q]))·b_i
//   payment_i = price_i·click_i  (expected payment; IR by construction: price < bid)
//
// τ = 0 is serving (hard decoding: A_t one-hot at pick_t, y_t = z_{pick_t}); τ > 0
// is the relaxed outcome used in training, differentiable in θ and in the bids.
// (choice) The mask of later steps is the HARD pick of earlier steps in both modes:
// training decodes the list serving would show, softly weighted. The bid channel
// is the only place a bid enters the logits, with a positive coefficient, so when
// the earlier picks are the same, a higher bid never lowers the ad's logit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/io/persist.hpp"
#include "diffauction/mechanisms/learned/candidate_inputs.hpp"
#include "diffauction/mechanisms/mechanism.hpp"
#include "diffauction/mechanisms/relaxed.hpp"
#include "diffauction/nn/activation.hpp"
#include "diffauction/nn/dense.hpp"
#include "diffauction/nn/gru.hpp"
#include "diffauction/nn/mlp.hpp"
#include "diffauction/nn/pointer.hpp"
#include "diffauction/nn/transformer.hpp"

namespace diffauction {

/// EdgeNet's hyper-parameters. The model does not depend on N; it serves auctions
/// with up to `max_slots` filled slots (one κ_t per decoding step).
struct EdgeNetConfig {
    Index feature_dim = 0;             ///< D: columns of `Auction::features` (0 allowed)
    Index embed_dim = 32;              ///< E: embedding, encoder and decoder-state width
    Index blocks = 2;                  ///< transformer encoder blocks (0 to 64)
    Index heads = 4;                   ///< attention heads (divide embed_dim)
    Index ffn_dim = 64;                ///< transformer feed-forward width
    Index attn_dim = 32;               ///< pointer-attention width
    std::vector<Index> pay_hidden{32}; ///< payment MLP hidden widths (ELU)
    Index max_slots = 3;               ///< decoding steps the model has a κ_t for
    Index competitors = 3;             ///< C: the others' top-C q_j enter the payment net
    /// Divides b·ctr wherever it enters (logit channel, payment net) (choice: the
    /// training set's mean b·ctr, `mean_bid_ctr`, so that q is of order one).
    double bid_scale = 1.0;
};

/// Mean of b_i·ctr_i over all candidates of `samples` (1 when there are none or the
/// mean is not > 0): the default `EdgeNetConfig::bid_scale`.
template <Scalar T>
double mean_bid_ctr(std::span<const Sample<T>> samples) {
    double sum = 0, count = 0;
    for (const Sample<T>& s : samples)
        for (Index i = 0; i < s.auction.num_candidates() && i < s.auction.bids.size(); ++i) {
            sum += static_cast<double>(s.auction.bids[i]) * static_cast<double>(s.auction.ctr[i]);
            count += 1;
        }
    const double m = count > 0 ? sum / count : 0.0;
    return m > 0 && std::isfinite(m) ? m : 1.0;
}

/// EdgeNet over one flat parameter vector (STYLE.md). The model is immutable while
/// serving: threads share it, each with its own Workspace and Outcome.
///
/// The core pass, `forward_rows`, runs a ragged batch of B auctions (candidates
/// stacked as rows, `offsets`) under C bid profiles at once: the encoder (bid-free)
/// runs once per auction, the decoder and the payment net once per (profile,
/// auction). Serving is C = B = 1 at τ = 0; the regret trainer's deviations are
/// the truthful profile and one per position of the same auctions (RegretLoss).
template <Scalar T>
class EdgeNet {
public:
    using scalar_type = T;

    /// Everything `forward_rows` computes, kept for `backward_rows`, plus scratch.
    /// Reuse one per thread: after the first call with given sizes nothing allocates.
    struct Cache {
        // inputs
        std::vector<Index> offsets;   ///< B + 1 candidate offsets of one profile
        std::vector<Index> steps;     ///< per auction: K'_b decoding steps
        MatrixX<T> beta;              ///< B x max_slots position factors (0 beyond K'_b)
        MatrixX<T> x;                 ///< total x (D + 2) bid-free inputs
        VectorX<T> bids;              ///< C·total bids (profile c, candidate i at c·total + i)
        /// Per profile (empty: none): kNone = every candidate is priced; j = only each
        /// auction's candidate j is (the others get price and payment 0 and no
        /// payment-net pass). The regret searches read one bidder per deviation profile.
        std::vector<Index> focus;
        Index copies = 1;
        T tau = T(0);
        // encoder (bid-free, once per auction)
        MatrixX<T> e0;                                        ///< total x E embedding
        std::vector<typename TransformerBlock<T>::Cache> enc; ///< encoder blocks
        MatrixX<T> z;                                         ///< total x E: FC output z_i
        MatrixX<T> g;                                         ///< B x E: mean_i z_i
        typename PointerAttention<T>::Keys keys;              ///< W₁ z_i, once per auction
        // decoder (C·B rows, C·total candidates)
        std::vector<Index> rep_offsets;                       ///< C·B + 1 offsets of the profiles' candidates
        typename PointerAttention<T>::Keys rep_keys;          ///< keys repeated per profile (copies > 1)
        VectorX<T> q;                                         ///< C·total: b·ctr / bid_scale
        std::vector<MatrixX<T>> s, y;                         ///< K'+1 states / decoder inputs (C·B x E)
        std::vector<typename GruCell<T>::Cache> gru;          ///< one per step
        std::vector<typename PointerAttention<T>::Cache> ptr; ///< one per step
        MatrixX<T> logit;        ///< C·total x max_slots: u_{t,i} (bid channel included, before the mask; t < K')
        MatrixX<T> alloc;        ///< C·total x max_slots: A_{t,i} (0 for masked ads and t >= K'_b)
        std::vector<Index> pick; ///< C·B x max_slots: pick_t (local index; kNone for t >= K'_b)
        std::vector<char> taken; ///< C·total: picked at some step (scratch of the mask)
        MatrixX<T> free_in;      ///< total x 2E: the payment net's bid-free input [z_i; g]
        MatrixX<T> pay_free;     ///< total x H₁: its first layer's part over free_in
        std::vector<Index> prow; ///< the payment rows (candidate rows priced, ascending; see focus)
        MatrixX<T> pin;          ///< rows x (E + 2 + C): the rest [Σ_t A_t s_t; q_i; rivals' q; mean q]
        std::vector<Index> top;  ///< scratch: an auction's top C + 1 by q
        MatrixX<T> first;        ///< payment rows x H₁: the first layer's pre-activation (both parts summed);
                                 ///< with no hidden layer (pay_hidden empty), x 1: the payment logit
        MatrixX<T> first_post;   ///< payment rows x H₁: its ELU (the input of the rest of the net)
        typename Mlp<T>::Cache pay;  ///< the rest: further hidden layers, output layer (payment logit)
        std::vector<Index> rivals;  ///< payment rows x C: rows of the others' top-C q (kNone when fewer)
        VectorX<T> frac, click, price, payment;  ///< C·total each
        // backward scratch
        MatrixX<T> d_pin, d_free, d_h, d_h2, d_alloc, d_s, d_y, d_ds, d_dy, d_z, d_zr, d_e, d_e2, d_g;
        VectorX<T> d_q, d_u, d_out;
        VectorX<T> rd_zero;  ///< relaxed_backward: zeros for an empty d_click / d_payment
        /// Rows of the decoder (C·B) and candidates (C·total).
        Index rows() const { return copies * static_cast<Index>(offsets.size() - 1); }
        Index total() const { return offsets.back(); }
    };

    /// Serving scratch, one per thread. (choice, as DNA's) One Cache per candidate
    /// count N: after each N has been seen once, `run` allocates nothing.
    struct Workspace {
        std::vector<Cache> by_n;  ///< by_n[N]: the cache of auctions of N candidates
        Index last_n = 0;
        /// The cache of the last run (its logits, picks, allocation, payment-net values).
        const Cache& last() const { return by_n[static_cast<std::size_t>(last_n)]; }
    };

    /// Builds the layout (names "edgenet.*"); theta is zero until `init`. Throws
    /// input_error for a bad config.
    explicit EdgeNet(EdgeNetConfig config = {}) : EdgeNet(std::move(config), /*allocate=*/true) {}

    /// The layout a model of config `c` has, without allocating its parameters (the
    /// loader checks a file's manifest against it first: io/persist.hpp).
    static ParamLayout layout_for(const EdgeNetConfig& c) { return EdgeNet(c, /*allocate=*/false).layout_; }

private:
    EdgeNet(EdgeNetConfig config, bool allocate) : cfg_((check_config(config), std::move(config))) {
        const Index e = cfg_.embed_dim;
        embed_ = Dense<T>(layout_, "edgenet.embed", input_dim(), e);
        for (Index l = 0; l < cfg_.blocks; ++l)
            blocks_.emplace_back(layout_, "edgenet.enc" + std::to_string(l), e, cfg_.heads, cfg_.ffn_dim);
        fc_ = Dense<T>(layout_, "edgenet.fc", e, e);
        start_ = layout_.add("edgenet.start", 1, e);
        gru_ = GruCell<T>(layout_, "edgenet.gru", e, e);
        ptr_ = PointerAttention<T>(layout_, "edgenet.ptr", e, e, cfg_.attn_dim);
        kappa_ = layout_.add("edgenet.kappa", 1, cfg_.max_slots);
        // Payment net: the first layer in a bid-free part over [z_i; g] and a part over
        // the rest (choice: the bid-free part runs once per ad, not once per bid profile).
        const Index w0 = cfg_.pay_hidden.empty() ? 1 : cfg_.pay_hidden[0];
        pay_free_ = Dense<T>(layout_, "edgenet.pay0_free", 2 * e, w0);
        pay_bid_ = Dense<T>(layout_, "edgenet.pay0_bid", pay_input_dim() - 2 * e, w0);
        // The rest: "edgenet.pay1", … (ELU after the product, unfused: the bits the
        // trained models were made with), then the linear "edgenet.pay_out" of width 1.
        if (!cfg_.pay_hidden.empty()) {
            const Index hidden = static_cast<Index>(cfg_.pay_hidden.size());
            std::vector<Index> widths(cfg_.pay_hidden.begin() + 1, cfg_.pay_hidden.end());
            widths.push_back(1);
            pay_ = Mlp<T>(layout_, mlp_layer_names("edgenet.pay", hidden - 1, "edgenet.pay_out", 1), w0, widths,
                          Activation::elu, Activation::identity, MlpFusion::unfused);
        }
        if (allocate) theta_.setZero(layout_.size());
    }

public:

    const EdgeNetConfig& config() const { return cfg_; }
    const ParamLayout& layout() const { return layout_; }
    VectorX<T>& theta() { return theta_; }
    const VectorX<T>& theta() const { return theta_; }
    /// Width of x (D + 2) and of the payment net's input (3E + 2 + C).
    Index input_dim() const { return candidate_input_dim(cfg_.feature_dim); }
    Index pay_input_dim() const { return 3 * cfg_.embed_dim + 2 + cfg_.competitors; }

    /// Glorot-uniform dense and attention weights, the GRU's ±1/√E, a start token
    /// of N(0, 1/E) entries, κ_t = log(e − 1) (so softplus(κ_t) = 1), from `seed`.
    void init(std::uint64_t seed) {
        Rng rng(seed);
        embed_.init(theta_, rng);
        for (const auto& b : blocks_) b.init(theta_, rng);
        fc_.init(theta_, rng);
        auto st = view(theta_, start_);
        const double sd = 1.0 / std::sqrt(static_cast<double>(cfg_.embed_dim));
        for (Index i = 0; i < st.size(); ++i) st.data()[i] = static_cast<T>(sd * rng.normal());
        gru_.init(theta_, rng);
        ptr_.init(theta_, rng);
        view(theta_, kappa_).setConstant(static_cast<T>(std::log(std::exp(1.0) - 1.0)));
        pay_free_.init(theta_, rng);
        pay_bid_.init(theta_, rng);
        if (!cfg_.pay_hidden.empty()) pay_.init(theta_, rng);
    }

    // ----- persistence -----

    using config_type = EdgeNetConfig;
    /// Model-file kind and version (io/persist.hpp: save(model, …), load<EdgeNet<T>>(…)).
    /// Version 1: the hyper-parameters of EdgeNetConfig and the manifest of EdgeNet's layout.
    static constexpr std::string_view model_kind = "edgenet";
    static constexpr std::uint32_t model_version = 1;
    static void write_config(const EdgeNetConfig& c, HyperParams& h) {
        h.set_int("feature_dim", c.feature_dim)
            .set_int("embed_dim", c.embed_dim)
            .set_int("blocks", c.blocks)
            .set_int("heads", c.heads)
            .set_int("ffn_dim", c.ffn_dim)
            .set_int("attn_dim", c.attn_dim)
            .set_int_list("pay_hidden", HyperParams::IntList(c.pay_hidden.begin(), c.pay_hidden.end()))
            .set_int("max_slots", c.max_slots)
            .set_int("competitors", c.competitors)
            .set_real("bid_scale", c.bid_scale);
    }
    /// The config of a model file (hyper_param_error naming the key when a value is
    /// missing, mistyped or out of range).
    static EdgeNetConfig read_config(const HyperParams& h) {
        EdgeNetConfig c;
        c.feature_dim = hyper_count(h, "feature_dim", 0);
        c.embed_dim = hyper_count(h, "embed_dim", 1);
        c.blocks = hyper_count(h, "blocks", 0);
        // (choice) At most 64 blocks, like the 64 layers of hyper_widths: each block is
        // a structure of its own, and layout_for must stay cheap on a corrupt count.
        if (c.blocks > 64) throw hyper_param_error("blocks", "is " + std::to_string(c.blocks) + ", must be in [0, 64]");
        c.heads = hyper_count(h, "heads", 1);
        c.ffn_dim = hyper_count(h, "ffn_dim", 1);
        c.attn_dim = hyper_count(h, "attn_dim", 1);
        c.pay_hidden = hyper_widths(h, "pay_hidden", 0);
        c.max_slots = hyper_count(h, "max_slots", 1);
        c.competitors = hyper_count(h, "competitors", 0);
        c.bid_scale = h.get_real("bid_scale");
        if (!(std::isfinite(c.bid_scale) && c.bid_scale > 0))
            throw hyper_param_error("bid_scale", "must be finite and > 0");
        if (c.embed_dim % c.heads != 0) throw hyper_param_error("heads", "must divide embed_dim");
        return c;
    }

    // ----- serving -----

    /// Throws input_error unless `a` is a valid ordinary auction with D feature
    /// columns and min(K, N) <= max_slots.
    void check_auction(const AuctionView<T>& a, Index auction = kNone) const {
        check_candidate_inputs(a, cfg_.feature_dim, "EdgeNet", auction);
        detail::require(std::min(a.num_slots(), a.num_candidates()) <= cfg_.max_slots, "slot_ctr", kNone, [&] {
            return "has " + std::to_string(a.num_slots()) + " slots to fill but the model decodes at most " +
                   std::to_string(cfg_.max_slots);
        }, auction);
    }

    /// Serving outcome (τ = 0): validates `a`, decodes min(K, N) slots greedily (each
    /// step's highest logit among the ads not yet shown, ties → lower index), prices
    /// each shown ad at sigmoid(·)·bid. Click probability: slot_ctr[t]·ctr_i.
    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        check_auction(a);
        const Index n = a.num_candidates(), k = a.num_slots();
        if (static_cast<Index>(ws.by_n.size()) <= n) ws.by_n.resize(static_cast<std::size_t>(n) + 1);
        ws.last_n = n;
        Cache& c = ws.by_n[static_cast<std::size_t>(n)];
        c.offsets.assign({0, n});
        c.steps.resize(1);
        c.beta.setZero(1, cfg_.max_slots);
        c.x.resize(n, input_dim());
        set_auction_inputs(a, 0, 0, c);
        c.bids.resize(n);
        c.bids = a.bids;
        c.focus.clear();
        forward_rows(theta_, 1, T(0), c);
        require_finite_output(c.price.head(n), "EdgeNet", "prices");
        out.reset(k, n);
        for (Index t = 0; t < c.steps[0]; ++t) {
            const Index i = c.pick[static_cast<std::size_t>(t)];
            out.slots[static_cast<std::size_t>(t)] = i;
            out.price[static_cast<std::size_t>(i)] = c.price[i];
            out.click_prob[static_cast<std::size_t>(i)] = a.slot_ctr[t] * a.ctr[i];
        }
    }

    // ----- the core pass (training and serving) -----

    /// Forward over the inputs already in the cache: c.offsets (B + 1), c.steps
    /// (K'_b <= min(max_slots, N_b) per auction), c.beta (B x max_slots), c.x
    /// (total x (D + 2)), c.bids (copies·total) and c.focus (empty, or one entry per
    /// profile). τ = 0: hard decoding; τ > 0: the relaxed outcome. Leaves click, price
    /// and payment (copies·total) in the cache.
    void forward_rows(const VectorX<T>& theta, Index copies, T tau, Cache& c) const {
        check_cache_inputs(theta, copies, tau, c);
        c.copies = copies;
        c.tau = tau;
        encode(theta, c);
        decode(theta, c);
        pay(theta, c);
    }

    /// Backward of `forward_rows` at τ > 0, from d_click and d_payment (copies·total
    /// each): ADDS dL/dθ into grad and writes dL/d(bids) into *d_bids (copies·total)
    /// when given.
    void backward_rows(const VectorX<T>& theta, Cache& c, const Eigen::Ref<const VectorX<T>>& d_click,
                       const Eigen::Ref<const VectorX<T>>& d_payment, VectorX<T>& grad, VectorX<T>* d_bids) const {
        backward_impl(theta, c, d_click, d_payment, nullptr, grad, d_bids);
    }

    // ----- the relaxed-outcome contract (mechanisms/relaxed.hpp) -----

    /// The cache of relaxed_forward / relaxed_backward: the core pass's.
    using RelaxedCache = Cache;

    /// The relaxed outcome of `batch` under the C = bids.size() / total bid profiles of
    /// `bids` at temperature τ (mechanisms/relaxed.hpp): the encoder once per auction,
    /// the decoder and payment net once per (profile, auction); alloc(row, t) = A_{t,i}
    /// (K_b = min(K_b, N_b) decoding steps, at most max_slots), click = ctr_i Σ_t β_t A_{t,i},
    /// price = sigmoid(·)·b_i, payment = price·click. A focus j prices only candidate j
    /// of each auction in that profile (the others' price and payment are 0). Every
    /// auction of the batch must be one `run` accepts (check_auction).
    void relaxed_forward(const Batch<T>& batch, const Eigen::Ref<const VectorX<T>>& bids, T tau, Cache& c,
                         RelaxedOutcome<T>& out, std::span<const Index> focus = {}) const {
        const Index copies = detail::check_relaxed_args(batch, bids, tau, focus);
        const Index nb = batch.size(), total = batch.total_candidates();
        c.offsets.assign(batch.offsets().begin(), batch.offsets().end());
        c.steps.resize(static_cast<std::size_t>(nb));
        c.beta.setZero(nb, cfg_.max_slots);
        c.x.resize(total, input_dim());
        Index kmax = 0;
        for (Index b = 0; b < nb; ++b) {
            const AuctionView<T> a = batch.auction(b);
            check_auction(a, b);
            kmax = std::max(kmax, set_auction_inputs(a, b, batch.begin(b), c));
        }
        c.bids = bids;
        c.focus.assign(focus.begin(), focus.end());
        forward_rows(theta_, copies, tau, c);
        out.reset(copies, total, kmax);
        out.alloc = c.alloc.leftCols(kmax);
        out.click = c.click;
        out.payment = c.payment;
        out.price = c.price;
    }

    /// Backward of the last relaxed_forward into `c` (mechanisms/relaxed.hpp): ADDS
    /// dL/dθ into grad, writes dL/d(bids) into *d_bids (C·total) when given.
    void relaxed_backward(Cache& c, const RelaxedGradient<T>& d, VectorX<T>& grad, VectorX<T>* d_bids) const {
        const Index tr = c.copies * c.total();
        Index kmax = 0;
        for (const Index k : c.steps) kmax = std::max(kmax, k);
        detail::check_relaxed_gradient(d, tr, kmax);
        if (d.d_click.size() == 0 || d.d_payment.size() == 0) c.rd_zero.setZero(tr);  // an empty member is 0
        const VectorX<T>& d_click = d.d_click.size() != 0 ? d.d_click : c.rd_zero;
        const VectorX<T>& d_payment = d.d_payment.size() != 0 ? d.d_payment : c.rd_zero;
        backward_impl(theta_, c, d_click, d_payment, d.d_alloc.size() != 0 ? &d.d_alloc : nullptr, grad, d_bids);
    }

private:
    // Auction b's bid-free inputs (candidate rows from `row`), decoding steps and slot
    // factors into the cache (sized by the caller; beta zeroed); returns its steps
    // K'_b = min(K, N). What `run` and `relaxed_forward` share.
    Index set_auction_inputs(const AuctionView<T>& a, Index b, Index row, Cache& c) const {
        const Index k = std::min(a.num_slots(), a.num_candidates());
        c.steps[static_cast<std::size_t>(b)] = k;
        c.beta.row(b).head(k) = a.slot_ctr.head(k).transpose();
        write_candidate_inputs(a, cfg_.feature_dim, c.x, row);
        return k;
    }

    // backward_rows with an optional dL/d(alloc) (C·total x K' columns, K' <= max_slots).
    void backward_impl(const VectorX<T>& theta, Cache& c, const Eigen::Ref<const VectorX<T>>& d_click,
                       const Eigen::Ref<const VectorX<T>>& d_payment, const MatrixX<T>* d_alloc, VectorX<T>& grad,
                       VectorX<T>* d_bids) const {
        const Index tr = c.copies * c.total();
        detail::require(c.tau > T(0), "tau", kNone, "backward needs the relaxed outcome (tau > 0)");
        detail::require(c.click.size() == tr && d_click.size() == tr && d_payment.size() == tr, "d_click/d_payment",
                        kNone, "must have one entry per candidate row of the forward call");
        detail::require(grad.size() == theta.size(), "grad", kNone, "must have theta's size");
        c.d_q.setZero(tr);
        c.d_alloc.setZero(tr, cfg_.max_slots);
        if (d_alloc != nullptr) c.d_alloc.leftCols(d_alloc->cols()) = *d_alloc;
        decoder_keys(c).grad.setZero();  // score_backward adds into it
        pay_backward(theta, c, d_click, d_payment, grad);
        decode_backward(theta, c, grad);
        encode_backward(theta, c, grad);
        if (d_bids != nullptr) {
            d_bids->resize(tr);
            const Index total = c.total(), d = cfg_.feature_dim;
            const T inv = static_cast<T>(1.0 / cfg_.bid_scale);
            // Through q = b·ctr / bid_scale, and directly through payment = frac·b·click.
            for (Index r = 0; r < tr; ++r)
                (*d_bids)[r] = c.d_q[r] * c.x(r % total, d) * inv + d_payment[r] * c.frac[r] * c.click[r];
        }
    }

    static void check_config(const EdgeNetConfig& c) {
        detail::require(c.feature_dim >= 0, "feature_dim", kNone, "must be >= 0");
        detail::require(c.embed_dim >= 1, "embed_dim", kNone, "must be >= 1");
        detail::require(c.blocks >= 0 && c.blocks <= 64, "blocks", kNone, "must be in [0, 64]");
        detail::require(c.heads >= 1 && c.embed_dim % c.heads == 0, "heads", kNone, "must be >= 1 and divide embed_dim");
        detail::require(c.ffn_dim >= 1, "ffn_dim", kNone, "must be >= 1");
        detail::require(c.attn_dim >= 1, "attn_dim", kNone, "must be >= 1");
        for (std::size_t l = 0; l < c.pay_hidden.size(); ++l)
            detail::require(c.pay_hidden[l] >= 1, "pay_hidden", static_cast<Index>(l), "must be >= 1");
        detail::require(c.max_slots >= 1, "max_slots", kNone, "must be >= 1");
        detail::require(c.competitors >= 0, "competitors", kNone, "must be >= 0");
        detail::require(std::isfinite(c.bid_scale) && c.bid_scale > 0, "bid_scale", kNone, "must be finite and > 0");
    }
    void check_cache_inputs(const VectorX<T>& theta, Index copies, T tau, const Cache& c) const {
        detail::require(theta.size() == layout_.size(), "theta", kNone, "has the wrong size for this model");
        detail::require(copies >= 1, "copies", kNone, "must be >= 1");
        detail::require(std::isfinite(tau) && tau >= T(0), "tau", kNone, "must be finite and >= 0");
        detail::check_segment_offsets(c.offsets, c.x.rows());
        const Index nb = static_cast<Index>(c.offsets.size()) - 1;
        detail::require(nb >= 1, "offsets", kNone, "needs at least one auction");
        detail::require(c.x.cols() == input_dim(), "x", kNone, "must have D + 2 columns");
        detail::require(static_cast<Index>(c.steps.size()) == nb, "steps", kNone, "needs one entry per auction");
        detail::require(c.beta.rows() == nb && c.beta.cols() == cfg_.max_slots, "beta", kNone,
                        "must be B x max_slots");
        for (Index b = 0; b < nb; ++b) {
            const Index n = c.offsets[static_cast<std::size_t>(b) + 1] - c.offsets[static_cast<std::size_t>(b)];
            const Index k = c.steps[static_cast<std::size_t>(b)];
            detail::require(n >= 1, "offsets", b, "auctions need at least one candidate");
            detail::require(k >= 0 && k <= n && k <= cfg_.max_slots, "steps", b, "must be in [0, min(N, max_slots)]");
        }
        detail::require(c.bids.size() == copies * c.x.rows(), "bids", kNone, "must have copies x total entries");
        detail::require(c.focus.empty() || static_cast<Index>(c.focus.size()) == copies, "focus", kNone,
                        "must be empty or have one entry per profile");
        for (std::size_t p = 0; p < c.focus.size(); ++p)
            detail::require(c.focus[p] == kNone || c.focus[p] >= 0, "focus", static_cast<Index>(p),
                            "must be kNone or a candidate index");
    }
    Index steps_max(const Cache& c) const {
        Index k = 0;
        for (const Index s : c.steps) k = std::max(k, s);
        return k;
    }

    // Encoder: e0 = Embed(x), transformer blocks, z = FC(·), g = segment means, keys.
    void encode(const VectorX<T>& theta, Cache& c) const {
        const Index nb = static_cast<Index>(c.offsets.size()) - 1;
        embed_.forward(theta, c.x, c.e0);
        c.enc.resize(blocks_.size());
        const MatrixX<T>* h = &c.e0;
        for (std::size_t l = 0; l < blocks_.size(); ++l) h = &blocks_[l].forward(theta, *h, c.offsets, c.enc[l]);
        fc_.forward(theta, *h, c.z);
        c.g.resize(nb, cfg_.embed_dim);
        for (Index b = 0; b < nb; ++b) {
            const Index o = c.offsets[static_cast<std::size_t>(b)];
            const Index n = c.offsets[static_cast<std::size_t>(b) + 1] - o;
            c.g.row(b) = c.z.middleRows(o, n).colwise().sum() / static_cast<T>(n);
        }
        ptr_.project_keys(theta, c.z, c.offsets, c.keys);
        // The payment net's first layer on its bid-free inputs [z_i; g], once per ad.
        c.free_in.resize(c.total(), 2 * cfg_.embed_dim);
        c.free_in.leftCols(cfg_.embed_dim) = c.z;
        for (Index b = 0; b < nb; ++b) {
            const Index o = c.offsets[static_cast<std::size_t>(b)];
            const Index n = c.offsets[static_cast<std::size_t>(b) + 1] - o;
            c.free_in.block(o, cfg_.embed_dim, n, cfg_.embed_dim).rowwise() = c.g.row(b);
        }
        pay_free_.forward(theta, c.free_in, c.pay_free);
    }

    // Decoder: K' steps over the C·B rows.
    void decode(const VectorX<T>& theta, Cache& c) const {
        const Index nb = static_cast<Index>(c.offsets.size()) - 1, total = c.total(), cp = c.copies;
        const Index rows = cp * nb, tr = cp * total, e = cfg_.embed_dim, kmax = steps_max(c);
        // Keys and offsets repeated per profile (the projection itself ran once).
        c.rep_offsets.resize(static_cast<std::size_t>(rows) + 1);
        for (Index p = 0; p < cp; ++p)
            for (Index b = 0; b < nb; ++b)
                c.rep_offsets[static_cast<std::size_t>(p * nb + b)] = p * total + c.offsets[static_cast<std::size_t>(b)];
        c.rep_offsets.back() = tr;
        if (cp > 1) {  // one profile scores the base keys themselves
            c.rep_keys.offsets = c.rep_offsets;
            c.rep_keys.k.resize(tr, cfg_.attn_dim);
            for (Index p = 0; p < cp; ++p) c.rep_keys.k.middleRows(p * total, total) = c.keys.k;
            c.rep_keys.grad.setZero(tr, cfg_.attn_dim);
        }
        const typename PointerAttention<T>::Keys& keys = decoder_keys(c);
        // Bid channel q = b·ctr / bid_scale.
        const Index d = cfg_.feature_dim;
        const T inv = static_cast<T>(1.0 / cfg_.bid_scale);
        c.q.resize(tr);
        for (Index r = 0; r < tr; ++r) c.q[r] = c.bids[r] * c.x(r % total, d) * inv;
        // s_0 = g, y_0 = start.
        // Storage for max_slots steps whatever K' is, so that serving auctions of one N
        // and different K reuse the same buffers (no allocation).
        const Index ks = cfg_.max_slots;
        c.s.resize(static_cast<std::size_t>(ks) + 1);
        c.y.resize(static_cast<std::size_t>(ks) + 1);
        c.gru.resize(static_cast<std::size_t>(ks));
        c.ptr.resize(static_cast<std::size_t>(ks));
        c.s[0].resize(rows, e);
        for (Index p = 0; p < cp; ++p) c.s[0].middleRows(p * nb, nb) = c.g;
        c.y[0].resize(rows, e);
        c.y[0].rowwise() = view(theta, start_).row(0);
        c.logit.resize(tr, ks);
        c.alloc.setZero(tr, ks);
        c.pick.assign(static_cast<std::size_t>(rows * ks), kNone);
        c.taken.assign(static_cast<std::size_t>(tr), 0);
        const bool hard = c.tau == T(0);
        const auto kappa = view(theta, kappa_);
        for (Index t = 0; t < kmax; ++t) {
            const std::size_t ts = static_cast<std::size_t>(t);
            const MatrixX<T>& st = gru_.forward(theta, c.y[ts], c.s[ts], c.gru[ts]);
            c.s[ts + 1] = st;
            const VectorX<T>& u = ptr_.score(theta, keys, c.s[ts + 1], c.ptr[ts]);
            const T w = softplus(kappa(0, t));
            c.logit.col(t) = u + w * c.q;
            c.y[ts + 1].setZero(rows, e);
            for (Index r = 0; r < rows; ++r) {
                const Index b = r % nb;
                if (t >= c.steps[static_cast<std::size_t>(b)]) continue;
                const Index o = c.rep_offsets[static_cast<std::size_t>(r)];
                const Index n = c.rep_offsets[static_cast<std::size_t>(r) + 1] - o;
                // Hard pick among the ads not taken (ties → lower index).
                Index best = kNone;
                for (Index i = 0; i < n; ++i)
                    if (!c.taken[static_cast<std::size_t>(o + i)] &&
                        (best == kNone || c.logit(o + i, t) > c.logit(o + best, t)))
                        best = i;
                c.pick[static_cast<std::size_t>(r * ks + t)] = best;
                if (hard) {
                    c.alloc(o + best, t) = T(1);
                } else {
                    const T m = c.logit(o + best, t);
                    T sum = T(0);
                    for (Index i = 0; i < n; ++i)
                        if (!c.taken[static_cast<std::size_t>(o + i)]) {
                            const T a = std::exp((c.logit(o + i, t) - m) / c.tau);
                            c.alloc(o + i, t) = a;
                            sum += a;
                        }
                    c.alloc.col(t).segment(o, n) /= sum;
                }
                c.taken[static_cast<std::size_t>(o + best)] = 1;
                // y_t = Σ_i A_{t,i} z_i (rows of the base auction b); hard: z of the pick.
                const Index ob = c.offsets[static_cast<std::size_t>(b)];
                if (hard)
                    c.y[ts + 1].row(r) = c.z.row(ob + best);
                else
                    c.y[ts + 1].row(r).noalias() = c.alloc.col(t).segment(o, n).transpose() * c.z.middleRows(ob, n);
            }
        }
    }

    // Payment net over the payment rows (every candidate of a profile without focus,
    // the focused bidder's candidate otherwise): input, the first layer's bid part
    // plus its bid-free part (from encode), the other layers, sigmoid; then prices
    // and payments (0 on the other rows).
    void pay(const VectorX<T>& theta, Cache& c) const {
        const Index nb = static_cast<Index>(c.offsets.size()) - 1, total = c.total(), cp = c.copies;
        const Index rows = cp * nb, tr = cp * total, e = cfg_.embed_dim, kmax = steps_max(c);
        const Index cs = cfg_.competitors;
        c.prow.clear();
        for (Index r = 0; r < rows; ++r) {
            const Index o = c.rep_offsets[static_cast<std::size_t>(r)];
            const Index n = c.rep_offsets[static_cast<std::size_t>(r) + 1] - o;
            const Index f = c.focus.empty() ? kNone : c.focus[static_cast<std::size_t>(r / nb)];
            if (f == kNone)
                for (Index i = 0; i < n; ++i) c.prow.push_back(o + i);
            else if (f < n)
                c.prow.push_back(o + f);
        }
        const Index np = static_cast<Index>(c.prow.size());
        c.pin.resize(np, pay_bid_.in_dim());
        c.rivals.assign(static_cast<std::size_t>(np * cs), kNone);
        c.top.resize(static_cast<std::size_t>(cs + 1));
        c.click.resize(tr);
        for (Index r = 0, k = 0; r < rows; ++r) {
            const Index b = r % nb;
            const Index o = c.rep_offsets[static_cast<std::size_t>(r)];
            const Index n = c.rep_offsets[static_cast<std::size_t>(r) + 1] - o;
            const Index ob = c.offsets[static_cast<std::size_t>(b)];
            // click_i = ctr_i Σ_t β_t A_{t,i}
            for (Index i = 0; i < n; ++i) {
                T a = T(0);
                for (Index t = 0; t < kmax; ++t) a += c.beta(b, t) * c.alloc(o + i, t);
                c.click[o + i] = c.x(ob + i, cfg_.feature_dim) * a;
            }
            if (k == np || c.prow[static_cast<std::size_t>(k)] >= o + n) continue;  // no payment row here
            // The others' top-C q (descending, ties → lower index, 0 when fewer) and
            // their mean: the auction's top C + 1 first, i's rivals are those without i.
            const auto q = c.q.segment(o, n);
            const Index m = std::min(cs + 1, n);
            for (Index l = 0; l < m; ++l) {
                Index best = kNone;
                for (Index j = 0; j < n; ++j) {
                    bool used = false;
                    for (Index u = 0; u < l; ++u) used = used || c.top[static_cast<std::size_t>(u)] == j;
                    if (!used && (best == kNone || q[j] > q[best])) best = j;
                }
                c.top[static_cast<std::size_t>(l)] = best;
            }
            const T sum = q.sum();
            for (; k < np && c.prow[static_cast<std::size_t>(k)] < o + n; ++k) {
                const Index i = c.prow[static_cast<std::size_t>(k)] - o;
                // Σ_t A_{t,i} s_t (the state that produced step t's logits is s[t + 1]).
                auto ctx = c.pin.row(k).head(e);
                ctx.setZero();
                for (Index t = 0; t < kmax; ++t)
                    ctx.noalias() += c.alloc(o + i, t) * c.s[static_cast<std::size_t>(t) + 1].row(r);
                c.pin(k, e) = q[i];
                Index* rv = c.rivals.data() + k * cs;
                Index w = 0;
                for (Index l = 0; l < m && w < cs; ++l) {
                    const Index j = c.top[static_cast<std::size_t>(l)];
                    if (j == i) continue;
                    rv[w] = o + j;
                    c.pin(k, e + 1 + w) = q[j];
                    ++w;
                }
                for (; w < cs; ++w) c.pin(k, e + 1 + w) = T(0);
                c.pin(k, e + 1 + cs) = n > 1 ? (sum - q[i]) / static_cast<T>(n - 1) : T(0);
            }
        }
        // First layer: bid part + the bid-free part of the candidate's base row.
        pay_bid_.forward(theta, c.pin, c.first);
        for (Index k = 0; k < np; ++k) c.first.row(k) += c.pay_free.row(c.prow[static_cast<std::size_t>(k)] % total);
        const MatrixX<T>* out = &c.first;  // payment rows x 1: the payment logit
        if (!cfg_.pay_hidden.empty()) {
            c.first_post.resize(c.first.rows(), c.first.cols());
            activate<T>(Activation::elu, c.first, c.first_post);
            out = &pay_.forward(theta, c.first_post, c.pay);
        }
        c.frac.setZero(tr);
        for (Index k = 0; k < np; ++k)
            c.frac[c.prow[static_cast<std::size_t>(k)]] = T(1) / (T(1) + std::exp(-(*out)(k, 0)));
        c.price.resize(tr);
        c.price.array() = c.frac.array() * c.bids.array();
        c.payment.resize(tr);
        c.payment.array() = c.price.array() * c.click.array();
    }

    // Payment backward: fills d_alloc (via click and Σ A s), d_q, d_s (via Σ A s),
    // d_z and d_g (via the first layer's bid-free part).
    void pay_backward(const VectorX<T>& theta, Cache& c, const Eigen::Ref<const VectorX<T>>& d_click_in,
                      const Eigen::Ref<const VectorX<T>>& d_payment, VectorX<T>& grad) const {
        const Index nb = static_cast<Index>(c.offsets.size()) - 1, total = c.total(), cp = c.copies;
        const Index rows = cp * nb, e = cfg_.embed_dim, kmax = steps_max(c);
        const Index cs = cfg_.competitors, np = static_cast<Index>(c.prow.size());
        // payment = frac·b·click, frac = σ(out), on the payment rows
        c.d_out.resize(np);
        for (Index k = 0; k < np; ++k) {
            const Index g = c.prow[static_cast<std::size_t>(k)];
            c.d_out[k] = d_payment[g] * c.bids[g] * c.click[g] * c.frac[g] * (T(1) - c.frac[g]);
        }
        const Eigen::Map<const MatrixX<T>> dout(c.d_out.data(), np, 1);
        if (cfg_.pay_hidden.empty()) {
            c.d_h = dout;
        } else {
            pay_.backward(theta, c.first_post, c.pay, dout, grad, &c.d_h);
            activate_backward<T>(Activation::elu, c.first, c.first_post, c.d_h, c.d_h);
        }
        // c.d_h = dL/d(first layer): its bid part, and its bid-free part summed onto base rows.
        pay_bid_.backward(theta, c.pin, c.d_h, grad, &c.d_pin);
        c.d_free.setZero(total, c.d_h.cols());
        for (Index k = 0; k < np; ++k) c.d_free.row(c.prow[static_cast<std::size_t>(k)] % total) += c.d_h.row(k);
        pay_free_.backward(theta, c.free_in, c.d_free, grad, &c.d_h2);
        c.d_z = c.d_h2.leftCols(e);
        c.d_g.setZero(nb, e);
        for (Index b = 0; b < nb; ++b) {
            const Index o = c.offsets[static_cast<std::size_t>(b)];
            const Index n = c.offsets[static_cast<std::size_t>(b) + 1] - o;
            c.d_g.row(b) = c.d_h2.block(o, e, n, e).colwise().sum();
        }
        const MatrixX<T>& dp = c.d_pin;
        c.d_s.setZero(rows * (kmax + 1), e);  // d_s block t: rows for s[t]
        for (Index r = 0, k = 0; r < rows; ++r) {
            const Index b = r % nb;
            const Index o = c.rep_offsets[static_cast<std::size_t>(r)];
            const Index n = c.rep_offsets[static_cast<std::size_t>(r) + 1] - o;
            const Index ob = c.offsets[static_cast<std::size_t>(b)];
            for (; k < np && c.prow[static_cast<std::size_t>(k)] < o + n; ++k) {
                const Index g = c.prow[static_cast<std::size_t>(k)];
                const auto dctx = dp.row(k).head(e);
                for (Index t = 0; t < kmax; ++t) {
                    c.d_alloc(g, t) += dctx.dot(c.s[static_cast<std::size_t>(t) + 1].row(r));
                    c.d_s.row((t + 1) * rows + r) += c.alloc(g, t) * dctx;
                }
                c.d_q[g] += dp(k, e);
                const Index* rv = c.rivals.data() + k * cs;
                for (Index w = 0; w < cs; ++w)
                    if (rv[w] != kNone) c.d_q[rv[w]] += dp(k, e + 1 + w);
                if (n > 1) {
                    const T dm = dp(k, e + 1 + cs) / static_cast<T>(n - 1);
                    for (Index j = 0; j < n; ++j)
                        if (o + j != g) c.d_q[o + j] += dm;
                }
            }
            // click_i = ctr_i Σ_t β_t A_{t,i}; d_click includes payment's frac·b.
            for (Index i = 0; i < n; ++i) {
                const T dc = d_click_in[o + i] + d_payment[o + i] * c.frac[o + i] * c.bids[o + i];
                const T ctr = c.x(ob + i, cfg_.feature_dim);
                for (Index t = 0; t < kmax; ++t) c.d_alloc(o + i, t) += dc * ctr * c.beta(b, t);
            }
        }
    }

    // Decoder backward, steps last to first.
    void decode_backward(const VectorX<T>& theta, Cache& c, VectorX<T>& grad) const {
        const Index nb = static_cast<Index>(c.offsets.size()) - 1, cp = c.copies;
        const Index rows = cp * nb, e = cfg_.embed_dim, kmax = steps_max(c);
        const auto kappa = view(theta, kappa_);
        auto dkappa = view(grad, kappa_);
        c.d_y.setZero(rows, e);  // dL/dy_{t+1}, carried down the steps
        c.d_u.resize(c.copies * c.total());
        for (Index t = kmax; t-- > 0;) {
            const std::size_t ts = static_cast<std::size_t>(t);
            // y_{t+1} = Σ_i A_{t,i} z_i: dA += dy·z, dz += A·dy.
            c.d_u.setZero();
            for (Index r = 0; r < rows; ++r) {
                const Index b = r % nb;
                if (t >= c.steps[static_cast<std::size_t>(b)]) continue;
                const Index o = c.rep_offsets[static_cast<std::size_t>(r)];
                const Index n = c.rep_offsets[static_cast<std::size_t>(r) + 1] - o;
                const Index ob = c.offsets[static_cast<std::size_t>(b)];
                c.d_alloc.col(t).segment(o, n).noalias() += c.z.middleRows(ob, n) * c.d_y.row(r).transpose();
                c.d_z.middleRows(ob, n).noalias() += c.alloc.col(t).segment(o, n) * c.d_y.row(r);
                // softmax over the unmasked ads (A = 0 on the masked ones): du = A ⊙ (dA − A·dA) / τ.
                const auto a = c.alloc.col(t).segment(o, n);
                const auto da = c.d_alloc.col(t).segment(o, n);
                const T dot = a.dot(da);
                c.d_u.segment(o, n) = (a.array() * (da.array() - dot) / c.tau).matrix();
            }
            // u = ptr + softplus(κ_t)·q
            const T kt = kappa(0, t);
            dkappa(0, t) += c.d_u.dot(c.q) * sigmoid(kt);
            c.d_q += softplus(kt) * c.d_u;
            ptr_.score_backward(theta, decoder_keys(c), c.s[ts + 1], c.ptr[ts], c.d_u, grad, &c.d_ds);
            auto ds_next = c.d_s.middleRows((t + 1) * rows, rows);
            ds_next += c.d_ds;
            // s_{t+1} = GRU(s_t, y_t)
            gru_.backward(theta, c.y[ts], c.s[ts], c.gru[ts], ds_next, grad, &c.d_dy, &c.d_e);
            c.d_s.middleRows(t * rows, rows) += c.d_e;
            c.d_y = c.d_dy;  // now dL/dy_t
        }
        // y_0 = start token, s_0 = g.
        if (kmax > 0) view(grad, start_).row(0) += c.d_y.colwise().sum();
        for (Index r = 0; r < rows; ++r) c.d_g.row(r % nb) += c.d_s.row(r);
    }

    // Encoder backward from d_z (decoder, payment), d_g and the keys' gradient.
    void encode_backward(const VectorX<T>& theta, Cache& c, VectorX<T>& grad) const {
        const Index nb = static_cast<Index>(c.offsets.size()) - 1, total = c.total();
        // Repeated keys' gradients back onto the base keys.
        if (c.copies > 1) {
            c.keys.grad.setZero();
            for (Index p = 0; p < c.copies; ++p) c.keys.grad += c.rep_keys.grad.middleRows(p * total, total);
        }
        ptr_.keys_backward(theta, c.z, c.keys, grad, &c.d_zr);
        c.d_z += c.d_zr;
        for (Index b = 0; b < nb; ++b) {
            const Index o = c.offsets[static_cast<std::size_t>(b)];
            const Index n = c.offsets[static_cast<std::size_t>(b) + 1] - o;
            c.d_z.middleRows(o, n).rowwise() += c.d_g.row(b) / static_cast<T>(n);
        }
        const MatrixX<T>& fc_in = blocks_.empty() ? c.e0 : c.enc.back().output();
        fc_.backward(theta, fc_in, c.d_z, grad, &c.d_e);
        for (std::size_t l = blocks_.size(); l-- > 0;) {
            const MatrixX<T>& in = l == 0 ? c.e0 : c.enc[l - 1].output();
            blocks_[l].backward(theta, in, c.enc[l], c.d_e, grad, &c.d_e2);
            std::swap(c.d_e, c.d_e2);
        }
        embed_.backward(theta, c.x, c.d_e, grad, nullptr);
    }

    // The keys the decoder scores: the base keys for one profile, the repeated ones otherwise.
    static typename PointerAttention<T>::Keys& decoder_keys(Cache& c) { return c.copies > 1 ? c.rep_keys : c.keys; }

    static T softplus(T x) { return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
    static T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }

    EdgeNetConfig cfg_;
    ParamLayout layout_;
    Dense<T> embed_;
    std::vector<TransformerBlock<T>> blocks_;
    Dense<T> fc_;
    ParamSlot start_{};
    GruCell<T> gru_;
    PointerAttention<T> ptr_;
    ParamSlot kappa_{};
    Dense<T> pay_free_, pay_bid_;  ///< the payment net's first layer: bid-free part, rest
    Mlp<T> pay_;                   ///< its further hidden layers, then the output layer (none: pay_hidden empty)
    VectorX<T> theta_;
};

}  // namespace diffauction
