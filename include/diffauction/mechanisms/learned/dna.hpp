// diffauction/mechanisms/learned/dna.hpp - DNA, the Deep Neural Auction (SPEC §4.1; Liu et
// al., KDD 2021): the serving mechanism (τ = 0) and the relaxed outcome and loss used
// in training; train/dna_training.hpp plugs it into the Trainer.
//
//   x_i  = [features_i, ctr_i, cvr_i]              bid-free input (choice, see Dna)
//   h'_i = DeepSet(x over i's auction)_i           context; bids never enter
//   x'_i = [x_i, h'_i]
//   r_i  = MinMax(b_i; x'_i)                       strictly increasing in b_i
//   serving: sort by r (ties → lower index), top min(K, N) win; slot k pays
//            p = min(max(0, r⁻¹(r_(k+1); x'_i)), b_i) per click (0 when nobody is below)
//   training: P̂ = NeuralSort(r, τ) (first K rows), F_all[i] = Σ_l λ_l f_l(i),
//            L = −Σ_k β_k P̂[k,:]·F_all − (α/K) Σ_k log P̂[k, y_k]
#pragma once

#include <algorithm>
#include <array>
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

/// Weights of the training objective F_all[i] = Σ_l λ_l f_l(i) and of L_ce.
///
/// Units (choice): every term is divided by its scale, so that with scales equal to
/// the terms' typical sizes the λ's are dimensionless mix weights. `DnaTrainable`
/// sets the scales to training-set means by default (`normalise_objective`); with
/// all scales 1 the λ's carry the units of their terms (revenue per impression at
/// position factor 1, and whatever the metric columns hold).
template <Scalar T>
struct DnaObjective {
    /// λ of revenue, f_rev(i) = price_i·ctr_i, price_i = max(0, r⁻¹(r_next(i); x'_i))
    /// from the candidate right below i in the hard order (0 for the last one).
    T revenue = T(1);
    /// λ_l of column l of `Log::metrics` (for the synthetic market: MarketMetric —
    /// ctr, ctr·cvr, ctr·cvr·price (GMV), ctr·value); may be shorter than L (missing = 0).
    std::vector<T> metrics{};
    T revenue_scale = T(1);          ///< f_rev is divided by this (> 0)
    std::vector<T> metric_scales{};  ///< f_l is divided by metric_scales[l] (> 0; missing = 1)
    /// Weight α of L_ce (>= 0). (choice) 0.1: on the synthetic market, revenue-only
    /// training (2 500 steps, examples/train_dna.cpp) reached a held-out RPM of 345 at
    /// α = 1, 369 at α = 0.1, 371 at α = 0.03 and 369 at α = 0: L_ce's target order
    /// (realised price·ctr) conflicts with the revenue term once τ is small.
    T alpha = T(0.1);
};

