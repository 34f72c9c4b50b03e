// DNA persistence (io/model_file.hpp, io/persist.hpp format: bit-identical outcomes after save and load,
// typed errors for truncated, corrupt, wrong-kind, wrong-version, wrong-scalar and
// inconsistent files) and batched serving (run_batch equals run bit for bit,
// allocates nothing after the first call).
#include <catch2/catch.hpp>

#include <diffauction/data/synthetic_market.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "support/alloc_counter.hpp"
#include "support/random_auction.hpp"

using namespace diffauction;

namespace {
template <Scalar T>
Dna<T> trained_looking_model(std::uint64_t seed) {
    DnaConfig cfg;
    cfg.feature_dim = 3;
    cfg.phi1 = {12, 6};
    cfg.phi2 = {4};
    cfg.groups = 3;
    cfg.units = 4;
    Dna<T> model(cfg);
    model.init(seed);
    // Non-zero biases everywhere, as after training.
    Rng rng(seed + 1);
    for (Index i = 0; i < model.theta().size(); ++i) model.theta()[i] += static_cast<T>(0.05 * rng.normal());
    return model;
}

template <Scalar T>
std::vector<Auction<T>> auction_pool(std::uint64_t seed, int count, Index max_n = 14) {
    Rng rng(seed);
    std::vector<Auction<T>> pool;
    for (int t = 0; t < count; ++t) {
        auto a = test::random_auction<T>(rng, 1 + rng.uniform_int(max_n), 1 + rng.uniform_int(4), 3);
        a.bids *= T(3);
        if (t % 5 == 0) a.cvr.resize(0);
        pool.push_back(std::move(a));
    }
    return pool;
}

template <Scalar T>
void check_same(const Outcome<T>& a, const Outcome<T>& b) {
    CHECK(a.slots == b.slots);
    CHECK(a.price == b.price);
    CHECK(a.click_prob == b.click_prob);
}

template <Scalar T>
std::string bytes_of(const Dna<T>& m) {
    std::ostringstream out(std::ios::binary);
    save(m, out);
    return out.str();
}
template <Scalar T>
std::string bytes_of(const ModelFile<T>& f) {
    std::ostringstream out(std::ios::binary);
    save_model(out, f);
    return out.str();
}
template <Scalar T>
Dna<T> load_bytes(const std::string& bytes) {
    std::istringstream in(bytes, std::ios::binary);
    return load<Dna<T>>(in);
}
}  // namespace

TEMPLATE_TEST_CASE("DNA: a saved and reloaded model gives bit-identical outcomes", "[mechanisms][dna][io]", float,
                   double) {
    using T = TestType;
    const Dna<T> model = trained_looking_model<T>(91);
    const Dna<T> back = load_bytes<T>(bytes_of(model));
    CHECK(back.theta() == model.theta());
    CHECK(back.config().phi1 == model.config().phi1);
    CHECK(back.layout().entries().size() == model.layout().entries().size());
    typename Dna<T>::Workspace w1, w2;
    Outcome<T> o1, o2;
    for (const auto& a : auction_pool<T>(92, 300)) {
        model.run(a, o1, w1);
        back.run(a, o2, w2);
        check_same(o1, o2);
    }
    // Through a file as well.
    const auto path = std::filesystem::temp_directory_path() / "diffauction_dna_io_test.dfa";
    save(model, path);
    const Dna<T> from_disk = load<Dna<T>>(path);
    std::filesystem::remove(path);
    CHECK(from_disk.theta() == model.theta());
}

TEST_CASE("DNA: truncated, corrupted, wrong-kind, wrong-version and wrong-scalar files throw typed errors",
          "[mechanisms][dna][io]") {
    const Dna<float> model = trained_looking_model<float>(93);
    const std::string good = bytes_of(model);
    REQUIRE(good.size() > 1000);
    // Truncation anywhere: a cut magic or any cut field.
    for (const std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{8}, std::size_t{11}, std::size_t{20},
                                  good.size() / 2, good.size() - 9, good.size() - 1}) {
        INFO("cut at " << cut);
        CHECK_THROWS_AS(load_bytes<float>(good.substr(0, cut)), truncated_model_file);
    }
    // One flipped bit in the weights: the checksum catches it.
    std::string flipped = good;
    flipped[flipped.size() - 100] = static_cast<char>(flipped[flipped.size() - 100] ^ 0x10);
    CHECK_THROWS_AS(load_bytes<float>(flipped), corrupt_model_file);
    // Not a model file at all.
    CHECK_THROWS_AS(load_bytes<float>(std::string(64, 'x')), not_a_model_file);

    ModelFile<float> f = to_model_file(model);
    f.kind = "edgenet";
    CHECK_THROWS_AS(load_bytes<float>(bytes_of(f)), wrong_model_kind);
    f = to_model_file(model);
    f.version = Dna<float>::model_version + 1;
    CHECK_THROWS_AS(load_bytes<float>(bytes_of(f)), unsupported_model_version);
    CHECK_THROWS_AS(load_bytes<double>(good), model_scalar_mismatch);
}

