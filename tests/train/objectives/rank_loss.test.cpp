// DNA's rank loss (train/objectives/rank_loss.hpp) over DNA's relaxed outcome:
// finite-difference gradient of the whole loss in θ (and of each part), the batch
// mean, the revenue identity, validation; and RelaxedTrainable
// (train/relaxed_trainable.hpp) driving it: the Trainer and the τ schedule, chunked
// batches equal to one pass, float.
#include <catch2/catch.hpp>

#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/train/objectives/rank_loss.hpp>
#include <diffauction/train/relaxed_trainable.hpp>
#include <diffauction/train/trainer.hpp>

#include <array>
#include <cmath>
#include <functional>
#include <vector>

#include "support/dna_samples.hpp"
#include "support/gradcheck.hpp"
#include "support/mechanism_properties.hpp"

using namespace diffauction;
using test::field_of;
using test::kGradTol;
using test::random_sample;

using DnaTrain = RelaxedTrainable<Dna<double>, RankLoss<double>>;
static_assert(RelaxedObjective<RankLoss<double>, double>);
static_assert(RelaxedObjective<RankLoss<float>, float>);
static_assert(TrainableModel<DnaTrain, double>);
static_assert(TrainableModel<RelaxedTrainable<Dna<float>, RankLoss<float>>, float>);

namespace {

/// One pass of model and loss over `items` of `samples` (a Batch of them, truthful
/// bids, weight 1/B): the reference the chunked adapter must reproduce.
struct Pass {
    Batch<double> batch;
    MatrixX<double> columns;
    Dna<double>::RelaxedCache cache;
    RelaxedOutcome<double> out;
    RelaxedGradient<double> d;
    std::array<double, 3> parts{};

    double run(const Dna<double>& model, RankLoss<double>& loss, const std::vector<Sample<double>>& samples,
               const std::vector<Index>& items, double tau, Eigen::VectorXd* grad) {
        batch = test::batch_of(samples, items);
        columns.resize(batch.total_candidates(), loss.columns());
        for (Index b = 0; b < batch.size(); ++b)
            loss.write_columns(samples[static_cast<std::size_t>(items[static_cast<std::size_t>(b)])], b,
                               columns.middleRows(batch.begin(b), batch.end(b) - batch.begin(b)));
        Eigen::VectorXd bids;
        relaxed_candidate_bids(batch, bids);
        model.relaxed_forward(batch, bids, tau, cache, out);
        parts = {};
        const double l = loss.evaluate(batch, columns, out, 1.0 / static_cast<double>(items.size()), parts,
                                       grad != nullptr ? &d : nullptr);
        if (grad != nullptr) model.relaxed_backward(cache, d, *grad, nullptr);
        return l;
    }
};

/// Everything discrete in model and loss: active units of r and r⁻¹, the hard
/// orders, which raw prices are positive, and the L_ce targets.
std::vector<Index> discrete_state(const Pass& p, const RankLoss<double>& loss) {
    const auto& c = p.cache;
    std::vector<Index> s = c.score.active;
    s.insert(s.end(), c.inverse.active.begin(), c.inverse.active.end());
    s.insert(s.end(), c.sort.order.begin(), c.sort.order.end());
    for (Index i = 0; i < c.raw.size(); ++i) s.push_back(c.raw[i] > 0 ? 1 : 0);
    s.insert(s.end(), loss.targets().begin(), loss.targets().end());
    return s;
}

}  // namespace

