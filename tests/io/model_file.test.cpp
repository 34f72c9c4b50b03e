// Model files (io/model_file.hpp, io/persist.hpp): exact byte layout, bit-identical round trips, every
// truncation and every single-bit flip of a small file rejected, typed errors for
// wrong magic / kind / version / scalar / manifest, bounded allocation on huge lengths.
#include <catch2/catch.hpp>

#include <diffauction/io/persist.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include "support/alloc_counter.hpp"

using namespace diffauction;

namespace {

/// Independent little-endian byte builder for hand-made files (the expected bytes
/// are written from the layout documented in io.hpp, not from save_model's output).
struct Bytes {
    std::string s;
    Bytes& u8(unsigned v) {
        s.push_back(static_cast<char>(v & 0xFF));
        return *this;
    }
    Bytes& u32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) u8((v >> (8 * i)) & 0xFF);
        return *this;
    }
    Bytes& u64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) u8(static_cast<unsigned>((v >> (8 * i)) & 0xFF));
        return *this;
    }
    Bytes& str(const std::string& t) {
        u32(static_cast<std::uint32_t>(t.size()));
        s.append(t);
        return *this;
    }
    Bytes& magic() {
        s.append("DFAUCTN", 7);
        return u8(0);
    }
    /// Magic, version, kind and scalar tag.
    Bytes& header(std::uint32_t version, const std::string& kind, unsigned tag) {
        magic().u32(version).str(kind);
        return u8(tag);
    }
    /// Appends the FNV-1a checksum of everything so far.
    std::string sealed() const {
        Bytes b = *this;
        b.u64(detail::fnv1a64(s));
        return b.s;
    }
};

template <Scalar T>
ModelFile<T> load(const std::string& bytes, std::string_view kind = "dna", std::uint32_t max_version = 1) {
    std::istringstream in(bytes);
    return load_model<T>(in, kind, max_version);
}

template <Scalar T>
std::string save(const ModelFile<T>& f) {
    std::ostringstream out;
    save_model(out, f);
    return out.str();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// A small model file with every kind of field: four hyper-parameter types, two
/// parameters, four weights.
template <Scalar T>
ModelFile<T> small_model() {
    ModelFile<T> f;
    f.kind = "dna";
    f.version = 1;
    f.hyper.set_int("n", 30).set_real("tau", 0.5).set_string("act", "relu").set_int_list("widths", {8, 4});
    ParamLayout layout;
    layout.add("a", 1, 2);
    layout.add("b", 2, 1);
    f.manifest = layout.entries();
    f.theta.resize(4);
    f.theta << T(1.5), T(-2), T(0.25), T(3);
    return f;
}

template <Scalar T>
void require_bit_identical(const VectorX<T>& a, const VectorX<T>& b) {
    REQUIRE(a.size() == b.size());
    for (Index i = 0; i < a.size(); ++i) {
        INFO("theta[" << i << "] = " << a[i]);
        CHECK(std::memcmp(a.data() + i, b.data() + i, sizeof(T)) == 0);
    }
}

}  // namespace

