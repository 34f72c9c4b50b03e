// diffauction/data/joint_settings.hpp - the joint-auction settings A-D of SPEC §4.4:
// m brands and n stores bid for K slots; a candidate is a feasible (brand, store)
// bundle owned by both.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "diffauction/core/auction.hpp"
#include "diffauction/core/error.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/core/sample.hpp"
#include "diffauction/core/types.hpp"
#include "diffauction/data/values.hpp"

namespace diffauction {

/// m x n 0/1 relation matrix: R(i, j) = 1 when brand i may be shown with store j.
using RelationMatrix = Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class JointKind { A, B, C, D };

/// A joint-auction setting. Bidders 0..m-1 are the brands, m..m+n-1 the stores.
/// The candidates of every auction are the feasible bundles (i, j), R(i, j) = 1, in
/// row-major order (brand by brand, stores ascending); bundle (i, j) is owned by
/// {i, m + j}, so its bid is b_i + b_{m+j}.
struct JointSetting {
    JointKind kind = JointKind::A;
    std::string name;
    Index brands = 0;              ///< m
    Index stores = 0;              ///< n
    RelationMatrix relation;       ///< R, m x n
    std::vector<double> slot_ctr;  ///< alpha_1 >= ... >= alpha_K

    Index num_bidders() const { return brands + stores; }
    Index num_slots() const { return static_cast<Index>(slot_ctr.size()); }
    /// Bidder index of store j.
    Index store_bidder(Index j) const { return brands + j; }
    /// Number of feasible bundles (sum of R).
    Index num_bundles() const { return relation.size() == 0 ? 0 : static_cast<Index>(relation.sum()); }
    /// The feasible bundles (brand, store) in candidate order.
    std::vector<std::pair<Index, Index>> bundles() const {
        std::vector<std::pair<Index, Index>> b;
        for (Index i = 0; i < relation.rows(); ++i)
            for (Index j = 0; j < relation.cols(); ++j)
                if (relation(i, j) == 1) b.emplace_back(i, j);
        return b;
    }
    /// Candidate index of bundle (i, j), or kNone when R(i, j) = 0.
    Index bundle_index(Index i, Index j) const {
        detail::require(i >= 0 && i < brands, "brand", i, "is out of range");
        detail::require(j >= 0 && j < stores, "store", j, "is out of range");
        if (relation(i, j) != 1) return kNone;
        Index c = 0;
        for (Index r = 0; r < i; ++r) c += relation.row(r).sum();
        for (Index s = 0; s < j; ++s) c += relation(i, s);
        return c;
    }
};

/// Throws input_error unless: m, n >= 1; R is m x n with 0/1 entries; every brand
/// is related to at least one store; slot_ctr is non-empty, positive, finite and
/// non-increasing.
inline void validate_joint_setting(const JointSetting& s) {
    using detail::require;
    require(s.brands >= 1, "brands", kNone, "must be >= 1");
    require(s.stores >= 1, "stores", kNone, "must be >= 1");
    require(s.relation.rows() == s.brands && s.relation.cols() == s.stores, "relation", kNone,
            "must be brands x stores");
    for (Index i = 0; i < s.brands; ++i) {
        for (Index j = 0; j < s.stores; ++j)
            require(s.relation(i, j) == 0 || s.relation(i, j) == 1, "relation", i * s.stores + j,
                    "entries must be 0 or 1");
        require(s.relation.row(i).sum() >= 1, "relation", i, "brand is related to no store");
    }
    require(!s.slot_ctr.empty(), "slot_ctr", kNone, "is empty (at least one slot is needed)");
    for (std::size_t k = 0; k < s.slot_ctr.size(); ++k) {
        require(std::isfinite(s.slot_ctr[k]) && s.slot_ctr[k] > 0, "slot_ctr", static_cast<Index>(k),
                "must be finite and > 0");
        if (k > 0)
            require(s.slot_ctr[k] <= s.slot_ctr[k - 1], "slot_ctr", static_cast<Index>(k),
                    "is larger than the slot above it (slot CTRs must be non-increasing)");
    }
}

/// The shipped settings (choice: relation matrices and CTRs are the library's own;
/// SPEC §4.4 leaves them open). Slot CTRs follow the JTransNet convention
/// 1 > alpha_1 >= ... > 0: alpha = 0.8, 0.5, 0.3 (first K). Every brand is related
/// to >= 2 stores and every store to >= 1 brand; no R is complete, so R matters.
///   A: 2 brands, 4 stores, 1 slot,  R = [1 1 1 0; 0 1 1 1]                    (6 bundles)
///   B: 3 brands, 3 stores, 2 slots, R = [1 1 0; 0 1 1; 1 0 1]                 (6 bundles)
///   C: 4 brands, 4 stores, 2 slots, R = [1 1 0 1; 0 1 1 0; 1 0 1 1; 0 1 0 1]  (10 bundles)
///   D: 4 brands, 4 stores, 3 slots, R = [1 1 1 0; 0 1 1 1; 1 0 1 1; 1 1 0 1]  (12 bundles)
inline JointSetting joint_setting(JointKind kind) {
    JointSetting s;
    s.kind = kind;
    switch (kind) {
        case JointKind::A:
            s.name = "A: 2 brands, 4 stores, 1 slot";
            s.brands = 2;
            s.stores = 4;
            s.relation.resize(2, 4);
            s.relation << 1, 1, 1, 0,
                          0, 1, 1, 1;
            s.slot_ctr = {0.8};
            break;
        case JointKind::B:
            s.name = "B: 3 brands, 3 stores, 2 slots";
            s.brands = 3;
            s.stores = 3;
            s.relation.resize(3, 3);
            s.relation << 1, 1, 0,
                          0, 1, 1,
                          1, 0, 1;
            s.slot_ctr = {0.8, 0.5};
            break;
        case JointKind::C:
            s.name = "C: 4 brands, 4 stores, 2 slots";
            s.brands = 4;
            s.stores = 4;
            s.relation.resize(4, 4);
            s.relation << 1, 1, 0, 1,
                          0, 1, 1, 0,
                          1, 0, 1, 1,
                          0, 1, 0, 1;
            s.slot_ctr = {0.8, 0.5};
            break;
        case JointKind::D:
            s.name = "D: 4 brands, 4 stores, 3 slots";
            s.brands = 4;
            s.stores = 4;
            s.relation.resize(4, 4);
            s.relation << 1, 1, 1, 0,
                          0, 1, 1, 1,
                          1, 0, 1, 1,
                          1, 1, 0, 1;
            s.slot_ctr = {0.8, 0.5, 0.3};
            break;
        default:
            throw input_error("kind", kNone, "is not a JointKind");
    }
    return s;
}

/// Auction t of a data set of `setting` with seed `seed`: a joint auction with m + n
/// bidders, values U[0,1] i.i.d. (truth.values = bids), priors U[0,1] for every
/// bidder, one candidate per feasible bundle (order and owners as in JointSetting),
/// bundle ctr = 1 (choice: the slot CTR alone sets the click probability),
/// slot_ctr = alpha. No features, context, cvr, item prices or log.
template <Scalar T>
Sample<T> joint_sample(const JointSetting& setting, std::uint64_t seed, Index t) {
    validate_joint_setting(setting);
    detail::require(t >= 0, "t", t, "must be >= 0");
    Rng rng = Rng(seed).fork(static_cast<std::uint64_t>(t));
    const Index bidders = setting.num_bidders();
    const auto prior = ValueDist<T>::uniform(T(0), T(1));
    Sample<T> s;
    Auction<T>& a = s.auction;
    s.truth.values.resize(bidders);
    for (Index j = 0; j < bidders; ++j) s.truth.values[j] = sample_value(prior, rng);
    a.bids = s.truth.values;
    a.priors.assign(static_cast<std::size_t>(bidders), prior);
    for (const auto& [i, j] : setting.bundles()) a.owners.push_back(Owners{i, setting.store_bidder(j)});
    a.ctr = VectorX<T>::Ones(static_cast<Index>(a.owners.size()));
    a.slot_ctr.resize(setting.num_slots());
    for (Index k = 0; k < setting.num_slots(); ++k) a.slot_ctr[k] = static_cast<T>(setting.slot_ctr[static_cast<std::size_t>(k)]);
    return s;
}

/// `count` samples of `setting`: element t is `joint_sample(setting, seed, t)`.
template <Scalar T>
std::vector<Sample<T>> generate(const JointSetting& setting, Index count, std::uint64_t seed) {
    validate_joint_setting(setting);
    return detail::generate_indexed(count, [&](Index t) { return joint_sample<T>(setting, seed, t); });
}

}  // namespace diffauction
