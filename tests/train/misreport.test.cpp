// Misreport search (train/misreport.hpp) over relaxed models (mechanisms/relaxed.hpp)
// and ragged batches, and RegretNetAdditive's relaxed outcome
// (mechanisms/learned/regret_net.hpp): its gradients in θ and in the bids over C
// profiles, feasibility / IR, independence of auctions and profiles; the grid
// (hand-worked second and first price), the gradient ascent (a known best response,
// the clip range, warm starts), both combined, ragged batches equal to each auction
// alone, evaluate_regret, and bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <diffauction/core/batch.hpp>
#include <diffauction/mechanisms/learned/regret_net.hpp>
#include <diffauction/mechanisms/relaxed.hpp>
#include <diffauction/nn/dense.hpp>
#include <diffauction/train/misreport.hpp>

#include "support/gradcheck.hpp"
#include "support/relaxed_functional.hpp"
#include "support/mechanism_properties.hpp"
#include "support/soft_first_price.hpp"

using namespace diffauction;
using test::Functional;
using test::profiles_of;
using test::random_functional;
using test::field_of;
using test::kGradTol;
using test::ragged_samples;
using test::SoftFirstPrice;

namespace {

using Samples = std::vector<Sample<double>>;

/// Hard single-item auctions for hand-worked grid searches, any N (forward only;
/// their backward is zero: the grid never calls it). The highest bid wins, ties to
/// the lower index; the winner pays the second-highest bid of its auction (0 when
/// alone: second price) or its own bid (first price).
struct HardAuction {
    using scalar_type = double;
    struct RelaxedCache {
        Index rows = 0;
    };
    bool first_price = false;
    Eigen::VectorXd theta_ = Eigen::VectorXd::Zero(1);
    Eigen::VectorXd& theta() { return theta_; }
    const Eigen::VectorXd& theta() const { return theta_; }
    void relaxed_forward(const Batch<double>& batch, const Eigen::Ref<const Eigen::VectorXd>& bids, double tau,
                         RelaxedCache& c, RelaxedOutcome<double>& out, std::span<const Index> focus = {}) const {
        const Index profiles = detail::check_relaxed_args(batch, bids, tau, focus);
        const Index total = batch.total_candidates();
        out.reset(profiles, total, 1);
        out.click.setZero();
        out.payment.setZero();
        out.price.setZero();
        for (Index p = 0; p < profiles; ++p)
            for (Index b = 0; b < batch.size(); ++b) {
                const Index o = out.row(p, batch.begin(b)), n = batch.end(b) - batch.begin(b);
                Index w = 0;
                for (Index i = 1; i < n; ++i)
                    if (bids[o + i] > bids[o + w]) w = i;
                double second = 0;
                for (Index i = 0; i < n; ++i)
                    if (i != w) second = std::max(second, bids[o + i]);
                out.alloc(o + w, 0) = out.click[o + w] = 1;
                out.price[o + w] = out.payment[o + w] = first_price ? bids[o + w] : second;
            }
        c.rows = out.rows();
    }
    void relaxed_backward(RelaxedCache& c, const RelaxedGradient<double>&, Eigen::VectorXd&,
                          Eigen::VectorXd* d_bids) const {
        if (d_bids != nullptr) d_bids->setZero(c.rows);
    }
};

/// Smooth toy with a known best response: candidate j of an auction (local index j)
/// gets click = alloc = b_j and pays a_j b_j² with a = theta, so u_j(b) = v_j b − a_j
/// b², maximised at b = v_j / (2 a_j) with u* = v_j² / (4 a_j); the truthful utility
/// is v_j²(1 − a_j).
struct Quadratic {
    using scalar_type = double;
    struct RelaxedCache {
        Eigen::VectorXd bids;
        std::vector<Index> local;  ///< local candidate index of each row
    };
    Eigen::VectorXd theta_;
    explicit Quadratic(Eigen::VectorXd a) : theta_(std::move(a)) {}
    Eigen::VectorXd& theta() { return theta_; }
    const Eigen::VectorXd& theta() const { return theta_; }
    void relaxed_forward(const Batch<double>& batch, const Eigen::Ref<const Eigen::VectorXd>& bids, double tau,
                         RelaxedCache& c, RelaxedOutcome<double>& out, std::span<const Index> focus = {}) const {
        const Index profiles = detail::check_relaxed_args(batch, bids, tau, focus);
        const Index total = batch.total_candidates();
        out.reset(profiles, total, 1);
        c.bids = bids;
        c.local.assign(static_cast<std::size_t>(profiles * total), 0);
        for (Index p = 0; p < profiles; ++p)
            for (Index b = 0; b < batch.size(); ++b)
                for (Index i = batch.begin(b), j = 0; i < batch.end(b); ++i, ++j) {
                    const Index r = out.row(p, i);
                    REQUIRE(j < theta_.size());
                    c.local[static_cast<std::size_t>(r)] = j;
                    out.alloc(r, 0) = out.click[r] = bids[r];
                    out.price[r] = theta_[j] * bids[r];
                    out.payment[r] = theta_[j] * bids[r] * bids[r];
                }
    }
    void relaxed_backward(RelaxedCache& c, const RelaxedGradient<double>& d, Eigen::VectorXd& grad,
                          Eigen::VectorXd* d_bids) const {
        const Index rows = c.bids.size();
        if (d_bids != nullptr) d_bids->setZero(rows);
        for (Index r = 0; r < rows; ++r) {
            const Index j = c.local[static_cast<std::size_t>(r)];
            const double dp = d.d_payment.size() != 0 ? d.d_payment[r] : 0.0;
            const double da =
                (d.d_alloc.size() != 0 ? d.d_alloc(r, 0) : 0.0) + (d.d_click.size() != 0 ? d.d_click[r] : 0.0);
            grad[j] += dp * c.bids[r] * c.bids[r];
            if (d_bids != nullptr) (*d_bids)[r] = da + dp * 2 * theta_[j] * c.bids[r];
        }
    }
};

static_assert(RelaxedModel<RegretNetAdditive<double>>);
static_assert(RelaxedModel<RegretNetAdditive<float>>);
static_assert(!RelaxedMechanism<RegretNetAdditive<double>>);  // a lottery: trained, never served
static_assert(RelaxedModel<HardAuction>);
static_assert(RelaxedModel<Quadratic>);
static_assert(RelaxedModel<SoftFirstPrice>);
static_assert(!RelaxedModel<Dense<double>>);
static_assert(!RelaxedModel<int>);

MatrixX<double> uniform_matrix(Rng& rng, Index rows, Index cols, double lo = 0, double hi = 1) {
    MatrixX<double> m(rows, cols);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(lo, hi);
    return m;
}

Batch<double> batch_of(const Samples& samples) {
    Batch<double> b;
    for (const Sample<double>& s : samples) b.push_back(s.auction);
    return b;
}

Eigen::VectorXd values_of(const Samples& samples) {
    Eigen::VectorXd v;
    truthful_values(std::span<const Sample<double>>(samples), v);
    return v;
}


constexpr double kTau = 1.0;  // RegretNet checks τ but does not read it

}  // namespace

