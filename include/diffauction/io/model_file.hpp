// diffauction/io/model_file.hpp - versioned binary model files, the one persistence format
// of every learned mechanism (SPEC §4.1 "DNA end to end"; STYLE.md "Parameters: one
// flat vector per model": a model is saved as its flat theta plus the layout's manifest).
//
// The format knows nothing about any mechanism: a file holds a kind ("dna", ...), a
// version chosen by that mechanism, typed hyper-parameters, the ParamLayout manifest
// and the weights. The mechanism rebuilds its layers from the hyper-parameters, then
// calls check_manifest() against the layout it built before adopting theta.
//
// Byte layout (every integer fixed-width little-endian, written byte by byte so the
// file is the same on every host; reals are raw IEEE-754 bit patterns, little-endian):
//
//   offset  size        field
//   0       8           magic "DFAUCTN\0" = 44 46 41 55 43 54 4E 00
//   8       4           version u32 >= 1 (ModelFile::version, the mechanism's own number)
//   12      4 + k       kind: u32 byte length k, then k bytes (no terminator)
//   .       1           scalar tag u8: 4 = float (binary32), 8 = double (binary64)
//   .       8           hyper-parameter count u64 H, then H entries, each:
//                         name   u32 length + bytes (non-empty, unique)
//                         type   u8: 1 integer, 2 real, 3 string, 4 integer list
//                         value  integer: i64 (two's complement) | real: binary64 bits
//                                | string: u32 length + bytes
//                                | integer list: u64 count n, then n x i64
//   .       8           manifest count u64 M, then M entries, each:
//                         name u32 length + bytes (unique), rows u64, cols u64
//                         (offsets are implicit: entries are consecutive from 0)
//   .       8           weight count u64 W, which must equal sum(rows * cols)
//   .       W x 4|8     the weights, theta[0] first, in the scalar tag's width
//   .       8           checksum u64: 64-bit FNV-1a over every preceding byte
//   end                 nothing may follow the checksum
//
// Loading checks, in this order: magic (not_a_model_file; a short prefix of the magic
// is truncated_model_file), version (unsupported_model_version unless it is in
// 1..max_supported: a newer file may lay out everything after the version differently,
// and no writer makes version 0, so nothing later is read), the
// structure of every field (truncated_model_file when the data ends before a field
// or before what a length/count declares; corrupt_model_file for impossible values),
// the checksum (corrupt_model_file), then kind (wrong_model_kind) and scalar type
// (model_scalar_mismatch). Every length and count is bounded by the bytes remaining
// before anything is allocated, so a corrupt length never allocates more than the
// file's own size. (choice) A count that claims more entries than the remaining bytes
// can hold is reported as truncated_model_file (a cut file and a corrupt count look
// the same from inside); truncated_model_file derives from corrupt_model_file.
// (choice) The container layout itself is fixed by the magic: an incompatible change
// of the container would change the magic, so `version` is free for the mechanisms.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/io/errors.hpp"
#include "diffauction/io/hyper_params.hpp"

namespace diffauction {

// ---------------------------------------------------------------------------------
// The file's contents.

/// Everything a model file holds. `manifest` is `ParamLayout::entries()` of the model
/// (slot offsets consecutive from 0, as ParamLayout makes them) and `theta` its flat
/// vector (size = the manifest's total).
template <Scalar T>
struct ModelFile {
    std::string kind;
    std::uint32_t version = 1;
    HyperParams hyper;
    std::vector<ParamLayout::Entry> manifest;
    VectorX<T> theta;
};

namespace detail {

inline constexpr std::string_view kModelMagic{"DFAUCTN\0", 8};
inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
inline constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

/// 64-bit FNV-1a of `bytes`.
inline std::uint64_t fnv1a64(std::string_view bytes) noexcept {
    std::uint64_t h = kFnvOffset;
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= kFnvPrime;
    }
    return h;
}

inline std::string hex64(std::uint64_t v) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s = "0x";
    for (int shift = 60; shift >= 0; shift -= 4) s.push_back(kHex[(v >> shift) & 15]);
    return s;
}

/// Little-endian byte writer into a string.
class ModelWriter {
public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void u64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        out_.append(s);
    }
    void raw(std::string_view s) { out_.append(s); }
    std::string& bytes() { return out_; }

private:
    std::string out_;
};

/// Names a field for error messages: "group", "group[index]" or "group[index].member".
/// Formatted only when an error is thrown.
struct FieldName {
    const char* group;
    std::uint64_t index = std::numeric_limits<std::uint64_t>::max();
    const char* member = nullptr;
    std::string str() const {
        std::string s = group;
        if (index != std::numeric_limits<std::uint64_t>::max()) s.append("[").append(std::to_string(index)).append("]");
        if (member != nullptr) s.append(".").append(member);
        return s;
    }
};

