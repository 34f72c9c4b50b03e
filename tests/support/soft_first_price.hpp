// A toy relaxed model for the regret tests (tests/train/): first price with a soft
// allocation over auctions of any size, and ragged single-item auctions to run it on.
#pragma once

#include <diffauction/core/batch.hpp>
#include <diffauction/core/sample.hpp>
#include <diffauction/mechanisms/learned/regret_net.hpp>
#include <diffauction/mechanisms/relaxed.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

namespace diffauction::test {

/// First price with a soft allocation, any N: within each (profile, auction),
/// π_i = exp(s·b_i/τ) / (1 + Σ_k exp(s·b_k/τ)) with s = theta[0] (the 1 is a reserve
/// that keeps the item), click = alloc = π_i, price = b_i, payment = b_i π_i. Honours
/// the focus the hard way: under focus[c] = j the rows of profile c other than the
/// candidates j are NaN, so a caller that reads a row it did not ask for fails.
struct SoftFirstPrice {
    using scalar_type = double;
    struct RelaxedCache {
        Eigen::VectorXd bids, pi;
        std::vector<Index> offsets;  ///< (profile, auction) segments
        double tau = 1;
    };
    Eigen::VectorXd theta_ = Eigen::VectorXd::Constant(1, 3.0);
    Eigen::VectorXd& theta() { return theta_; }
    const Eigen::VectorXd& theta() const { return theta_; }
    void relaxed_forward(const Batch<double>& batch, const Eigen::Ref<const Eigen::VectorXd>& bids, double tau,
                         RelaxedCache& c, RelaxedOutcome<double>& out, std::span<const Index> focus = {}) const {
        const Index profiles = detail::check_relaxed_args(batch, bids, tau, focus);
        const Index total = batch.total_candidates();
        detail::relaxed_segments(batch.offsets(), profiles, c.offsets);
        c.bids = bids;
        c.tau = tau;
        c.pi.resize(bids.size());
        out.reset(profiles, total, 1);
        const double s = theta_[0] / tau;
        for (std::size_t g = 0; g + 1 < c.offsets.size(); ++g) {
            const Index o = c.offsets[g], e = c.offsets[g + 1];
            double m = 0;
            for (Index r = o; r < e; ++r) m = std::max(m, s * bids[r]);
            double sum = std::exp(-m);
            for (Index r = o; r < e; ++r) sum += c.pi[r] = std::exp(s * bids[r] - m);
            for (Index r = o; r < e; ++r) c.pi[r] /= sum;
        }
        for (Index r = 0; r < profiles * total; ++r) {
            out.alloc(r, 0) = out.click[r] = c.pi[r];
            out.price[r] = bids[r];
            out.payment[r] = bids[r] * c.pi[r];
        }
        const double nan = std::numeric_limits<double>::quiet_NaN();
        for (std::size_t p = 0; p < focus.size(); ++p) {
            if (focus[p] == kNone) continue;
            for (Index b = 0; b < batch.size(); ++b)
                for (Index i = batch.begin(b), j = 0; i < batch.end(b); ++i, ++j)
                    if (j != focus[p]) {
                        const Index r = out.row(static_cast<Index>(p), i);
                        out.alloc(r, 0) = out.click[r] = out.price[r] = out.payment[r] = nan;
                    }
        }
    }
    void relaxed_backward(RelaxedCache& c, const RelaxedGradient<double>& d, Eigen::VectorXd& grad,
                          Eigen::VectorXd* d_bids) const {
        const Index rows = c.bids.size();
        const double s = theta_[0] / c.tau;
        Eigen::VectorXd d_pi(rows), direct(rows);
        for (Index r = 0; r < rows; ++r) {
            const double dp = d.d_payment.size() != 0 ? d.d_payment[r] : 0.0;
            d_pi[r] = (d.d_alloc.size() != 0 ? d.d_alloc(r, 0) : 0.0) + (d.d_click.size() != 0 ? d.d_click[r] : 0.0) +
                      dp * c.bids[r];
            direct[r] = dp * c.pi[r];
        }
        if (d_bids != nullptr) d_bids->resize(rows);
        for (std::size_t g = 0; g + 1 < c.offsets.size(); ++g) {
            const Index o = c.offsets[g], e = c.offsets[g + 1];
            double dot = 0;
            for (Index r = o; r < e; ++r) dot += d_pi[r] * c.pi[r];
            for (Index r = o; r < e; ++r) {
                const double dz = c.pi[r] * (d_pi[r] - dot);  // the reserve's dπ is 0
                grad[0] += dz * c.bids[r] / c.tau;
                if (d_bids != nullptr) (*d_bids)[r] = direct[r] + dz * s;
            }
        }
    }
};

/// One single-item auction per list of values (a ragged list of auctions).
inline std::vector<Sample<double>> ragged_samples(const std::vector<std::vector<double>>& auctions) {
    std::vector<Sample<double>> out;
    for (const std::vector<double>& v : auctions) {
        MatrixX<double> row(1, static_cast<Index>(v.size()));
        for (std::size_t i = 0; i < v.size(); ++i) row(0, static_cast<Index>(i)) = v[i];
        out.push_back(single_item_samples<double>(row)[0]);
    }
    return out;
}

}  // namespace diffauction::test