namespace detail {
template <Scalar T>
void validate_objective(const DnaObjective<T>& o) {
    require(std::isfinite(o.revenue), "objective.revenue", kNone, "must be finite");
    require(std::isfinite(o.revenue_scale) && o.revenue_scale > T(0), "objective.revenue_scale", kNone,
            "must be finite and > 0");
    for (std::size_t l = 0; l < o.metrics.size(); ++l)
        require(std::isfinite(o.metrics[l]), "objective.metrics", static_cast<Index>(l), "must be finite");
    for (std::size_t l = 0; l < o.metric_scales.size(); ++l)
        require(std::isfinite(o.metric_scales[l]) && o.metric_scales[l] > T(0), "objective.metric_scales",
                static_cast<Index>(l), "must be finite and > 0");
    require(std::isfinite(o.alpha) && o.alpha >= T(0), "objective.alpha", kNone, "must be finite and >= 0");
}
/// Number of metric columns the objective reads (index of the last non-zero λ + 1).
template <Scalar T>
Index metric_columns_used(const DnaObjective<T>& o) {
    Index used = 0;
    for (std::size_t l = 0; l < o.metrics.size(); ++l)
        if (o.metrics[l] != T(0)) used = static_cast<Index>(l) + 1;
    return used;
}
}  // namespace detail

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

    /// Forward values of the relaxed outcome over a ragged batch of samples, and
    /// backward scratch; reuse one per thread (resize only).
    struct TrainCache {
        std::vector<Index> offsets;      ///< B + 1 candidate offsets of the batch
        std::vector<Index> k;            ///< per auction: K_b = min(K, N_b)
        std::vector<Index> beta_offsets; ///< B + 1 offsets into `beta`
        VectorX<T> beta;                 ///< stacked slot CTRs β_1..β_{K_b} per auction
        MatrixX<T> x;                    ///< total x (D + 2) bid-free inputs
        VectorX<T> bids, ctr;            ///< stacked candidate bids and CTRs
        VectorX<T> f_metrics;            ///< metric part of F_all (bid-free, constant)
        typename DeepSet<T>::Cache set;  ///< set encoder
        MatrixX<T> xp;                   ///< total x F: x' = [x, h']
        typename MinMaxScorer<T>::Cache score;           ///< scorer cache (forward)
        typename MinMaxScorer<T>::InverseCache inverse;  ///< r⁻¹ over the forward's rows
        VectorX<T> r;                    ///< stacked rank scores; their hard order (local indices, ties →
                                         ///< lower) is sort.order, NeuralSort's own argsort
        std::vector<Index> next;         ///< per candidate: the candidate right below it (global), kNone for the last
        VectorX<T> t, raw;               ///< per candidate: next score (own score for the last) and r⁻¹(t; x')
        VectorX<T> price;                ///< per candidate: max(0, raw), 0 for the last in order
        VectorX<T> pay;                  ///< per candidate: price ⊙ ctr
        VectorX<T> f;                    ///< F_all per candidate
        /// stacked, per auction: its first K_b candidates by F_all descending (local indices,
        /// ties → lower), the L_ce targets y; the auction's other N_b − K_b entries are kNone
        std::vector<Index> target;
        NeuralSortCache<T> sort;         ///< sort.p = P̂ (first K rows per auction)
        T tau = T(1);
        T loss = T(0);       ///< mean over auctions of L_tgt + α·L_ce
        T loss_tgt = T(0);   ///< mean L_tgt
        T loss_ce = T(0);    ///< mean L_ce
        T revenue = T(0);    ///< mean relaxed expected revenue Σ_k β_k P̂[k,:]·(price ⊙ ctr)
        T rev_coef = T(0), alpha = T(0);
        T inv_b = T(1);      ///< weight of one auction: 1 / (auctions the loss is the mean over)
        // backward scratch
        TopKRows<T> dp;
        VectorX<T> dr, df, db;
        MatrixX<T> dxp;
    };

    /// Builds the layout: DeepSet "dna.set" over D + 2 inputs, MIN-MAX "dna.rank" over
    /// D + 2 + H features. theta is zero until `init`. Throws input_error on bad sizes.
    explicit Dna(DnaConfig config = {})
        : cfg_(std::move(config)),
          // (config checked first: the comma expression runs before the encoder is built)
          set_((check_config(cfg_), layout_), "dna.set", cfg_.feature_dim + 2, cfg_.phi1, cfg_.phi2),
          scorer_(layout_, "dna.rank", cfg_.groups, cfg_.units, cfg_.feature_dim + 2 + set_.out_dim()),
          theta_(VectorX<T>::Zero(layout_.size())) {}

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
                fill_outcome(auctions[q], c, ws.offsets[q - first], outs[q], ws.single.order);
        }
    }

    /// Relaxed outcome and loss over the samples `items` of `samples` (a ragged batch,
    /// each auction with its own N and K): the mean over auctions of
    ///   L_tgt = −Σ_{k<K_b} β_k P̂[k,:]·F_all,   L_ce = −(1/K_b) Σ_{k<K_b} log P̂[k, y_k],
    /// L = L_tgt + α·L_ce, with P̂ = NeuralSort(r, τ) (first K_b = min(K, N_b) rows),
    /// y = candidates by F_all descending (ties → lower index). Returns L and leaves
    /// P̂ (`cache.sort.p`), prices, F_all and the parts in `cache` for `relaxed_backward`.
    /// (choice) P̂[k, y_k] is floored at the smallest normal T before the log, so an
    /// entry that underflowed gives a finite loss and a zero gradient; the τ floor of
    /// the default schedule keeps this rare. Validates every auction, the item indices,
    /// τ > 0, the objective and the metric columns it reads.
    T relaxed_forward(std::span<const Sample<T>> samples, std::span<const Index> items,
                      const DnaObjective<T>& obj, T tau, TrainCache& c) const {
        return relaxed_forward_impl(samples, items, obj, tau, c, true);
    }

