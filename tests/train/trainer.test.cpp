#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <diffauction/nn/activation.hpp>
#include <diffauction/nn/dense.hpp>
#include <diffauction/train/trainer.hpp>

#include "support/gradcheck.hpp"

using namespace diffauction;

namespace {

/// A seeded synthetic set: x ~ N(0, I_3), label 1 iff 2 x0 - x1 + 0.5 x2 + 0.3 > 0
/// (noiseless, so a linear classifier can reach 100% and logistic regression gets close).
struct DataSet {
    MatrixX<double> x;
    Eigen::VectorXd y;
};
DataSet make_data(std::uint64_t seed, Index n) {
    Rng rng(seed);
    DataSet d{test::random_matrix(rng, n, 3), Eigen::VectorXd(n)};
    for (Index i = 0; i < n; ++i)
        d.y[i] = 2 * d.x(i, 0) - d.x(i, 1) + 0.5 * d.x(i, 2) + 0.3 > 0 ? 1.0 : 0.0;
    return d;
}

/// Logistic regression: z = Dense(3 -> 1)(x), loss = mean BCE(sigmoid(z), y),
/// written with the stable form BCE = softplus(z) - y z and dL/dz = (sigmoid(z) - y)/B.
class LogReg {
public:
    explicit LogReg(const DataSet& data) : dense_(layout_, "out", 3, 1), data_(&data) {
        theta_ = Eigen::VectorXd::Zero(layout_.size());
    }
    Eigen::VectorXd& theta() { return theta_; }
    const Eigen::VectorXd& theta() const { return theta_; }

    double loss_and_grad(std::span<const Index> items, Eigen::VectorXd& grad) {
        const auto b = static_cast<Index>(items.size());
        xb_.resize(b, 3);
        for (Index r = 0; r < b; ++r) xb_.row(r) = data_->x.row(items[static_cast<std::size_t>(r)]);
        dense_.forward(theta_, xb_, z_);
        dz_.resize(b, 1);
        double loss = 0, correct = 0;
        for (Index r = 0; r < b; ++r) {
            const double z = z_(r, 0), y = data_->y[items[static_cast<std::size_t>(r)]];
            // BCE with logits: softplus(z) - y z, gradient sigmoid(z) - y.
            loss += std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))) - y * z;
            dz_(r, 0) = (1.0 / (1.0 + std::exp(-z)) - y) / static_cast<double>(b);
            correct += ((z > 0) == (y > 0.5)) ? 1 : 0;
        }
        dense_.backward(theta_, xb_, dz_, grad, nullptr);
        metrics_[0].value = correct / static_cast<double>(b);
        return loss / static_cast<double>(b);
    }
    std::span<const Metric> metrics() const { return metrics_; }

    double accuracy(const DataSet& d) const {
        MatrixX<double> z;
        dense_.forward(theta_, d.x, z);
        double correct = 0;
        for (Index i = 0; i < d.x.rows(); ++i) correct += ((z(i, 0) > 0) == (d.y[i] > 0.5)) ? 1 : 0;
        return correct / static_cast<double>(d.x.rows());
    }

private:
    ParamLayout layout_;
    Dense<double> dense_;
    const DataSet* data_;
    Eigen::VectorXd theta_;
    MatrixX<double> xb_, z_, dz_;
    Metric metrics_[1] = {{"acc", 0.0}};
};
static_assert(TrainableModel<LogReg, double>);
static_assert(!TrainableModel<LogReg, float>);

TrainerOptions<double> quiet_options(std::uint64_t seed) {
    TrainerOptions<double> o;
    o.epochs = 20;
    o.batch_size = 32;
    o.seed = seed;
    o.adam.learning_rate = 0.05;
    o.progress = ProgressMode::never;
    return o;
}

Eigen::VectorXd train_theta(std::uint64_t seed, const DataSet& data) {
    LogReg model(data);
    Trainer<double> trainer(quiet_options(seed));
    trainer.train(model, data.x.rows());
    return model.theta();
}

