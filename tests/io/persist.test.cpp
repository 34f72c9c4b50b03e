// The persistence contract (io/persist.hpp) over every learned mechanism: each one is
// Persistent, and save → load gives the same config, layout and theta bit for bit and
// the same serving outcomes; a file of one mechanism does not load as another.
// A new learned mechanism joins by adding its small model to
// tests/support/learned_models.hpp and its type to `LearnedModels`.
#include <catch2/catch.hpp>

#include <diffauction/io/persist.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>
#include <diffauction/mechanisms/mechanism.hpp>

#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>

#include "support/learned_models.hpp"
#include "support/random_auction.hpp"

using namespace diffauction;

namespace {

using LearnedModels = std::tuple<Dna<float>, Dna<double>, EdgeNet<float>, EdgeNet<double>>;

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
    const M model = test::small_learned_model<M>(11);
    REQUIRE(model.theta().size() > 0);
    const std::string bytes = test::model_bytes(model);
    const M back = from_bytes<M>(bytes);

    CHECK((back.theta().array() == model.theta().array()).all());
    CHECK(back.layout().entries().size() == model.layout().entries().size());
    for (std::size_t e = 0; e < model.layout().entries().size(); ++e) {
        CHECK(back.layout().entries()[e].name == model.layout().entries()[e].name);
        CHECK(back.layout().entries()[e].slot.offset == model.layout().entries()[e].slot.offset);
    }
    CHECK(test::model_bytes(back) == bytes);  // the config too: it is written into the bytes

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
    const std::string dna = test::model_bytes(test::small_learned_model<Dna<float>>(1));
    const std::string edgenet = test::model_bytes(test::small_learned_model<EdgeNet<float>>(1));
    CHECK_THROWS_AS(from_bytes<EdgeNet<float>>(dna), wrong_model_kind);
    CHECK_THROWS_AS(from_bytes<Dna<float>>(edgenet), wrong_model_kind);
    CHECK_THROWS_AS(from_bytes<Dna<double>>(dna), model_scalar_mismatch);
}
