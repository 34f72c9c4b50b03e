// fuzz/model_file_fuzz.cpp - libFuzzer target for the model-file loader (issue 15):
// io/model_file.hpp's decoder and io/persist.hpp's load<M> over DNA and EdgeNet, float
// and double. Build and run with ./scripts/fuzz [seconds] (clang, -fsanitize=fuzzer,
// address,undefined).
//
// The first input byte chooses how the rest is used:
//   bit 0 = 0  raw: the rest IS a model file;
//   bit 0 = 1  patched: the rest is a list of patches applied to one of four valid tiny
//              model files built once at start-up (bits 2-3 choose it: DNA or EdgeNet,
//              float or double); bit 1 = 1 then recomputes the checksum, so the patched
//              structure reaches the checks behind it (kind, scalar, hyper-parameters,
//              manifest, finite weights) without a seed corpus.
// A patch is an op byte, a little-endian u16 offset (taken modulo the file's size) and
// the op's payload: op % 6 = 0 set a byte (1), 1 set a u32 (4), 2 set a u64 (8), 3 insert
// 1-8 bytes (a count byte, then that many), 4 erase 1-8 bytes (a count byte), 5 cut the
// file at the offset (none). A patch cut short by the end of the input is dropped.
//
// Each file is loaded as all four model types (so kind and scalar mismatches are hit
// too) through std::istringstream. A diffauction::model_file_error (or subclass) is the
// expected outcome and is swallowed. Anything else aborts: another exception (printed
// first), a crash or sanitizer report, a loaded model with a non-finite weight, or one
// whose save() does not give back the loaded bytes.
//
// A resealed file whose hyper-parameters grew (embed_dim 2 -> 2^23, say) must be a
// manifest_mismatch: load<M> checks the manifest against M::layout_for(config) before
// building the model, so it never allocates more weights than the file holds (ASan
// would report an oversized allocation, libFuzzer an out-of-memory).
#include <diffauction/io/persist.hpp>
#include <diffauction/mechanisms/learned/dna.hpp>
#include <diffauction/mechanisms/learned/edgenet.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include "support/learned_models.hpp"  // the tiny models and their bytes, shared with the tests

using namespace diffauction;

namespace {

[[noreturn]] void die(const char* why, const char* detail = "") {
    std::fprintf(stderr, "model_file_fuzz: %s%s%s\n", why, detail[0] != '\0' ? ": " : "", detail);
    std::abort();
}

/// The four valid files patches start from, built once.
const std::array<std::string, 4>& seed_files() {
    static const std::array<std::string, 4> files = {
        test::model_bytes(test::tiny_learned_model<Dna<float>>()),
        test::model_bytes(test::tiny_learned_model<Dna<double>>()),
        test::model_bytes(test::tiny_learned_model<EdgeNet<float>>()),
        test::model_bytes(test::tiny_learned_model<EdgeNet<double>>())};
    return files;
}


/// Loads `bytes` as an M: a model_file_error is fine; a loaded model must have finite
/// weights and save back to `bytes`; anything else aborts.
template <class M>
void load_as(const std::string& bytes) {
    std::istringstream in(bytes, std::ios::binary);
    try {
        const M m = load<M>(in);
        if (!m.theta().allFinite()) die("a loaded model has a non-finite weight");
        if (test::model_bytes(m) != bytes) die("a loaded model does not save back to the bytes it was loaded from");
    } catch (const model_file_error&) {
        // The expected outcome for a damaged file.
    } catch (const std::exception& e) {
        die("an exception that is not a model_file_error", e.what());
    } catch (...) {
        die("an exception that is not a std::exception");
    }
}

void load_all(const std::string& bytes) {
    load_as<Dna<float>>(bytes);
    load_as<Dna<double>>(bytes);
    load_as<EdgeNet<float>>(bytes);
    load_as<EdgeNet<double>>(bytes);
}

/// Little-endian integer of `n` bytes at `p`.
std::uint64_t le(const std::uint8_t* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

/// Applies the patches in [p, end) to `file` (see the format at the top).
void apply_patches(std::string& file, const std::uint8_t* p, const std::uint8_t* end) {
    static constexpr std::array<std::size_t, 6> kPayload = {1, 4, 8, 1, 1, 0};  // insert/erase: the count byte
    while (end - p >= 3) {
        const unsigned op = p[0] % 6;
        const std::size_t offset = file.empty() ? 0 : le(p + 1, 2) % file.size();
        p += 3;
        if (static_cast<std::size_t>(end - p) < kPayload[op]) return;
        switch (op) {
            case 0:
            case 1:
            case 2: {
                const std::size_t n = std::min(kPayload[op], file.size() - offset);
                for (std::size_t i = 0; i < n; ++i) file[offset + i] = static_cast<char>(p[i]);
                p += kPayload[op];
                break;
            }
            case 3: {  // insert 1-8 bytes
                const std::size_t n = 1 + p[0] % 8;
                ++p;
                if (static_cast<std::size_t>(end - p) < n) return;
                file.insert(offset, reinterpret_cast<const char*>(p), n);
                p += n;
                break;
            }
            case 4: {  // erase 1-8 bytes
                const std::size_t n = 1 + p[0] % 8;
                ++p;
                file.erase(offset, n);
                break;
            }
            default:  // cut
                file.resize(offset);
                break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t mode = data[0];
    if ((mode & 1) == 0) {
        load_all(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
        return 0;
    }
    std::string file = seed_files()[(mode >> 2) & 3];
    apply_patches(file, data + 1, data + size);
    if ((mode & 2) != 0) test::reseal_model_bytes(file);
    load_all(file);
    return 0;
}