TEST_CASE("RankLoss ∘ DNA: finite-difference gradient of the full loss in θ (N = 2, 4, 5; K = 2)",
          "[train][objectives][dna][grad]") {
    const std::vector<Index> items{0, 1, 2};
    int checked = 0;
    for (std::uint64_t seed = 1; seed < 40 && checked < 3; ++seed) {
        Rng rng(700 + seed);
        std::vector<Sample<double>> samples;
        for (Index n : {2, 4, 5}) samples.push_back(random_sample<double>(rng, n, 2, 3, 3.0));
        Dna<double> model(test::small_dna_config());
        model.init(seed);
        model.theta() += test::random_vector(rng, model.theta().size(), 0.2);  // biases off 0, both ELU sides
        RankObjective<double> obj;
        obj.revenue = 1.0;
        obj.metrics = {0.5, 0.0, 0.3};
        obj.alpha = 0.7;
        obj = normalise_objective<double>(obj, samples);
        RankLoss<double> loss(obj);
        const double tau = checked == 0 ? 0.5 : 1.0;

        Pass pass;
        const Eigen::VectorXd theta0 = model.theta();
        auto loss_at = [&](RankLoss<double>& l, const Eigen::VectorXd& th) {
            model.theta() = th;
            const double v = pass.run(model, l, samples, items, tau, nullptr);
            model.theta() = theta0;
            return v;
        };
        // Perturb away from ties: redraw unless no discrete choice flips within ±1e-4.
        loss_at(loss, theta0);
        const std::vector<Index> state = discrete_state(pass, loss);
        bool stable = true;
        for (Index i = 0; i < theta0.size() && stable; ++i)
            for (double delta : {-1e-4, 1e-4}) {
                Eigen::VectorXd th = theta0;
                th[i] += delta;
                loss_at(loss, th);
                stable = stable && discrete_state(pass, loss) == state;
            }
        if (!stable) continue;
        INFO("seed " << seed << ", tau " << tau);

        Eigen::VectorXd grad = Eigen::VectorXd::Zero(theta0.size());
        const double l = pass.run(model, loss, samples, items, tau, &grad);
        CHECK(std::isfinite(l));
        CHECK(pass.parts[0] < 0);  // F_all > 0 here (positive metrics), so L_tgt = -Σ β A F < 0
        CHECK(pass.parts[1] > 0);
        CHECK(l == Approx(pass.parts[0] + obj.alpha * pass.parts[1]).epsilon(1e-14));
        // The revenue path is live: some candidate has a positive price.
        CHECK(pass.out.price.maxCoeff() > 0);
        const Eigen::VectorXd num =
            test::numeric_gradient([&](const Eigen::VectorXd& th) { return loss_at(loss, th); }, theta0);
        CHECK(test::relative_error(grad, num) < kGradTol);
        // Each part on its own (so neither hides behind the other).
        for (int part = 0; part < 3; ++part) {
            RankObjective<double> o = obj;
            if (part == 0) o.alpha = 0;                            // L_tgt only (payments and alloc)
            else if (part == 1) o.metrics = {}, o.alpha = 0;       // revenue only (through the prices)
            else o.revenue = 0, o.metrics = {}, o.alpha = 1;       // L_ce only
            RankLoss<double> lo(o);
            Eigen::VectorXd g = Eigen::VectorXd::Zero(theta0.size());
            pass.run(model, lo, samples, items, tau, &g);
            CHECK(g.norm() > 0);
            CHECK(test::relative_error(
                      g, test::numeric_gradient([&](const Eigen::VectorXd& th) { return loss_at(lo, th); }, theta0)) <
                  kGradTol);
        }
        // Accumulation: a second backward on the same cache doubles the gradient.
        Eigen::VectorXd once = Eigen::VectorXd::Zero(theta0.size());
        pass.run(model, loss, samples, items, tau, &once);
        Eigen::VectorXd twice = once;
        model.relaxed_backward(pass.cache, pass.d, twice, nullptr);
        CHECK((twice - 2 * once).norm() <= 1e-12 * once.norm());
        ++checked;
    }
    REQUIRE(checked == 3);
}

TEST_CASE("RankLoss: revenue-only L_tgt is −λ/scale × the relaxed revenue Σ payment", "[train][objectives][dna]") {
    Rng rng(701);
    std::vector<Sample<double>> samples;
    for (Index n : {3, 7, 1}) samples.push_back(random_sample<double>(rng, n, 3, 3, 3.0));
    Dna<double> model(test::small_dna_config());
    model.init(5);
    RankObjective<double> obj;
    obj.revenue = 0.8;
    obj.revenue_scale = 2.0;
    RankLoss<double> loss(obj);
    Pass pass;
    pass.run(model, loss, samples, {0, 1, 2}, 0.6, nullptr);
    CHECK(pass.parts[2] == Approx(pass.out.payment.sum() / 3).epsilon(1e-14));
    CHECK(pass.parts[0] == Approx(-0.4 * pass.parts[2]).epsilon(1e-12));
    // F_all = λ/scale · price · ctr.
    for (Index b = 0; b < 3; ++b)
        for (Index i = 0; i < pass.batch.end(b) - pass.batch.begin(b); ++i) {
            const Index r = pass.batch.begin(b) + i;
            CHECK(loss.f_all()[r] == Approx(0.4 * pass.out.price[r] * pass.batch.auction(b).ctr[i]).epsilon(1e-14));
        }
}

