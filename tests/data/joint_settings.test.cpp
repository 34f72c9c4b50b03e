#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <diffauction/data/joint_settings.hpp>

#include "data/sample_equal.hpp"

using namespace diffauction;

namespace {

struct Expect {
    JointKind kind;
    Index m, n;
    std::vector<int> relation;  // row-major m x n
    std::vector<double> alpha;
};

// The documented settings (joint_settings.hpp), written out by hand.
const std::vector<Expect>& expected() {
    static const std::vector<Expect> e = {
        {JointKind::A, 2, 4, {1, 1, 1, 0, 0, 1, 1, 1}, {0.8}},
        {JointKind::B, 3, 3, {1, 1, 0, 0, 1, 1, 1, 0, 1}, {0.8, 0.5}},
        {JointKind::C, 4, 4, {1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1}, {0.8, 0.5}},
        {JointKind::D, 4, 4, {1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1}, {0.8, 0.5, 0.3}},
    };
    return e;
}

}  // namespace

TEST_CASE("joint: (choice) settings A-D have the documented shapes, CTRs and relation matrices", "[data][joint]") {
    const std::vector<Index> bundles = {6, 6, 10, 12};  // number of ones in each R
    for (std::size_t t = 0; t < expected().size(); ++t) {
        const auto& e = expected()[t];
        const JointSetting s = joint_setting(e.kind);
        INFO(s.name);
        REQUIRE(s.kind == e.kind);
        REQUIRE(s.brands == e.m);
        REQUIRE(s.stores == e.n);
        REQUIRE(s.num_bidders() == e.m + e.n);
        REQUIRE(s.slot_ctr == e.alpha);
        REQUIRE(s.relation.rows() == e.m);
        REQUIRE(s.relation.cols() == e.n);
        for (Index i = 0; i < e.m; ++i)
            for (Index j = 0; j < e.n; ++j) REQUIRE(s.relation(i, j) == e.relation[static_cast<std::size_t>(i * e.n + j)]);
        REQUIRE(s.num_bundles() == bundles[t]);
        for (Index i = 0; i < e.m; ++i) CHECK(s.relation.row(i).sum() >= 2);  // every brand: >= 2 stores
        for (Index j = 0; j < e.n; ++j) CHECK(s.relation.col(j).sum() >= 1);  // every store: >= 1 brand
        CHECK(s.relation.sum() < e.m * e.n);                                   // never complete
        REQUIRE_NOTHROW(validate_joint_setting(s));
        // Bundles in row-major order, and bundle_index inverts bundles().
        const auto b = s.bundles();
        REQUIRE(static_cast<Index>(b.size()) == s.num_bundles());
        for (std::size_t c = 0; c < b.size(); ++c) {
            REQUIRE(s.relation(b[c].first, b[c].second) == 1);
            REQUIRE(s.bundle_index(b[c].first, b[c].second) == static_cast<Index>(c));
            if (c > 0)
                REQUIRE((b[c - 1].first < b[c].first || (b[c - 1].first == b[c].first && b[c - 1].second < b[c].second)));
        }
        for (Index i = 0; i < e.m; ++i)
            for (Index j = 0; j < e.n; ++j)
                if (s.relation(i, j) == 0) REQUIRE(s.bundle_index(i, j) == kNone);
    }
    // Setting A by hand: bundles (0,0) (0,1) (0,2) (1,1) (1,2) (1,3) -> (1,1) is candidate 3.
    CHECK(joint_setting(JointKind::A).bundle_index(1, 1) == 3);
    CHECK(joint_setting(JointKind::A).bundle_index(0, 3) == kNone);
}

