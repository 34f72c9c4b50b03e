// diffauction/nn/mlp.hpp - a stack of Dense layers with an activation after each
// (one for the hidden layers, one for the output layer), with its hand-written
// backward pass: the MLP of DeepSet's φ₁/φ₂, RegretNet's allocation and payment
// networks and EdgeNet's payment network.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "diffauction/core/error.hpp"
#include "diffauction/core/params.hpp"
#include "diffauction/core/rng.hpp"
#include "diffauction/nn/activation.hpp"
#include "diffauction/nn/dense.hpp"

namespace diffauction {

/// Where an Mlp applies its activations. The two give the same function but not
/// the same bits (ELU: Dense's epilogue has its own exp and adds in another order),
/// so a model keeps the placement it was trained with.
enum class MlpFusion {
    /// `Dense::forward(x, y, f)`: ReLU and ELU in the product's epilogue, the others
    /// right after it (DeepSet).
    fused,
    /// `Dense::forward(x, y)`, then `activate<T>(f, y, y)` (RegretNet, EdgeNet). In
    /// place: element-wise, so the same bits as activating into a separate buffer.
    unfused,
};

/// Layer names {prefix + first, …, prefix + (first + hidden - 1), output}: the
/// hidden layers numbered from `first`, then the output layer's own name
/// (e.g. "alloc.hidden0", "alloc.hidden1", "alloc.out").
inline std::vector<std::string> mlp_layer_names(const std::string& hidden_prefix, Index hidden,
                                                const std::string& output, Index first = 0) {
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(hidden > 0 ? hidden + 1 : 1));
    for (Index l = 0; l < hidden; ++l) names.push_back(hidden_prefix + std::to_string(first + l));
    names.push_back(output);
    return names;
}

/// y = f_out(… f(f(x W₀ + b₀) W₁ + b₁) … W_L + b_L) over the rows of x: `widths`
/// lists each layer's output width (the last is the output's), `hidden` is applied
/// after every layer but the last, `output` after the last. Layer l is a Dense
/// named names[l] (slots names[l] + ".W", names[l] + ".b", in layer order, so
/// `init` draws the layers' Glorot weights in that order too).
///
/// Conventions of nn/ (STYLE.md): `forward` is const and writes what backward needs
/// into a caller-owned Cache; `backward` ADDS into `grad` and writes dL/dx only when
/// asked.
template <Scalar T>
class Mlp {
public:
    /// Forward values kept for backward, and backward scratch; reuse one per thread.
    /// After the first call with given sizes, forward + backward allocate nothing.
    struct Cache {
        /// Per layer: its output (activated); out.back() is the MLP's output.
        std::vector<MatrixX<T>> out;
        /// Per layer: its pre-activation, kept only for an activation whose derivative
        /// reads its input (softplus); empty for the others, whose derivative reads
        /// the output (ReLU's mask x > 0 is y > 0).
        std::vector<MatrixX<T>> pre;
        /// Backward scratch: per layer, dL/d(its output), then in place dL/d(its
        /// pre-activation) (the last layer's is not used for an identity output).
        std::vector<MatrixX<T>> dz;
        /// The output of the last forward call (rows x out_dim()).
        const MatrixX<T>& output() const { return out.back(); }
    };

    Mlp() = default;
    /// Layers named `names` (one per entry of `widths`) over `in` input columns.
    /// Throws input_error for in < 1, no layer, a width < 1, or names.size() !=
    /// widths.size().
    Mlp(ParamLayout& layout, std::span<const std::string> names, Index in, std::span<const Index> widths,
        Activation hidden, Activation output = Activation::identity, MlpFusion fusion = MlpFusion::fused)
        : hidden_(hidden), output_(output), fusion_(fusion) {
        detail::require(in >= 1, "in", kNone, "must be >= 1");
        detail::require(!widths.empty(), "widths", kNone, "needs at least one layer");
        detail::require(names.size() == widths.size(), "names", kNone, "needs one name per layer width");
        for (std::size_t l = 0; l < widths.size(); ++l)
            detail::require(widths[l] >= 1, "widths", static_cast<Index>(l), "must be >= 1");
        layers_.reserve(widths.size());
        Index width = in;
        for (std::size_t l = 0; l < widths.size(); ++l) {
            layers_.emplace_back(layout, names[l], width, widths[l]);
            width = widths[l];
        }
    }
    /// Layers named prefix + "0", prefix + "1", … (e.g. "set.phi1.0").
    Mlp(ParamLayout& layout, const std::string& prefix, Index in, std::span<const Index> widths, Activation hidden,
        Activation output = Activation::identity, MlpFusion fusion = MlpFusion::fused)
        : Mlp(layout, numbered(prefix, widths.size()), in, widths, hidden, output, fusion) {}

    Index in_dim() const { return layers_.front().in_dim(); }
    Index out_dim() const { return layers_.back().out_dim(); }
    Index num_layers() const { return static_cast<Index>(layers_.size()); }
    const std::vector<Dense<T>>& layers() const { return layers_; }
    Activation hidden_activation() const { return hidden_; }
    Activation output_activation() const { return output_; }
    MlpFusion fusion() const { return fusion_; }

