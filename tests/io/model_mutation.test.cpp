// Model-file mutation tests (issue 15) over REAL learned model files, a tiny Dna<double>
// (861 bytes) and a tiny EdgeNet<double> (2500 bytes), loaded through load<M>(stream):
// every single-bit flip, every truncation and 20 000 random multi-byte mutations per model
// with the checksum left stale, then bit flips (every bit outside the weights, those of
// every 4th weight) and 20 000 random mutations with the checksum recomputed, which reach
// the checks behind it (kind, scalar, hyper-parameters, manifest, finite weights). A
// changed file must throw a typed model_file_error or, only when the checksum was
// recomputed, load into a model with finite weights that saves back to the very same
// bytes. Nothing else may escape: any other exception fails the test. Among them, files
// whose hyper-parameters grew (one flipped bit takes EdgeNet's embed_dim from 4 to
// 16388): the loader checks the manifest against M::layout_for(config) before building
// the model, so they are a manifest_mismatch, never gigabytes of weights or a bad_alloc
// (under ASan such an allocation would abort the run).
// (tests/io/model_file.test.cpp does the same sweeps over a hand-made file; the libFuzzer
// target fuzz/model_file_fuzz.cpp explores beyond the fixed seeds here.)
#include <catch2/catch.hpp>

#include <diffauction/io/persist.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "support/learned_models.hpp"

using namespace diffauction;

namespace {

/// What loading some bytes gave, by the most derived error class.
enum class Verdict {
    loaded, not_a_model, version, truncated, corrupt, kind, scalar, hyper, manifest, other, foreign
};
constexpr int kVerdicts = 11;
constexpr std::array<const char*, kVerdicts> kVerdictNames = {
    "loaded",           "not_a_model_file",  "unsupported_model_version",
    "truncated_model_file", "corrupt_model_file", "wrong_model_kind",  "model_scalar_mismatch",
    "hyper_param_error",    "manifest_mismatch",  "model_file_error (base)", "NOT a model_file_error"};

struct Attempt {
    Verdict verdict = Verdict::loaded;
    std::string what;          ///< the error's message
    std::string field;         ///< corrupt_model_file::field()
    std::uint64_t offset = 0;  ///< corrupt_model_file::offset()
    bool finite = true;        ///< a loaded model: every weight finite
    bool round_trips = true;   ///< a loaded model: save() gives back the loaded bytes
};

Attempt error(Verdict v, const std::exception& e, std::string field = {}, std::uint64_t offset = 0) {
    Attempt a;
    a.verdict = v;
    a.what = e.what();
    a.field = std::move(field);
    a.offset = offset;
    return a;
}

/// Loads `bytes` as an M through load<M>(stream) and classifies the result.
/// (choice) Every exception is caught here, std::exception included, so that a foreign
/// one is reported with the mutation that caused it rather than ending the test case.
template <class M>
Attempt attempt(const std::string& bytes) {
    std::istringstream in(bytes, std::ios::binary);
    try {
        std::optional<M> m;
        m.emplace(load<M>(in));
        Attempt a;
        a.finite = m->theta().allFinite();
        a.round_trips = test::model_bytes(*m) == bytes;
        return a;
    } catch (const truncated_model_file& e) {
        return error(Verdict::truncated, e, e.field(), e.offset());
    } catch (const corrupt_model_file& e) {
        return error(Verdict::corrupt, e, e.field(), e.offset());
    } catch (const not_a_model_file& e) {
        return error(Verdict::not_a_model, e);
    } catch (const unsupported_model_version& e) {
        return error(Verdict::version, e);
    } catch (const wrong_model_kind& e) {
        return error(Verdict::kind, e);
    } catch (const model_scalar_mismatch& e) {
        return error(Verdict::scalar, e);
    } catch (const hyper_param_error& e) {
        return error(Verdict::hyper, e);
    } catch (const manifest_mismatch& e) {
        return error(Verdict::manifest, e);
    } catch (const model_file_error& e) {
        return error(Verdict::other, e);
    } catch (const std::exception& e) {
        return error(Verdict::foreign, e);
    }
}

/// Counts of each verdict, printable for INFO.
struct Tally {
    std::array<long, kVerdicts> n{};
    long unchanged = 0;  ///< mutations that left the bytes as they were (skipped)
    void add(Verdict v) { ++n[static_cast<std::size_t>(v)]; }
    long operator[](Verdict v) const { return n[static_cast<std::size_t>(v)]; }
    /// Attempts that threw (all but `loaded`).
    long errors() const {
        long s = 0;
        for (int v = 1; v < kVerdicts; ++v) s += n[static_cast<std::size_t>(v)];
        return s;
    }
    std::string str() const {
        std::string s = "unchanged (skipped) " + std::to_string(unchanged);
        for (int v = 0; v < kVerdicts; ++v)
            if (n[static_cast<std::size_t>(v)] != 0)
                s.append(", ").append(kVerdictNames[static_cast<std::size_t>(v)]).append(" ")
                    .append(std::to_string(n[static_cast<std::size_t>(v)]));
        return s;
    }
};

template <class M>
std::string model_bytes() {
    return test::model_bytes(test::tiny_learned_model<M>());
}

/// Random multi-byte mutations from a seeded std::mt19937_64. Each mutation applies one
/// to three of: overwrite 1-8 random bytes with random values; insert 1-8 random bytes;
/// delete 1-8 bytes; duplicate a block of 1-64 bytes elsewhere; overwrite a 4- or 8-byte
/// little-endian integer with a boundary value (0, 1, all ones, 2^31, 2^32 - 1, 2^63).
class Mutator {
public:
    explicit Mutator(std::uint64_t seed) : gen_(seed) {}

