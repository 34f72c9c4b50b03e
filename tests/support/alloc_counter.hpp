// tests/support/alloc_counter.hpp - counts heap allocations made by this thread.
// Linked into every test program (support/alloc_counter.cpp): it wraps glibc's
// malloc family, so it sees operator new (libstdc++ calls malloc) and Eigen's own
// allocations alike. Under AddressSanitizer, which owns malloc, it is off.
#pragma once

namespace diffauction::test {

/// True when allocations are counted (false in sanitizer builds).
bool allocation_counting();
/// Number of malloc/calloc/realloc/aligned allocations this thread has made.
long allocations();

}  // namespace diffauction::test

/// Inside a test: ends the test with a recorded success when counting is off
/// (sanitizer builds), so allocation tests run wherever they can.
#define DIFFAUCTION_NEEDS_ALLOCATION_COUNTING()                                         \
    do {                                                                                \
        if (!::diffauction::test::allocation_counting()) {                             \
            SUCCEED("allocation counting is off under AddressSanitizer");              \
            return;                                                                     \
        }                                                                               \
    } while (false)
