// diffauction/mechanisms/learned/dna.hpp - DNA, the Deep Neural Auction (SPEC §4.1; Liu et
// al., KDD 2021): the serving mechanism (τ = 0) and the relaxed outcome (τ > 0, the
// RelaxedMechanism contract of mechanisms/relaxed.hpp). The training loss is an
// objective over that outcome (train/objectives/rank_loss.hpp), joined to the Trainer
// by train/relaxed_trainable.hpp.
//
//   x_i  = [features_i, ctr_i, cvr_i]              bid-free input (choice, see Dna)
//   h'_i = DeepSet(x over i's auction)_i           context; bids never enter
//   x'_i = [x_i, h'_i]
//   r_i  = MinMax(b_i; x'_i)                       strictly increasing in b_i
//   serving: sort by r (ties → lower index), top min(K, N) win; slot k pays
//            p = min(max(0, r⁻¹(r_(k+1); x'_i)), b_i) per click (0 when nobody is below)
//   relaxed:  P̂ = NeuralSort(r, τ) (first K rows per auction and bid profile),
//            alloc = P̂ᵀ, price_i = max(0, r⁻¹(r_next(i); x'_i)) (next in the hard order),
//            click_i = ctr_i Σ_k β_k P̂[k, i], payment_i = price_i·click_i
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
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
#include "diffauction/core/types.hpp"
#include "diffauction/io/persist.hpp"
#include "diffauction/mechanisms/learned/candidate_inputs.hpp"
#include "diffauction/mechanisms/mechanism.hpp"
#include "diffauction/mechanisms/relaxed.hpp"
#include "diffauction/nn/deep_set.hpp"
#include "diffauction/nn/minmax.hpp"
#include "diffauction/sort/neural_sort.hpp"

namespace diffauction {

/// DNA's hyper-parameters. The model does not depend on the number of slots K:
/// every auction brings its own `slot_ctr`.
struct DnaConfig {
    Index feature_dim = 0;             ///< D: columns of `Auction::features` (0 allowed)
    std::vector<Index> phi1{128, 32};  ///< DeepSet φ₁ layer widths (DNA: 128 → 32)
    std::vector<Index> phi2{16};       ///< DeepSet φ₂ layer widths (DNA: 16)
    Index groups = 5;                  ///< Q: MIN-MAX groups
    Index units = 20;                  ///< Z: linear units per group
};

/// The Deep Neural Auction over one flat parameter vector (STYLE.md).
///
/// Input (choice, mechanisms/learned/candidate_inputs.hpp): x_i = [features row i, ctr_i, cvr_i] with cvr_i = 0 when the
/// auction has no cvr; `context` (user features) and item `price` are not used
/// (the synthetic market already carries log item price as a feature column).
/// Bids never enter x, h' or the set encoder: only r sees b_i, and only its own.
///
/// Serving (`run`, the Mechanism concept): ordinary auctions only. The winner in
/// slot k pays its critical bid r⁻¹(r_(k+1); x'_i), the bid at which its score
/// would tie the next candidate's (0 when nobody is below). Over the bid domain
/// [0, ∞) the critical bid is max(0, r⁻¹(·)): when r(0; x'_i) already beats the
/// next score, the ad wins even at bid 0 and its critical bid is 0 — this is the
/// definition of the critical bid, not a clamp. min(·, b_i) then only absorbs the
/// last-ulp rounding of r⁻¹(r(b)) = b. Click probability: slot_ctr[k]·ctr_i.
/// Because r is strictly increasing in b_i and nobody else's score depends on b_i,
/// the allocation is monotone and the price is the critical bid: exact IC for value
/// maximisers (Ψ_v = Ψ_p = 0 up to rounding).
///
/// Relaxed (`relaxed_forward` / `relaxed_backward`, the RelaxedMechanism contract of
/// mechanisms/relaxed.hpp): the same scores under C bid profiles at once, NeuralSort
/// instead of the hard sort, and the serving price without its min(·, b_i) (which only
/// absorbs rounding at τ = 0); the set encoder runs once per auction for all profiles.
///
/// The model is immutable while serving: threads share it, each with its own
/// Workspace and Outcome.
template <Scalar T>
class Dna {
public:
    using scalar_type = T;