struct CountSteps {
    std::int64_t steps = 0, epochs = 0;
    void on_step(const StepInfo<double>&) { ++steps; }
    void on_epoch_end(const EpochInfo<double>&) { ++epochs; }
};

}  // namespace

TEST_CASE("Trainer: the test model's analytic gradient matches central differences", "[train][trainer][grad]") {
    const DataSet data = make_data(1, 40);
    LogReg model(data);
    Rng rng(2);
    model.theta() = test::random_vector(rng, model.theta().size(), 0.5);
    const std::vector<Index> items{3, 17, 17, 25, 0};  // repeats are fine
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(model.theta().size());
    model.loss_and_grad(items, grad);
    const Eigen::VectorXd theta0 = model.theta();
    const auto numeric = test::numeric_gradient(
        [&](const Eigen::VectorXd& t) {
            LogReg probe(data);
            probe.theta() = t;
            Eigen::VectorXd unused = Eigen::VectorXd::Zero(t.size());
            return probe.loss_and_grad(items, unused);
        },
        theta0);
    CHECK(test::relative_error(grad, numeric) < test::kGradTol);
}

TEST_CASE("Trainer: logistic regression reaches 97% held-out accuracy", "[train][trainer]") {
    // Seeds 101 (train) and 202 (test), printed here as the style asks.
    INFO("data seeds 101/202, trainer seed 7");
    const DataSet train = make_data(101, 512), held_out = make_data(202, 512);
    LogReg model(train);
    CHECK(model.accuracy(held_out) < 0.75);  // theta = 0: every z = 0 predicts class 0
    Trainer<double> trainer(quiet_options(7));
    CountSteps count;
    const TrainResult<double> r = trainer.train(model, train.x.rows(), count);
    CHECK(r.reason == StopReason::completed);
    CHECK(r.epochs == 20);
    CHECK(r.steps == 20 * 16);  // 512 / 32 mini-batches per epoch
    CHECK(count.steps == r.steps);
    CHECK(count.epochs == 20);
    CHECK(trainer.optimizer().steps() == r.steps);
    CHECK(r.last_epoch_loss < 0.15);
    CHECK(model.accuracy(held_out) >= 0.97);
}

TEST_CASE("Trainer: the same seed gives bit-identical theta, another seed another theta", "[train][trainer]") {
    const DataSet data = make_data(303, 200);  // 200 = 6 full batches of 32 + one of 8
    const Eigen::VectorXd a = train_theta(11, data), b = train_theta(11, data), c = train_theta(12, data);
    CHECK((a.array() == b.array()).all());
    CHECK((a - c).norm() > 1e-9);
}

TEST_CASE("Trainer: max_steps is a step budget over epochs and train() calls", "[train][trainer]") {
    const DataSet data = make_data(505, 100);  // 4 steps per epoch (32, 32, 32, 4)
    SECTION("it stops mid-epoch, ignores epochs, and equals stopping by a callback at that step") {
        TrainerOptions<double> o = quiet_options(3);
        o.epochs = 1;  // ignored: the budget wins
        o.max_steps = 10;
        LogReg model(data);
        Trainer<double> trainer(o);
        CountSteps count;
        const auto r = trainer.train(model, 100, count);
        CHECK(r.reason == StopReason::max_steps);
        CHECK(r.steps == 10);
        CHECK(count.steps == 10);
        CHECK(r.epochs == 2);  // the third epoch was cut short: not counted, no on_epoch_end
        CHECK(count.epochs == 2);

        // The hand-made equivalent the examples used: enough epochs and a stopping callback.
        TrainerOptions<double> by_hand = quiet_options(3);
        by_hand.epochs = 3;
        LogReg other(data);
        struct StopAt10 {
            bool on_step(const StepInfo<double>& s) const { return s.step >= 10; }
        };
        Trainer<double>(by_hand).train(other, 100, StopAt10{});
        CHECK((model.theta().array() == other.theta().array()).all());
    }
    SECTION("the budget counts every train() call; a spent budget takes no step") {
        TrainerOptions<double> o = quiet_options(3);
        o.max_steps = 6;
        LogReg model(data);
        Trainer<double> trainer(o);
        CHECK(trainer.train(model, 100).steps == 6);
        const Eigen::VectorXd after = model.theta();
        const auto r = trainer.train(model, 100);
        CHECK(r.steps == 6);
        CHECK(r.reason == StopReason::max_steps);
        CHECK((model.theta().array() == after.array()).all());
    }
    SECTION("a budget at an epoch boundary ends with that epoch, counted") {
        TrainerOptions<double> o = quiet_options(3);
        o.max_steps = 8;
        LogReg model(data);
        Trainer<double> trainer(o);
        CountSteps count;
        const auto r = trainer.train(model, 100, count);
        CHECK(r.steps == 8);
        CHECK(r.epochs == 2);
        CHECK(count.epochs == 2);
        CHECK(r.reason == StopReason::max_steps);
    }
}