    /// Glorot-uniform weights, zero biases (Dense::init), layer by layer.
    void init(VectorX<T>& theta, Rng& rng) const {
        for (const auto& d : layers_) d.init(theta, rng);
    }

    /// Runs the rows of `x` (rows x in_dim()) through the layers; returns
    /// cache.output() (rows x out_dim()), valid until the cache is reused. Throws
    /// input_error ("x") when x does not have in_dim() columns.
    const MatrixX<T>& forward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c) const {
        const std::size_t n = layers_.size();
        c.out.resize(n);
        c.pre.resize(n);
        for (std::size_t l = 0; l < n; ++l) {
            const Activation f = activation(l);
            MatrixX<T>& y = c.out[l];
            if (l == 0)
                layer_forward(theta, l, f, x, c.pre[l], y);
            else
                layer_forward(theta, l, f, c.out[l - 1], c.pre[l], y);
        }
        return c.out.back();
    }

    /// Given dL/d(output) (`d_out`, rows x out_dim()), ADDS the parameter gradient into
    /// `grad` and writes dL/dx into *dx when given. `x` is the forward call's input.
    /// Writes only the cache's backward scratch, so it may be called again.
    void backward(const VectorX<T>& theta, const Eigen::Ref<const MatrixX<T>>& x, Cache& c,
                  const Eigen::Ref<const MatrixX<T>>& d_out, VectorX<T>& grad, MatrixX<T>* dx) const {
        const std::size_t n = layers_.size();
        detail::require(c.out.size() == n && d_out.rows() == c.out.back().rows() && d_out.cols() == out_dim(),
                        "d_out", kNone, "must be rows x out_dim() of the forward call");
        detail::require(x.rows() == c.out.front().rows(), "x", kNone, "must be the forward call's input");
        detail::require(grad.size() == theta.size(), "grad", kNone, "must have theta's size");
        c.dz.resize(n);
        // Top down: dz[l] receives dL/d(output of layer l) from layer l + 1's backward
        // and becomes dL/d(pre-activation of layer l) in place.
        for (std::size_t l = n; l-- > 0;) {
            const Activation f = activation(l);
            const MatrixX<T>& y = c.out[l];
            const MatrixX<T>& z = needs_pre(f) ? c.pre[l] : y;
            MatrixX<T>& g = c.dz[l];
            if (l + 1 == n) {
                if (f == Activation::identity) {
                    backward_layer(theta, l, x, c, d_out, grad, dx);
                    continue;
                }
                g.resize(d_out.rows(), d_out.cols());
                activate_backward<T>(f, z, y, d_out, g);
            } else if (f != Activation::identity) {
                activate_backward<T>(f, z, y, g, g);
            }
            backward_layer(theta, l, x, c, g, grad, dx);
        }
    }

private:
    static std::vector<std::string> numbered(const std::string& prefix, std::size_t n) {
        std::vector<std::string> names;
        names.reserve(n);
        for (std::size_t l = 0; l < n; ++l) names.push_back(prefix + std::to_string(l));
        return names;
    }
    Activation activation(std::size_t l) const { return l + 1 == layers_.size() ? output_ : hidden_; }
    // Softplus' derivative reads its input; every other activation's reads its output.
    static bool needs_pre(Activation f) { return f == Activation::softplus; }

    void layer_forward(const VectorX<T>& theta, std::size_t l, Activation f, const Eigen::Ref<const MatrixX<T>>& in,
                       MatrixX<T>& pre, MatrixX<T>& y) const {
        const Dense<T>& d = layers_[l];
        if (needs_pre(f)) {
            // Dense applies softplus after its product anyway: same bits either way.
            d.forward(theta, in, pre);
            y.resize(pre.rows(), pre.cols());
            activate<T>(f, pre, y);
        } else if (fusion_ == MlpFusion::fused || f == Activation::identity) {
            d.forward(theta, in, y, f);
        } else {
            d.forward(theta, in, y);
            activate<T>(f, y, y);
        }
    }
    // Layer l's backward from dL/d(its pre-activation) `dpre`: into grad, and into
    // dz[l - 1] (dL/d(layer l - 1's output)), or *dx for the first layer.
    void backward_layer(const VectorX<T>& theta, std::size_t l, const Eigen::Ref<const MatrixX<T>>& x, Cache& c,
                        const Eigen::Ref<const MatrixX<T>>& dpre, VectorX<T>& grad, MatrixX<T>* dx) const {
        if (l == 0)
            layers_[0].backward(theta, x, dpre, grad, dx);
        else
            layers_[l].backward(theta, c.out[l - 1], dpre, grad, &c.dz[l - 1]);
    }

    std::vector<Dense<T>> layers_;
    Activation hidden_ = Activation::identity, output_ = Activation::identity;
    MlpFusion fusion_ = MlpFusion::fused;
};

}  // namespace diffauction