/// Bounds-checked little-endian reader: never reads past the end.
class ModelReader {
public:
    explicit ModelReader(std::string_view data) : data_(data) {}
    std::uint64_t pos() const { return pos_; }
    std::uint64_t remaining() const { return data_.size() - pos_; }

    /// Throws truncated_model_file unless `n` bytes remain.
    void need(std::uint64_t n, const FieldName& f) const {
        if (n > remaining()) [[unlikely]] {
            std::string what = "needs ";
            what.append(std::to_string(n)).append(" bytes, ").append(std::to_string(remaining()));
            what.append(" remain");
            throw truncated_model_file(pos_, f.str(), what);
        }
    }
    std::string_view take(std::uint64_t n, const FieldName& f) {
        need(n, f);
        const std::string_view s = data_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    std::uint8_t u8(const FieldName& f) { return static_cast<std::uint8_t>(take(1, f)[0]); }
    std::uint32_t u32(const FieldName& f) { return static_cast<std::uint32_t>(le(take(4, f))); }
    std::uint64_t u64(const FieldName& f) { return le(take(8, f)); }
    /// A u32-length-prefixed byte string.
    std::string str(const FieldName& f) {
        const std::uint32_t n = u32(f);
        return std::string(take(n, f));
    }
    /// A u64 count of entries of at least `min_bytes` each, bounded by the bytes remaining.
    std::uint64_t count(const FieldName& f, std::uint64_t min_bytes) {
        const std::uint64_t at = pos_;
        const std::uint64_t n = u64(f);
        if (n > remaining() / min_bytes) [[unlikely]] {
            std::string what = "declares ";
            what.append(std::to_string(n)).append(" entries of at least ").append(std::to_string(min_bytes));
            what.append(" bytes, ").append(std::to_string(remaining())).append(" bytes remain");
            throw truncated_model_file(at, f.str(), what);
        }
        return n;
    }

    static std::uint64_t le(std::string_view b) {
        std::uint64_t v = 0;
        for (std::size_t i = b.size(); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[i]);
        return v;
    }

private:
    std::string_view data_;
    std::uint64_t pos_ = 0;
};

/// Throws corrupt_model_file when two names in `names` (name, offset) are equal.
inline void require_unique(std::vector<std::pair<std::string_view, std::uint64_t>> names, const char* group) {
    std::sort(names.begin(), names.end());
    for (std::size_t i = 1; i < names.size(); ++i)
        if (names[i].first == names[i - 1].first) {
            std::string what = "name '";
            what.append(names[i].first).append("' appears twice");
            throw corrupt_model_file(std::max(names[i].second, names[i - 1].second), group, what);
        }
}

/// Serialises `file` (see the byte layout at the top). Throws input_error when the
/// file cannot be written faithfully or read back (inconsistent manifest, empty kind,
/// version 0, ...).
template <Scalar T>
std::string encode_model(const ModelFile<T>& file) {
    constexpr std::uint64_t kMaxLen = std::numeric_limits<std::uint32_t>::max();
    require(!file.kind.empty() && file.kind.size() <= kMaxLen, "kind", kNone, "must be non-empty (and < 4 GiB)");
    require(file.version >= 1, "version", kNone, "must be >= 1 (no loader reads version 0)");
    Index total = 0;
    for (std::size_t i = 0; i < file.manifest.size(); ++i) {
        const auto& e = file.manifest[i];
        const auto idx = static_cast<Index>(i);
        require(e.name.size() <= kMaxLen, "manifest", idx, "name is too long");
        require(e.slot.rows >= 0 && e.slot.cols >= 0, "manifest", idx, "rows/cols must be >= 0");
        require(e.slot.offset == total, "manifest", idx, [&] {
            std::string s = "slot offset is ";
            s.append(std::to_string(e.slot.offset)).append(", expected ").append(std::to_string(total));
            return s.append(" (entries must be consecutive, as ParamLayout makes them)");
        });
        total += e.slot.size();
        for (std::size_t j = 0; j < i; ++j)
            require(file.manifest[j].name != e.name, "manifest", idx, [&] {
                return std::string("name '").append(e.name).append("' appears twice");
            });
    }
    require(file.theta.size() == total, "theta", kNone, [&] {
        std::string s = "has ";
        s.append(std::to_string(file.theta.size())).append(" weights, the manifest declares ");
        return s.append(std::to_string(total));
    });

    ModelWriter w;
    w.bytes().reserve(static_cast<std::size_t>(64 + total * static_cast<Index>(sizeof(T))));
    w.raw(kModelMagic);
    w.u32(file.version);
    w.str(file.kind);
    w.u8(static_cast<std::uint8_t>(sizeof(T)));
    w.u64(file.hyper.size());
    for (const auto& e : file.hyper.entries()) {
        require(e.name.size() <= kMaxLen, "hyper", kNone, "name is too long");
        w.str(e.name);
        w.u8(static_cast<std::uint8_t>(e.value.index() + 1));
        if (const auto* i = std::get_if<std::int64_t>(&e.value)) {
            w.u64(static_cast<std::uint64_t>(*i));
        } else if (const auto* r = std::get_if<double>(&e.value)) {
            w.u64(std::bit_cast<std::uint64_t>(*r));
        } else if (const auto* s = std::get_if<std::string>(&e.value)) {
            require(s->size() <= kMaxLen, "hyper", kNone, "string value is too long");
            w.str(*s);
        } else {
            const auto& list = std::get<HyperParams::IntList>(e.value);
            w.u64(list.size());
            for (const std::int64_t v : list) w.u64(static_cast<std::uint64_t>(v));
        }
    }
    w.u64(file.manifest.size());
    for (const auto& e : file.manifest) {
        w.str(e.name);
        w.u64(static_cast<std::uint64_t>(e.slot.rows));
        w.u64(static_cast<std::uint64_t>(e.slot.cols));
    }
    w.u64(static_cast<std::uint64_t>(total));
    for (Index i = 0; i < total; ++i) {
        if constexpr (sizeof(T) == 4)
            w.u32(std::bit_cast<std::uint32_t>(file.theta[i]));
        else
            w.u64(std::bit_cast<std::uint64_t>(file.theta[i]));
    }
    w.u64(fnv1a64(w.bytes()));
    return std::move(w.bytes());
}

/// Parses and checks the bytes of a whole model file (see the order of checks at the top).
template <Scalar T>
ModelFile<T> decode_model(std::string_view data, std::string_view expected_kind,
                          std::uint32_t max_supported_version) {
    const std::string_view head = data.substr(0, kModelMagic.size());
    if (head != kModelMagic.substr(0, head.size())) throw not_a_model_file(head);
    ModelReader r(data);
    r.take(kModelMagic.size(), {"magic"});

    ModelFile<T> file;
    file.version = r.u32({"version"});
    // (choice) Version 0 is rejected here, before anything else is read, rather than left
    // to the checksum: versions are numbered from 1, so 0 is never a file some loader
    // could read, and a single flipped bit of version 1 is then named for what it is.
    if (file.version == 0 || file.version > max_supported_version)
        throw unsupported_model_version(file.version, max_supported_version);
    file.kind = r.str({"kind"});
    const std::uint64_t tag_at = r.pos();
    const std::uint8_t tag = r.u8({"scalar"});
    if (tag != 4 && tag != 8) {
        std::string what = "unknown scalar tag ";
        what.append(std::to_string(tag)).append(" (4 = float, 8 = double)");
        throw corrupt_model_file(tag_at, "scalar", what);
    }

    // Hyper-parameters: an entry is at least name length (4) + type (1) + a 4-byte value.
    const std::uint64_t n_hyper = r.count({"hyper"}, 9);
    std::vector<HyperParams::Entry> hyper;
    std::vector<std::pair<std::string_view, std::uint64_t>> names;
    hyper.reserve(n_hyper);
    names.reserve(n_hyper);
    for (std::uint64_t i = 0; i < n_hyper; ++i) {
        const std::uint64_t name_at = r.pos();
        std::string name = r.str({"hyper", i, "name"});
        if (name.empty()) throw corrupt_model_file(name_at, FieldName{"hyper", i, "name"}.str(), "name is empty");
        const std::uint64_t type_at = r.pos();
        const std::uint8_t type = r.u8({"hyper", i, "type"});
        HyperParams::Value value;
        switch (static_cast<HyperParams::Type>(type)) {
            case HyperParams::Type::integer:
                value = static_cast<std::int64_t>(r.u64({"hyper", i, "value"}));
                break;
            case HyperParams::Type::real:
                value = std::bit_cast<double>(r.u64({"hyper", i, "value"}));
                break;
            case HyperParams::Type::string:
                value = r.str({"hyper", i, "value"});
                break;
            case HyperParams::Type::integer_list: {
                const std::uint64_t n = r.count({"hyper", i, "value"}, 8);
                HyperParams::IntList list(n);
                for (auto& v : list) v = static_cast<std::int64_t>(r.u64({"hyper", i, "value"}));
                value = std::move(list);
                break;
            }
            default: {
                std::string what = "unknown type tag ";
                what.append(std::to_string(type)).append(" (1 integer, 2 real, 3 string, 4 integer list)");
                throw corrupt_model_file(type_at, FieldName{"hyper", i, "type"}.str(), what);
            }
        }
        hyper.push_back({std::move(name), std::move(value)});
        names.emplace_back(std::string_view{}, name_at);
    }
    for (std::size_t i = 0; i < hyper.size(); ++i) names[i].first = hyper[i].name;
    require_unique(std::move(names), "hyper");
    file.hyper = HyperParams(std::move(hyper));

    // Manifest: an entry is at least name length (4) + rows (8) + cols (8).
    constexpr auto kIndexMax = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
    const std::uint64_t n_params = r.count({"manifest"}, 20);
    file.manifest.reserve(n_params);
    names.clear();
    names.reserve(n_params);
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < n_params; ++i) {
        const std::uint64_t name_at = r.pos();
        std::string name = r.str({"manifest", i, "name"});
        const std::uint64_t shape_at = r.pos();
        const std::uint64_t rows = r.u64({"manifest", i, "rows"});
        const std::uint64_t cols = r.u64({"manifest", i, "cols"});
        const bool overflow = rows > kIndexMax || cols > kIndexMax || (rows != 0 && cols > kIndexMax / rows) ||
                              rows * cols > kIndexMax - total;
        if (overflow) {
            std::string what = "shape ";
            what.append(std::to_string(rows)).append(" x ").append(std::to_string(cols)).append(" is impossible");
            throw corrupt_model_file(shape_at, FieldName{"manifest", i, "rows"}.str(), what);
        }
        const ParamSlot slot{static_cast<Index>(total), static_cast<Index>(rows), static_cast<Index>(cols)};
        total += rows * cols;
        file.manifest.push_back({std::move(name), slot});
        names.emplace_back(std::string_view{}, name_at);
    }
    for (std::size_t i = 0; i < file.manifest.size(); ++i) names[i].first = file.manifest[i].name;
    require_unique(std::move(names), "manifest");