    /// Buffers of one candidate count N (see Workspace).
    struct Buffers {
        MatrixX<T> x;                                ///< N x (D + 2): bid-free inputs
        typename DeepSet<T>::Cache set;              ///< set encoder; set.output() = h'
        MatrixX<T> xp;                               ///< N x (D + 2 + H): x' = [x, h']
        typename MinMaxScorer<T>::Cache score;       ///< scorer cache
        VectorX<T> r;                                ///< N rank scores
    };
    /// Serving scratch, one per thread. (choice) It keeps one `Buffers` per
    /// candidate count N: Eigen reallocates a matrix whenever its size changes, so
    /// sharing one set of buffers across auctions of different N would allocate on
    /// every change. After each N has been seen once, `run` allocates nothing.
    struct Workspace {
        std::vector<Buffers> by_n;                  ///< by_n[N]: buffers for auctions of N candidates
        std::vector<Index> order;                   ///< ranking (top K + 1 sorted)
        Index last_n = 0;                           ///< N of the last run
        /// The buffers of the last run (its x, h' = set.output(), x', r).
        const Buffers& last() const { return by_n[static_cast<std::size_t>(last_n)]; }
    };

    /// Rows (candidates) per chunk of `run_batch`.
    static constexpr Index kBatchRows = 64;
    /// Scratch of `run_batch`, one per thread. (choice) Auctions are stacked into
    /// chunks of exactly kBatchRows rows (the rest of a chunk is one all-zero padding
    /// segment), so every buffer keeps one size: after the first call nothing is
    /// allocated. 64 rows (two auctions of 30 candidates) keep a chunk's widest
    /// activation, 64 x 128 floats, in L1; chunks of 256 rows were about 10 % slower per
    /// auction (BENCHMARKS.md). The padding costs at most one partly filled chunk per
    /// call.
    struct BatchWorkspace {
        Buffers chunk;               ///< buffers at kBatchRows rows
        VectorX<T> bids;             ///< the chunk's bids (0 in the padding)
        std::vector<Index> offsets;  ///< the chunk's segments, the padding last
        Workspace single;            ///< auctions of more than kBatchRows candidates, and ranking scratch
    };

    /// What `relaxed_backward` needs from the last `relaxed_forward` (mechanisms/relaxed.hpp),
    /// plus backward scratch; caller-owned, reuse one per thread (resize only).
    struct RelaxedCache {
        Index profiles = 0;              ///< C
        Index total = 0;                 ///< candidate rows of the batch
        std::vector<Index> offsets;      ///< B + 1 candidate offsets of the batch
        std::vector<Index> segments;     ///< C·B + 1 offsets of the (profile, auction) segments
        std::vector<Index> k;            ///< per auction: K_b = min(K, N_b)
        std::vector<Index> beta_offsets; ///< B + 1 offsets into `beta`
        VectorX<T> beta;                 ///< stacked slot CTRs β_1..β_{K_b} per auction
        VectorX<T> ctr;                  ///< total: candidate CTRs
        MatrixX<T> x;                    ///< total x (D + 2) bid-free inputs
        typename DeepSet<T>::Cache set;  ///< set encoder (once per auction: bid-free)
        MatrixX<T> xp;                   ///< C·total x F: x' = [x, h'], repeated per profile
        VectorX<T> bids;                 ///< C·total: the profiles' bids
        typename MinMaxScorer<T>::Cache score;           ///< scorer cache (forward)
        typename MinMaxScorer<T>::InverseCache inverse;  ///< r⁻¹ over the forward's rows
        VectorX<T> r;                    ///< C·total rank scores; their hard order per segment (local
                                         ///< indices, ties → lower) is sort.order, NeuralSort's argsort
        NeuralSortCache<T> sort;         ///< sort.p = P̂ (first K rows per segment)
        std::vector<Index> next;         ///< per row: the row right below it in its segment, kNone for the last
        VectorX<T> t, raw;               ///< per row: next score (own score for the last) and r⁻¹(t; x')
        VectorX<T> price, click;         ///< per row: the outcome's price and click
        // backward scratch
        TopKRows<T> dp;
        VectorX<T> dr, db, dbids;
        MatrixX<T> dxp, dh;
    };