TEST_CASE("io: FNV-1a 64 matches the published test vectors", "[io]") {
    CHECK(detail::fnv1a64("") == 0xcbf29ce484222325ULL);
    CHECK(detail::fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
    CHECK(detail::fnv1a64("foobar") == 0x85944171f73967e8ULL);
}

TEST_CASE("io: the bytes of a tiny float file are exactly the documented layout", "[io]") {
    ModelFile<float> f;
    f.kind = "k";
    f.version = 1;
    f.hyper.set_int("n", 3);
    ParamLayout layout;
    layout.add("w", 1, 2);
    f.manifest = layout.entries();
    f.theta.resize(2);
    f.theta << 1.0f, -2.0f;

    // Written out by hand; 1.0f = 0x3f800000, -2.0f = 0xc0000000; the checksum is
    // FNV-1a 64 of the 85 bytes before it, computed separately (0x6e5d25b02cc06ce2).
    const unsigned char expected[] = {
        0x44, 0x46, 0x41, 0x55, 0x43, 0x54, 0x4E, 0x00,  // magic
        0x01, 0x00, 0x00, 0x00,                          // version 1
        0x01, 0x00, 0x00, 0x00, 'k',                     // kind "k"
        0x04,                                            // float
        0x01, 0, 0, 0, 0, 0, 0, 0,                       // 1 hyper-parameter
        0x01, 0x00, 0x00, 0x00, 'n', 0x01,               // "n", integer
        0x03, 0, 0, 0, 0, 0, 0, 0,                       // 3
        0x01, 0, 0, 0, 0, 0, 0, 0,                       // 1 manifest entry
        0x01, 0x00, 0x00, 0x00, 'w',                     // "w"
        0x01, 0, 0, 0, 0, 0, 0, 0,                       // rows 1
        0x02, 0, 0, 0, 0, 0, 0, 0,                       // cols 2
        0x02, 0, 0, 0, 0, 0, 0, 0,                       // 2 weights
        0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0,  // 1.0f, -2.0f
        0xe2, 0x6c, 0xc0, 0x2c, 0xb0, 0x25, 0x5d, 0x6e,  // checksum
    };
    const std::string want(reinterpret_cast<const char*>(expected), sizeof expected);
    const std::string got = save(f);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("byte " << i);
        CHECK(static_cast<unsigned char>(got[i]) == static_cast<unsigned char>(want[i]));
    }
    const auto back = load<float>(want, "k", 1);
    CHECK(back.hyper.get_int("n") == 3);
    CHECK(back.theta[0] == 1.0f);
    CHECK(back.theta[1] == -2.0f);
}

TEMPLATE_TEST_CASE("io: round trip is bit-identical", "[io]", float, double) {
    using T = TestType;
    using L = std::numeric_limits<T>;
    ModelFile<T> f;
    f.kind = "dna";
    f.version = 7;
    f.hyper.set_int("n_max", 30)
        .set_int("neg", std::numeric_limits<std::int64_t>::min())
        .set_real("tau", 0.1)
        .set_real("neg_zero", -0.0)
        .set_real("tiny", std::numeric_limits<double>::denorm_min())
        .set_string("activation", "elu")
        .set_string("empty", "")
        .set_int_list("widths", {64, 32, -1, std::numeric_limits<std::int64_t>::max()})
        .set_int_list("none", {});
    ParamLayout layout;
    layout.add("enc.W", 3, 4);
    layout.add("enc.b", 1, 4);
    layout.add("empty", 0, 5);
    layout.add("out.W", 2, 3);
    f.manifest = layout.entries();
    f.theta.resize(layout.size());
    const T specials[] = {T(0),          -T(0),        L::denorm_min(), -L::denorm_min(), L::min() / T(4),
                          L::min(),      L::max(),     L::lowest(),     L::epsilon(),     L::infinity(),
                          -L::infinity(), T(1) / T(3), T(-1e30f),       T(6.02e23f)};
    std::mt19937 gen(20261123);
    std::normal_distribution<T> normal(0, 1);
    for (Index i = 0; i < f.theta.size(); ++i)
        f.theta[i] = i < Index(std::size(specials)) ? specials[i] : normal(gen);

    const std::string bytes = save(f);
    const auto back = load<T>(bytes, "dna", 7);
    CHECK(back.kind == "dna");
    CHECK(back.version == 7u);
    CHECK(back.hyper == f.hyper);
    // Reals bit for bit (== cannot tell -0.0 from 0.0).
    CHECK(std::signbit(back.hyper.get_real("neg_zero")));
    CHECK(std::bit_cast<std::uint64_t>(back.hyper.get_real("tiny")) == 1u);
    CHECK(back.hyper.get_int_list("widths") == f.hyper.get_int_list("widths"));
    REQUIRE(back.manifest.size() == f.manifest.size());
    for (std::size_t i = 0; i < f.manifest.size(); ++i) {
        CHECK(back.manifest[i].name == f.manifest[i].name);
        CHECK(back.manifest[i].slot.offset == f.manifest[i].slot.offset);
        CHECK(back.manifest[i].slot.rows == f.manifest[i].slot.rows);
        CHECK(back.manifest[i].slot.cols == f.manifest[i].slot.cols);
    }
    require_bit_identical(f.theta, back.theta);
    CHECK_NOTHROW(check_manifest(back, layout));
    // Saving what was loaded reproduces the file byte for byte.
    CHECK(save(back) == bytes);
}