TEST_CASE("Trainer: callbacks stop training after a step or an epoch", "[train][trainer][callback]") {
    const DataSet data = make_data(404, 100);
    SECTION("on_step returning true stops after that step; every callback still sees it") {
        LogReg model(data);
        Trainer<double> trainer(quiet_options(1));
        struct StopAt7 {
            std::int64_t last = 0;
            bool on_step(const StepInfo<double>& s) {
                last = s.step;
                return s.step == 7;
            }
        } stopper;
        CountSteps count;
        const auto r = trainer.train(model, 100, stopper, count);
        CHECK(r.reason == StopReason::callback);
        CHECK(r.steps == 7);
        CHECK(stopper.last == 7);
        CHECK(count.steps == 7);
        CHECK(count.epochs == 1);  // 4 steps per epoch: the second epoch was cut short
        CHECK(r.epochs == 1);
    }
    SECTION("on_epoch_end returning true stops after that epoch") {
        LogReg model(data);
        Trainer<double> trainer(quiet_options(1));
        struct StopAfter2 {
            bool on_epoch_end(const EpochInfo<double>& e) { return e.epoch == 1; }
        };
        std::vector<double> losses;
        struct Record {
            std::vector<double>* losses;
            void on_step(const StepInfo<double>& s) {
                CHECK(std::isfinite(s.grad_norm));
                CHECK(s.learning_rate == 0.05);
                REQUIRE(s.metrics.size() == 1);
                CHECK(std::string(s.metrics[0].name) == "acc");
                losses->push_back(s.loss);
            }
        };
        const auto r = trainer.train(model, 100, StopAfter2{}, Record{&losses});
        CHECK(r.reason == StopReason::callback);
        CHECK(r.epochs == 2);
        CHECK(r.steps == 8);  // 100 items in batches of 32: 32, 32, 32, 4
        CHECK(losses.size() == 8);
    }
}

TEST_CASE("Trainer: early stopping with patience restores the best parameters", "[train][trainer][early]") {
    const DataSet data = make_data(505, 64);
    // A scripted validation metric: best (3.0) after epoch 1, then two epochs
    // without improvement; patience 2 stops after epoch 4 (the third without).
    auto run = [&](bool restore, std::vector<Eigen::VectorXd>& per_epoch) {
        LogReg model(data);
        TrainerOptions<double> o = quiet_options(3);
        o.patience = 2;
        o.restore_best = restore;
        const std::vector<double> script{5.0, 3.0, 4.0, 3.0, 4.5, 1.0, 1.0};
        std::size_t calls = 0;
        o.validation_metric = [script, calls]() mutable { return script.at(calls++); };
        Trainer<double> trainer(o);
        struct Snapshot {
            LogReg* model;
            std::vector<Eigen::VectorXd>* out;
            void on_epoch_end(const EpochInfo<double>& e) {
                CHECK(e.validation.has_value());
                CHECK(e.improved == (e.epoch <= 1));
                out->push_back(model->theta());
            }
        };
        const auto r = trainer.train(model, 64, Snapshot{&model, &per_epoch});
        CHECK(r.reason == StopReason::early_stopping);
        CHECK(r.epochs == 5);
        REQUIRE(r.best_validation.has_value());
        CHECK(*r.best_validation == 3.0);
        CHECK(r.best_epoch == 1);
        return Eigen::VectorXd(model.theta());
    };
    std::vector<Eigen::VectorXd> snaps;
    const Eigen::VectorXd restored = run(true, snaps);
    REQUIRE(snaps.size() == 5);
    CHECK((restored.array() == snaps[1].array()).all());
    CHECK((restored - snaps[4]).norm() > 1e-9);

    std::vector<Eigen::VectorXd> snaps2;
    const Eigen::VectorXd kept = run(false, snaps2);
    REQUIRE(snaps2.size() == 5);
    CHECK((kept.array() == snaps2[4].array()).all());

    SECTION("maximize with a real held-out accuracy keeps training while it improves") {
        const DataSet held_out = make_data(606, 256);
        LogReg model(data);
        TrainerOptions<double> o = quiet_options(5);
        o.epochs = 3;
        o.maximize = true;
        o.min_delta = 0.5;  // no accuracy can improve by more than 0.5 after the first epoch
        o.patience = 0;
        o.validation_metric = [&] { return model.accuracy(held_out); };
        Trainer<double> trainer(o);
        const auto r = trainer.train(model, 64);
        CHECK(r.reason == StopReason::early_stopping);
        CHECK(r.epochs == 2);
        CHECK(r.best_epoch == 0);
    }
}

