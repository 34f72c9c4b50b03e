// See alloc_counter.hpp. The replacements forward to glibc's internal entry points
// (__libc_malloc & co.) and bump a thread-local counter with the initial-exec TLS
// model, which needs no allocation itself.
#include "support/alloc_counter.hpp"

#include <cerrno>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
namespace diffauction::test {
bool allocation_counting() { return false; }
long allocations() { return 0; }
}  // namespace diffauction::test
#else
namespace {
__attribute__((tls_model("initial-exec"))) thread_local long t_allocations = 0;
}

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) {
    ++t_allocations;
    return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
    ++t_allocations;
    return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
    ++t_allocations;
    return __libc_realloc(p, n);
}
void* memalign(std::size_t alignment, std::size_t n) {
    ++t_allocations;
    return __libc_memalign(alignment, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
    ++t_allocations;
    return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
    ++t_allocations;
    void* p = __libc_memalign(alignment, n);
    if (p == nullptr) return ENOMEM;
    *out = p;
    return 0;
}
void free(void* p) { __libc_free(p); }
}

namespace diffauction::test {
bool allocation_counting() { return true; }
long allocations() { return t_allocations; }
}  // namespace diffauction::test
#endif