TEST_CASE("io: a model with no hyper-parameters and no weights round-trips", "[io]") {
    ModelFile<double> f;
    f.kind = "empty";
    const auto back = load<double>(save(f), "empty", 1);
    CHECK(back.hyper.size() == 0);
    CHECK(back.manifest.empty());
    CHECK(back.theta.size() == 0);
    // magic 8 + version 4 + kind 4+5 + tag 1 + three counts 24 + checksum 8.
    CHECK(save(f).size() == 54u);
}

TEST_CASE("io: path overloads round-trip and name a missing file", "[io]") {
    namespace fs = std::filesystem;
    std::random_device rd;
    const fs::path path = fs::temp_directory_path() / ("diffauction_io_test_" + std::to_string(rd()) + ".dfa");
    const auto f = small_model<float>();
    save_model(path, f);
    const auto back = load_model<float>(path, "dna", 1);
    fs::remove(path);
    require_bit_identical(f.theta, back.theta);
    CHECK(back.hyper == f.hyper);

    try {
        (void)load_model<float>(path, "dna", 1);
        FAIL("loading a missing file succeeded");
    } catch (const model_file_error& e) {
        CHECK(contains(e.what(), path.string()));
    }
}

TEST_CASE("io: truncation at every byte offset throws truncated_model_file", "[io]") {
    const std::string bytes = save(small_model<double>());
    REQUIRE_NOTHROW(load<double>(bytes));
    for (std::size_t k = 0; k < bytes.size(); ++k) {
        INFO("file cut to " << k << " of " << bytes.size() << " bytes");
        try {
            (void)load<double>(bytes.substr(0, k));
            FAIL("a truncated file loaded");
        } catch (const truncated_model_file& e) {
            CHECK(e.offset() <= k);
            CHECK(contains(e.what(), "truncated model file at byte " + std::to_string(e.offset())));
        }
    }
}

TEST_CASE("io: flipping any single bit of a small file throws", "[io]") {
    const std::string bytes = save(small_model<double>());
    // The weights are the 32 bytes before the 8-byte checksum: only the checksum sees them.
    const std::size_t weights_begin = bytes.size() - 8 - 32;
    int not_magic = 0, version = 0, corrupt = 0, by_checksum = 0;
    for (std::size_t byte = 0; byte < bytes.size(); ++byte)
        for (int bit = 0; bit < 8; ++bit) {
            std::string bad = bytes;
            bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
            INFO("byte " << byte << " bit " << bit);
            try {
                (void)load<double>(bad);
                FAIL("a file with a flipped bit loaded");
            } catch (const not_a_model_file&) {
                CHECK(byte < 8);
                ++not_magic;
            } catch (const unsupported_model_version& e) {
                // Version 1 becomes 1 | 2^k > 1, or 0 for bit 0.
                CHECK((byte >= 8 && byte < 12));
                CHECK(e.version() == (1u ^ (1u << (8 * (byte - 8) + static_cast<std::size_t>(bit)))));
                ++version;
            } catch (const corrupt_model_file& e) {
                CHECK(byte >= 12);
                if (byte >= weights_begin) CHECK(e.field() == "checksum");
                if (e.field() == "checksum") ++by_checksum;
                ++corrupt;
            }
        }
    CHECK(not_magic == 64);
    CHECK(version == 32);
    CHECK(corrupt == static_cast<int>(bytes.size()) * 8 - 64 - 32);
    CHECK(by_checksum >= 40 * 8);
}