TEST_CASE("Trainer: the progress line is silent unless the output is a terminal or it is forced",
          "[train][trainer][progress]") {
    const DataSet data = make_data(707, 64);
    auto written = [&](ProgressMode mode) {
        std::FILE* f = std::tmpfile();
        REQUIRE(f != nullptr);
        LogReg model(data);
        TrainerOptions<double> o = quiet_options(1);
        o.epochs = 2;
        o.progress = mode;
        o.progress_out = f;
        o.progress_interval_seconds = 0;
        Trainer<double> trainer(o);
        trainer.train(model, 64);
        std::fflush(f);
        const long size = std::ftell(f);
        std::string text(static_cast<std::size_t>(size > 0 ? size : 0), '\0');
        std::rewind(f);
        const std::size_t got = std::fread(text.data(), 1, text.size(), f);
        std::fclose(f);
        text.resize(got);
        return text;
    };
    CHECK(written(ProgressMode::automatic).empty());  // a file is not a terminal
    CHECK(written(ProgressMode::never).empty());
    const std::string forced = written(ProgressMode::always);
    // Forced into a file: one '\n'-terminated line per update (interval 0: every
    // step, plus each epoch's summary), never a '\r'.
    CHECK(forced.find('\r') == std::string::npos);
    CHECK(forced.find("step 1 | epoch 0 | loss ") == 0);
    CHECK(forced.find(" | acc ") != std::string::npos);
    CHECK(forced.find(" items/s\n") != std::string::npos);
    CHECK(std::count(forced.begin(), forced.end(), '\n') == 2 * 2 + 2);
}

TEST_CASE("Trainer: bad options and bad model output throw input_error", "[train][trainer][validate]") {
    const DataSet data = make_data(808, 16);
    auto field = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const input_error& e) {
            return e.field();
        }
        return "(no throw)";
    };
    TrainerOptions<double> o = quiet_options(1);
    o.batch_size = 0;
    CHECK(field([&] { Trainer<double>{o}; }) == "batch_size");
    o = quiet_options(1);
    o.patience = -1;
    CHECK(field([&] { Trainer<double>{o}; }) == "patience");
    o = quiet_options(1);
    o.adam.beta2 = 1.0;
    CHECK(field([&] { Trainer<double>{o}; }) == "beta2");
    o = quiet_options(1);
    o.max_steps = -1;
    CHECK(field([&] { Trainer<double>{o}; }) == "max_steps");

    LogReg model(data);
    Trainer<double> trainer(quiet_options(1));
    CHECK(field([&] { trainer.train(model, 0); }) == "num_items");
    o = quiet_options(1);
    o.drop_last = true;
    Trainer<double> too_big(o);  // batch 32 > 16 items
    CHECK(field([&] { too_big.train(model, 16); }) == "batch_size");

    struct Broken {
        Eigen::VectorXd t = Eigen::VectorXd::Zero(2);
        double bad_loss = 0, bad_grad = 0;
        Eigen::VectorXd& theta() { return t; }
        double loss_and_grad(std::span<const Index>, Eigen::VectorXd& g) {
            g[1] += bad_grad;
            return bad_loss;
        }
    };
    Broken nan_loss{.bad_loss = std::numeric_limits<double>::quiet_NaN()};
    CHECK(field([&] { trainer.train(nan_loss, 4); }) == "loss");
    Broken inf_grad{.bad_grad = std::numeric_limits<double>::infinity()};
    try {
        trainer.train(inf_grad, 4);
        FAIL("no throw");
    } catch (const input_error& e) {
        CHECK(e.field() == "grad");
        CHECK(e.index() == 1);
    }
    CHECK(inf_grad.t.isZero(0));  // the failed step changed nothing
}

