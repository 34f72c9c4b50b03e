// diffauction/core/params.hpp - one flat parameter vector per model (STYLE.md).
//
// A model owns `VectorX<T> theta` and a gradient vector of the same layout. Its
// layers record only `ParamSlot`s (offset, rows, cols) and build Eigen::Map views
// of theta when they run, so copying a model copies its weights and nothing
// dangles. Optimisers see only the flat vectors; persistence writes theta plus the
// layout's manifest (names and shapes).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// Where one weight matrix lives inside the flat vector: a rows x cols row-major block.
struct ParamSlot {
    Index offset = 0;
    Index rows = 0;
    Index cols = 0;
    Index size() const { return rows * cols; }
};

/// The manifest of a model's flat parameter vector, built as layers are constructed.
class ParamLayout {
public:
    struct Entry {
        std::string name;
        ParamSlot slot;
    };

    /// Appends a rows x cols block named `name` (names must be unique) and returns its slot.
    ParamSlot add(std::string name, Index rows, Index cols) {
        detail::require(rows >= 0 && cols >= 0, "rows/cols", kNone, "must be >= 0");
        for (const auto& e : entries_)
            detail::require(e.name != name, "name", kNone, [&] { return "parameter '" + name + "' is declared twice"; });
        const ParamSlot s{size_, rows, cols};
        entries_.push_back({std::move(name), s});
        size_ += rows * cols;
        return s;
    }
    Index size() const { return size_; }
    const std::vector<Entry>& entries() const { return entries_; }

private:
    std::vector<Entry> entries_;
    Index size_ = 0;
};

template <Scalar T> using ParamView = Eigen::Map<MatrixX<T>>;
template <Scalar T> using ConstParamView = Eigen::Map<const MatrixX<T>>;

/// Views of one slot inside a flat vector (theta or its gradient).
template <Scalar T>
ConstParamView<T> view(const VectorX<T>& flat, ParamSlot s) {
    return ConstParamView<T>(flat.data() + s.offset, s.rows, s.cols);
}
template <Scalar T>
ParamView<T> view(VectorX<T>& flat, ParamSlot s) {
    return ParamView<T>(flat.data() + s.offset, s.rows, s.cols);
}

}  // namespace diffauction