TEST_CASE("DNA: inconsistent hyper-parameters, manifest or weights are typed errors naming the problem",
          "[mechanisms][dna][io]") {
    const Dna<double> model = trained_looking_model<double>(94);
    const auto key_of = [](const ModelFile<double>& f) {
        try {
            load_bytes<double>(bytes_of(f));
        } catch (const hyper_param_error& e) {
            return e.key();
        }
        return std::string("no error");
    };
    ModelFile<double> f = to_model_file(model);
    f.hyper.set_int("groups", 0);
    CHECK(key_of(f) == "groups");
    f = to_model_file(model);
    f.hyper.set_real("units", 4.0);  // a real where an integer belongs
    CHECK(key_of(f) == "units");
    f = to_model_file(model);
    f.hyper.set_int_list("phi1", {});
    CHECK(key_of(f) == "phi1");
    f = to_model_file(model);
    f.hyper = HyperParams().set_int("feature_dim", 3);  // the rest missing
    CHECK(key_of(f) == "phi1");
    f = to_model_file(model);
    f.hyper.set_int("feature_dim", -1);
    CHECK(key_of(f) == "feature_dim");
    // Hyper-parameters of another shape than the weights: the manifest differs.
    f = to_model_file(model);
    f.hyper.set_int_list("phi2", {5});
    CHECK_THROWS_AS(load_bytes<double>(bytes_of(f)), manifest_mismatch);
    // A non-finite weight.
    f = to_model_file(model);
    f.theta[7] = std::nan("");
    try {
        load_bytes<double>(bytes_of(f));
        FAIL("a NaN weight loaded");
    } catch (const corrupt_model_file& e) {
        CHECK(e.field() == "weights[7]");
    }
}

TEMPLATE_TEST_CASE("DNA: run_batch equals run bit for bit, chunks and oversized auctions included",
                   "[mechanisms][dna][serving]", float, double) {
    using T = TestType;
    const Dna<T> model = trained_looking_model<T>(95);
    // 200 auctions of 1..14 candidates (several chunks of kBatchRows rows) plus two of more than
    // a chunk's rows, served alone.
    std::vector<Auction<T>> pool = auction_pool<T>(96, 200);
    Rng rng(97);
    pool.insert(pool.begin() + 37, test::random_auction<T>(rng, Dna<T>::kBatchRows + 5, 3, 3));
    pool.push_back(test::random_auction<T>(rng, Dna<T>::kBatchRows + 1, 2, 3));
    std::vector<AuctionView<T>> views(pool.begin(), pool.end());
    std::vector<Outcome<T>> outs(pool.size());
    typename Dna<T>::BatchWorkspace bws;
    model.run_batch(views, outs, bws);
    typename Dna<T>::Workspace ws;
    Outcome<T> one;
    for (std::size_t b = 0; b < pool.size(); ++b) {
        INFO("auction " << b << " of " << pool[b].num_candidates() << " candidates");
        model.run(pool[b], one, ws);
        check_same(one, outs[b]);
    }
    if (test::allocation_counting()) {
        const long before = test::allocations();
        model.run_batch(views, outs, bws);
        CHECK(test::allocations() - before == 0);
    }
    // Bad input: the error names the auction, and nothing is served.
    pool[150].bids[0] = std::nan("");
    views.clear();  // views are not assignable: rebuild them
    for (const auto& a : pool) views.emplace_back(a);
    try {
        model.run_batch(views, outs, bws);
        FAIL("a NaN bid was served");
    } catch (const input_error& e) {
        CHECK(e.field() == "bids");
        CHECK(e.auction() == 150);
    }
    CHECK_THROWS_AS(model.run_batch(views, std::span<Outcome<T>>(outs.data(), 3), bws), input_error);
}