TEST_CASE("RankLoss ∘ DNA: the loss is the mean over auctions (batch invariance)", "[train][objectives][dna][grad]") {
    Rng rng(710);
    std::vector<Sample<double>> samples;
    for (Index n : {1, 3, 6}) samples.push_back(random_sample<double>(rng, n, 2, 3, 3.0));
    Dna<double> model(test::small_dna_config());
    model.init(11);
    RankObjective<double> obj;
    obj.metrics = {1.0};
    RankLoss<double> loss(obj);
    Pass pass;
    double sum = 0;
    Eigen::VectorXd gsum = Eigen::VectorXd::Zero(model.theta().size());
    for (Index b = 0; b < 3; ++b) sum += pass.run(model, loss, samples, {b}, 0.8, &gsum);
    Eigen::VectorXd g = Eigen::VectorXd::Zero(model.theta().size());
    CHECK(pass.run(model, loss, samples, {0, 1, 2}, 0.8, &g) == Approx(sum / 3).epsilon(1e-12));
    CHECK((g - gsum / 3).norm() <= 1e-12 * g.norm());
}

TEST_CASE("RankLoss and RelaxedTrainable: validation errors", "[train][objectives][dna]") {
    Dna<double> model(test::small_dna_config());
    model.init(61);
    Rng rng(760);
    std::vector<Sample<double>> samples{random_sample<double>(rng, 3, 2, 3)};
    RankObjective<double> obj;
    obj.alpha = -1;
    CHECK(field_of([&] { RankLoss<double> l(obj); }) == "objective.alpha");
    obj.alpha = 0.1;
    obj.revenue_scale = 0;
    CHECK(field_of([&] { RankLoss<double> l(obj); }) == "objective.revenue_scale");
    obj.revenue_scale = 1;
    obj.metrics = {0, 0, 0, 0, 1.0};  // column 4 does not exist
    CHECK(field_of([&] { DnaTrain t(model, samples, RankLoss<double>(obj)); }) == "log.metrics");
    obj.metrics = {};
    CHECK(field_of([&] { DnaTrain t(model, {}, RankLoss<double>(obj)); }) == "samples");
    DnaTrain good(model, samples, RankLoss<double>(obj));
    const std::vector<Index> bad_item{1}, no_items{};
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(model.theta().size());
    CHECK(field_of([&] { good.loss_and_grad(bad_item, grad); }) == "items");
    CHECK(field_of([&] { good.loss(no_items); }) == "items");
    CHECK(field_of([&] { good.set_tau(0.0); }) == "tau");
    CHECK(field_of([&] { good.set_chunk_auctions(0); }) == "chunk_auctions");
    samples[0].auction.owners = {{0, 1}, {1, 2}, {2, kNone}};
    CHECK(field_of([&] { DnaTrain t(model, samples, RankLoss<double>(obj)); }) == "owners");
    // The objective's own checks of what it is given.
    RankLoss<double> loss(obj);
    Pass pass;
    std::vector<Sample<double>> ok{random_sample<double>(rng, 3, 2, 3)};
    pass.run(model, loss, ok, {0}, 1.0, nullptr);
    std::array<double, 3> parts{};
    std::array<double, 2> short_parts{};
    CHECK(field_of([&] { loss.evaluate(pass.batch, pass.columns, pass.out, 1.0, short_parts, nullptr); }) == "parts");
    CHECK(field_of([&] { loss.evaluate(pass.batch, pass.columns, pass.out, -1.0, parts, nullptr); }) == "weight");
    const MatrixX<double> wrong(3, 2);
    CHECK(field_of([&] { loss.evaluate(pass.batch, wrong, pass.out, 1.0, parts, nullptr); }) == "columns");
    RelaxedOutcome<double> two = pass.out;
    two.profiles = 2;
    CHECK(field_of([&] { loss.evaluate(pass.batch, pass.columns, two, 1.0, parts, nullptr); }) == "outcome");
}

TEST_CASE("RelaxedTrainable: the Trainer drives it (τ schedule through begin_step)", "[train][objectives][dna]") {
    SECTION("default schedule: exponential from 1 to a floor of 0.05") {
        const Schedule<double> s = default_tau_schedule<double>();
        CHECK(s.at(0) == 1.0);
        CHECK(s.at(100) == Approx(std::pow(0.999, 100)).epsilon(1e-12));
        CHECK(s.at(100000) == 0.05);
    }
    Rng rng(790);
    std::vector<Sample<double>> samples;
    for (int t = 0; t < 24; ++t) samples.push_back(random_sample<double>(rng, 1 + rng.uniform_int(6), 2, 3, 3.0));
    Dna<double> model(test::small_dna_config());
    model.init(91);
    const Eigen::VectorXd theta0 = model.theta();
    RankObjective<double> obj;
    obj.metrics = {0.0, 1.0};
    obj = normalise_objective<double>(obj, samples);
    CHECK(obj.revenue_scale > 0);
    CHECK(obj.metric_scales.size() == 2);
    DnaTrain train(model, samples, RankLoss<double>(obj), ExponentialSchedule<double>(1.0, 0.5, 1, 0.1));
    CHECK(train.num_items() == 24);
    CHECK(train.columns().cols() == 2);
    TrainerOptions<double> opt;
    opt.epochs = 2;
    opt.batch_size = 8;
    opt.progress = ProgressMode::never;
    Trainer<double> trainer(opt);
    const auto result = trainer.train(train, train.num_items());
    CHECK(result.steps == 6);
    CHECK(train.tau() == Approx(std::max(0.1, std::pow(0.5, 5))));  // last step is step 5
    CHECK((model.theta() - theta0).norm() > 0);
    REQUIRE(train.metrics().size() == 4);
    CHECK(std::string(train.metrics()[0].name) == "tau");
    CHECK(std::string(train.metrics()[1].name) == "L_tgt");
    CHECK(std::string(train.metrics()[2].name) == "L_ce");
    CHECK(std::string(train.metrics()[3].name) == "rev");
}

