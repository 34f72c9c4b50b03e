// diffauction/io/persist.hpp - the persistence contract of every learned model and the
// free save/load over it (STYLE.md: a model is saved as its config, its flat theta and
// the layout's manifest; the format is io/model_file.hpp).
//
// A model M is Persistent when it declares
//   - `scalar_type` (float or double) and `config_type` (its hyper-parameters),
//   - `static constexpr std::string_view model_kind` ("dna", "edgenet", ...) and
//     `static constexpr std::uint32_t model_version` (the layout of its config and
//     parameters; a loader reads files of versions 1..model_version),
//   - `static void write_config(const config_type&, HyperParams&)` and
//     `static config_type read_config(const HyperParams&)` (typed hyper_param_error
//     naming the key for a missing, mistyped or out-of-range value),
//   - `config()`, `layout()` and `theta()`, a constructor from its config, and
//     `static ParamLayout layout_for(const config_type&)`, the same layout built
//     without allocating theta (the loader checks a file's manifest against it
//     before constructing: a corrupt width cannot make it allocate gigabytes).
// Then `save(model, stream | path)` and `load<M>(stream | path)` work for it, and a
// loaded model is bit-identical to the saved one (tests/io/persist.test.cpp runs the
// round trip over every learned mechanism).
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diffauction/core/params.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/io/errors.hpp"
#include "diffauction/io/hyper_params.hpp"
#include "diffauction/io/model_file.hpp"

namespace diffauction {

template <class M>
concept Persistent = requires(const M& m, M& mut, const HyperParams& in, HyperParams& out) {
    typename M::scalar_type;
    requires Scalar<typename M::scalar_type>;
    typename M::config_type;
    { M::model_kind } -> std::convertible_to<std::string_view>;
    { M::model_version } -> std::convertible_to<std::uint32_t>;
    { M::write_config(m.config(), out) } -> std::same_as<void>;
    { M::read_config(in) } -> std::same_as<typename M::config_type>;
    { m.config() } -> std::convertible_to<const typename M::config_type&>;
    { m.layout() } -> std::convertible_to<const ParamLayout&>;
    { m.theta() } -> std::convertible_to<const VectorX<typename M::scalar_type>&>;
    { mut.theta() } -> std::same_as<VectorX<typename M::scalar_type>&>;
    requires std::constructible_from<M, typename M::config_type>;
    { M::layout_for(M::read_config(in)) } -> std::same_as<ParamLayout>;
};

/// Reading a model's hyper-parameters back (what every model's from_file does).
/// An integer count in [lo, 2^24]: throws hyper_param_error naming `key` otherwise
/// (and the typed errors of HyperParams::get_int when it is missing or not an integer).
inline Index hyper_count(const HyperParams& h, const char* key, std::int64_t lo) {
    const std::int64_t v = h.get_int(key);
    if (v < lo || v > std::int64_t{1} << 24)
        throw hyper_param_error(key, "is " + std::to_string(v) + ", must be in [" + std::to_string(lo) + ", 2^24]");
    return static_cast<Index>(v);
}
/// A list of layer widths, each in [1, 2^24], with min_layers to 64 entries.
inline std::vector<Index> hyper_widths(const HyperParams& h, const char* key, std::size_t min_layers = 1) {
    const HyperParams::IntList& l = h.get_int_list(key);
    if (l.size() < min_layers || l.size() > 64)
        throw hyper_param_error(key, "must list " + std::to_string(min_layers) + " to 64 layer widths");
    std::vector<Index> out;
    for (const std::int64_t w : l) {
        if (w < 1 || w > std::int64_t{1} << 24)
            throw hyper_param_error(key, "has a width of " + std::to_string(w) + ", must be in [1, 2^24]");
        out.push_back(static_cast<Index>(w));
    }
    return out;
}

/// The model as a file's contents: its kind and version, its config as
/// hyper-parameters, its layout's manifest and theta.
template <Persistent M>
ModelFile<typename M::scalar_type> to_model_file(const M& model) {
    ModelFile<typename M::scalar_type> f;
    f.kind = std::string(M::model_kind);
    f.version = M::model_version;
    M::write_config(model.config(), f.hyper);
    f.manifest = model.layout().entries();
    f.theta = model.theta();
    return f;
}

/// Rebuilds a model from a file's contents (already checked for magic, version,
/// checksum, kind and scalar by load_model): the config from the hyper-parameters
/// (hyper_param_error), the layout it implies against the file's manifest
/// (manifest_mismatch) BEFORE the model is built, so that building it allocates no more
/// weights than the file holds, then every weight finite (corrupt_model_file "weights[i]").
template <Persistent M>
M from_model_file(const ModelFile<typename M::scalar_type>& file) {
    typename M::config_type config = M::read_config(file.hyper);
    check_manifest(file, M::layout_for(config));
    M model(std::move(config));
    model.theta() = checked_weights(file, model.layout());
    return model;
}

/// Writes `model` to a stream or a file (io/model_file.hpp's format; model_file_error
/// when the stream or file fails).
template <Persistent M>
void save(const M& model, std::ostream& out) {
    save_model(out, to_model_file(model));
}
template <Persistent M>
void save(const M& model, const std::filesystem::path& path) {
    save_model(path, to_model_file(model));
}

/// Reads a model written by `save` with the same scalar type. Throws the typed
/// model_file_errors: not_a_model_file, truncated_model_file, corrupt_model_file,
/// unsupported_model_version, wrong_model_kind, model_scalar_mismatch,
/// hyper_param_error, manifest_mismatch.
template <Persistent M>
M load(std::istream& in) {
    return from_model_file<M>(load_model<typename M::scalar_type>(in, M::model_kind, M::model_version));
}
template <Persistent M>
M load(const std::filesystem::path& path) {
    return from_model_file<M>(load_model<typename M::scalar_type>(path, M::model_kind, M::model_version));
}

}  // namespace diffauction