TEST_CASE("RegretNetAdditive: relaxed gradients in θ and in the bids match central differences (C = 1, 3)",
          "[train][misreport][grad]") {
    for (const Activation f : {Activation::tanh, Activation::elu})
        for (const Index c : {Index{1}, Index{3}}) {
            INFO("activation " << static_cast<int>(f) << ", profiles " << c);
            Rng rng(41 + static_cast<std::uint64_t>(c));
            RegretNetConfig<double> cfg;
            cfg.bidders = 3;
            cfg.hidden = 5;
            cfg.hidden_layers = 2;
            cfg.activation = f;
            cfg.logit_scale = 2.0;
            RegretNetAdditive<double> net(cfg, 5);
            net.theta() += test::random_vector(rng, net.theta().size(), 0.2);
            const Batch<double> batch = batch_of(single_item_samples<double>(uniform_matrix(rng, 4, 3)));
            const Eigen::VectorXd bids = profiles_of(batch, rng, c);

            RegretNetAdditive<double>::RelaxedCache cache;
            RelaxedOutcome<double> out;
            net.relaxed_forward(batch, bids, kTau, cache, out);
            REQUIRE(out.profiles == c);
            REQUIRE(out.total == 12);
            REQUIRE(out.max_slots() == 1);
            const Functional fn = random_functional(rng, out);
            Eigen::VectorXd grad = Eigen::VectorXd::Zero(net.theta().size()), d_bids;
            net.relaxed_backward(cache, fn.gradient(), grad, &d_bids);
            REQUIRE(d_bids.size() == c * 12);

            const auto loss_at = [&](const Eigen::VectorXd& theta, const Eigen::VectorXd& b) {
                RegretNetAdditive<double> probe = net;
                probe.theta() = theta;
                RegretNetAdditive<double>::RelaxedCache pc;
                RelaxedOutcome<double> po;
                probe.relaxed_forward(batch, b, kTau, pc, po);
                return fn(po);
            };
            const Eigen::VectorXd num_theta =
                test::numeric_gradient([&](const Eigen::VectorXd& t) { return loss_at(t, bids); }, net.theta());
            CHECK(test::relative_error(grad, num_theta) < kGradTol);
            const Eigen::VectorXd num_bids =
                test::numeric_gradient([&](const Eigen::VectorXd& b) { return loss_at(net.theta(), b); }, bids);
            CHECK(test::relative_error(d_bids, num_bids) < kGradTol);
            CHECK(grad.norm() > 0);
            CHECK(d_bids.norm() > 0);

            // Accumulation: a second backward on the same cache adds the same gradient;
            // d_bids is overwritten with the same values.
            Eigen::VectorXd twice = grad, d_bids2;
            net.relaxed_backward(cache, fn.gradient(), twice, &d_bids2);
            CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
            CHECK((d_bids2 - d_bids).norm() == 0.0);

            // Each member of d may be empty, which is zero; each reaches θ and the bids.
            for (int member = 0; member < 3; ++member) {
                INFO("member " << member);
                RelaxedGradient<double> empty = fn.gradient(), zeros = fn.gradient();
                if (member == 0) {
                    empty.d_alloc.resize(0, 0);
                    zeros.d_alloc.setZero();
                } else if (member == 1) {
                    empty.d_click.resize(0);
                    zeros.d_click.setZero();
                } else {
                    empty.d_payment.resize(0);
                    zeros.d_payment.setZero();
                }
                Eigen::VectorXd g1 = Eigen::VectorXd::Zero(grad.size()), g2 = g1, b1, b2;
                net.relaxed_backward(cache, empty, g1, &b1);
                net.relaxed_backward(cache, zeros, g2, &b2);
                CHECK((g1 - g2).norm() == 0.0);
                CHECK((b1 - b2).norm() == 0.0);
                CHECK((g1 - grad).norm() > 1e-3 * grad.norm());  // the member did contribute
            }
            RelaxedGradient<double> none;
            Eigen::VectorXd g0 = Eigen::VectorXd::Zero(grad.size()), b0;
            net.relaxed_backward(cache, none, g0, &b0);
            CHECK(g0.norm() == 0.0);
            CHECK(b0.size() == c * 12);
            CHECK(b0.norm() == 0.0);
        }
}

