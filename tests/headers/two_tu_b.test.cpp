// Second translation unit of the link test (see two_tu.hpp); no test cases here.
#include <diffauction/diffauction.hpp>

#include "headers/two_tu.hpp"

namespace two_tu {

diffauction::Outcome<double> gsp_in_b(const diffauction::Auction<double>& a) {
    const diffauction::Gsp<double> gsp;
    diffauction::Gsp<double>::Workspace ws;
    diffauction::Outcome<double> out;
    gsp.run(a, out, ws);
    return out;
}

diffauction::Outcome<float> gsp_batch_in_b(const diffauction::Batch<float>& batch, diffauction::Index b) {
    return diffauction::run(diffauction::Gsp<float>(), batch.auction(b));
}

void validate_in_b(const diffauction::Auction<double>& a) { diffauction::validate<double>(a); }

}  // namespace two_tu
