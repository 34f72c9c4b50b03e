// diffauction/sort/lists.hpp - allocation-free enumeration of ordered lists of
// distinct candidates: the candidate lists of the enumerating mechanisms (SPEC §3
// VCG / WVCG / Myerson with externalities, §4.3 NMA, §4.4 JAMA).
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

/// Scratch memory for `for_each_list`. Reuse one per thread: once it has seen the
/// largest pool and length, enumeration allocates nothing.
struct ListScratch {
    std::vector<Index> list;           ///< the list being visited
    std::vector<Index> pos;            ///< per depth: position in the pool
    std::vector<unsigned char> used;   ///< per pool position: already in the list
};

/// Number of ordered lists of `length` distinct items out of `n`: n!/(n-length)!
/// (1 for length 0, 0 when length > n). Saturates at UINT64_MAX instead of overflowing.
inline std::uint64_t count_lists(Index n, Index length) {
    detail::require(n >= 0, "n", kNone, "must be >= 0");
    detail::require(length >= 0, "length", kNone, "must be >= 0");
    if (length > n) return 0;
    std::uint64_t c = 1;
    for (Index t = 0; t < length; ++t) {
        const auto f = static_cast<std::uint64_t>(n - t);
        if (c > std::numeric_limits<std::uint64_t>::max() / f) return std::numeric_limits<std::uint64_t>::max();
        c *= f;
    }
    return c;
}

/// Number of lists visited by `for_each_list_up_to(n, max_length, ...)`:
/// sum over L = 0..min(max_length, n) of n!/(n-L)! (saturating).
inline std::uint64_t count_lists_up_to(Index n, Index max_length) {
    detail::require(max_length >= 0, "max_length", kNone, "must be >= 0");
    std::uint64_t c = 0;
    for (Index l = 0; l <= max_length && l <= n; ++l) {
        const std::uint64_t x = count_lists(n, l);
        if (c > std::numeric_limits<std::uint64_t>::max() - x) return std::numeric_limits<std::uint64_t>::max();
        c += x;
    }
    return c;
}

/// The most candidate lists an exact enumerating mechanism visits for one auction
/// ((choice): 2^20 = 1 048 576, about 0.5 s of JAMA or WVCG on one core; VCG/WVCG/Myerson with
/// a list-wise click model, JAMA). N = 30, K = 4 (682 951 lists) is within it; N = 40,
/// K = 4 (2.2 million) and N = 60, K = 6 (3.6e10) are refused with size_limit_error.
inline constexpr std::uint64_t kMaxEnumeratedLists = std::uint64_t{1} << 20;

/// Throws size_limit_error, naming N, K, the count and the limit, when
/// count_lists_up_to(n, max_length) exceeds `limit`.
inline void require_enumerable(Index n, Index max_length, const char* mechanism,
                               std::uint64_t limit = kMaxEnumeratedLists) {
    const std::uint64_t c = count_lists_up_to(n, max_length);
    if (c <= limit) [[likely]]
        return;
    std::string what = mechanism;
    what.append(" enumerates every list of up to K = ").append(std::to_string(max_length));
    what.append(" of N = ").append(std::to_string(n)).append(" candidates: ");
    what.append(c == std::numeric_limits<std::uint64_t>::max() ? std::string("2^64 or more")
                                                                 : std::to_string(c));
    what.append(" lists, above the limit of ").append(std::to_string(limit));
    throw size_limit_error(c, limit, what.append(" (kMaxEnumeratedLists in sort/lists.hpp)"));
}