    /// Builds the layout: DeepSet "dna.set" over D + 2 inputs, MIN-MAX "dna.rank" over
    /// D + 2 + H features. theta is zero until `init`. Throws input_error on bad sizes.
    explicit Dna(DnaConfig config = {}) : Dna(std::move(config), /*allocate=*/true) {}

    /// The layout a model of config `c` has, without allocating its parameters: the
    /// loader checks a file's manifest against it before building the model, so a
    /// corrupt hyper-parameter cannot make it allocate more than the file holds
    /// (io/persist.hpp).
    static ParamLayout layout_for(const DnaConfig& c) { return Dna(c, /*allocate=*/false).layout_; }

    const DnaConfig& config() const { return cfg_; }
    const ParamLayout& layout() const { return layout_; }
    VectorX<T>& theta() { return theta_; }
    const VectorX<T>& theta() const { return theta_; }
    const DeepSet<T>& set_encoder() const { return set_; }
    const MinMaxScorer<T>& scorer() const { return scorer_; }
    /// Width of x (D + 2), of h' (H) and of x' (D + 2 + H).
    Index input_dim() const { return candidate_input_dim(cfg_.feature_dim); }
    Index context_dim() const { return set_.out_dim(); }
    Index scorer_dim() const { return input_dim() + context_dim(); }

    // ----- persistence (io/persist.hpp: save(model, …), load<Dna<T>>(…)) -----
    using config_type = DnaConfig;
    /// Model-file kind and version. Version 1: hyper-parameters feature_dim, phi1,
    /// phi2, groups, units; the manifest of Dna's layout (Dense weights stored in x out).
    static constexpr std::string_view model_kind = "dna";
    static constexpr std::uint32_t model_version = 1;
    static void write_config(const DnaConfig& c, HyperParams& h) {
        const auto list = [](const std::vector<Index>& v) { return HyperParams::IntList(v.begin(), v.end()); };
        h.set_int("feature_dim", c.feature_dim)
            .set_int_list("phi1", list(c.phi1))
            .set_int_list("phi2", list(c.phi2))
            .set_int("groups", c.groups)
            .set_int("units", c.units);
    }
    /// The config of a model file (hyper_param_error naming the key when a value is
    /// missing, mistyped or out of range).
    static DnaConfig read_config(const HyperParams& h) {
        DnaConfig c;
        c.feature_dim = hyper_count(h, "feature_dim", 0);
        c.phi1 = hyper_widths(h, "phi1");
        c.phi2 = hyper_widths(h, "phi2");
        c.groups = hyper_count(h, "groups", 1);
        c.units = hyper_count(h, "units", 1);
        return c;
    }

    /// Glorot-uniform set encoder, MinMaxScorer::init for the scorer, from `seed`.
    void init(std::uint64_t seed) {
        Rng rng(seed);
        set_.init(theta_, rng);
        scorer_.init(theta_, rng);
    }

    /// Throws input_error unless `a` is a valid ordinary auction with D feature columns.
    void check_auction(const AuctionView<T>& a, Index auction = kNone) const {
        check_candidate_inputs(a, cfg_.feature_dim, "DNA", auction);
    }

    /// Serving outcome (τ = 0): validates `a`, ranks by r, fills min(K, N) slots,
    /// prices each winner at its critical bid (see the class comment).
    void run(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        check_auction(a);
        serve_validated(a, out, ws);
    }

