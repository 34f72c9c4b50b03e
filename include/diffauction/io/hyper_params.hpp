// diffauction/io/hyper_params.hpp - a model's hyper-parameters as an ordered, typed
// name -> value map (what a model file stores of a model's config).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/io/errors.hpp"

namespace diffauction {

// ---------------------------------------------------------------------------------
// Hyper-parameters.

/// Ordered name -> value map of a model's hyper-parameters (sizes, τ, activation
/// names, layer widths). Keys are non-empty and unique; insertion order is kept and
/// is the order in the file. Getters are typed and strict: (choice) an integer is not
/// returned as a real, so a file never silently changes meaning.
class HyperParams {
public:
    using IntList = std::vector<std::int64_t>;
    using Value = std::variant<std::int64_t, double, std::string, IntList>;
    /// The type tags written to the file (Value's alternative index + 1).
    enum class Type : std::uint8_t { integer = 1, real = 2, string = 3, integer_list = 4 };
    struct Entry {
        std::string name;
        Value value;
        friend bool operator==(const Entry&, const Entry&) = default;
    };

    HyperParams() = default;
    /// Adopts `entries`; throws input_error("hyper", i, ...) on an empty or repeated name.
    explicit HyperParams(std::vector<Entry> entries) : entries_(std::move(entries)) {
        std::vector<std::string_view> names;
        names.reserve(entries_.size());
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            detail::require(!entries_[i].name.empty(), "hyper", static_cast<Index>(i), "name is empty");
            names.push_back(entries_[i].name);
        }
        std::sort(names.begin(), names.end());
        const auto dup = std::adjacent_find(names.begin(), names.end());
        detail::require(dup == names.end(), "hyper", kNone, [&] {
            return std::string("name '").append(*dup).append("' is given twice");
        });
    }

    /// Setters: add `name`, or replace its value (and type) where it already exists.
    HyperParams& set_int(std::string name, std::int64_t v) { return put(std::move(name), Value(v)); }
    HyperParams& set_real(std::string name, double v) { return put(std::move(name), Value(v)); }
    HyperParams& set_string(std::string name, std::string v) { return put(std::move(name), Value(std::move(v))); }
    HyperParams& set_int_list(std::string name, IntList v) { return put(std::move(name), Value(std::move(v))); }

    /// Typed getters: throw hyper_param_error naming the key when it is missing or
    /// holds another type.
    std::int64_t get_int(std::string_view name) const { return get<std::int64_t>(name); }
    double get_real(std::string_view name) const { return get<double>(name); }
    const std::string& get_string(std::string_view name) const { return get<std::string>(name); }
    const IntList& get_int_list(std::string_view name) const { return get<IntList>(name); }

    bool contains(std::string_view name) const { return find(name) != nullptr; }
    std::size_t size() const { return entries_.size(); }
    const std::vector<Entry>& entries() const { return entries_; }

    /// Value equality (a real compares as a double: -0.0 == 0.0).
    friend bool operator==(const HyperParams&, const HyperParams&) = default;

    static const char* type_name(std::size_t variant_index) {
        constexpr const char* kNames[] = {"integer", "real", "string", "integer list"};
        return variant_index < 4 ? kNames[variant_index] : "unknown";
    }

private:
    const Entry* find(std::string_view name) const {
        for (const auto& e : entries_)
            if (e.name == name) return &e;
        return nullptr;
    }
    HyperParams& put(std::string name, Value v) {
        detail::require(!name.empty(), "hyper", kNone, "name is empty");
        for (auto& e : entries_)
            if (e.name == name) {
                e.value = std::move(v);
                return *this;
            }
        entries_.push_back({std::move(name), std::move(v)});
        return *this;
    }
    template <class V>
    const V& get(std::string_view name) const {
        const Entry* e = find(name);
        if (e == nullptr) throw hyper_param_error(std::string(name), "missing");
        const V* v = std::get_if<V>(&e->value);
        if (v == nullptr) {
            std::string what = "is ";
            what.append(type_name(e->value.index())).append(", expected ");
            what.append(type_name(Value(std::in_place_type<V>).index()));
            throw hyper_param_error(std::string(name), what);
        }
        return *v;
    }

    std::vector<Entry> entries_;
};

}  // namespace diffauction