    // Weights.
    const std::uint64_t count_at = r.pos();
    const std::uint64_t n_weights = r.u64({"weights"});
    if (n_weights != total) {
        std::string what = "weight count ";
        what.append(std::to_string(n_weights)).append(" does not match the manifest total ");
        throw corrupt_model_file(count_at, "weights", what.append(std::to_string(total)));
    }
    if (n_weights > r.remaining() / tag) {
        std::string what = "declares ";
        what.append(std::to_string(n_weights)).append(" weights of ").append(std::to_string(tag));
        what.append(" bytes, ").append(std::to_string(r.remaining())).append(" bytes remain");
        throw truncated_model_file(r.pos(), "weights", what);
    }
    const std::string_view weights = r.take(n_weights * tag, {"weights"});

    // Checksum, then nothing more.
    const std::uint64_t sum_at = r.pos();
    const std::uint64_t stored = r.u64({"checksum"});
    if (r.remaining() != 0) {
        std::string what = std::to_string(r.remaining());
        throw corrupt_model_file(r.pos(), "end", what.append(" trailing bytes after the checksum"));
    }
    const std::uint64_t computed = fnv1a64(data.substr(0, sum_at));
    if (stored != computed) {
        std::string what = "stored ";
        what.append(hex64(stored)).append(", computed ").append(hex64(computed)).append(": the file is damaged");
        throw corrupt_model_file(sum_at, "checksum", what);
    }