    /// Serving outcomes of many auctions in one call: outs[b] = the outcome `run`
    /// gives auctions[b], bit for bit (tested). Validates every auction first (an
    /// input_error names the auction's index; no outcome is written then), then
    /// scores the auctions in stacked chunks of kBatchRows candidates.
    void run_batch(std::span<const AuctionView<T>> auctions, std::span<Outcome<T>> outs, BatchWorkspace& ws) const {
        detail::require(outs.size() == auctions.size(), "outs", kNone, "needs one outcome per auction");
        for (std::size_t b = 0; b < auctions.size(); ++b) check_auction(auctions[b], static_cast<Index>(b));
        Buffers& c = ws.chunk;
        c.x.resize(kBatchRows, input_dim());
        ws.bids.resize(kBatchRows);
        std::size_t b = 0;
        while (b < auctions.size()) {
            if (auctions[b].num_candidates() > kBatchRows) {  // too large for a chunk: alone
                serve_validated(auctions[b], outs[b], ws.single);
                ++b;
                continue;
            }
            const std::size_t first = b;
            Index rows = 0;
            ws.offsets.assign(1, 0);
            for (; b < auctions.size() && rows + auctions[b].num_candidates() <= kBatchRows; ++b) {
                const Index n = auctions[b].num_candidates();
                write_candidate_inputs(auctions[b], cfg_.feature_dim, c.x, rows);
                ws.bids.segment(rows, n) = auctions[b].bids;
                rows += n;
                ws.offsets.push_back(rows);
            }
            if (rows < kBatchRows) {
                c.x.bottomRows(kBatchRows - rows).setZero();
                ws.bids.tail(kBatchRows - rows).setZero();
                ws.offsets.push_back(kBatchRows);
            }
            score_rows(ws.bids, ws.offsets, c);
            for (std::size_t q = first; q < b; ++q)
                fill_outcome(auctions[q], c, ws.offsets[q - first], outs[q], ws.single.order, static_cast<Index>(q));
        }
    }