TEST_CASE("RegretNetAdditive: feasible, IR by construction, auctions and profiles independent, re-entrant",
          "[train][misreport]") {
    Rng rng(42);
    RegretNetConfig<double> cfg;
    cfg.bidders = 3;
    cfg.hidden = 6;
    RegretNetAdditive<double> net(cfg, 9);
    net.theta() += test::random_vector(rng, net.theta().size(), 0.5);
    const Samples xs = single_item_samples<double>(uniform_matrix(rng, 7, 3));
    const Samples ys = single_item_samples<double>(uniform_matrix(rng, 2, 3));
    Samples xys = xs;
    xys.insert(xys.end(), ys.begin(), ys.end());
    const Batch<double> x = batch_of(xs), y = batch_of(ys), xy = batch_of(xys);
    const Eigen::VectorXd bx = values_of(xs), by = values_of(ys), bxy = values_of(xys);
    RegretNetAdditive<double>::RelaxedCache cx, cy, cxy;
    RelaxedOutcome<double> ox, oy, oxy;
    net.relaxed_forward(x, bx, kTau, cx, ox);
    for (Index b = 0; b < 7; ++b) {
        const Index o = x.begin(b);
        CHECK(ox.alloc.col(0).segment(o, 3).minCoeff() >= 0.0);
        CHECK(ox.alloc.col(0).segment(o, 3).sum() < 1.0);  // the dummy keeps some probability
        for (Index r = o; r < o + 3; ++r) {
            CHECK(ox.click[r] == ox.alloc(r, 0));
            CHECK(ox.payment[r] >= 0.0);
            CHECK(ox.payment[r] <= ox.alloc(r, 0) * bx[r]);  // u = v·alloc − p >= 0 at truthful bids
            CHECK(ox.price[r] <= bx[r]);
            CHECK(ox.payment[r] == Approx(ox.price[r] * ox.click[r]).epsilon(1e-14));
        }
    }
    // The focus is a hint RegretNet ignores: the outcome is the same.
    RelaxedOutcome<double> focused;
    const std::vector<Index> focus{1};
    net.relaxed_forward(x, bx, kTau, cy, focused, focus);
    CHECK(focused.payment == ox.payment);
    CHECK(focused.alloc == ox.alloc);

    // Interleaved caches: y's forward does not disturb x's backward; x's rows in the
    // batch xy are x alone.
    net.relaxed_forward(y, by, kTau, cy, oy);
    net.relaxed_forward(xy, bxy, kTau, cxy, oxy);
    CHECK((oxy.alloc.topRows(21) - ox.alloc).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((oxy.payment.head(21) - ox.payment).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((oxy.alloc.bottomRows(6) - oy.alloc).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((oxy.payment.tail(6) - oy.payment).cwiseAbs().maxCoeff() <= 1e-15);
    const Functional fx = random_functional(rng, ox), fy = random_functional(rng, oy);
    Functional fxy;
    fxy.wa.resize(27, 1);
    fxy.wa << fx.wa, fy.wa;
    fxy.wc.resize(27);
    fxy.wc << fx.wc, fy.wc;
    fxy.wp.resize(27);
    fxy.wp << fx.wp, fy.wp;
    Eigen::VectorXd g1 = Eigen::VectorXd::Zero(net.theta().size()), g2 = g1, dbx, dby, dbxy;
    net.relaxed_backward(cx, fx.gradient(), g1, &dbx);
    net.relaxed_backward(cy, fy.gradient(), g1, &dby);
    net.relaxed_backward(cxy, fxy.gradient(), g2, &dbxy);
    CHECK((g1 - g2).norm() <= 1e-12 * g2.norm());
    CHECK((dbxy.head(21) - dbx).cwiseAbs().maxCoeff() <= 1e-12);
    CHECK((dbxy.tail(6) - dby).cwiseAbs().maxCoeff() <= 1e-12);

    // Each profile of a C-profile call is that profile alone.
    const Eigen::VectorXd three = profiles_of(x, rng, 3);
    RelaxedOutcome<double> all, one;
    net.relaxed_forward(x, three, kTau, cx, all);
    REQUIRE(all.rows() == 63);
    for (Index p = 0; p < 3; ++p) {
        INFO("profile " << p);
        net.relaxed_forward(x, Eigen::VectorXd(three.segment(p * 21, 21)), kTau, cy, one);
        CHECK((all.alloc.middleRows(p * 21, 21) - one.alloc).cwiseAbs().maxCoeff() <= 1e-15);
        CHECK((all.payment.segment(p * 21, 21) - one.payment).cwiseAbs().maxCoeff() <= 1e-15);
        CHECK((all.price.segment(p * 21, 21) - one.price).cwiseAbs().maxCoeff() <= 1e-15);
    }
}

TEST_CASE("Grid search: second price has zero regret; first price has the hand-worked best misreports",
          "[train][misreport]") {
    const Samples samples = single_item_samples<double>((MatrixX<double>(2, 2) << 0.3, 0.7, 0.9, 0.2).finished());
    const Batch<double> batch = batch_of(samples);
    const Eigen::VectorXd values = values_of(samples);  // rows: (auction 0: 0.3, 0.7), (auction 1: 0.9, 0.2)
    const std::vector<double> grid = default_misreport_grid();  // {0, 0.1, ..., 2}
    MisreportWorkspace<HardAuction> ws;
    Eigen::VectorXd best_bid, best_u, truthful;

    HardAuction second;
    CHECK(truthful_utilities(second, batch, values, kTau, truthful, ws) == Approx(0.3 + 0.2).margin(1e-15));
    // Truthful: auction 0, bidder 1 wins at 0.3 (u = 0.4); auction 1, bidder 0 wins at 0.2 (u = 0.7).
    CHECK(truthful[0] == 0.0);
    CHECK(truthful[1] == Approx(0.4).margin(1e-15));
    CHECK(truthful[2] == Approx(0.7).margin(1e-15));
    CHECK(truthful[3] == 0.0);
    grid_search_misreports(second, batch, values, kTau, grid, best_bid, best_u, ws);
    CHECK((best_u - truthful).cwiseAbs().maxCoeff() <= 1e-15);  // regret 0
    // Ties keep the first multiplier: bidder 1 of auction 0 first wins at c = 0.5 (0.35 > 0.3).
    CHECK(best_bid[1] == Approx(0.35).margin(1e-15));
    CHECK(best_bid[0] == 0.0);  // a loser gains nothing: c = 0 is the first of the ties

    HardAuction first;
    first.first_price = true;
    truthful_utilities(first, batch, values, kTau, truthful, ws);
    CHECK(truthful.cwiseAbs().maxCoeff() == 0.0);  // pay-your-bid: zero utility when truthful
    grid_search_misreports(first, batch, values, kTau, grid, best_bid, best_u, ws);
    // Auction 0: bidder 1 (v = 0.7) shades to the first grid bid above 0.3: c = 0.5, b' = 0.35, u = 0.35.
    CHECK(best_bid[1] == Approx(0.35).margin(1e-15));
    CHECK(best_u[1] == Approx(0.35).margin(1e-15));
    // Auction 1: bidder 0 (v = 0.9) needs c·0.9 > 0.2: c = 0.3, b' = 0.27, u = 0.63.
    CHECK(best_bid[2] == Approx(0.27).margin(1e-15));
    CHECK(best_u[2] == Approx(0.63).margin(1e-15));
    // The low bidders cannot win within c <= 2 (0.6 < 0.7, 0.4 < 0.9): regret 0.
    CHECK(best_u[0] == 0.0);
    CHECK(best_u[3] == 0.0);

    // evaluate_regret agrees: mean regret (0.35 + 0.63) / 4; revenue = mean winning bid.
    MisreportOptions<double> grid_only;
    grid_only.ascent.steps = 0;
    const RegretEvaluation r = evaluate_regret(first, samples, kTau, grid_only, 1);
    CHECK(r.auctions == 2);
    CHECK(r.bidders == 4);
    CHECK(r.regret_mean == Approx((0.35 + 0.63) / 4).margin(1e-15));
    CHECK(r.regret_max == Approx(0.63).margin(1e-15));
    REQUIRE(r.regret_per_position.size() == 2);
    CHECK(r.regret_per_position[0] == Approx(0.63 / 2).margin(1e-15));
    CHECK(r.regret_per_position[1] == Approx(0.35 / 2).margin(1e-15));
    CHECK(r.revenue == Approx((0.7 + 0.9) / 2).margin(1e-15));
    const RegretEvaluation r2 = evaluate_regret(second, samples, kTau, grid_only);
    CHECK(r2.regret_max == 0.0);
    CHECK(r2.revenue == Approx((0.3 + 0.2) / 2).margin(1e-15));

    SECTION("ragged: auctions of 1, 2 and 3 bidders; the regret mean is over the 6 real bidders") {
        const Samples rag = ragged_samples({{0.5}, {0.3, 0.7}, {0.9, 0.2, 0.4}});
        // Alone, bidder 0 wins at any bid: c = 0 pays 0, u = 0.5. Auction 1 as above
        // (0.35). Auction 2: bidder 0 needs c·0.9 > 0.4: c = 0.5, u = 0.9 − 0.45 = 0.45;
        // the others cannot reach 0.9 within c <= 2.
        for (const Index chunk : {Index{1}, Index{2}, Index{512}}) {
            INFO("chunk " << chunk);
            const RegretEvaluation e = evaluate_regret(first, rag, kTau, grid_only, chunk);
            CHECK(e.auctions == 3);
            CHECK(e.bidders == 6);
            CHECK(e.regret_mean == Approx((0.5 + 0.35 + 0.45) / 6).margin(1e-15));
            CHECK(e.regret_max == Approx(0.5).margin(1e-15));
            REQUIRE(e.regret_per_position.size() == 3);
            CHECK(e.regret_per_position[0] == Approx((0.5 + 0.45) / 3).margin(1e-15));
            CHECK(e.regret_per_position[1] == Approx(0.35 / 2).margin(1e-15));
            CHECK(e.regret_per_position[2] == 0.0);
            CHECK(e.revenue == Approx((0.5 + 0.7 + 0.9) / 3).margin(1e-15));
        }
        const Batch<double> rb = batch_of(rag);
        grid_search_misreports(first, rb, values_of(rag), kTau, grid, best_bid, best_u, ws);
        REQUIRE(best_bid.size() == 6);
        CHECK(best_bid[0] == 0.0);
        CHECK(best_bid[2] == Approx(0.35).margin(1e-15));
        CHECK(best_bid[3] == Approx(0.45).margin(1e-15));
        CHECK(best_u[3] == Approx(0.45).margin(1e-15));
    }
}

TEST_CASE("Gradient ascent: reaches the known best response, respects the clip range and the warm start",
          "[train][misreport]") {
    Eigen::VectorXd a(2);
    a << 1.0, 2.0;
    Quadratic q(a);
    const Samples samples = single_item_samples<double>((MatrixX<double>(2, 2) << 0.8, 0.6, 0.4, 0.9).finished());
    const Batch<double> batch = batch_of(samples);
    const Eigen::VectorXd values = values_of(samples);
    const auto coef = [&](Index r) { return a[r % 2]; };  // row r is candidate r % 2 of its auction
    MisreportWorkspace<Quadratic> ws;
    Eigen::VectorXd mis, u;

    SECTION("unconstrained optimum b = v / (2a), u = v² / (4a)") {
        MisreportAscentOptions<double> opt;
        opt.steps = 300;
        opt.learning_rate = 0.01;
        mis = Eigen::VectorXd::Constant(4, 0.9);
        ascend_misreports(q, batch, values, kTau, mis, u, opt, ws);
        for (Index r = 0; r < 4; ++r) {
            const double v = values[r];
            CHECK(mis[r] == Approx(v / (2 * coef(r))).margin(0.01));
            CHECK(u[r] == Approx(v * v / (4 * coef(r))).margin(2e-4));
            // The utility reported is the one of the misreport returned.
            CHECK(u[r] == Approx(v * mis[r] - coef(r) * mis[r] * mis[r]).margin(1e-15));
        }
    }
    SECTION("every optimum above hi = 0.1: the result is exactly the bound; below lo = 0.5: exactly lo") {
        MisreportAscentOptions<double> opt;
        opt.hi = 0.1;
        mis = Eigen::VectorXd::Constant(4, 0.05);
        ascend_misreports(q, batch, values, kTau, mis, u, opt, ws);
        CHECK((mis.array() == 0.1).all());
        opt.lo = 0.5;
        opt.hi = 1.0;
        mis = Eigen::VectorXd::Constant(4, 0.95);
        ascend_misreports(q, batch, values, kTau, mis, u, opt, ws);
        CHECK((mis.array() == 0.5).all());
        CHECK(u[0] == Approx(0.8 * 0.5 - 0.25).margin(1e-15));
    }
    SECTION("warm start: clipped, kept with 0 steps, never made worse, and continued by a second call") {
        MisreportAscentOptions<double> opt;
        opt.steps = 0;
        mis.resize(4);
        mis << 5.0, -1.0, 0.3, 0.2;  // outside [0, 1] -> clipped
        ascend_misreports(q, batch, values, kTau, mis, u, opt, ws);
        CHECK(mis[0] == 1.0);
        CHECK(mis[1] == 0.0);
        CHECK(mis[2] == 0.3);
        CHECK(u[2] == Approx(0.4 * 0.3 - 0.09).margin(1e-15));
        // search_misreports with the grid off and no steps: the clipped warm start too.
        MisreportOptions<double> none;
        none.grid = false;
        none.ascent.steps = 0;
        Eigen::VectorXd mis2(4), u2;
        mis2 << 5.0, -1.0, 0.3, 0.2;
        search_misreports(q, batch, values, kTau, mis2, u2, none, ws);
        CHECK(mis2 == mis);
        CHECK(u2 == u);

        opt.steps = 4;
        Eigen::VectorXd cold = Eigen::VectorXd::Constant(4, 1.0), u_cold;
        ascend_misreports(q, batch, values, kTau, cold, u_cold, opt, ws);
        Eigen::VectorXd start_u;
        misreport_utilities(q, batch, values, kTau, cold, start_u, ws);
        CHECK((start_u - u_cold).cwiseAbs().maxCoeff() <= 1e-15);
        Eigen::VectorXd warm = cold, u_warm;
        ascend_misreports(q, batch, values, kTau, warm, u_warm, opt, ws);
        CHECK((u_warm.array() >= u_cold.array()).all());
        // 8 steps split over two warm-started calls beat 4 cold steps somewhere.
        CHECK((u_warm.array() > u_cold.array()).any());
    }
}

TEST_CASE("search_misreports: grid and ascent combined are at least as good as each", "[train][misreport]") {
    Rng rng(43);
    RegretNetConfig<double> cfg;
    cfg.hidden = 8;
    RegretNetAdditive<double> net(cfg, 11);
    net.theta() += test::random_vector(rng, net.theta().size(), 0.5);
    const Samples samples = single_item_samples<double>(uniform_matrix(rng, 16, 2));
    const Batch<double> batch = batch_of(samples);
    const Eigen::VectorXd values = values_of(samples);
    MisreportWorkspace<RegretNetAdditive<double>> ws;
    Eigen::VectorXd grid_bid, grid_u, both = values, both_u, asc = values, asc_u, truthful;
    MisreportOptions<double> opt;
    opt.ascent.steps = 10;
    grid_search_misreports(net, batch, values, kTau, opt.multipliers, grid_bid, grid_u, ws);
    ascend_misreports(net, batch, values, kTau, asc, asc_u, opt.ascent, ws);
    search_misreports(net, batch, values, kTau, both, both_u, opt, ws);
    CHECK((both_u.array() >= grid_u.array()).all());
    truthful_utilities(net, batch, values, kTau, truthful, ws);
    CHECK((both_u.array() >= truthful.array() - 1e-12).all());  // c = 1 is on the grid
    CHECK((asc_u.array() > truthful.array() + 1e-6).any());  // the ascent alone moves off the truthful bids
    // The utilities returned are those of the misreports returned.
    Eigen::VectorXd check;
    misreport_utilities(net, batch, values, kTau, both, check, ws);
    CHECK((check - both_u).cwiseAbs().maxCoeff() <= 1e-15);
    misreport_utilities(net, batch, values, kTau, asc, check, ws);
    CHECK((check - asc_u).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK(asc.minCoeff() >= 0.0);
    CHECK(asc.maxCoeff() <= 1.0);
}

TEST_CASE("Misreport search over a ragged batch: every row as its auction alone; evaluate_regret over real bidders",
          "[train][misreport][ragged]") {
    Rng rng(44);
    const std::vector<Index> sizes{1, 4, 2, 3, 1};
    std::vector<std::vector<double>> lists;
    for (const Index n : sizes) {
        std::vector<double> v(static_cast<std::size_t>(n));
        for (double& x : v) x = rng.uniform(0.05, 1.0);
        lists.push_back(v);
    }
    const Samples samples = ragged_samples(lists);
    const Batch<double> batch = batch_of(samples);
    const Eigen::VectorXd values = values_of(samples);
    const Index total = batch.total_candidates();
    REQUIRE(total == 11);
    SoftFirstPrice m;
    constexpr double tau = 0.8;

    {
        INFO("the toy's gradient (C = 2 profiles, ragged) against central differences");
        const Eigen::VectorXd bids = profiles_of(batch, rng, 2);
        SoftFirstPrice::RelaxedCache cache;
        RelaxedOutcome<double> out;
        m.relaxed_forward(batch, bids, tau, cache, out);
        const Functional fn = random_functional(rng, out);
        Eigen::VectorXd grad = Eigen::VectorXd::Zero(1), d_bids;
        m.relaxed_backward(cache, fn.gradient(), grad, &d_bids);
        const auto loss_at = [&](const Eigen::VectorXd& th, const Eigen::VectorXd& b) {
            SoftFirstPrice probe;
            probe.theta_ = th;
            SoftFirstPrice::RelaxedCache pc;
            RelaxedOutcome<double> po;
            probe.relaxed_forward(batch, b, tau, pc, po);
            return fn(po);
        };
        CHECK(test::relative_error(grad, test::numeric_gradient(
                                             [&](const Eigen::VectorXd& t) { return loss_at(t, bids); }, m.theta_)) <
              kGradTol);
        CHECK(test::relative_error(d_bids, test::numeric_gradient(
                                               [&](const Eigen::VectorXd& b) { return loss_at(m.theta_, b); }, bids)) <
              kGradTol);
    }

    // Every search over the whole batch, then over each auction alone.
    MisreportWorkspace<SoftFirstPrice> ws;
    MisreportOptions<double> opt;
    opt.multipliers = {0.0, 0.25, 0.5, 0.75, 1.0, 1.5};
    opt.ascent.steps = 6;
    opt.ascent.learning_rate = 0.05;
    Eigen::VectorXd start(total);
    for (Index r = 0; r < total; ++r) start[r] = rng.uniform(-0.2, 1.2);  // some outside [0, 1]
    Eigen::VectorXd truthful, mis_u, grid_bid, grid_u, asc = start, asc_u, both = start, both_u;
    const double revenue = truthful_utilities(m, batch, values, tau, truthful, ws);
    misreport_utilities(m, batch, values, tau, start, mis_u, ws);
    grid_search_misreports(m, batch, values, tau, opt.multipliers, grid_bid, grid_u, ws);
    ascend_misreports(m, batch, values, tau, asc, asc_u, opt.ascent, ws);
    search_misreports(m, batch, values, tau, both, both_u, opt, ws);
    for (const Eigen::VectorXd* x : {&truthful, &mis_u, &grid_u, &asc_u, &both_u}) CHECK(x->allFinite());
    CHECK((both_u.array() >= grid_u.array()).all());
    CHECK((asc_u.array() > mis_u.array()).any());  // the ascent moved

    double revenue_alone = 0;
    for (Index b = 0; b < batch.size(); ++b) {
        INFO("auction " << b << " of " << batch.end(b) - batch.begin(b) << " candidates");
        const Index o = batch.begin(b), n = batch.end(b) - o;
        const Batch<double> one = batch_of({samples[static_cast<std::size_t>(b)]});
        const Eigen::VectorXd v = values.segment(o, n), s = start.segment(o, n);
        Eigen::VectorXd t1, mu1, gb1, gu1, a1 = s, au1, c1 = s, cu1;
        revenue_alone += truthful_utilities(m, one, v, tau, t1, ws);
        misreport_utilities(m, one, v, tau, s, mu1, ws);
        grid_search_misreports(m, one, v, tau, opt.multipliers, gb1, gu1, ws);
        ascend_misreports(m, one, v, tau, a1, au1, opt.ascent, ws);
        search_misreports(m, one, v, tau, c1, cu1, opt, ws);
        CHECK((truthful.segment(o, n) - t1).cwiseAbs().maxCoeff() <= 1e-15);
        CHECK((mis_u.segment(o, n) - mu1).cwiseAbs().maxCoeff() <= 1e-15);
        CHECK(grid_bid.segment(o, n) == gb1);
        CHECK((grid_u.segment(o, n) - gu1).cwiseAbs().maxCoeff() <= 1e-15);
        CHECK((asc.segment(o, n) - a1).cwiseAbs().maxCoeff() <= 1e-13);
        CHECK((asc_u.segment(o, n) - au1).cwiseAbs().maxCoeff() <= 1e-13);
        CHECK((both.segment(o, n) - c1).cwiseAbs().maxCoeff() <= 1e-13);
        CHECK((both_u.segment(o, n) - cu1).cwiseAbs().maxCoeff() <= 1e-13);
    }
    CHECK(revenue == Approx(revenue_alone).epsilon(1e-14));

    // evaluate_regret: the search warm-started from the truthful bids, regrets
    // averaged over the 11 real bidders (not over 5 auctions x 4 positions).
    Eigen::VectorXd from_truth = values, best;
    search_misreports(m, batch, values, tau, from_truth, best, opt, ws);
    const Eigen::VectorXd rgt = (best - truthful).cwiseMax(0.0);
    REQUIRE(rgt.maxCoeff() > 0);
    Eigen::VectorXd per_position = Eigen::VectorXd::Zero(4), count = Eigen::VectorXd::Zero(4);
    for (Index b = 0; b < batch.size(); ++b)
        for (Index r = batch.begin(b), j = 0; r < batch.end(b); ++r, ++j) {
            per_position[j] += rgt[r];
            count[j] += 1;
        }
    for (const Index chunk : {Index{1}, Index{2}, Index{512}}) {
        INFO("chunk " << chunk);
        const RegretEvaluation e = evaluate_regret(m, samples, tau, opt, chunk);
        CHECK(e.auctions == 5);
        CHECK(e.bidders == 11);
        CHECK(e.regret_mean == Approx(rgt.sum() / 11).epsilon(1e-12));
        CHECK(e.regret_max == Approx(rgt.maxCoeff()).epsilon(1e-12));
        CHECK(e.revenue == Approx(revenue / 5).epsilon(1e-12));
        REQUIRE(e.regret_per_position.size() == 4);
        for (Index j = 0; j < 4; ++j)
            CHECK(e.regret_per_position[j] == Approx(per_position[j] / count[j]).margin(1e-13));
    }
}

TEST_CASE("Misreport search: bad input is an input_error naming the field", "[train][misreport][validate]") {
    Quadratic q(Eigen::VectorXd::Ones(2));
    MisreportWorkspace<Quadratic> ws;
    const Samples samples = single_item_samples<double>(MatrixX<double>::Constant(3, 2, 0.5));
    const Batch<double> batch = batch_of(samples);
    const Eigen::VectorXd values = values_of(samples);
    Eigen::VectorXd bid, u, mis = values, truthful;

    // Options.
    const std::vector<double> empty;
    CHECK(field_of([&] { grid_search_misreports(q, batch, values, kTau, empty, bid, u, ws); }) == "multipliers");
    const std::vector<double> negative{0.5, -0.1};
    try {
        grid_search_misreports(q, batch, values, kTau, negative, bid, u, ws);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "multipliers");
        CHECK(e.index() == 1);
    }
    MisreportOptions<double> opt;
    opt.multipliers.clear();
    CHECK(field_of([&] { search_misreports(q, batch, values, kTau, mis, u, opt, ws); }) == "multipliers");
    opt.grid = false;  // an empty grid is fine when the grid is off
    CHECK_NOTHROW(search_misreports(q, batch, values, kTau, mis, u, opt, ws));
    MisreportAscentOptions<double> asc;
    asc.learning_rate = 0;
    CHECK(field_of([&] { ascend_misreports(q, batch, values, kTau, mis, u, asc, ws); }) == "ascent.learning_rate");
    asc = {};
    asc.lo = 1.0;
    asc.hi = 0.5;
    CHECK(field_of([&] { ascend_misreports(q, batch, values, kTau, mis, u, asc, ws); }) == "ascent.lo/hi");
    asc = {};
    asc.steps = -1;
    CHECK(field_of([&] { ascend_misreports(q, batch, values, kTau, mis, u, asc, ws); }) == "ascent.steps");
    opt.ascent = asc;
    CHECK(field_of([&] { search_misreports(q, batch, values, kTau, mis, u, opt, ws); }) == "ascent.steps");

    // Values and misreports: one finite entry per candidate row.
    CHECK(field_of([&] { truthful_utilities(q, batch, Eigen::VectorXd::Zero(5), kTau, truthful, ws); }) == "values");
    CHECK(field_of([&] { truthful_utilities(q, batch, Eigen::VectorXd::Zero(7), kTau, truthful, ws); }) == "values");
    Eigen::VectorXd short_mis = Eigen::VectorXd::Zero(4);
    const MisreportAscentOptions<double> default_ascent;
    CHECK(field_of([&] { ascend_misreports(q, batch, values, kTau, short_mis, u, default_ascent, ws); }) ==
          "misreports");
    CHECK(field_of([&] { misreport_utilities(q, batch, values, kTau, short_mis, u, ws); }) == "misreports");
    Eigen::VectorXd nan_mis = values;
    nan_mis[2] = std::nan("");
    CHECK(field_of([&] { search_misreports(q, batch, values, kTau, nan_mis, u, MisreportOptions<double>{}, ws); }) ==
          "misreports");
    Eigen::VectorXd nan_values = values;
    nan_values[3] = std::nan("");
    try {
        truthful_utilities(q, batch, nan_values, kTau, truthful, ws);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "values");
        CHECK(e.index() == 3);
    }

    // The batch: non-empty, ordinary auctions only.
    const Batch<double> none;
    CHECK(field_of([&] { truthful_utilities(q, none, Eigen::VectorXd(), kTau, truthful, ws); }) == "batch");
    Batch<double> with_joint = batch;
    Auction<double> joint = samples[0].auction;
    joint.owners = {{0, kNone}, {1, kNone}};
    with_joint.push_back(joint);
    const Eigen::VectorXd v8 = Eigen::VectorXd::Constant(8, 0.5);
    try {
        grid_search_misreports(q, with_joint, v8, kTau, default_misreport_grid(), bid, u, ws);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "batch");
        CHECK(e.index() == 3);
    }
    // τ reaches the model, which checks it.
    CHECK(field_of([&] { truthful_utilities(q, batch, values, 0.0, truthful, ws); }) == "tau");

    // evaluate_regret: chunk, samples, their values.
    CHECK(field_of([&] { evaluate_regret(q, samples, kTau, MisreportOptions<double>{}, 0); }) == "chunk");
    CHECK(field_of([&] { evaluate_regret(q, Samples{}, kTau, MisreportOptions<double>{}); }) == "samples");
    MisreportOptions<double> bad_grid;
    bad_grid.multipliers = {std::nan("")};
    CHECK(field_of([&] { evaluate_regret(q, samples, kTau, bad_grid); }) == "multipliers");
    Samples wrong = samples;
    wrong[1].truth.values.resize(3);
    wrong[1].truth.values.setConstant(0.5);
    try {
        evaluate_regret(q, wrong, kTau, MisreportOptions<double>{});
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "truth.values");
        CHECK(e.auction() == 1);
    }
    wrong = samples;
    wrong[2].truth.values[0] = std::numeric_limits<double>::infinity();
    CHECK(field_of([&] { evaluate_regret(q, wrong, kTau, MisreportOptions<double>{}); }) == "truth.values");

    // RegretNetAdditive: auctions of exactly N candidates, bids of C·total entries,
    // a gradient of theta's size and of the outcome's shape.
    RegretNetConfig<double> cfg;
    cfg.hidden = 4;
    const RegretNetAdditive<double> net(cfg, 1);  // 2 bidders
    RegretNetAdditive<double>::RelaxedCache cache;
    RelaxedOutcome<double> out;
    const Samples three = single_item_samples<double>(MatrixX<double>::Constant(2, 3, 0.5));
    const Batch<double> b3 = batch_of(three);
    CHECK(field_of([&] { net.relaxed_forward(b3, values_of(three), kTau, cache, out); }) == "candidates");
    CHECK(field_of([&] { evaluate_regret(net, three, kTau, MisreportOptions<double>{}); }) == "candidates");
    CHECK(field_of([&] { net.relaxed_forward(batch, Eigen::VectorXd::Zero(9), kTau, cache, out); }) == "bids");
    const std::vector<Index> focus{0, 1};
    CHECK(field_of([&] { net.relaxed_forward(batch, values, kTau, cache, out, focus); }) == "focus");
    net.relaxed_forward(batch, values, kTau, cache, out);
    Eigen::VectorXd small = Eigen::VectorXd::Zero(3);
    CHECK(field_of([&] { net.relaxed_backward(cache, RelaxedGradient<double>{}, small, nullptr); }) == "grad");
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(net.theta().size());
    RelaxedGradient<double> d;
    d.d_payment = Eigen::VectorXd::Zero(5);
    CHECK(field_of([&] { net.relaxed_backward(cache, d, grad, nullptr); }) == "d_payment");
    d.d_payment.resize(0);
    d.d_alloc = MatrixX<double>::Zero(6, 2);
    CHECK(field_of([&] { net.relaxed_backward(cache, d, grad, nullptr); }) == "d_alloc");

    // single_item_samples: a non-empty matrix of finite values >= 0.
    CHECK(field_of([&] { single_item_samples<double>(MatrixX<double>(0, 2)); }) == "values");
    MatrixX<double> neg = MatrixX<double>::Constant(3, 2, 0.5);
    neg(2, 1) = -0.1;
    try {
        single_item_samples<double>(neg);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "bids");
        CHECK(e.index() == 1);
        CHECK(e.auction() == 2);
    }
}