TEST_CASE("io: wrong magic throws not_a_model_file", "[io]") {
    std::string bytes = save(small_model<double>());
    bytes[3] = 'X';
    try {
        (void)load<double>(bytes);
        FAIL("a file with a wrong magic loaded");
    } catch (const not_a_model_file& e) {
        CHECK(contains(e.what(), "not a diffauction model file"));
        CHECK(contains(e.what(), "magic"));
    }
    CHECK_THROWS_AS(load<double>("PK\x03\x04"), not_a_model_file);
    CHECK_THROWS_AS(load<double>("DFAU"), truncated_model_file);  // a prefix of the magic: cut, not foreign
    CHECK_THROWS_AS(load<double>(""), truncated_model_file);
}

TEST_CASE("io: another mechanism's file throws wrong_model_kind", "[io]") {
    auto f = small_model<double>();
    f.kind = "edgenet";
    try {
        (void)load<double>(save(f), "dna", 1);
        FAIL("an edgenet file loaded as dna");
    } catch (const wrong_model_kind& e) {
        CHECK(e.found() == "edgenet");
        CHECK(e.expected() == "dna");
        CHECK(contains(e.what(), "kind"));
        CHECK(contains(e.what(), "'edgenet'"));
        CHECK(contains(e.what(), "'dna'"));
    }
}

TEST_CASE("io: version 0 and a newer version throw unsupported_model_version", "[io]") {
    auto f = small_model<double>();
    f.version = 3;
    const std::string bytes = save(f);
    CHECK_NOTHROW(load<double>(bytes, "dna", 3));
    CHECK_NOTHROW(load<double>(bytes, "dna", 4));
    try {
        (void)load<double>(bytes, "dna", 2);
        FAIL("a version 3 file loaded with max version 2");
    } catch (const unsupported_model_version& e) {
        CHECK(e.version() == 3u);
        CHECK(e.max_supported() == 2u);
        CHECK(contains(e.what(), "version (byte 8) is 3"));
        CHECK(contains(e.what(), "versions 1 to 2"));
    }
    // Version 0 is never valid: rejected before anything after the version is read
    // (here the rest of the file is garbage and the checksum stale).
    try {
        (void)load<double>(Bytes{}.magic().u32(0).s.append(40, '\xFF'), "dna", 2);
        FAIL("a version 0 file loaded");
    } catch (const unsupported_model_version& e) {
        CHECK(e.version() == 0u);
        CHECK(contains(e.what(), "version (byte 8) is 0, this loader supports versions 1 to 2"));
    }
}

TEST_CASE("io: float files do not load as double, nor double files as float", "[io]") {
    try {
        (void)load<double>(save(small_model<float>()));
        FAIL("a float file loaded as double");
    } catch (const model_scalar_mismatch& e) {
        CHECK(contains(e.what(), "is float, the loader expects double"));
    }
    CHECK_THROWS_AS(load<float>(save(small_model<double>())), model_scalar_mismatch);
}

TEST_CASE("io: check_manifest names the first mismatching entry", "[io]") {
    const auto f = load<double>(save(small_model<double>()));
    const auto expect_mismatch = [&](const ParamLayout& layout, std::size_t index, const std::string& part) {
        try {
            check_manifest(f, layout);
            FAIL("a mismatching manifest was accepted");
        } catch (const manifest_mismatch& e) {
            CHECK(e.index() == index);
            CHECK(contains(e.what(), "manifest[" + std::to_string(index) + "]"));
            CHECK(contains(e.what(), part));
        }
    };
    {
        ParamLayout same;
        same.add("a", 1, 2);
        same.add("b", 2, 1);
        CHECK_NOTHROW(check_manifest(f, same));
    }
    {
        ParamLayout renamed;
        renamed.add("a", 1, 2);
        renamed.add("c", 2, 1);
        expect_mismatch(renamed, 1, "file has 'b' [2 x 1], the model expects 'c' [2 x 1]");
    }
    {
        ParamLayout reshaped;  // same size, transposed
        reshaped.add("a", 2, 1);
        reshaped.add("b", 2, 1);
        expect_mismatch(reshaped, 0, "file has 'a' [1 x 2], the model expects 'a' [2 x 1]");
    }
    {
        ParamLayout reordered;
        reordered.add("b", 2, 1);
        reordered.add("a", 1, 2);
        expect_mismatch(reordered, 0, "file has 'a' [1 x 2], the model expects 'b' [2 x 1]");
    }
    {
        ParamLayout longer;
        longer.add("a", 1, 2);
        longer.add("b", 2, 1);
        longer.add("c", 1, 1);
        expect_mismatch(longer, 2, "file has no entry, the model expects 'c' [1 x 1]");
    }
    {
        ParamLayout shorter;
        shorter.add("a", 1, 2);
        expect_mismatch(shorter, 1, "file has 'b' [2 x 1], the model expects no entry");
    }
}