    if (file.kind != expected_kind) throw wrong_model_kind(std::move(file.kind), std::string(expected_kind));
    if (tag != sizeof(T)) throw model_scalar_mismatch(tag_at, tag, static_cast<int>(sizeof(T)));

    file.theta.resize(static_cast<Index>(n_weights));
    for (std::uint64_t i = 0; i < n_weights; ++i) {
        const std::string_view b = weights.substr(i * sizeof(T), sizeof(T));
        if constexpr (sizeof(T) == 4)
            file.theta[static_cast<Index>(i)] = std::bit_cast<T>(static_cast<std::uint32_t>(ModelReader::le(b)));
        else
            file.theta[static_cast<Index>(i)] = std::bit_cast<T>(ModelReader::le(b));
    }
    return file;
}

}  // namespace detail

// ---------------------------------------------------------------------------------
// Public API.

/// Writes `file` to `out` (see the byte layout at the top). Throws input_error when
/// `file` is inconsistent (empty kind; version 0; manifest offsets not consecutive from 0;
/// a name twice; theta's size not the manifest's total) and model_file_error when the
/// stream fails.
template <Scalar T>
void save_model(std::ostream& out, const ModelFile<T>& file) {
    const std::string bytes = detail::encode_model(file);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw model_file_error("diffauction: model file: writing to the stream failed");
}

