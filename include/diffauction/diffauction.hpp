// diffauction/diffauction.hpp - the umbrella header: the one include users need.
// It pulls in every public header of the library (SPEC §1 data model, §3 mechanisms
// and whatever else lives under include/diffauction/). Headers under a `detail/`
// folder are internal and reached only through the public ones.
// tests/headers/umbrella_complete.cmake fails when a public header is missing here.
#pragma once

// Core data model (SPEC §1).
#include "diffauction/core/auction.hpp"
#include "diffauction/core/batch.hpp"
#include "diffauction/core/click_model.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/io.hpp"
#include "diffauction/core/outcome.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"

// Sorting and list helpers (SPEC §2).
#include "diffauction/nn/activation.hpp"
#include "diffauction/nn/attention.hpp"
#include "diffauction/nn/deep_set.hpp"
#include "diffauction/nn/dense.hpp"
#include "diffauction/nn/gemm.hpp"
#include "diffauction/nn/gru.hpp"
#include "diffauction/nn/layer_norm.hpp"
#include "diffauction/nn/minmax.hpp"
#include "diffauction/nn/pointer.hpp"
#include "diffauction/nn/positional.hpp"
#include "diffauction/nn/transformer.hpp"
#include "diffauction/sort/lists.hpp"
#include "diffauction/sort/neural_sort.hpp"

// Mechanisms (SPEC §3, §4).
#include "diffauction/mechanisms/affine_maximiser.hpp"
#include "diffauction/mechanisms/candidate_inputs.hpp"
#include "diffauction/mechanisms/critical_bid.hpp"
#include "diffauction/mechanisms/dna.hpp"
#include "diffauction/mechanisms/edgenet.hpp"
#include "diffauction/mechanisms/gsp.hpp"
#include "diffauction/mechanisms/jama.hpp"
#include "diffauction/mechanisms/joint_vcg.hpp"
#include "diffauction/mechanisms/mechanism.hpp"
#include "diffauction/mechanisms/myerson.hpp"
#include "diffauction/mechanisms/regret_net.hpp"
#include "diffauction/mechanisms/ugsp.hpp"
#include "diffauction/mechanisms/vcg.hpp"
#include "diffauction/mechanisms/wvcg.hpp"

// Metrics and evaluation (SPEC §5).
#include "diffauction/train/adam.hpp"
#include "diffauction/train/aug_lagrangian.hpp"
#include "diffauction/train/misreport.hpp"
#include "diffauction/train/progress.hpp"
#include "diffauction/train/schedule.hpp"
#include "diffauction/train/trainer.hpp"
#include "diffauction/metrics/business.hpp"
#include "diffauction/metrics/evaluate.hpp"
#include "diffauction/metrics/ic.hpp"

// Data: synthetic market, analytic and joint settings (SPEC §6, §3, §4.4).
#include "diffauction/data/analytic.hpp"
#include "diffauction/data/joint_settings.hpp"
#include "diffauction/data/market_truth.hpp"
#include "diffauction/data/synthetic_market.hpp"
#include "diffauction/data/values.hpp"