    /// The relaxed outcome (τ > 0) of `batch` under C = bids.size() / total bid profiles
    /// (the contract: mechanisms/relaxed.hpp). Per auction, once (bids never enter):
    /// x, h' = DeepSet(x), x' = [x, h']. Per profile: r = MinMax(b; x'). Per (profile,
    /// auction) segment: P̂ = NeuralSort(r, τ), first K_b = min(K, N_b) rows;
    /// alloc(i, k) = P̂[k, i]; price_i = max(0, r⁻¹(r_next(i); x'_i)) from the candidate
    /// right below i in the hard order (ties → lower index; 0 for the last);
    /// click_i = ctr_i Σ_{k<K_b} β_k P̂[k, i]; payment_i = price_i·click_i. `focus` is
    /// checked but not used (every row is computed). Throws input_error for a batch of
    /// another feature width ("features") or with joint auctions ("owners") and for the
    /// shared checks of detail::check_relaxed_args ("batch", "bids", "tau", "focus").
    void relaxed_forward(const Batch<T>& batch, const Eigen::Ref<const VectorX<T>>& bids, T tau, RelaxedCache& c,
                         RelaxedOutcome<T>& out, std::span<const Index> focus = {}) const {
        const Index np = detail::check_relaxed_args(batch, bids, tau, focus);
        const Index nb = batch.size(), total = batch.total_candidates();
        c.profiles = np;
        c.total = total;
        c.offsets.assign(batch.offsets().begin(), batch.offsets().end());
        c.k.resize(static_cast<std::size_t>(nb));
        c.beta_offsets.resize(static_cast<std::size_t>(nb) + 1);
        c.beta_offsets[0] = 0;
        Index kmax = 1;
        for (Index b = 0; b < nb; ++b) {
            const AuctionView<T> a = batch.auction(b);
            check_batch_auction(a, b);
            const Index n = a.num_candidates();
            const Index kb = std::min(a.num_slots(), n);
            c.k[static_cast<std::size_t>(b)] = kb;
            kmax = std::max(kmax, kb);
            c.beta_offsets[static_cast<std::size_t>(b) + 1] = c.beta_offsets[static_cast<std::size_t>(b)] + kb;
        }
        c.x.resize(total, input_dim());
        c.ctr.resize(total);
        c.beta.resize(c.beta_offsets.back());
        for (Index b = 0; b < nb; ++b) {
            const AuctionView<T> a = batch.auction(b);
            const Index o = batch.begin(b), n = a.num_candidates(), kb = c.k[static_cast<std::size_t>(b)];
            write_candidate_inputs(a, cfg_.feature_dim, c.x, o);
            c.ctr.segment(o, n) = a.ctr;
            c.beta.segment(c.beta_offsets[static_cast<std::size_t>(b)], kb) = a.slot_ctr.head(kb);
        }

        // Set encoder once (bid-free), x' once per profile, scores of every row.
        const MatrixX<T>& h = set_.forward(theta_, c.x, c.offsets, c.set);
        c.xp.resize(np * total, scorer_dim());
        for (Index p = 0; p < np; ++p) {
            c.xp.block(p * total, 0, total, input_dim()) = c.x;
            c.xp.block(p * total, input_dim(), total, context_dim()) = h;
        }
        c.bids = bids;
        scorer_.forward(theta_, c.bids, c.xp, c.r, c.score);

        // Relaxed sort per (profile, auction); its argsort (descending, ties → lower) is
        // also the hard order.
        detail::relaxed_segments(c.offsets, np, c.segments);
        neural_sort<T>(c.r, c.segments, kmax, tau, c.sort);
        const std::vector<Index>& order = c.sort.order;

        // The next-score prices: one vectorised inverse over every row (the last of each
        // segment inverts its own score, unused).
        const Index rows = np * total, segs = np * nb;
        c.next.assign(static_cast<std::size_t>(rows), kNone);
        c.t = c.r;
        for (Index s = 0; s < segs; ++s) {
            const Index o = c.segments[static_cast<std::size_t>(s)], n = c.segments[static_cast<std::size_t>(s) + 1] - o;
            for (Index q = 0; q + 1 < n; ++q) {
                const Index i = o + order[static_cast<std::size_t>(o + q)];
                const Index nx = o + order[static_cast<std::size_t>(o + q + 1)];
                c.next[static_cast<std::size_t>(i)] = nx;
                c.t[i] = c.r[nx];
            }
        }
        scorer_.inverse_of(c.score, c.t, c.raw, c.inverse);
        c.price.resize(rows);
        for (Index i = 0; i < rows; ++i)
            c.price[i] = c.next[static_cast<std::size_t>(i)] == kNone ? T(0) : std::max(T(0), c.raw[i]);

        // The outcome: alloc = P̂ᵀ (first K_b slots), click = ctr ⊙ P̂ᵀβ, payment = price ⊙ click.
        out.reset(np, total, kmax);
        c.click.resize(rows);
        for (Index s = 0; s < segs; ++s) {
            const Index b = s % nb;
            const Index o = c.segments[static_cast<std::size_t>(s)], n = c.segments[static_cast<std::size_t>(s) + 1] - o;
            const Index kb = c.k[static_cast<std::size_t>(b)], bo = c.beta_offsets[static_cast<std::size_t>(b)];
            const auto p = c.sort.p.block(s);
            auto click = c.click.segment(o, n);
            click.setZero();
            for (Index kk = 0; kk < kb; ++kk) {
                out.alloc.col(kk).segment(o, n) = p.row(kk).transpose();
                click += c.beta[bo + kk] * p.row(kk).transpose();
            }
            click.array() *= c.ctr.segment(c.offsets[static_cast<std::size_t>(b)], n).array();
        }
        out.click = c.click;
        out.price = c.price;
        out.payment.array() = c.price.array() * c.click.array();
    }

