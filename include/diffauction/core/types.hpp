// diffauction/core/types.hpp - scalar and Eigen aliases shared by every component.
#pragma once

// Eigen is included here and only here (every header reaches it through this one).
// GCC 12 reports -Wmaybe-uninitialized and -Wuninitialized inside its own AVX-512
// intrinsics (avx512fintrin.h: `__m512d __Y = __Y;`, GCC bug 105593) wherever Eigen's AVX-512
// packets are inlined, i.e. whenever code is compiled for an AVX-512 target
// (-march=native on such a CPU, -march=x86-64-v4). The warning's location is in the
// compiler's header, included by Eigen, so silencing it for Eigen's include only
// keeps it fatal everywhere else (the project's own code, a user's code).
// (choice) The pragma, not -Wno-(maybe-)uninitialized on the command line, which
// would hide the warnings in our code as well.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

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
