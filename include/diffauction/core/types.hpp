// diffauction/core/types.hpp - scalar and Eigen aliases shared by every component.
#pragma once

#include <Eigen/Core>

#include <concepts>
#include <cstdint>

namespace diffauction {

using Index = Eigen::Index;

/// Marker for "no candidate" (an empty slot) and "no owner".
inline constexpr Index kNone = -1;

/// Scalars the library is instantiated for (float for serving, double for checks).
template <class T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

template <class T> using VectorX = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T> using RowVectorX = Eigen::Matrix<T, 1, Eigen::Dynamic>;
/// Candidate-major matrices (one candidate per contiguous row) so that the rows
/// of one auction inside a stacked batch form a contiguous block.
template <class T> using MatrixX = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using IndexVector = Eigen::Matrix<Index, Eigen::Dynamic, 1>;

template <class T> using VectorMap = Eigen::Map<const VectorX<T>>;
template <class T> using MatrixMap = Eigen::Map<const MatrixX<T>>;

}  // namespace diffauction
