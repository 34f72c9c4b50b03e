// diffauction/train/recipes/edgenet.hpp - train_edgenet: EdgeNet
// (mechanisms/learned/edgenet.hpp) trained with the augmented-Lagrangian regret
// objective (train/objectives/regret_loss.hpp) through RelaxedTrainable, with the
// options EdgeNet's figures were measured with.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>

#include "diffauction/core/error.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/mechanisms/learned/edgenet.hpp"
#include "diffauction/train/objectives/regret_loss.hpp"
#include "diffauction/train/relaxed_trainable.hpp"
#include "diffauction/train/schedule.hpp"
#include "diffauction/train/trainer.hpp"

namespace diffauction {

/// Options of `train_edgenet`.
template <Scalar T>
struct EdgeNetTrainOptions {
    /// τ of the relaxed outcome per step (choice: from 1, ×0.99 per step, floor 0.05,
    /// reached after 300 steps; training must end near serving's hard decoding: with
    /// ×0.999 τ was still 0.55 after 600 steps and the served IC-R doubled, BENCHMARKS.md).
    Schedule<T> tau = ExponentialSchedule<T>(T(1), T(0.99), 1, T(0.05));
    /// Stop after this many steps in all (0: run trainer.epochs epochs, or
    /// trainer.max_steps when that is set; otherwise it sets max_steps).
    std::int64_t steps = 0;
    /// When true (default), the ascent's range is set to [0, 2·(largest value in the
    /// samples)] instead of regret.misreport.ascent.lo/hi.
    bool value_range_from_samples = true;
    /// The augmented Lagrangian. (choice) Misreports: the multiplier grid {0, 0.25,
    /// ..., 2} plus 5 warm-started Adam steps, clipped to regret.misreport.ascent's
    /// [lo, hi] (see value_range_from_samples). regret.seed draws the first warm starts.
    RegretLossOptions<T> regret = [] {
        RegretLossOptions<T> o;
        o.misreport.grid = true;
        o.misreport.multipliers = {0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0};
        o.misreport.ascent.steps = 5;
        return o;
    }();
    /// The loop (epochs, batch, Adam, seed, progress): batch 64, Adam 1e-3, clip 10.
    TrainerOptions<T> trainer = [] {
        TrainerOptions<T> o;
        o.batch_size = 64;
        o.adam.learning_rate = T(1e-3);
        o.clip_norm = T(10);
        return o;
    }();
};

/// What `train_edgenet` returns: the loop's result and the objective's final state.
template <Scalar T>
struct EdgeNetTrainResult {
    TrainResult<T> loop;
    VectorX<T> lambda;  ///< the multipliers λ_j at the end (one per position)
    T rho = T(0);
    T tau = T(0);       ///< τ of the last step
    T revenue = T(0);   ///< revenue of the last batch
    VectorX<T> regret;  ///< rgt_j of the last batch, per position
};

/// Trains `model` (initialised by the caller) on the samples' truthful values with
/// the augmented-Lagrangian regret objective: −revenue + λ·rgt + ρ/2·rgt² (SPEC §2,
/// §4.2), τ annealed per step. Deterministic for fixed options (single thread).
/// Throws input_error for bad samples (ones the model rejects, values that are not
/// one finite value per candidate, joint auctions) or options.
template <Scalar T, class... Callbacks>
EdgeNetTrainResult<T> train_edgenet(EdgeNet<T>& model, std::span<const Sample<T>> samples,
                                    EdgeNetTrainOptions<T> opt = {}, Callbacks&&... callbacks) {
    detail::require(!samples.empty(), "samples", kNone, "is empty");
    detail::require(opt.steps >= 0, "steps", kNone, "must be >= 0");
    if (opt.value_range_from_samples) {
        T vmax = T(0);
        for (const Sample<T>& s : samples)
            if (s.truth.values.size() > 0 && detail::all_finite(s.truth.values))
                vmax = std::max(vmax, s.truth.values.maxCoeff());
        opt.regret.misreport.ascent.lo = T(0);
        opt.regret.misreport.ascent.hi = T(2) * vmax;
    }
    if (opt.steps > 0) opt.trainer.max_steps = opt.steps;
    RelaxedTrainable<EdgeNet<T>, RegretLoss<EdgeNet<T>>> trainable(model, samples,
                                                                   RegretLoss<EdgeNet<T>>(opt.regret), opt.tau);
    Trainer<T> loop(opt.trainer);
    EdgeNetTrainResult<T> r;
    r.loop = loop.train(trainable, trainable.num_items(), std::forward<Callbacks>(callbacks)...);
    const RegretLoss<EdgeNet<T>>& obj = trainable.objective();
    r.lambda = obj.lambda();
    r.rho = obj.rho();
    r.tau = trainable.tau();
    r.revenue = obj.last_revenue();
    r.regret = obj.last_regret();
    return r;
}

}  // namespace diffauction