private:
    template <Scalar>
    friend class DnaTrainable;
    // relaxed_forward; with check_samples = false the samples are trusted to have been
    // validated already (DnaTrainable checks its own samples once, at construction):
    // the per-step check_auction and metric scans are skipped, nothing else.
    T relaxed_forward_impl(std::span<const Sample<T>> samples, std::span<const Index> items,
                           const DnaObjective<T>& obj, T tau, TrainCache& c, bool check_samples,
                           Index mean_over = 0) const {
        detail::validate_objective(obj);
        detail::require(std::isfinite(tau) && tau > T(0), "tau", kNone, "must be finite and > 0");
        detail::require(!items.empty(), "items", kNone, "is empty");
        const Index used = detail::metric_columns_used(obj);
        const Index nb = static_cast<Index>(items.size());
        c.offsets.resize(items.size() + 1);
        c.beta_offsets.resize(items.size() + 1);
        c.k.resize(items.size());
        c.offsets[0] = 0;
        c.beta_offsets[0] = 0;
        Index kmax = 1;
        for (Index b = 0; b < nb; ++b) {
            const Index item = items[static_cast<std::size_t>(b)];
            detail::require(item >= 0 && item < static_cast<Index>(samples.size()), "items", b, "is out of range");
            const Sample<T>& s = samples[static_cast<std::size_t>(item)];
            if (check_samples) check_auction(s.auction, item);
            const Index n = s.auction.num_candidates();
            if (check_samples && used > 0)
                detail::require(s.log.metrics.rows() == n && s.log.metrics.cols() >= used &&
                                    detail::all_finite(s.log.metrics),
                                "log.metrics", kNone, [&] {
                                    return "must be N x L (L >= " + std::to_string(used) +
                                           ", the columns the objective weighs) and finite";
                                }, item);
            const Index kb = std::min(s.auction.num_slots(), n);
            c.k[static_cast<std::size_t>(b)] = kb;
            kmax = std::max(kmax, kb);
            c.offsets[static_cast<std::size_t>(b) + 1] = c.offsets[static_cast<std::size_t>(b)] + n;
            c.beta_offsets[static_cast<std::size_t>(b) + 1] = c.beta_offsets[static_cast<std::size_t>(b)] + kb;
        }
        const Index total = c.offsets.back();
        c.x.resize(total, input_dim());
        c.bids.resize(total);
        c.ctr.resize(total);
        c.f_metrics.resize(total);
        c.beta.resize(c.beta_offsets.back());
        for (Index b = 0; b < nb; ++b) {
            const Sample<T>& s = samples[static_cast<std::size_t>(items[static_cast<std::size_t>(b)])];
            const AuctionView<T> a = s.auction;
            const Index o = c.offsets[static_cast<std::size_t>(b)], n = a.num_candidates();
            write_candidate_inputs(a, cfg_.feature_dim, c.x, o);
            c.bids.segment(o, n) = a.bids;
            c.ctr.segment(o, n) = a.ctr;
            c.beta.segment(c.beta_offsets[static_cast<std::size_t>(b)], c.k[static_cast<std::size_t>(b)]) =
                a.slot_ctr.head(c.k[static_cast<std::size_t>(b)]);
            auto fm = c.f_metrics.segment(o, n);
            fm.setZero();
            for (Index l = 0; l < used; ++l) {
                const T w = obj.metrics[static_cast<std::size_t>(l)] / metric_scale(obj, l);
                if (w != T(0)) fm += w * s.log.metrics.col(l);
            }
        }

        // Set encoder, x', scores.
        const MatrixX<T>& h = set_.forward(theta_, c.x, c.offsets, c.set);
        c.xp.resize(total, scorer_dim());
        c.xp.leftCols(input_dim()) = c.x;
        c.xp.rightCols(context_dim()) = h;
        scorer_.forward(theta_, c.bids, c.xp, c.r, c.score);

        // Relaxed sort; its argsort (descending, ties → lower) is also the hard order.
        c.tau = tau;
        neural_sort<T>(c.r, c.offsets, kmax, tau, c.sort);
        const std::vector<Index>& order = c.sort.order;

        // The next-score prices: one vectorised inverse over every candidate (the last
        // of each auction inverts its own score, unused).
        c.next.assign(static_cast<std::size_t>(total), kNone);
        c.t = c.r;
        for (Index b = 0; b < nb; ++b) {
            const Index o = c.offsets[static_cast<std::size_t>(b)], n = c.offsets[static_cast<std::size_t>(b) + 1] - o;
            for (Index q = 0; q + 1 < n; ++q) {
                const Index i = o + order[static_cast<std::size_t>(o + q)];
                const Index nx = o + order[static_cast<std::size_t>(o + q + 1)];
                c.next[static_cast<std::size_t>(i)] = nx;
                c.t[i] = c.r[nx];
            }
        }
        c.rev_coef = obj.revenue / obj.revenue_scale;
        c.alpha = obj.alpha;
        scorer_.inverse_of(c.score, c.t, c.raw, c.inverse);
        c.price.resize(total);
        for (Index i = 0; i < total; ++i)
            c.price[i] = c.next[static_cast<std::size_t>(i)] == kNone ? T(0) : std::max(T(0), c.raw[i]);
        c.pay.resize(total);
        c.pay.array() = c.price.array() * c.ctr.array();
        c.f.resize(total);
        c.f.array() = c.rev_coef * c.pay.array() + c.f_metrics.array();

        // The loss.
        c.target.assign(static_cast<std::size_t>(total), kNone);
        const T floor = std::numeric_limits<T>::min();
        T tgt = T(0), ce = T(0), rev = T(0);
        for (Index b = 0; b < nb; ++b) {
            const Index o = c.offsets[static_cast<std::size_t>(b)], n = c.offsets[static_cast<std::size_t>(b) + 1] - o;
            const Index kb = c.k[static_cast<std::size_t>(b)], bo = c.beta_offsets[static_cast<std::size_t>(b)];
            const auto p = c.sort.p.block(b);
            const auto f = c.f.segment(o, n);
            detail::top_k_descending<T>(f, c.target.data() + o, n, kb);
            T ce_b = T(0);
            for (Index kk = 0; kk < kb; ++kk) {
                const T beta = c.beta[bo + kk];
                tgt -= beta * p.row(kk).dot(f.transpose());
                rev += beta * p.row(kk).dot(c.pay.segment(o, n).transpose());
                const T py = p(kk, c.target[static_cast<std::size_t>(o + kk)]);
                ce_b -= std::log(std::max(py, floor));
            }
            ce += ce_b / static_cast<T>(kb);
        }
        const T inv_b = T(1) / static_cast<T>(mean_over > 0 ? mean_over : nb);
        c.inv_b = inv_b;
        c.loss_tgt = tgt * inv_b;
        c.loss_ce = ce * inv_b;
        c.revenue = rev * inv_b;
        c.loss = c.loss_tgt + c.alpha * c.loss_ce;
        return c.loss;
    }

