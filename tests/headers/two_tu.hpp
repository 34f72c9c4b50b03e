// The two-translation-unit link test: two_tu_b.test.cpp defines these and
// two_tu_a.test.cpp calls them. Both include the umbrella header and instantiate
// the same templates, so a header function or variable that lacks `inline`
// becomes a duplicate symbol and test_headers fails to link.
#pragma once

#include <diffauction/diffauction.hpp>

namespace two_tu {

/// GSP (sigma = 1) over `a`, run with an explicit Workspace and Outcome.
diffauction::Outcome<double> gsp_in_b(const diffauction::Auction<double>& a);
/// GSP<float> over auction `b` of `batch`.
diffauction::Outcome<float> gsp_batch_in_b(const diffauction::Batch<float>& batch, diffauction::Index b);
/// validate(a): throws diffauction::input_error on bad input.
void validate_in_b(const diffauction::Auction<double>& a);

}  // namespace two_tu
