// diffauction/core/error.hpp - the typed exceptions every public entry point throws.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "diffauction/core/types.hpp"

namespace diffauction {

/// Bad input to a public entry point. `field()` names the offending field
/// (e.g. "bids", "slot_ctr", "owners"), `index()` the element (kNone when the
/// problem is a size or the field as a whole), `auction()` the auction within a
/// batch (kNone for a single auction). Nothing is ever clamped silently: every
/// rule in `validate()` throws this.
class input_error : public std::invalid_argument {
public:
    input_error(std::string field, Index index, const std::string& what, Index auction = kNone)
        : std::invalid_argument(format(field, index, what, auction)),
          field_(std::move(field)), index_(index), auction_(auction) {}

    const std::string& field() const noexcept { return field_; }
    Index index() const noexcept { return index_; }
    Index auction() const noexcept { return auction_; }

private:
    static std::string format(const std::string& field, Index index, const std::string& what,
                              Index auction) {
        // Built with append(): GCC 12 reports a false -Wrestrict on chained operator+.
        std::string s = "diffauction: invalid input: ";
        if (auction != kNone) s.append("auction ").append(std::to_string(auction)).append(": ");
        s.append(field);
        if (index != kNone) s.append("[").append(std::to_string(index)).append("]");
        s.append(": ").append(what);
        return s;
    }
    std::string field_;
    Index index_;
    Index auction_;
};

/// An auction too large for an exact method: an enumerating mechanism would visit
/// `count()` candidate lists, more than its `limit()` (sort/lists.hpp,
/// kMaxEnumeratedLists). Reported on field "ctr" (N) with index kNone.
class size_limit_error : public input_error {
public:
    size_limit_error(std::uint64_t count, std::uint64_t limit, const std::string& what, Index auction = kNone)
        : input_error("ctr", kNone, what, auction), count_(count), limit_(limit) {}
    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t limit() const noexcept { return limit_; }

private:
    std::uint64_t count_;
    std::uint64_t limit_;
};

/// A model file that cannot be read: truncated, corrupt, wrong kind or version.
class model_file_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {
/// The throwing half of `require`, kept out of line and cold so that a passing
/// check inlines to one predictable branch.
[[noreturn, gnu::cold, gnu::noinline]] inline void fail(const char* field, Index index, const std::string& what,
                                                       Index auction) {
    throw input_error(field, index, what, auction);
}
/// Throws input_error unless `ok`. Takes a literal so that a passing check costs
/// a branch and never allocates (serving calls these on every auction).
inline void require(bool ok, const char* field, Index index, const char* what, Index auction = kNone) {
    if (!ok) [[unlikely]]
        fail(field, index, what, auction);
}
/// As above with a message built by `what()` only when the check fails.
template <class F>
    requires std::is_invocable_r_v<std::string, F>
void require(bool ok, const char* field, Index index, F&& what, Index auction = kNone) {
    if (!ok) [[unlikely]]
        fail(field, index, std::forward<F>(what)(), auction);
}
}  // namespace detail

}  // namespace diffauction