public:
    /// Backward of `relaxed_forward` (the cache of its last call): ADDS dL/dθ into
    /// `grad`. Revenue's gradient flows through both scores of each price: r⁻¹'s
    /// backward wrt its own x' and parameters and wrt the target t = r_next, which
    /// then flows through the next candidate's MIN-MAX backward. The hard orders
    /// (prices' "next", the targets y) are piecewise constant and carry no gradient.
    void relaxed_backward(TrainCache& c, VectorX<T>& grad) const {
        detail::require(grad.size() == theta_.size(), "grad", kNone, "must have the size of theta");
        detail::require(!c.k.empty() && c.r.size() == c.offsets.back(), "cache", kNone,
                        "does not come from relaxed_forward");
        const Index nb = static_cast<Index>(c.k.size()), total = c.offsets.back();
        const T inv_b = c.inv_b;
        const T floor = std::numeric_limits<T>::min();
        c.dp.resize_like(c.sort.p);
        c.dp.setZero();
        c.df.setZero(total);
        for (Index b = 0; b < nb; ++b) {
            const Index o = c.offsets[static_cast<std::size_t>(b)], n = c.offsets[static_cast<std::size_t>(b) + 1] - o;
            const Index kb = c.k[static_cast<std::size_t>(b)], bo = c.beta_offsets[static_cast<std::size_t>(b)];
            const auto p = c.sort.p.block(b);
            auto d = c.dp.block(b);
            auto df = c.df.segment(o, n);
            const auto f = c.f.segment(o, n);
            for (Index kk = 0; kk < kb; ++kk) {
                const T g = c.beta[bo + kk] * inv_b;
                d.row(kk) = -g * f.transpose();
                df -= g * p.row(kk).transpose();
                const Index y = c.target[static_cast<std::size_t>(o + kk)];
                const T py = p(kk, y);
                if (py >= floor) d(kk, y) -= c.alpha * inv_b / (static_cast<T>(kb) * py);
            }
        }
        c.dr.setZero(total);
        neural_sort_backward<T>(c.sort, c.dp, c.dr);

        const bool through_price = c.rev_coef != T(0);
        if (through_price) {
            c.db.resize(total);
            for (Index i = 0; i < total; ++i)
                c.db[i] = c.next[static_cast<std::size_t>(i)] != kNone && c.raw[i] > T(0)
                              ? c.df[i] * c.rev_coef * c.ctr[i]
                              : T(0);
            // dL/dt_i = db_i e^{-w_j} at r⁻¹'s active unit j (what inverse_of_backward's
            // *dt would hold), so that the scorer's backward can run first and the
            // inverse's x' gradient then accumulates into the same dxp.
            for (Index i = 0; i < total; ++i) {
                const Index nx = c.next[static_cast<std::size_t>(i)];
                if (nx != kNone) c.dr[nx] += c.db[i] * c.score.inv_slope[c.inverse.active[static_cast<std::size_t>(i)]];
            }
        }
        scorer_.backward(theta_, c.bids, c.xp, c.score, c.dr, grad, nullptr, &c.dxp);
        if (through_price)
            scorer_.inverse_of_backward(theta_, c.t, c.xp, c.score, c.inverse, c.db, grad, nullptr, &c.dxp);
        set_.backward(theta_, c.x, c.set, c.dxp.rightCols(context_dim()), grad, nullptr);
    }

private:
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
                      std::vector<Index>& order) const {
        const Index n = a.num_candidates(), k = a.num_slots();
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
    static T metric_scale(const DnaObjective<T>& o, Index l) {
        return l < static_cast<Index>(o.metric_scales.size()) ? o.metric_scales[static_cast<std::size_t>(l)] : T(1);
    }
    DnaConfig cfg_;
    ParamLayout layout_;
    DeepSet<T> set_;
    MinMaxScorer<T> scorer_;
    VectorX<T> theta_;
};

}  // namespace diffauction