TEST_CASE("io: huge lengths and counts throw without allocating their size", "[io]") {
    const auto attempt = [](const std::string& bytes, const std::string& field) {
        std::istringstream in(bytes);
        const long before = test::allocations();
        bool threw = false;
        try {
            (void)load_model<double>(in, "dna", 1);
        } catch (const truncated_model_file& e) {
            threw = true;
            CHECK(e.field() == field);
            CHECK(contains(e.what(), "remain"));
        }
        const long used = test::allocations() - before;
        CHECK(threw);
        return used;
    };
    const std::uint64_t huge = std::uint64_t{1} << 60;
    // Manifest count 2^60 (each entry needs >= 20 bytes).
    const std::string manifest =
        Bytes{}.header(1, "dna", 8).u64(0).u64(huge).str("a").u64(1).u64(1).u64(1).u64(0).sealed();
    const long used = attempt(manifest, "manifest");
    // Hyper-parameter count, an integer list, a string length, the weight count.
    const long used_hyper = attempt(Bytes{}.header(1, "dna", 8).u64(huge).sealed(), "hyper");
    const long used_list =
        attempt(Bytes{}.header(1, "dna", 8).u64(1).str("w").u8(4).u64(huge).u64(0).u64(0).u64(0).sealed(),
                "hyper[0].value");
    const long used_kind = attempt(Bytes{}.magic().u32(1).u32(0xFFFFFFFFu).s.append(30, 'x'), "kind");
    const std::uint64_t rows = std::uint64_t{1} << 40;
    const long used_weights =
        attempt(Bytes{}.header(1, "dna", 8).u64(0).u64(1).str("a").u64(rows).u64(1).u64(rows).sealed(), "weights");

    DIFFAUCTION_NEEDS_ALLOCATION_COUNTING();
    // Reading the stream, the exception and its message: a handful, not 2^60 of anything.
    CHECK(used < 24);
    CHECK(used_hyper < 24);
    CHECK(used_list < 24);
    CHECK(used_kind < 24);
    CHECK(used_weights < 24);
}