namespace detail {
// Calls f(list); a callback returning bool stops the enumeration by returning false.
template <class F>
bool visit_list(F& f, std::span<const Index> list) {
    if constexpr (std::is_same_v<std::invoke_result_t<F&, std::span<const Index>>, bool>) {
        return f(list);
    } else {
        f(list);
        return true;
    }
}

// Depth-first enumeration over pool positions 0..m-1; item(p) maps a position to
// the candidate index. Lexicographic in pool positions; no recursion, no allocation
// once `s` has grown.
template <class Item, class F>
bool enumerate_lists(Index m, Index length, const Item& item, ListScratch& s, F& f) {
    require(length >= 0, "length", kNone, "must be >= 0");
    if (length > m) return true;
    if (length == 0) return visit_list(f, std::span<const Index>());
    const auto len = static_cast<std::size_t>(length);
    s.list.resize(len);
    s.pos.resize(len);
    s.used.assign(static_cast<std::size_t>(m), 0);
    std::size_t d = 0;
    s.pos[0] = -1;
    for (;;) {
        Index p = s.pos[d];
        if (p >= 0) s.used[static_cast<std::size_t>(p)] = 0;
        ++p;
        while (p < m && s.used[static_cast<std::size_t>(p)]) ++p;
        if (p == m) {
            if (d == 0) return true;
            --d;
            continue;
        }
        s.pos[d] = p;
        s.used[static_cast<std::size_t>(p)] = 1;
        s.list[d] = item(p);
        if (d + 1 == len) {
            if (!visit_list(f, std::span<const Index>(s.list.data(), len))) return false;
        } else {
            ++d;
            s.pos[d] = -1;
        }
    }
}

inline void require_pool(std::span<const Index> pool) {
    for (std::size_t p = 0; p < pool.size(); ++p) {
        require(pool[p] >= 0, "pool", static_cast<Index>(p), "is negative");
        for (std::size_t q = 0; q < p; ++q)
            if (pool[q] == pool[p])  // not require(): that would build the message every time
                throw input_error("pool", static_cast<Index>(p), "repeats candidate " + std::to_string(pool[p]));
    }
}
}  // namespace detail

/// Visits every ordered list of `length` distinct indices from [0, n), calling
/// `f(std::span<const Index> list)` once per list: n!/(n-length)! calls (one call
/// with the empty list when length == 0, none when length > n). Order: lexicographic
/// (0,1,2 < 0,1,3 < ... < 0,2,1 ...), so "first best list wins" breaks ties towards
/// lower indices in higher slots. The span is valid only during the call. If `f`
/// returns bool, returning false stops the enumeration; the function then returns
/// false (true when every list was visited). Allocates nothing once `s` has grown.
template <class F>
bool for_each_list(Index n, Index length, ListScratch& s, F&& f) {
    detail::require(n >= 0, "n", kNone, "must be >= 0");
    return detail::enumerate_lists(n, length, [](Index p) { return p; }, s, f);
}

/// As above over the candidates of `pool` (distinct, non-negative; e.g. the eligible
/// ads), lexicographic in pool positions. Lists hold the pool's entries.
template <class F>
bool for_each_list(std::span<const Index> pool, Index length, ListScratch& s, F&& f) {
    detail::require_pool(pool);
    return detail::enumerate_lists(static_cast<Index>(pool.size()), length,
                                   [pool](Index p) { return pool[static_cast<std::size_t>(p)]; }, s, f);
}

/// Visits every ordered list of distinct indices from [0, n) of length
/// min(max_length, n) down to 0, longest lengths first, lexicographic within a
/// length, the empty list last. This is the feasible set of the library's
/// enumerating mechanisms (VCG/WVCG/Myerson with externalities, JAMA): with "first
/// best list wins", ties between lists favour longer lists, then lower indices.
template <class F>
bool for_each_list_up_to(Index n, Index max_length, ListScratch& s, F&& f) {
    detail::require(n >= 0, "n", kNone, "must be >= 0");
    detail::require(max_length >= 0, "max_length", kNone, "must be >= 0");
    for (Index l = max_length < n ? max_length : n; l >= 0; --l)
        if (!detail::enumerate_lists(n, l, [](Index p) { return p; }, s, f)) return false;
    return true;
}

/// As above over the candidates of `pool`.
template <class F>
bool for_each_list_up_to(std::span<const Index> pool, Index max_length, ListScratch& s, F&& f) {
    detail::require_pool(pool);
    detail::require(max_length >= 0, "max_length", kNone, "must be >= 0");
    const auto m = static_cast<Index>(pool.size());
    const auto item = [pool](Index p) { return pool[static_cast<std::size_t>(p)]; };
    for (Index l = max_length < m ? max_length : m; l >= 0; --l)
        if (!detail::enumerate_lists(m, l, item, s, f)) return false;
    return true;
}

}  // namespace diffauction