    /// A mutation of `good`; `how` describes it (for failure messages).
    std::string mutate(const std::string& good, std::string& how) {
        std::string b = good;
        how.clear();
        const int ops = pick(0, 9) < 6 ? 1 : pick(2, 3);  // (choice) mostly single operations
        for (int op = 0; op < ops; ++op) apply(b, how);
        return b;
    }

private:
    std::size_t pick(std::size_t lo, std::size_t hi) {  // uniform in [lo, hi]
        return std::uniform_int_distribution<std::size_t>(lo, hi)(gen_);
    }
    char byte() { return static_cast<char>(pick(0, 255)); }

    void apply(std::string& b, std::string& how) {
        const std::size_t size = b.size();
        const std::size_t k = pick(1, 8);
        switch (pick(0, 4)) {
            case 0:  // overwrite k random bytes
                if (size == 0) return;
                how.append("overwrite");
                for (std::size_t i = 0; i < k; ++i) {
                    const std::size_t at = pick(0, size - 1);
                    b[at] = byte();
                    how.append(" @").append(std::to_string(at));
                }
                break;
            case 1: {  // insert k random bytes
                const std::size_t at = pick(0, size);
                std::string ins;
                for (std::size_t i = 0; i < k; ++i) ins.push_back(byte());
                b.insert(at, ins);
                how.append("insert ").append(std::to_string(k)).append(" @").append(std::to_string(at));
                break;
            }
            case 2: {  // delete k bytes
                if (size < k) return;
                const std::size_t at = pick(0, size - k);
                b.erase(at, k);
                how.append("delete ").append(std::to_string(k)).append(" @").append(std::to_string(at));
                break;
            }
            case 3: {  // duplicate a block
                if (size == 0) return;
                const std::size_t len = pick(1, std::min<std::size_t>(64, size));
                const std::size_t from = pick(0, size - len);
                const std::size_t to = pick(0, size);
                b.insert(to, b.substr(from, len));
                how.append("duplicate ").append(std::to_string(len)).append(" from ").append(std::to_string(from));
                how.append(" @").append(std::to_string(to));
                break;
            }
            default: {  // a boundary integer
                static constexpr std::array<std::uint64_t, 6> kBoundary = {
                    0, 1, ~std::uint64_t{0}, std::uint64_t{1} << 31, 0xFFFFFFFFULL, std::uint64_t{1} << 63};
                const std::size_t width = pick(0, 1) == 0 ? 4 : 8;
                if (size < width) return;
                const std::size_t at = pick(0, size - width);
                const std::uint64_t v = kBoundary[pick(0, width == 4 ? 4 : 5)];
                for (std::size_t i = 0; i < width; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
                how.append("u").append(std::to_string(8 * width)).append(" ").append(std::to_string(v));
                how.append(" @").append(std::to_string(at));
                break;
            }
        }
        how.append("; ");
    }

    std::mt19937_64 gen_;
};

using Models = std::tuple<Dna<double>, EdgeNet<double>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("Mutation: every single-bit flip of a real model file throws a typed error",
                        "[io][mutation]", Models) {
    using M = TestType;
    const std::string good = model_bytes<M>();
    REQUIRE(attempt<M>(good).verdict == Verdict::loaded);
    const std::size_t size = good.size();
    const std::size_t weights_begin = size - 8 - 8 * static_cast<std::size_t>(test::tiny_learned_model<M>().theta().size());
    Tally tally;
    long by_checksum = 0, weights_or_sum_by_checksum = 0;
    for (std::size_t byte = 0; byte < size; ++byte)
        for (int bit = 0; bit < 8; ++bit) {
            std::string bad = good;
            bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
            const Attempt a = attempt<M>(bad);
            tally.add(a.verdict);
            // Expected: the magic -> not_a_model_file, the version -> unsupported_model_version
            // (version 1 becomes 0 or 1 | 2^k), anything later -> corrupt_model_file (the
            // checksum, checked before kind, scalar, hyper-parameters and manifest, is stale).
            const Verdict want = byte < 8 ? Verdict::not_a_model : byte < 12 ? Verdict::version : Verdict::corrupt;
            const Verdict got = a.verdict == Verdict::truncated ? Verdict::corrupt : a.verdict;
            if (got != want || (a.verdict != Verdict::truncated && a.verdict != Verdict::corrupt && byte >= 12)) {
                INFO("byte " << byte << " bit " << bit << ": " << kVerdictNames[static_cast<std::size_t>(a.verdict)]
                             << ": " << a.what);
                FAIL_CHECK("unexpected verdict");
            }
            if (a.field == "checksum") {
                ++by_checksum;
                if (byte >= weights_begin) ++weights_or_sum_by_checksum;
            }
            if (got == Verdict::corrupt) CHECK(a.offset <= size);
        }
    INFO(tally.str() << "; of those by the checksum " << by_checksum);
    CHECK(tally[Verdict::not_a_model] == 64);
    CHECK(tally[Verdict::version] == 32);
    CHECK(tally[Verdict::truncated] + tally[Verdict::corrupt] == static_cast<long>(size) * 8 - 96);
    // Only the checksum sees the weights, and a flip in the checksum is a mismatch.
    CHECK(weights_or_sum_by_checksum == static_cast<long>(size - weights_begin) * 8);
    // The structure checks catch some flips before the checksum does (lengths, counts, tags).
    CHECK(tally[Verdict::truncated] > 0);
    CHECK(tally[Verdict::corrupt] - by_checksum > 0);
}

TEMPLATE_LIST_TEST_CASE("Mutation: every truncation of a real model file throws truncated_model_file",
                        "[io][mutation]", Models) {
    using M = TestType;
    const std::string good = model_bytes<M>();
    // Every field is read through a bounds check and every count is bounded by the bytes
    // remaining (a cut count and a cut field look alike: truncated_model_file), so each
    // cut, in the magic, the version, a length, a count, a name, the weights or the
    // checksum, is a truncation at or before the cut.
    long truncated = 0;
    for (std::size_t k = 0; k < good.size(); ++k) {
        const Attempt a = attempt<M>(good.substr(0, k));
        if (a.verdict != Verdict::truncated) {
            INFO("cut to " << k << " of " << good.size() << " bytes: "
                           << kVerdictNames[static_cast<std::size_t>(a.verdict)] << ": " << a.what);
            FAIL_CHECK("not a truncated_model_file");
            continue;
        }
        CHECK(a.offset <= k);
        ++truncated;
    }
    CHECK(truncated == static_cast<long>(good.size()));
}

TEMPLATE_LIST_TEST_CASE("Mutation: 20 000 random multi-byte mutations with a stale checksum all throw",
                        "[io][mutation]", Models) {
    using M = TestType;
    const std::string good = model_bytes<M>();
    Mutator mutator(std::is_same_v<M, Dna<double>> ? 0x15'0001 : 0x15'0002);
    Tally tally;
    std::string how;
    for (int t = 0; t < 20000; ++t) {
        const std::string bad = mutator.mutate(good, how);
        if (bad == good) {  // nothing changed: must load, and is not counted as a mutation
            ++tally.unchanged;
            if (attempt<M>(bad).verdict != Verdict::loaded) FAIL_CHECK("the unchanged file did not load");
            continue;
        }
        const Attempt a = attempt<M>(bad);
        tally.add(a.verdict);
        // A stale checksum stops every change before kind, scalar, hyper-parameters and
        // manifest are looked at: only the magic, version, structure and checksum checks fire.
        const bool early = a.verdict == Verdict::not_a_model || a.verdict == Verdict::version ||
                           a.verdict == Verdict::truncated || a.verdict == Verdict::corrupt;
        if (!early) {
            INFO("mutation " << t << ": " << how << "-> " << kVerdictNames[static_cast<std::size_t>(a.verdict)]
                             << (a.what.empty() ? "" : ": ") << a.what);
            FAIL_CHECK("a changed file with a stale checksum was not rejected by the structure or checksum checks");
        }
    }
    INFO(tally.str());
    CHECK(tally.errors() + tally.unchanged == 20000);
    CHECK(tally[Verdict::loaded] == 0);
    CHECK(tally.unchanged < 2000);  // the mutations do change the file
}

TEMPLATE_LIST_TEST_CASE("Mutation: with the checksum recomputed, a mutated file throws a typed error or loads "
                        "a finite model that saves to the same bytes",
                        "[io][mutation]", Models) {
    using M = TestType;
    const std::string good = model_bytes<M>();
    // Loads `bad` and fails unless the result is a typed error or a faithful load.
    const auto check = [&](const std::string& bad, const std::string& how, Tally& tally) {
        Attempt a = attempt<M>(bad);
        tally.add(a.verdict);
        const bool ok = a.verdict == Verdict::loaded ? a.finite && a.round_trips
                                                     : a.verdict != Verdict::foreign;
        if (!ok) {
            INFO(how << "-> " << kVerdictNames[static_cast<std::size_t>(a.verdict)] << (a.what.empty() ? "" : ": ")
                     << a.what << (a.finite ? "" : " (a weight is not finite)")
                     << (a.round_trips ? "" : " (save gives other bytes)"));
            FAIL_CHECK("a resealed mutation was neither a typed error nor a faithful load");
        }
        return a;
    };

    SECTION("every single-bit flip outside the weights, every bit of every 4th weight") {
        // (choice) The weights all take one path (the model loads, or corrupt_model_file
        // "weights[i]" when the flip makes that weight non-finite): every 4th of them (34 of
        // EdgeNet's 133) saves 6 000 model loads, 1.5 s of the sanitizer build's budget.
        const M model = test::tiny_learned_model<M>();
        const auto n_theta = static_cast<std::size_t>(model.theta().size());
        const std::size_t weights_begin = good.size() - 8 - 8 * n_theta;
        Tally tally;
        long loaded_outside = 0, weight_flips = 0, non_finite = 0;
        for (std::size_t byte = 0; byte < good.size(); ++byte) {
            const bool in_weights = byte >= weights_begin && byte < good.size() - 8;
            const std::size_t w = in_weights ? (byte - weights_begin) / 8 : 0;
            if (in_weights && w % 4 != 0) continue;
            for (int bit = 0; bit < 8; ++bit) {
                std::string bad = good;
                bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
                test::reseal_model_bytes(bad);
                if (bad == good) {  // a flip in the checksum, undone by resealing
                    ++tally.unchanged;
                    continue;
                }
                const std::string how = "byte " + std::to_string(byte) + " bit " + std::to_string(bit) + " ";
                const Attempt a = check(bad, how, tally);
                if (!in_weights) {
                    if (a.verdict == Verdict::loaded) ++loaded_outside;
                    continue;
                }
                ++weight_flips;
                const std::size_t bit_in_weight = 8 * ((byte - weights_begin) % 8) + static_cast<std::size_t>(bit);
                const std::uint64_t was = std::bit_cast<std::uint64_t>(model.theta()[static_cast<Index>(w)]);
                const auto flipped = std::bit_cast<double>(was ^ (std::uint64_t{1} << bit_in_weight));
                INFO(how << "makes weight " << w << " " << flipped);
                if (std::isfinite(flipped)) {
                    CHECK(a.verdict == Verdict::loaded);
                } else {
                    ++non_finite;
                    CHECK(a.verdict == Verdict::corrupt);
                    CHECK(a.field == "weights[" + std::to_string(w) + "]");
                }
            }
        }
        INFO(tally.str() << "; weight flips " << weight_flips << " (non-finite " << non_finite
                         << "), loaded outside the weights " << loaded_outside);
        CHECK(tally.unchanged == 64);
        CHECK(tally[Verdict::not_a_model] == 64);
        CHECK(tally[Verdict::version] == 32);
        CHECK(weight_flips == static_cast<long>((n_theta + 3) / 4) * 64);
        CHECK(tally[Verdict::loaded] == weight_flips - non_finite + loaded_outside);
        // Outside the weights only a real hyper-parameter can change and still load:
        // EdgeNet's bid_scale (0.05), whose every flip but the sign's is another finite
        // scale > 0; DNA has none. Every other flip is a typed error.
        CHECK(loaded_outside == (std::is_same_v<M, Dna<double>> ? 0 : 63));
        CHECK(tally[Verdict::kind] > 0);
        CHECK(tally[Verdict::hyper] > 0);
        CHECK(tally[Verdict::manifest] > 0);
        // Bits 6 to 23 of an integer hyper-parameter of value 1 or 2 take it into
        // (64, 2^24], which read_config accepts (DNA has 6 such integers, EdgeNet 8):
        // each is a manifest_mismatch before any weight is allocated (M::layout_for).
        CHECK(tally[Verdict::manifest] >= 18 * (std::is_same_v<M, Dna<double>> ? 6 : 8));
    }

    SECTION("random multi-byte mutations") {
        constexpr int kResealed = 20000;
        Mutator mutator(std::is_same_v<M, Dna<double>> ? 0x15'0003 : 0x15'0004);
        Tally tally;
        std::string how;
        for (int t = 0; t < kResealed; ++t) {
            std::string bad = mutator.mutate(good, how);
            test::reseal_model_bytes(bad);
            if (bad == good) {
                ++tally.unchanged;
                continue;
            }
            check(bad, "mutation " + std::to_string(t) + ": " + how, tally);
        }
        INFO(tally.str());
        CHECK(tally.errors() + tally[Verdict::loaded] + tally.unchanged == kResealed);
        CHECK(tally[Verdict::foreign] == 0);
    }
}