TEST_CASE("io: impossible values throw corrupt_model_file naming field and offset", "[io]") {
    const auto expect_corrupt = [](const std::string& bytes, const std::string& field, std::uint64_t offset,
                                   const std::string& part) {
        try {
            (void)load<double>(bytes);
            FAIL("a corrupt file loaded");
        } catch (const truncated_model_file& e) {
            FAIL("reported as truncated: " << e.what());
        } catch (const corrupt_model_file& e) {
            CHECK(e.field() == field);
            CHECK(e.offset() == offset);
            CHECK(contains(e.what(), "corrupt model file at byte " + std::to_string(offset) + " (" + field + ")"));
            CHECK(contains(e.what(), part));
        }
    };
    // Header is 8 + 4 + (4 + 3) + 1 = 20 bytes; the hyper count is bytes 20..27.
    expect_corrupt(Bytes{}.header(1, "dna", 2).u64(0).u64(0).u64(0).sealed(), "scalar", 19, "unknown scalar tag 2");
    expect_corrupt(Bytes{}.header(1, "dna", 8).u64(1).str("x").u8(9).u64(0).u64(0).u64(0).sealed(), "hyper[0].type",
                   33, "unknown type tag 9");
    expect_corrupt(Bytes{}.header(1, "dna", 8).u64(1).str("").u8(1).u64(5).u64(0).u64(0).sealed(), "hyper[0].name",
                   28, "empty");
    // Two hyper entries "x": the second starts at 28 + (4+1) + 1 + 8 = 42.
    expect_corrupt(
        Bytes{}.header(1, "dna", 8).u64(2).str("x").u8(1).u64(1).str("x").u8(2).u64(0).u64(0).u64(0).sealed(),
        "hyper", 42, "'x' appears twice");
    // Manifest count at 28, first entry at 36 (4+1+16 = 21 bytes), second at 57.
    expect_corrupt(Bytes{}.header(1, "dna", 8).u64(0).u64(2).str("w").u64(1).u64(1).str("w").u64(1).u64(1).u64(2)
                       .u64(0).u64(0).sealed(),
                   "manifest", 57, "'w' appears twice");
    expect_corrupt(Bytes{}.header(1, "dna", 8).u64(0).u64(1).str("w").u64(std::uint64_t{1} << 63).u64(1).u64(0)
                       .sealed(),
                   "manifest[0].rows", 41, "impossible");
    expect_corrupt(Bytes{}.header(1, "dna", 8).u64(0).u64(1).str("w").u64(1).u64(2).u64(3).sealed(), "weights", 57,
                   "weight count 3 does not match the manifest total 2");
    // Trailing byte after a valid file.
    const std::string good = save(small_model<double>());
    expect_corrupt(good + '\0', "end", good.size(), "1 trailing bytes");
    // A bad checksum on an otherwise valid file.
    std::string bad_sum = good;
    bad_sum.back() = static_cast<char>(bad_sum.back() ^ 0x80);
    expect_corrupt(bad_sum, "checksum", good.size() - 8, "stored 0x");
}

TEST_CASE("io: HyperParams getters are typed and name the key", "[io]") {
    HyperParams h;
    h.set_int("n", 30).set_real("tau", 0.5).set_string("act", "relu").set_int_list("w", {1, 2});
    CHECK(h.get_int("n") == 30);
    CHECK(h.get_real("tau") == 0.5);
    CHECK(h.get_string("act") == "relu");
    CHECK(h.get_int_list("w") == HyperParams::IntList{1, 2});
    CHECK(h.contains("tau"));
    CHECK_FALSE(h.contains("missing"));
    try {
        (void)h.get_int("depth");
        FAIL("a missing key was found");
    } catch (const hyper_param_error& e) {
        CHECK(e.key() == "depth");
        CHECK(contains(e.what(), "'depth': missing"));
    }
    try {
        (void)h.get_real("n");
        FAIL("an integer was read as a real");
    } catch (const hyper_param_error& e) {
        CHECK(e.key() == "n");
        CHECK(contains(e.what(), "'n': is integer, expected real"));
    }
    CHECK_THROWS_AS(h.get_int_list("act"), hyper_param_error);
    CHECK_THROWS_AS(h.get_string("w"), hyper_param_error);
    // Setting again replaces, in place.
    h.set_real("n", 2.5);
    CHECK(h.size() == 4);
    CHECK(h.entries().front().name == "n");
    CHECK(h.get_real("n") == 2.5);
    CHECK_THROWS_AS(h.set_int("", 1), input_error);
    CHECK_THROWS_AS(HyperParams({{"a", std::int64_t{1}}, {"b", 2.0}, {"a", std::string("x")}}), input_error);
}

TEST_CASE("io: save rejects an inconsistent ModelFile with input_error", "[io]") {
    {
        auto f = small_model<double>();
        f.theta.resize(3);
        CHECK_THROWS_AS(save(f), input_error);
    }
    {
        auto f = small_model<double>();
        f.manifest[1].slot.offset = 0;
        CHECK_THROWS_AS(save(f), input_error);
    }
    {
        auto f = small_model<double>();
        f.manifest[1].name = "a";
        CHECK_THROWS_AS(save(f), input_error);
    }
    {
        auto f = small_model<double>();
        f.kind.clear();
        CHECK_THROWS_AS(save(f), input_error);
    }
    {
        auto f = small_model<double>();
        f.version = 0;  // no loader would read it back
        CHECK_THROWS_AS(save(f), input_error);
    }
}