/// Writes `file` to `path` (created or truncated). (choice) Written in place, not
/// through a temporary file and a rename.
template <Scalar T>
void save_model(const std::filesystem::path& path, const ModelFile<T>& file) {
    const std::string bytes = detail::encode_model(file);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out.is_open()) {
        std::string s = "diffauction: model file: cannot open '";
        throw model_file_error(s.append(path.string()).append("' for writing"));
    }
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
        std::string s = "diffauction: model file: writing '";
        throw model_file_error(s.append(path.string()).append("' failed"));
    }
}

/// Reads a model file from `in` to its end (the file must be all that is left in the
/// stream) and checks it: magic, version in 1..`max_supported_version`, structure,
/// checksum, kind == `expected_kind`, scalar type == T. Throws the typed errors above,
/// all model_file_errors. Every length is bounded by the bytes actually read, so a
/// corrupt length allocates at most a small multiple of the data's own size.
template <Scalar T>
ModelFile<T> load_model(std::istream& in, std::string_view expected_kind, std::uint32_t max_supported_version) {
    std::string data;
    std::streambuf* buf = in.rdbuf();
    if (!in.good() || buf == nullptr) throw model_file_error("diffauction: model file: the stream is not readable");
    std::array<char, 4096> chunk;
    for (;;) {
        const std::streamsize n = buf->sgetn(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        if (n <= 0) break;
        data.append(chunk.data(), static_cast<std::size_t>(n));
    }
    in.setstate(std::ios::eofbit);
    return detail::decode_model<T>(data, expected_kind, max_supported_version);
}

/// As above, from the file at `path`.
template <Scalar T>
ModelFile<T> load_model(const std::filesystem::path& path, std::string_view expected_kind,
                        std::uint32_t max_supported_version) {
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) {
        std::string s = "diffauction: model file: cannot open '";
        throw model_file_error(s.append(path.string()).append("' for reading"));
    }
    return load_model<T>(in, expected_kind, max_supported_version);
}

/// Throws manifest_mismatch, naming the first differing entry, unless `file`'s manifest
/// has exactly the names, order and shapes of `expected` (and theta its total size).
template <Scalar T>
void check_manifest(const ModelFile<T>& file, const ParamLayout& expected) {
    const auto& want = expected.entries();
    const auto& have = file.manifest;
    const auto describe = [](std::string& s, const ParamLayout::Entry& e) {
        s.append("'").append(e.name).append("' [").append(std::to_string(e.slot.rows)).append(" x ");
        s.append(std::to_string(e.slot.cols)).append("]");
    };
    const std::size_t n = std::max(want.size(), have.size());
    for (std::size_t i = 0; i < n; ++i) {
        const bool same = i < want.size() && i < have.size() && want[i].name == have[i].name &&
                          want[i].slot.rows == have[i].slot.rows && want[i].slot.cols == have[i].slot.cols;
        if (same) continue;
        std::string s = "file has ";
        if (i < have.size())
            describe(s, have[i]);
        else
            s.append("no entry");
        s.append(", the model expects ");
        if (i < want.size())
            describe(s, want[i]);
        else
            s.append("no entry (it declares ").append(std::to_string(want.size())).append(")");
        throw manifest_mismatch(i, s);
    }
    if (file.theta.size() != expected.size()) {
        std::string s = "theta has ";
        s.append(std::to_string(file.theta.size())).append(" weights, the model expects ");
        throw manifest_mismatch(want.size(), s.append(std::to_string(expected.size())));
    }
}

/// The file's weights for a model whose rebuilt layout is `expected`: check_manifest,
/// then every weight finite (corrupt_model_file, field "weights[i]").
template <Scalar T>
const VectorX<T>& checked_weights(const ModelFile<T>& file, const ParamLayout& expected) {
    check_manifest(file, expected);
    for (Index i = 0; i < file.theta.size(); ++i)
        if (!std::isfinite(file.theta[i]))
            throw corrupt_model_file(0, "weights[" + std::to_string(i) + "]", "is not finite");
    return file.theta;
}

}  // namespace diffauction