TEST_CASE("RelaxedTrainable: chunked batches give the whole-batch loss, gradient and metrics",
          "[train][objectives][dna]") {
    Rng rng(795);
    std::vector<Sample<double>> samples;
    for (int t = 0; t < 23; ++t) samples.push_back(random_sample<double>(rng, 1 + rng.uniform_int(7), 3, 3, 3.0));
    Dna<double> model(test::small_dna_config());
    model.init(93);
    RankObjective<double> obj;
    obj.metrics = {0.5, 1.0};
    obj = normalise_objective<double>(obj, samples);
    DnaTrain train(model, samples, RankLoss<double>(obj), ConstantSchedule<double>(0.7));
    std::vector<Index> items;
    for (Index i = 22; i >= 0; i -= 2) items.push_back(i);  // 12 items, out of order
    for (Index i = 1; i < 23; i += 5) items.push_back(i);   // and 5 more, some repeated
    // Reference: one pass over the whole batch through the public forward/evaluate/backward.
    RankLoss<double> loss(obj);
    Pass pass;
    Eigen::VectorXd g_whole = Eigen::VectorXd::Zero(model.theta().size());
    const double whole = pass.run(model, loss, samples, items, 0.7, &g_whole);
    CHECK(train.chunk_auctions() == 16);
    for (const Index chunk : {Index{1}, Index{4}, Index{7}, Index{16}, Index{100}}) {
        INFO("chunk " << chunk);
        train.set_chunk_auctions(chunk);
        Eigen::VectorXd g = Eigen::VectorXd::Ones(model.theta().size());  // accumulates
        const double l = train.loss_and_grad(items, g);
        CHECK(l == Approx(whole).epsilon(1e-13));
        CHECK((g.array() - 1.0 - g_whole.array()).abs().maxCoeff() <= 1e-13 * (1 + g_whole.lpNorm<Eigen::Infinity>()));
        CHECK(train.metrics()[1].value == Approx(pass.parts[0]).epsilon(1e-13));
        CHECK(train.metrics()[2].value == Approx(pass.parts[1]).epsilon(1e-13));
        CHECK(train.metrics()[3].value == Approx(pass.parts[2]).epsilon(1e-13));
        CHECK(train.loss(items) == Approx(whole).epsilon(1e-13));
    }
    // With one chunk, the adapter's pass is the reference's, bit for bit.
    train.set_chunk_auctions(100);
    Eigen::VectorXd g = Eigen::VectorXd::Zero(model.theta().size());
    CHECK(train.loss_and_grad(items, g) == whole);
    CHECK((g - g_whole).norm() == 0.0);
}

TEST_CASE("RelaxedTrainable: float instantiation trains", "[train][objectives][dna][float]") {
    Dna<float> model(test::small_dna_config());
    model.init(81);
    Rng rng(780);
    std::vector<Sample<float>> samples;
    for (int t = 0; t < 20; ++t)
        samples.push_back(random_sample<float>(rng, 1 + rng.uniform_int(8), 1 + rng.uniform_int(3), 3, 4.0));
    RankObjective<float> obj;
    obj.metrics = {0.5f};
    RelaxedTrainable<Dna<float>, RankLoss<float>> train(model, samples,
                                                        RankLoss<float>(normalise_objective<float>(obj, samples)));
    std::vector<Index> items(20);
    for (Index i = 0; i < 20; ++i) items[static_cast<std::size_t>(i)] = i;
    VectorX<float> grad = VectorX<float>::Zero(model.theta().size());
    const float loss = train.loss_and_grad(items, grad);
    CHECK(std::isfinite(loss));
    CHECK(grad.allFinite());
    CHECK(grad.norm() > 0.0f);
}
