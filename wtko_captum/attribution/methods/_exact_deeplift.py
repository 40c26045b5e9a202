"""An exact DeepLIFT engine for sequence models with attention pooling.

Why not captum or tangermeme as-is (measured on the WTKO-CNN): captum's ``DeepLift`` softmax
rule normalises over the whole tensor across examples (results change with the batch) and the
attention product ``sum_l h * w`` has no rule; tangermeme's ``deep_lift_shap`` treats the
product as linear (2-7 % completeness error). Here every nonlinear module gets an exact rule,
so ``sum((x - ref) * multipliers) == f(x) - f(ref)`` up to float rounding. Which module gets
which rule, and how a model declares its own, is :mod:`.deeplift_rules`; a module with no rule
is refused there, before any work. The rules:

- ``rescale`` (elementwise activations): the secant ratio (tangermeme ``_rescale``);
- ``maxpool`` (``MaxPool1d``, ``AdaptiveMaxPool1d``): tangermeme's rule, the change routed
  through both argmaxes;
- ``softmax``: tangermeme's exact softmax rule, applied per example along its own axis;
- ``bilinear`` (an attention product such as the WTKO-CNN's ``WeightedSum``): the midpoint
  product rule, exact for any bilinear map;
- a tangermeme-form rule function (``LayerNorm``, ``RMSNorm``, ``GLU`` from tangermeme, or a
  user's own): run on the engine's pairs by :func:`_tangermeme_form_rule`;
- Conv, Linear, eval-mode BatchNorm, Dropout: linear, plain gradients are exact.

How it runs (and why it is faster than a paired batch): the observed sequence ``x`` is passed
forward once (no grad) and its activations at every nonlinear module are cached; then its
``K`` references are passed forward with grad, and each nonlinear module's output is wrapped in
an autograd function whose backward applies the DeepLIFT rule against the cached ``x``
activations. Because Conv/Linear/BN are linear, the gradient of ``f(ref)`` with respect to the
reference input along this modified chain equals the DeepLIFT multipliers of ``x`` against
that reference. Per sequence that is ``1 + K`` forward rows and ``K`` backward rows, instead of
``2K`` forward and ``2K`` backward rows. Everything is per example: no statistic crosses
examples, so a sequence's result does not depend on its batch.

Cost, beyond the rows themselves: in the reference pass each hooked module runs without grad (a pre-hook), so no ordinary
backward node, max-pool index or activation copy is made for it; its rule's coefficients are
computed once in the forward hook, and the backward is one multiply per module. The ReLU and
max-pool coefficients, over the largest tensors here, come from fused numba kernels on CPU
(:mod:`._kernels`, same arithmetic as the torch versions kept for other devices).

A module called several times in one forward pass keeps one cache entry per call.
Operations written as bare functions in ``forward`` (no module) cannot be hooked and are
treated as linear, like captum and tangermeme do; the completeness check of
:func:`~wtko_captum.attribution.methods.deeplift.exact_deeplift` turns what that breaks into an
error.
"""
from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn

from wtko_captum.attribution.methods import _kernels
from wtko_captum.attribution.methods.deeplift_rules import deeplift_plan



def _contract(m, left, right):
    """The bilinear module's own forward on explicit operands (hooks bypassed)."""
    return m.forward(left, right)


class _Rule(torch.autograd.Function):
    """Identity on the value; backward replaced by a DeepLIFT rule closure.

    The module's own output was computed without grad (the engine's pre-hook), so it is
    returned as an alias, not copied, and the module's ordinary backward is never built.
    """

    @staticmethod
    def forward(ctx, out, rule, *inputs):
        ctx.rule = rule
        return out.detach()

    @staticmethod
    def backward(ctx, grad):
        return (None, None, *ctx.rule(grad))


def _expand(t: torch.Tensor, k: int) -> torch.Tensor:
    """Rows of the observed batch repeated for each of their ``k`` references."""
    return t if k == 1 else t.repeat_interleave(k, dim=0)


