// diffauction/diffauction.hpp - the umbrella header: the one include users need.
// It pulls in every public header of the library. Headers under a `detail/` folder
// are internal and reached only through the public ones.
// tests/headers/umbrella_complete.cmake fails when a public header is missing here.
#pragma once

// Core data model (SPEC §1): auctions, batches, outcomes, errors, parameters.
#include "diffauction/core/auction.hpp"
#include "diffauction/core/batch.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"

// Model files and the persistence contract (save / load of every learned model).
#include "diffauction/io/errors.hpp"
#include "diffauction/io/hyper_params.hpp"
#include "diffauction/io/model_file.hpp"
#include "diffauction/io/persist.hpp"

// List-wise click models (CTR of every ad of an ordered list).
#include "diffauction/click_models/click_model.hpp"

// Differentiable blocks with hand-written backward passes (SPEC §2).
#include "diffauction/nn/activation.hpp"
#include "diffauction/nn/attention.hpp"
#include "diffauction/nn/deep_set.hpp"
#include "diffauction/nn/dense.hpp"
#include "diffauction/nn/gru.hpp"
#include "diffauction/nn/layer_norm.hpp"
#include "diffauction/nn/minmax.hpp"
#include "diffauction/nn/mlp.hpp"
#include "diffauction/nn/pointer.hpp"
#include "diffauction/nn/positional.hpp"
#include "diffauction/nn/transformer.hpp"

// NeuralSort, sorting and list helpers (SPEC §2).
#include "diffauction/sort/lists.hpp"
#include "diffauction/sort/neural_sort.hpp"

// Mechanisms (SPEC §3, §4): the interface, exact baselines, learned mechanisms.
#include "diffauction/mechanisms/baselines/affine_maximiser.hpp"
#include "diffauction/mechanisms/baselines/gsp.hpp"
#include "diffauction/mechanisms/baselines/jama.hpp"
#include "diffauction/mechanisms/baselines/joint_vcg.hpp"
#include "diffauction/mechanisms/baselines/myerson.hpp"
#include "diffauction/mechanisms/baselines/ugsp.hpp"
#include "diffauction/mechanisms/baselines/vcg.hpp"
#include "diffauction/mechanisms/baselines/wvcg.hpp"
#include "diffauction/mechanisms/critical_bid.hpp"
#include "diffauction/mechanisms/learned/candidate_inputs.hpp"
#include "diffauction/mechanisms/learned/dna.hpp"
#include "diffauction/mechanisms/learned/edgenet.hpp"
#include "diffauction/mechanisms/learned/regret_net.hpp"
#include "diffauction/mechanisms/mechanism.hpp"
#include "diffauction/mechanisms/relaxed.hpp"

// Metrics and evaluation (SPEC §5).
#include "diffauction/metrics/business.hpp"
#include "diffauction/metrics/evaluate.hpp"
#include "diffauction/metrics/ic.hpp"

// Data: synthetic market, analytic and joint settings (SPEC §6, §3, §4.4).
#include "diffauction/data/analytic.hpp"
#include "diffauction/data/joint_settings.hpp"
#include "diffauction/data/market_truth.hpp"
#include "diffauction/data/synthetic_market.hpp"
#include "diffauction/data/values.hpp"

// Training: Adam, schedules, the trainer loop, the misreport search and the relaxed-model
// adapter (SPEC §2).
#include "diffauction/train/adam.hpp"
#include "diffauction/train/misreport.hpp"
#include "diffauction/train/progress.hpp"
#include "diffauction/train/relaxed_trainable.hpp"
#include "diffauction/train/schedule.hpp"
#include "diffauction/train/trainer.hpp"

// Training objectives over relaxed outcomes (DNA's rank loss, the augmented-Lagrangian
// regret loss).
#include "diffauction/train/objectives/rank_loss.hpp"
#include "diffauction/train/objectives/regret_loss.hpp"

// Training recipes: a mechanism, its objective and the options its figures were measured with.
#include "diffauction/train/recipes/edgenet.hpp"