    /// Backward of `relaxed_forward` (the cache of its last call; mechanisms/relaxed.hpp):
    /// ADDS dL/dθ into `grad` and, when `d_bids` is given, writes dL/dbids (C·total).
    /// With w_i = d_click_i + price_i·d_payment_i: dL/dP̂[k, i] = d_alloc(i, k) +
    /// β_k ctr_i w_i, and dL/dprice_i = click_i·d_payment_i, which flows through both
    /// scores of the price: r⁻¹'s backward wrt its own x' and parameters and wrt the
    /// target t = r_next, which then flows through the next candidate's MIN-MAX
    /// backward (and into that candidate's bid). The hard orders (prices' "next") are
    /// piecewise constant and carry no gradient; a zero raw price (clamped) passes none.
    void relaxed_backward(RelaxedCache& c, const RelaxedGradient<T>& d, VectorX<T>& grad, VectorX<T>* d_bids) const {
        detail::require(grad.size() == theta_.size(), "grad", kNone, "must have the size of theta");
        const Index np = c.profiles, total = c.total, rows = np * total;
        detail::require(np >= 1 && !c.k.empty() && c.r.size() == rows && c.price.size() == rows, "cache", kNone,
                        "does not come from relaxed_forward");
        const Index nb = static_cast<Index>(c.k.size()), segs = np * nb;
        detail::check_relaxed_gradient(d, rows, c.sort.p.k());
        const bool has_alloc = d.d_alloc.size() != 0, has_click = d.d_click.size() != 0;
        const bool has_pay = d.d_payment.size() != 0;
        c.dp.resize_like(c.sort.p);
        c.dp.setZero();
        for (Index s = 0; s < segs; ++s) {
            const Index b = s % nb;
            const Index o = c.segments[static_cast<std::size_t>(s)], n = c.segments[static_cast<std::size_t>(s) + 1] - o;
            const Index kb = c.k[static_cast<std::size_t>(b)], bo = c.beta_offsets[static_cast<std::size_t>(b)];
            const Index co = c.offsets[static_cast<std::size_t>(b)];
            auto dseg = c.dp.block(s);
            for (Index j = 0; j < n; ++j) {
                const Index i = o + j;
                T w = T(0);
                if (has_click) w += d.d_click[i];
                if (has_pay) w += c.price[i] * d.d_payment[i];
                const T wc = w * c.ctr[co + j];
                for (Index kk = 0; kk < kb; ++kk)
                    dseg(kk, j) = (has_alloc ? d.d_alloc(i, kk) : T(0)) + c.beta[bo + kk] * wc;
            }
        }
        c.dr.setZero(rows);
        neural_sort_backward<T>(c.sort, c.dp, c.dr);

        if (has_pay) {
            c.db.resize(rows);
            for (Index i = 0; i < rows; ++i)
                c.db[i] = c.next[static_cast<std::size_t>(i)] != kNone && c.raw[i] > T(0) ? d.d_payment[i] * c.click[i]
                                                                                         : T(0);
            // dL/dt_i = db_i e^{-w_j} at r⁻¹'s active unit j (what inverse_of_backward's
            // *dt would hold), so that the scorer's backward can run first and the
            // inverse's x' gradient then accumulates into the same dxp.
            for (Index i = 0; i < rows; ++i) {
                const Index nx = c.next[static_cast<std::size_t>(i)];
                if (nx != kNone) c.dr[nx] += c.db[i] * c.score.inv_slope[c.inverse.active[static_cast<std::size_t>(i)]];
            }
        }
        scorer_.backward(theta_, c.bids, c.xp, c.score, c.dr, grad, d_bids != nullptr ? &c.dbids : nullptr, &c.dxp);
        if (has_pay)
            scorer_.inverse_of_backward(theta_, c.t, c.xp, c.score, c.inverse, c.db, grad, nullptr, &c.dxp);
        if (d_bids != nullptr) *d_bids = c.dbids;
        if (np == 1) {
            set_.backward(theta_, c.x, c.set, c.dxp.rightCols(context_dim()), grad, nullptr);
        } else {  // h' is shared by the profiles: their gradients add up
            c.dh = c.dxp.block(0, input_dim(), total, context_dim());
            for (Index p = 1; p < np; ++p) c.dh += c.dxp.block(p * total, input_dim(), total, context_dim());
            set_.backward(theta_, c.x, c.set, c.dh, grad, nullptr);
        }
    }

private:
    Dna(DnaConfig config, bool allocate)
        : cfg_(std::move(config)),
          // (config checked first: the comma expression runs before the encoder is built)
          set_((check_config(cfg_), layout_), "dna.set", cfg_.feature_dim + 2, cfg_.phi1, cfg_.phi2),
          scorer_(layout_, "dna.rank", cfg_.groups, cfg_.units, cfg_.feature_dim + 2 + set_.out_dim()),
          theta_(VectorX<T>::Zero(allocate ? layout_.size() : 0)) {}

