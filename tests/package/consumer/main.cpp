// A program outside the project: it sees diffauction only through the CMake
// target diffauction::diffauction (installed package or add_subdirectory).
#include <diffauction/diffauction.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    diffauction::Auction<float> a;
    a.bids = Eigen::Vector3f(1.0f, 4.0f, 2.0f);
    a.ctr = Eigen::Vector3f(0.5f, 0.1f, 0.5f);
    a.slot_ctr = Eigen::Vector2f(1.0f, 0.5f);
    const auto out = diffauction::run(diffauction::Gsp<float>(), a);
    // eCPM scores b*ctr: 0.5, 0.4, 1.0 -> slot 0 = ad 2, slot 1 = ad 0.
    // Ad 2 pays 0.5 / 0.5 = 1.0 per click, ad 0 pays 0.4 / 0.5 = 0.8.
    const bool ok = out.slots == std::vector<diffauction::Index>{2, 0} &&
                    std::abs(out.price[2] - 1.0f) < 1e-6f && std::abs(out.price[0] - 0.8f) < 1e-6f &&
                    out.price[1] == 0.0f;
    std::printf("diffauction consumer: %s\n", ok ? "ok" : "wrong outcome");
    return ok ? 0 : 1;
}
