// tests/support/learned_models.hpp - every learned mechanism at gradient-check size (and
// tiny, for the model-file sweeps), with its saved bytes,
// for the suites that run over all of them (tests/io/persist.test.cpp,
// tests/mechanisms/learned/relaxed_contract.test.cpp). A new learned mechanism joins
// those suites by getting a branch here and a place in their type lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include <diffauction/io/model_file.hpp>
#include <diffauction/io/persist.hpp>
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

/// Tiny models for the model-file sweeps (tests/io/model_mutation.test.cpp and the
/// fuzz target fuzz/model_file_fuzz.cpp), smaller than small_learned_model's (choice:
/// every field of the format is still there, 9 and 31 manifest entries, integer lists
/// of two and one widths, EdgeNet's real bid_scale, but a third of the bytes, which
/// keeps the sweeps under the sanitizer build's time budget). DNA: D = 1, φ₁ {2, 2},
/// φ₂ {2}, Q = 2, Z = 2 (48 weights, 861 bytes in double). EdgeNet: D = 1, E = 2, one
/// block of one head, FFN 2, pointer 2, payment MLP {2}, 2 slots, 1 competitor (133
/// weights, 2500 bytes in double). Initialised from seed 11.
template <class M>
M tiny_learned_model() {
    using T = typename M::scalar_type;
    if constexpr (std::is_same_v<M, Dna<T>>) {
        DnaConfig c;
        c.feature_dim = 1;
        c.phi1 = {2, 2};
        c.phi2 = {2};
        c.groups = 2;
        c.units = 2;
        M m(c);
        m.init(11);
        return m;
    } else {
        static_assert(std::is_same_v<M, EdgeNet<T>>, "add the new learned mechanism here");
        EdgeNetConfig c;
        c.feature_dim = 1;
        c.embed_dim = 2;
        c.blocks = 1;
        c.heads = 1;
        c.ffn_dim = 2;
        c.attn_dim = 2;
        c.pay_hidden = {2};
        c.max_slots = 2;
        c.competitors = 1;
        c.bid_scale = 0.05;
        M m(c);
        m.init(11);
        return m;
    }
}

/// The bytes `save(m, stream)` writes.
template <class M>
std::string model_bytes(const M& m) {
    std::ostringstream out(std::ios::binary);
    save(m, out);
    return out.str();
}

/// Writes the FNV-1a 64 of all bytes but the last 8 into the last 8, little-endian: the
/// checksum a writer would have put there (files under 8 bytes are left as they are).
inline void reseal_model_bytes(std::string& bytes) {
    if (bytes.size() < 8) return;
    const std::size_t at = bytes.size() - 8;
    const std::uint64_t sum = detail::fnv1a64(std::string_view(bytes).substr(0, at));
    for (std::size_t i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>((sum >> (8 * i)) & 0xFF);
}

}  // namespace diffauction::test