namespace {
/// f(theta) = 1/2 |theta - c|^2 over every item (the loss ignores which), gradient theta - c.
template <class T>
struct Quadratic {
    VectorX<T> t, c;
    std::vector<std::int64_t> begun;
    std::vector<T> grad_norms;
    VectorX<T>& theta() { return t; }
    void begin_step(std::int64_t step) { begun.push_back(step); }
    T loss_and_grad(std::span<const Index>, VectorX<T>& grad) {
        grad += t - c;
        grad_norms.push_back((t - c).norm());
        return T(0.5) * (t - c).squaredNorm();
    }
};
}  // namespace

TEMPLATE_TEST_CASE("Trainer: clipping, the lr schedule and begin_step reach the step", "[train][trainer][clip]", float,
                   double) {
    using T = TestType;
    // beta1 = beta2 = 0 and eps = 1e6 >> |g| turn Adam into plain gradient descent
    // with rate lr/eps: theta -= lr * g / (|g| + eps) ~= (lr/eps) g (to 5e-6 relative
    // here). With lr = 1e6 each step subtracts the clipped gradient itself.
    Quadratic<T> q;
    q.c = VectorX<T>::Zero(2);
    q.t = VectorX<T>(2);
    q.t << T(3), T(4);  // gradient (3, 4), norm 5
    TrainerOptions<T> o;
    o.epochs = 2;
    o.batch_size = 1;
    o.adam.beta1 = 0;
    o.adam.beta2 = 0;
    o.adam.epsilon = T(1e6);
    // Step 0: lr 1e6, step 1: lr 0.5e6 (polynomial, linear from 1e6 to 0 over 2 steps).
    o.learning_rate = PolynomialSchedule<T>(T(1e6), T(0), 2);
    o.clip_norm = T(1);
    o.progress = ProgressMode::never;
    Trainer<T> trainer(o);
    std::vector<T> lrs, norms;
    struct Rec {
        std::vector<T>* lrs;
        std::vector<T>* norms;
        void on_step(const StepInfo<T>& s) {
            lrs->push_back(s.learning_rate);
            norms->push_back(s.grad_norm);
        }
    };
    trainer.train(q, 1, Rec{&lrs, &norms});
    REQUIRE(q.begun == std::vector<std::int64_t>{0, 1});
    REQUIRE(lrs.size() == 2);
    CHECK(lrs[0] == Approx(1e6));
    CHECK(lrs[1] == Approx(0.5e6));
    // Step 0: g = (3, 4) clipped to (0.6, 0.8): theta = (2.4, 3.2), |g| reported 5.
    // Step 1: g = (2.4, 3.2), norm 4, clipped to (0.6, 0.8), lr/eps = 0.5: theta = (2.1, 2.8).
    CHECK(norms[0] == Approx(5.0).epsilon(1e-6));
    CHECK(norms[1] == Approx(4.0).epsilon(1e-5));
    CHECK(q.grad_norms == norms);
    CHECK(q.t[0] == Approx(2.1).epsilon(2e-5));
    CHECK(q.t[1] == Approx(2.8).epsilon(2e-5));
}
