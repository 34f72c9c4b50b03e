// diffauction/core/rng.hpp - a small, portable, seeded random generator.
// std:: distributions differ between standard libraries; these do not, so a
// seed gives the same market on every platform and compiler.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "diffauction/core/types.hpp"

namespace diffauction {

/// xoshiro256** (Blackman & Vigna) seeded through splitmix64.
class Rng {
public:
    explicit Rng(std::uint64_t seed = 0x5eed) { reseed(seed); }

    void reseed(std::uint64_t seed) {
        std::uint64_t x = seed;
        for (auto& s : s_) s = splitmix(x);
        has_spare_ = false;
    }
    /// An independent stream derived from this seed and `stream` (e.g. a thread id).
    Rng fork(std::uint64_t stream) const {
        std::uint64_t x = s_[0] ^ (0x9e3779b97f4a7c15ULL * (stream + 1));
        return Rng(splitmix(x));
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    /// Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    double uniform(double a, double b) { return a + (b - a) * uniform(); }
    /// Uniform integer in [0, n).
    Index uniform_int(Index n) {
        return static_cast<Index>(uniform() * static_cast<double>(n)) % (n > 0 ? n : 1);
    }
    bool bernoulli(double p) { return uniform() < p; }
    /// Standard normal (Box-Muller, the spare value cached).
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
        has_spare_ = true;
        return r * std::cos(2.0 * std::numbers::pi * u2);
    }
    double normal(double mean, double sd) { return mean + sd * normal(); }
    /// Exponential with the given mean.
    double exponential(double mean) {
        double u = uniform();
        while (u <= 0.0) u = uniform();
        return -mean * std::log(u);
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static std::uint64_t splitmix(std::uint64_t& x) {
        std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint64_t s_[4]{};
    double spare_ = 0;
    bool has_spare_ = false;
};

}  // namespace diffauction
