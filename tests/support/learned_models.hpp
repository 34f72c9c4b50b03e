// tests/support/learned_models.hpp - every learned mechanism at gradient-check size,
// for the suites that run over all of them (tests/io/persist.test.cpp,
// tests/mechanisms/learned/relaxed_contract.test.cpp). A new learned mechanism joins
// those suites by getting a branch here and a place in their type lists.
#pragma once

#include <cstdint>
#include <type_traits>

#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>

#include "support/dna_samples.hpp"

namespace diffauction::test {

/// EdgeNet at gradient-check size: D = 3, E = 4, one block of 2 heads, FFN 6, pointer
/// 5, payment MLP {5}, 2 slots, 2 competitors.
inline EdgeNetConfig small_edgenet_config() {
    EdgeNetConfig c;
    c.feature_dim = 3;
    c.embed_dim = 4;
    c.blocks = 1;
    c.heads = 2;
    c.ffn_dim = 6;
    c.attn_dim = 5;
    c.pay_hidden = {5};
    c.max_slots = 2;
    c.competitors = 2;
    c.bid_scale = 0.05;
    return c;
}

/// A small initialised model: DNA with D = 3, φ₁ {6, 4}, φ₂ {3}, Q = 2, Z = 3; EdgeNet
/// with D = 3, E = 4, one block of 2 heads, FFN 6, pointer 5, payment MLP {5}, 2 slots,
/// 2 competitors. Both read 3 feature columns and serve up to 2 slots.
template <class M>
M small_learned_model(std::uint64_t seed) {
    using T = typename M::scalar_type;
    if constexpr (std::is_same_v<M, Dna<T>>) {
        M m(small_dna_config());
        m.init(seed);
        return m;
    } else {
        static_assert(std::is_same_v<M, EdgeNet<T>>, "add the new learned mechanism here");
        M m(small_edgenet_config());
        m.init(seed);
        return m;
    }
}

}  // namespace diffauction::test
