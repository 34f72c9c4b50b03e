// The persistence contract (io/persist.hpp) over every learned mechanism: each one is
// Persistent, and save → load gives the same config, layout and theta bit for bit and
// the same serving outcomes; a file of one mechanism does not load as another.
// A new learned mechanism joins by adding its small model to `small_model` and its
// type to `LearnedModels`.
#include <catch2/catch.hpp>

#include <diffauction/io/persist.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>
#include <diffauction/mechanisms/mechanism.hpp>

#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>

#include "support/random_auction.hpp"

using namespace diffauction;

namespace {

using LearnedModels = std::tuple<Dna<float>, Dna<double>, EdgeNet<float>, EdgeNet<double>>;

template <class M>
M small_model(std::uint64_t seed) {
    if constexpr (std::is_same_v<M, Dna<typename M::scalar_type>>) {
        DnaConfig c;
        c.feature_dim = 3;
        c.phi1 = {6, 4};
        c.phi2 = {3};
        c.groups = 2;
        c.units = 3;
        M m(c);
        m.init(seed);
        return m;
    } else {
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
        M m(c);
        m.init(seed);
        return m;
    }
}

template <class M>
std::string bytes_of(const M& m) {
    std::ostringstream out(std::ios::binary);
    save(m, out);
    return out.str();
}

template <class M>
M from_bytes(const std::string& bytes) {
    std::istringstream in(bytes, std::ios::binary);
    return load<M>(in);
}

}  // namespace

static_assert(Persistent<Dna<float>> && Persistent<Dna<double>>);
static_assert(Persistent<EdgeNet<float>> && Persistent<EdgeNet<double>>);

TEMPLATE_LIST_TEST_CASE("Persistence: save then load is the identity on every learned mechanism", "[io][persist]",
                        LearnedModels) {
    using M = TestType;
    using T = typename M::scalar_type;
    INFO("model seed 11, auction seed 12");
    const M model = small_model<M>(11);
    REQUIRE(model.theta().size() > 0);
    const std::string bytes = bytes_of(model);
    const M back = from_bytes<M>(bytes);

    CHECK((back.theta().array() == model.theta().array()).all());
    CHECK(back.layout().entries().size() == model.layout().entries().size());
    for (std::size_t e = 0; e < model.layout().entries().size(); ++e) {
        CHECK(back.layout().entries()[e].name == model.layout().entries()[e].name);
        CHECK(back.layout().entries()[e].slot.offset == model.layout().entries()[e].slot.offset);
    }
    CHECK(bytes_of(back) == bytes);  // the config too: it is written into the bytes

    Rng rng(12);
    for (int t = 0; t < 20; ++t) {
        const Auction<T> a = test::random_auction<T>(rng, 1 + rng.uniform_int(6), 2, 3);
        const Outcome<T> x = run(model, a), y = run(back, a);
        CHECK(x.slots == y.slots);
        CHECK(x.price == y.price);
        CHECK(x.click_prob == y.click_prob);
    }
}

TEST_CASE("Persistence: a file of one mechanism is a wrong_model_kind for another", "[io][persist]") {
    const std::string dna = bytes_of(small_model<Dna<float>>(1));
    const std::string edgenet = bytes_of(small_model<EdgeNet<float>>(1));
    CHECK_THROWS_AS(from_bytes<EdgeNet<float>>(dna), wrong_model_kind);
    CHECK_THROWS_AS(from_bytes<Dna<float>>(edgenet), wrong_model_kind);
    CHECK_THROWS_AS(from_bytes<Dna<double>>(dna), model_scalar_mismatch);
}