def _pair(x: torch.Tensor, r: torch.Tensor):
    """Broadcastable views: ``x (B, ...) -> (B, 1, ...)``, ``r (B*K, ...) -> (B, K, ...)``."""
    B = x.shape[0]
    return x.unsqueeze(1), r.view(B, r.shape[0] // B, *r.shape[1:])


def _elementwise_rule(m, x_in, x_out, r_in, r_out):
    """Rescale rule: ``g * (f(x) - f(r)) / (x - r)``; the derivative at x where ``|x - r| < 1e-6``.

    Written with float masks and ``lerp`` rather than ``torch.where``/boolean masks, which are
    several times slower on CPU for tensors of this size (these are the largest the engine
    makes). ``lerp`` is exact at weights 0 and 1, so the result equals the ``where`` form.
    """
    if type(m) is nn.ReLU:
        ratio = _kernels.relu_ratio(x_in, r_in)  # fused CPU kernel, same arithmetic
        if ratio is not None:
            return lambda g: (g * ratio,)
        fallback = (x_in > 0).to(x_in.dtype)
    else:
        with torch.enable_grad():
            xi = x_in.detach().requires_grad_()
            fallback = torch.autograd.grad(m.forward(xi).sum(), xi)[0]
    xv, rv = _pair(x_in, r_in)
    xo, ro = _pair(x_out, r_out)
    d_in = torch.sub(xv, rv)
    small = (d_in.abs() < 1e-6).to(d_in.dtype)
    ratio = torch.sub(xo, ro).div_(d_in.add_(small))  # finite everywhere; replaced where small
    ratio = torch.lerp(ratio, fallback.unsqueeze(1), small, out=ratio).reshape(r_in.shape)
    return lambda g: (g * ratio,)


def _unpool(values, indices, shape):
    n, c = shape[0], shape[1]
    out = torch.zeros(n, c, shape[-1], dtype=values.dtype, device=values.device)
    out.scatter_add_(-1, indices.reshape(n, c, -1), values.reshape(n, c, -1))
    return out


def _maxpool_rule(m, x_in, x_out, r_in, r_out):
    """tangermeme's ``_maxpool`` rule: the pooled change routed through both argmaxes.

    In each window the change ``f(x) - f(r)`` goes to x's argmax when ``f(x) >= f(r)`` and to
    r's argmax otherwise (the two terms of tangermeme's rule, one of which is always zero),
    divided by that position's own change; where a position's change is exactly zero the
    ordinary gradient at x (routed to x's argmax) is used, as tangermeme does.

    Non-overlapping windows get one coefficient per input position, computed by the fused
    CPU kernel (:mod:`._kernels`) or, elsewhere, by :func:`_maxpool_coef_torch`.
    """
    k = _tiling_window(m, x_in.shape[-1])
    if k is None:
        return _maxpool_rule_general(m, x_in, x_out, r_in, r_out)
    BK, C, L = r_in.shape
    Lo = x_out.shape[-1]
    coef = _kernels.maxpool_coef(x_in, r_in, k, Lo)
    if coef is None:
        coef = _maxpool_coef_torch(x_in, x_out, r_in, r_out, k)
    coef = coef.view(BK, C, Lo, k)
    pad = L - Lo * k

    def rule(g):
        out = g.new_zeros(BK, C, L) if pad else g.new_empty(BK, C, L)
        torch.mul(g.unsqueeze(-1), coef, out=out[..., :Lo * k].view(BK, C, Lo, k))
        return (out,)

    return rule


def _tiling_window(m, length: int) -> int | None:
    """The window ``k`` when the pool's windows tile its input (kernel == stride == k, no
    padding, dilation or ceil mode; an adaptive pool whose output length divides ``length``)."""
    if isinstance(m, nn.AdaptiveMaxPool1d):
        out = m.output_size[0] if isinstance(m.output_size, (tuple, list)) else m.output_size
        return length // out if out and length % out == 0 else None
    k, s = m.kernel_size, m.stride
    k = k[0] if isinstance(k, tuple) else k
    s = s[0] if isinstance(s, tuple) else s
    simple = (k == s and m.padding in (0, (0,)) and m.dilation in (1, (1,)) and not m.ceil_mode)
    return k if simple else None


def _maxpool_coef_torch(x_in, x_out, r_in, r_out, k):
    """The max-pool rule's coefficients ``(B*K, C, Lo*k)`` (kernel == stride == k), in torch."""
    B, C, L = x_in.shape
    Lo = x_out.shape[-1]
    xw = x_in[..., :Lo * k].reshape(B, 1, C, Lo, k)
    rw = r_in[..., :Lo * k].reshape(B, -1, C, Lo, k)
    ax = xw.argmax(-1, keepdim=True)  # first maximum, like torch's max_pool
    ar = rw.argmax(-1, keepdim=True)
    xo, ro = x_out.reshape(B, 1, C, Lo, 1), r_out.reshape(B, -1, C, Lo, 1)
    winner = torch.where(xo >= ro, ax, ar)
    pos = torch.arange(k, device=x_in.device)
    d_in = xw - rw
    zero = d_in == 0
    coef = torch.where(zero, (pos == ax).to(d_in.dtype),
                       (pos == winner) * ((xo - ro) / d_in.masked_fill(zero, 1.0)))
    return coef.reshape(-1, C, Lo * k)


def _maxpool_rule_general(m, x_in, x_out, r_in, r_out):
    K = r_in.shape[0] // x_in.shape[0]

    def idx(t):
        if isinstance(m, nn.AdaptiveMaxPool1d):
            return F.adaptive_max_pool1d(t, m.output_size, True)[1]
        return F.max_pool1d(t, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True)[1]

    ix, ir = _expand(idx(x_in), K), idx(r_in)
    x_in, x_out = _expand(x_in, K), _expand(x_out, K)
    winner = torch.where(x_out >= r_out, ix, ir)
    d_in = x_in - r_in
    zero = d_in == 0
    denom = d_in.masked_fill(zero, 1.0)
    shape = x_in.shape

    def rule(g):
        routed = _unpool(g * (x_out - r_out), winner, shape)
        return (torch.where(zero, _unpool(g, ix, shape), routed / denom),)

    return rule


def _softmax_rule(m, x_in, r_in):
    """tangermeme's exact softmax rule, along the module's own axis (never the batch)."""
    from tangermeme.deep_lift_shap import _softmax

    dim = m.dim if m.dim is not None else -1
    if dim % x_in.ndim == 0:
        raise ValueError("Softmax over the batch axis mixes examples; DeepLIFT cannot explain it")
    shim = types.SimpleNamespace(dim=dim, input=torch.cat([x_in, r_in]))
    n = len(x_in)

    def rule(g):
        return (_softmax(shim, None, (torch.cat([g, g]),))[0][:n],)

    return rule


def _bilinear_rule(m, x_ops, r_ops):
    """Midpoint product rule: the Jacobian at the midpoint of x and ref operands (exact)."""
    mids = [(0.5 * (a + b)).detach() for a, b in zip(x_ops, r_ops)]

    def rule(g):
        with torch.enable_grad():
            left, right = (t.clone().requires_grad_() for t in mids)
            out = _contract(m, left, right)
            return torch.autograd.grad(out, (left, right), grad_outputs=g)

    return rule


def _bilinear_fast(m, x_ops, r_ops):
    """The midpoint rule; in closed form for the attention product ``sum_l h[n,c,l] w[n,l]``
    (a module declaring ``equation = "ncl,nl->nc"``, e.g. the WTKO-CNN's ``WeightedSum``).

    ``x_ops`` hold the observed batch (B rows), ``r_ops`` its references (B*K rows)."""
    K = r_ops[0].shape[0] // x_ops[0].shape[0]
    if getattr(m, "equation", None) != "ncl,nl->nc":
        return _bilinear_rule(m, [_expand(t, K) for t in x_ops], r_ops)
    mids = []
    for x, r in zip(x_ops, r_ops):
        xv, rv = _pair(x, r)
        mids.append(torch.add(rv, xv).mul_(0.5).reshape(r.shape))
    h_mid, w_mid = mids
    return lambda g: (g.unsqueeze(-1) * w_mid.unsqueeze(1), torch.einsum("nc,ncl->nl", g, h_mid))


def _tangermeme_form_rule(fn, m, x_in, x_out, r_in, r_out):
    """A rule written for tangermeme (``fn(module, grad_input, grad_output)`` reading
    ``module.input`` / ``module.output``, the observed rows stacked on the reference rows) run
    on the engine's pairs. ``x_*`` are already expanded to one row per reference. The module's
    ordinary local gradient is passed as ``grad_input`` (tangermeme's fallback where the input
    barely changes); the multiplier of the observed half is returned."""
    paired_in, paired_out = torch.cat([x_in, r_in]), torch.cat([x_out, r_out])
    n = len(r_in)

    def rule(g):
        g2 = torch.cat([g, g])
        with torch.enable_grad():
            t = paired_in.clone().requires_grad_()
            (local,) = torch.autograd.grad(m.forward(t), t, grad_outputs=g2)
        m.input, m.output = paired_in, paired_out
        try:
            grads = fn(m, (local,), (g2,))
        finally:
            del m.input, m.output
        return (grads[0][:n],)

    return rule


class ExactDeepLift:
    """Hooks a model for exact DeepLIFT; use as a context manager around :meth:`multipliers`."""

    def __init__(self, model: nn.Module, additional_nonlinear_ops: dict | None = None,
                 method: str = "deeplift"):
        self.model = model
        # raises NoRuleError, naming every layer without a rule, before any work
        self.modules = [(m, rule) for _, m, rule in deeplift_plan(model, additional_nonlinear_ops, method)]
        self.handles = []
        self.phase = None  # "cache" | "apply"
        self.cache: dict[int, list] = {}
        self.grad_modes: list[bool] = []
        self.k = 1

    def __enter__(self):
        for m, kind in self.modules:
            self.handles.append(m.register_forward_pre_hook(self._pre_hook))
            self.handles.append(m.register_forward_hook(self._hook(m, kind)))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles.clear()
        self.cache.clear()

    def _pre_hook(self, module, inputs):
        # In the apply phase the module's own backward is replaced by a rule, so its forward
        # runs without grad: no autograd node, no saved tensors (max-pool indices included).
        if self.phase == "apply":
            self.grad_modes.append(torch.is_grad_enabled())
            torch.set_grad_enabled(False)

    def _hook(self, m, kind):
        def hook(module, inputs, output):
            if self.phase == "cache":
                ins = tuple(t.detach() for t in inputs[:2 if kind == "bilinear" else 1])
                self.cache.setdefault(id(module), []).append((ins, output.detach()))
                return None
            if self.phase != "apply":
                return None
            grad_mode = self.grad_modes.pop()
            call = self.calls.get(id(module), 0)
            self.calls[id(module)] = call + 1
            (x_ins, x_out) = self.cache[id(module)][call]
            r_ins = tuple(inputs[:len(x_ins)])
            r_det = [t.detach() for t in r_ins]
            if kind == "bilinear":
                rule = _bilinear_fast(module, x_ins, r_det)
            elif kind == "softmax":
                rule = _softmax_rule(module, _expand(x_ins[0], self.k), r_det[0])
            elif callable(kind):
                rule = _tangermeme_form_rule(kind, module, _expand(x_ins[0], self.k), _expand(x_out, self.k),
                                             r_det[0], output.detach())
            else:
                make = _elementwise_rule if kind == "rescale" else _maxpool_rule
                rule = make(module, x_ins[0], x_out, r_det[0], output.detach())
            torch.set_grad_enabled(grad_mode)
            return _Rule.apply(output, rule, *r_ins)
        return hook

    def multipliers(self, x: torch.Tensor, refs: torch.Tensor, target: int, extra=()):
        """DeepLIFT multipliers of ``x (B,4,L)`` against ``refs (B,K,4,L)``.

        Returns ``(mult (B,K,4,L), y_x (B,), y_ref (B,K))`` for output ``target``.
        """
        B, K = refs.shape[:2]
        self.k = K
        self.cache = {}
        self.grad_modes = []
        self.phase = "cache"
        try:
            with torch.no_grad():
                y_x = self.model(x, *extra)[:, target]
            self.phase, self.calls = "apply", {}
            r = refs.reshape(B * K, *refs.shape[2:]).detach().requires_grad_()
            extra_r = tuple(_expand(a, K) for a in extra)
            with torch.enable_grad():
                y_r = self.model(r, *extra_r)[:, target]
                (mult,) = torch.autograd.grad(y_r.sum(), r)
        finally:
            self.phase = None
            self.cache = {}
        return mult.reshape(refs.shape), y_x.detach(), y_r.detach().reshape(B, K)


def hypothetical_from_multipliers(mult: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """Hypothetical contributions, averaged over references: ``(B,K,4,L) -> (B,4,L)``.

    For base ``b`` at position ``i``: ``m[b,i] - sum_c ref[c,i] m[c,i]`` (the contribution had
    the base been ``b``; tangermeme's ``hypothetical_attributions``), so that
    ``sum(x * hyp) == sum((x - ref) * m)``.
    """
    hyp = mult - (refs * mult).sum(dim=-2, keepdim=True)
    return hyp.mean(dim=1)