    // The relaxed pass's checks of auction b beyond those the batch made when it was
    // pushed (validate): the feature width and ordinary auctions only.
    void check_batch_auction(const AuctionView<T>& a, Index b) const {
        detail::require(!a.joint(), "owners", kNone, "DNA takes ordinary auctions, not joint ones", b);
        const Index d = cfg_.feature_dim;
        const bool ok =
            d == 0 ? a.features.cols() == 0 : (a.features.cols() == d && a.features.rows() == a.num_candidates());
        detail::require(ok, "features", kNone, [&] {
            return "is " + std::to_string(a.features.rows()) + " x " + std::to_string(a.features.cols()) +
                   " but the model takes N x " + std::to_string(d);
        }, b);
    }
    // `run` after validation: the auction alone in the buffers of its N.
    void serve_validated(const AuctionView<T>& a, Outcome<T>& out, Workspace& ws) const {
        const Index n = a.num_candidates();
        if (static_cast<Index>(ws.by_n.size()) <= n) ws.by_n.resize(static_cast<std::size_t>(n) + 1);
        ws.last_n = n;
        Buffers& buf = ws.by_n[static_cast<std::size_t>(n)];
        buf.x.resize(n, input_dim());
        write_candidate_inputs(a, cfg_.feature_dim, buf.x, 0);
        const std::array<Index, 2> offsets{0, n};
        score_rows(a.bids, offsets, buf);
        fill_outcome(a, buf, 0, out, ws.order);
    }
    // Scores every row of buf.x (segments `offsets`): h', x' = [x, h'], r.
    void score_rows(const Eigen::Ref<const VectorX<T>>& bids, std::span<const Index> offsets, Buffers& buf) const {
        const MatrixX<T>& h = set_.forward(theta_, buf.x, offsets, buf.set);
        buf.xp.resize(buf.x.rows(), scorer_dim());
        buf.xp.leftCols(input_dim()) = buf.x;
        buf.xp.rightCols(context_dim()) = h;
        scorer_.score(theta_, bids, buf.xp, buf.r, buf.score);
    }
    // The outcome of auction `a`, scored at rows o..o+N of `buf`: hard order, slots,
    // critical-bid prices (see the class comment).
    void fill_outcome(const AuctionView<T>& a, const Buffers& buf, Index o, Outcome<T>& out,
                      std::vector<Index>& order, Index auction = kNone) const {
        const Index n = a.num_candidates(), k = a.num_slots();
        require_finite_output(buf.r.segment(o, n), "DNA", "rank scores", auction);
        // Slots and prices read only the first K + 1 ranks.
        detail::rank_by_score<T>(std::span<const T>(buf.r.data() + o, static_cast<std::size_t>(n)), order,
                                 static_cast<std::size_t>(k) + 1);
        out.reset(k, n);
        const Index shown = std::min(k, n);
        for (Index s = 0; s < shown; ++s) {
            const Index i = order[static_cast<std::size_t>(s)];
            T price = T(0);
            if (s + 1 < n) {
                // Critical bid over [0, ∞), from the scorer's affine part of row i (no
                // product); min() only absorbs last-ulp rounding.
                const T next = buf.r[o + order[static_cast<std::size_t>(s) + 1]];
                price = std::min(std::max(T(0), scorer_.inverse_at(buf.score, o + i, next)), a.bids[i]);
            }
            out.slots[static_cast<std::size_t>(s)] = i;
            out.price[static_cast<std::size_t>(i)] = price;
            out.click_prob[static_cast<std::size_t>(i)] = a.slot_ctr[s] * a.ctr[i];
        }
    }
    static void check_config(const DnaConfig& c) {
        detail::require(c.feature_dim >= 0, "feature_dim", kNone, "must be >= 0");
        detail::require(!c.phi1.empty() && !c.phi2.empty(), "phi1/phi2", kNone, "need at least one layer each");
    }
    DnaConfig cfg_;
    ParamLayout layout_;
    DeepSet<T> set_;
    MinMaxScorer<T> scorer_;
    VectorX<T> theta_;
};

}  // namespace diffauction