TEMPLATE_TEST_CASE("joint: (choice) bundle ctr = 1; candidates are bundles owned by brand and store", "[data][joint]",
                   float, double) {
    for (const auto& e : expected()) {
        const JointSetting s = joint_setting(e.kind);
        const auto bundles = s.bundles();
        for (const auto& smp : generate<TestType>(s, 100, 31)) {
            const auto& a = smp.auction;
            REQUIRE_NOTHROW(validate<TestType>(a));
            const AuctionView<TestType> v(a);
            REQUIRE(v.joint());
            REQUIRE(a.num_bidders() == e.m + e.n);
            REQUIRE(a.num_candidates() == s.num_bundles());
            REQUIRE(a.ctr == VectorX<TestType>::Ones(s.num_bundles()));
            REQUIRE(a.num_slots() == static_cast<Index>(e.alpha.size()));
            for (Index k = 0; k < a.num_slots(); ++k)
                REQUIRE(a.slot_ctr[k] == static_cast<TestType>(e.alpha[static_cast<std::size_t>(k)]));
            REQUIRE(a.bids == smp.truth.values);
            REQUIRE(static_cast<Index>(a.priors.size()) == e.m + e.n);
            for (const auto& p : a.priors) {
                REQUIRE(p.family == ValueFamily::uniform);
                REQUIRE(p.lo == TestType(0));
                REQUIRE(p.hi == TestType(1));
            }
            for (Index j = 0; j < a.num_bidders(); ++j) REQUIRE((a.bids[j] >= 0 && a.bids[j] <= 1));
            for (std::size_t c = 0; c < bundles.size(); ++c) {
                const auto [i, j] = bundles[c];
                REQUIRE(a.owners[c].first == i);
                REQUIRE(a.owners[c].second == e.m + j);
                REQUIRE(v.candidate_bid(static_cast<Index>(c)) == a.bids[i] + a.bids[e.m + j]);
            }
        }
    }
}

TEST_CASE("joint: values are U[0,1] (mean, variance) and data are reproducible", "[data][joint]") {
    // U[0,1]: mean 1/2, variance 1/12, fourth central moment 1/80.
    const JointSetting s = joint_setting(JointKind::D);
    double sum = 0, sum2 = 0, n = 0;
    const auto data = generate<double>(s, 20000, 4);
    for (const auto& smp : data)
        for (Index j = 0; j < smp.truth.values.size(); ++j) {
            sum += smp.truth.values[j];
            sum2 += smp.truth.values[j] * smp.truth.values[j];
            n += 1;
        }
    const double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(std::abs(mean - 0.5) < 4 * std::sqrt(1.0 / 12 / n));
    CHECK(std::abs(var - 1.0 / 12) < 4 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));
    const auto again = generate<double>(s, 30, 4), other = generate<double>(s, 30, 5);
    for (std::size_t t = 0; t < again.size(); ++t) {
        REQUIRE(test::same_sample(again[t], data[t]));
        REQUIRE_FALSE(test::same_sample(other[t], data[t]));
    }
    REQUIRE(test::same_sample(joint_sample<double>(s, 4, 11), data[11]));
}

TEST_CASE("joint: invalid settings are input errors", "[data][joint][validation]") {
    auto field_of = [](const JointSetting& s) {
        try {
            validate_joint_setting(s);
        } catch (const input_error& e) {
            return e.field();
        }
        return std::string("none");
    };
    JointSetting s = joint_setting(JointKind::B);
    CHECK(field_of(s) == "none");
    s.relation(1, 1) = 0;
    s.relation(1, 2) = 0;  // brand 1 related to no store
    CHECK(field_of(s) == "relation");
    s = joint_setting(JointKind::B);
    s.relation(0, 2) = 2;
    CHECK(field_of(s) == "relation");
    s = joint_setting(JointKind::B);
    s.stores = 4;  // R is 3 x 3
    CHECK(field_of(s) == "relation");
    s = joint_setting(JointKind::B);
    s.brands = 0;
    CHECK(field_of(s) == "brands");
    s = joint_setting(JointKind::C);
    s.slot_ctr = {0.5, 0.8};
    CHECK(field_of(s) == "slot_ctr");
    s.slot_ctr = {};
    CHECK(field_of(s) == "slot_ctr");
    CHECK_THROWS_AS(generate<double>(joint_setting(JointKind::A), -1, 0), input_error);
    CHECK_THROWS_AS(joint_setting(JointKind::A).bundle_index(2, 0), input_error);
}
