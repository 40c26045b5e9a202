"""A neuron's substructure, read from the model itself: receptive field, max-pools, and a
fast function from a receptive-field-wide window to the neuron's activation.

A *neuron* is one channel of a layer whose output is ``(N, C, L')`` (a convolution, a pooling
layer, any module with a position axis), at one position. Its activation is the named layer's
output, followed by the per-channel affine modules that directly follow it (BatchNorm,
Identity, Dropout in eval mode), so a convolution is read before its non-linearity, as in the
NeuronMotif paper: negative values still rank sequences. Name the activation module (e.g.
``relu2``) to read after it instead.

Everything is measured on the model, never typed by the user:

* the modules that run, in order, from forward hooks on a full-length input;
* the receptive field ``[start, start + width)`` of one output position and the stride between
  neighbouring positions, from the support of the gradient of that position with respect to
  the input, on a structural copy of the model (:func:`structural_copy`: positive weights,
  activations passed through, so no dead unit or zero weight hides a path), as a union over
  random one-hot inputs and all channels (max-pool routes gradient to one input per window,
  the union over many inputs covers them all);
* the max-pool layers that feed the neuron, with the part of each pool's input that lies in
  the substructure (the gradient support again, with respect to the pool's input).

Two ways to compute the neuron on a window of ``width`` bp, chosen at analysis time and
checked against the full model on random inputs:

``replay``  the modules from the input to the layer form a chain (each takes the previous
            one's output): they are run on the window alone, ``L / width`` times cheaper;
``embed``   otherwise (functional operations in ``forward``, branches): the window is placed in
            an all-zero (N) full-length input whose other bases the neuron never sees, the
            model runs until the layer, and the one position is read.

A layer after a module that mixes all positions (an LSTM, attention, a flatten or an adaptive
pool) has no local receptive field; :func:`analyse` says so and names that module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from wtko_captum.core.errors import InputError

#: modules that keep a neuron's value per channel and position (read with the layer before them)
AFFINE_FOLLOWERS = (nn.BatchNorm1d, nn.Identity, nn.Dropout, nn.AlphaDropout)
#: modules that mix every position of a sequence (named when a layer after them is asked for)
GLOBAL_MIXERS = (nn.RNNBase, nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer,
                 nn.Transformer, nn.AdaptiveMaxPool1d, nn.AdaptiveAvgPool1d, nn.Flatten, nn.Linear)
#: layer types listed as candidates in messages and ``wtko neurons --list-layers``
CANDIDATES = (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)
PROBE_BATCH = 32


class _Stop(Exception):
    """Raised from a hook to end a forward pass once the layer has been computed."""



@dataclass(frozen=True)
class Pool:
    """A max-pool call in a neuron's substructure.

    ``name``: the module's name (``name@2`` for its second call when a module is reused);
    ``kernel``: its window, the number of positions it chooses from (the k of k-means);
    ``support``: ``(lo, hi)``, the positions of its input the neuron depends on (half-open,
    in the coordinates of the pool's input as :meth:`Substructure.run` computes it);
    ``call``: which max-pool call of the forward pass it is (0 = the first).
    """

    name: str
    kernel: int
    support: tuple[int, int]
    call: int


@dataclass
class Substructure:
    """The part of a model that computes one layer's neurons at one position.

    Attributes
    ----------
    layer : str
        The named module.
    channels : int
        Number of neurons (channels) of the layer.
    width : int
        Receptive field in bp: the window every method of this class takes, ``(N, 4, width)``.
    stride : int
        bp between the receptive fields of neighbouring positions of the layer (the product of
        the strides below it).
    start : int
        Where the analysed position's receptive field starts in a full-length input (bp).
    pools : list of Pool
        Max-pools feeding the neuron, in forward order (the first is nearest the input).
    convs : list of str
        Convolutions feeding the neuron, in forward order (the layer itself included when it is one).
    mode : {"replay", "embed"}
        How windows are computed (module docstring).
    followers : list of str
        The per-channel affine modules read with the layer.
    input_length : int
        The model's input length (bp).
    """

    model: nn.Module
    layer: str
    channels: int
    width: int
    stride: int
    start: int
    pools: list[Pool]
    convs: list[str]
    mode: str
    followers: list[str]
    input_length: int
    position: int = 0                                        # the analysed position of the layer
    chain: list = field(default_factory=list, repr=False)   # replay: [(name, module)]
    out_index: int = 0                                       # replay: the neuron's position
    end_module: nn.Module | None = field(default=None, repr=False)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def is_first_layer(self) -> bool:
        """No convolution feeds the layer's own: samples are enumerated or sampled from scratch,
        not seeded from a previous layer's motifs."""
        return len(self.convs) <= 1

    @property
    def previous_layer(self) -> str | None:
        """The convolution whose motifs seed this layer's sampling: the one before the layer's
        own convolution (``None`` for a first layer)."""
        return None if self.is_first_layer else self.convs[-2]

    @property
    def shift(self) -> int:
        """bp a motif can move inside the receptive field without the max-pools noticing: the
        product of the max-pool windows times the strides below them (at least 1)."""
        return max(1, int(np.prod([p.kernel for p in self.pools])) if self.pools else 1)

    def describe(self) -> dict:
        """The analysis as plain data (written to every output's JSON)."""
        return {"layer": self.layer, "channels": self.channels, "receptive_field": self.width,
                "stride": self.stride, "mode": self.mode, "followers": self.followers,
                "pools": [{"name": p.name, "kernel": p.kernel, "support": list(p.support)} for p in self.pools],
                "convs": self.convs, "previous_layer": self.previous_layer,
                "input_length": self.input_length}

    # ---- computing the neuron ---------------------------------------------------------------
    def run(self, X: torch.Tensor, capture: tuple[int, ...] = (), channel: int | None = None
            ) -> tuple[torch.Tensor, dict]:
        """Activations of windows ``X`` ``(N, 4, width)`` (float32, on the model's device).

        Returns ``(activations (N, C), {pool call: its input within the substructure
        (N, C_p, hi - lo)})`` for the pool calls in ``capture``. Differentiable. With
        ``channel``, the activations may be ``(N, 1)``: that channel only, computed alone when
        the layer is a convolution replayed as a chain (the sampler's hot loop).
        """
        wanted = {p.call: p.support for p in self.pools if p.call in capture}
        maps: dict[int, torch.Tensor] = {}
        if self.mode == "replay":
            h, call = X, 0
            sliced = channel is not None and self._sliceable()
            chain = self.chain[:-1 - len(self.followers)] if sliced else self.chain
            for _, module in chain:
                if isinstance(module, nn.MaxPool1d):
                    if call in wanted:
                        lo, hi = wanted[call]
                        maps[call] = h[:, :, lo:hi]
                    call += 1
                h = module(h)
            if sliced:
                h = self._one_channel(h, channel)
            return h[:, :, self.out_index], maps
        full = torch.nn.functional.pad(X, (self.start, self.input_length - self.start - self.width))
        out = _forward_until(self.model, full, self.end_module, pool_inputs=bool(wanted))
        for call, (lo, hi) in wanted.items():
            maps[call] = out.pool_inputs[call][:, :, lo:hi]
        return out.value[:, :, self.position], maps

    def _sliceable(self) -> bool:
        """The chain ends with the layer, a plain Conv1d, then per-channel affine modules."""
        tail = self.chain[-1 - len(self.followers):]
        conv = tail[0][1]
        return (tail[0][0] == self.layer and isinstance(conv, nn.Conv1d) and conv.groups == 1
                and conv.padding_mode == "zeros" and all(isinstance(m, AFFINE_FOLLOWERS) for _, m in tail[1:]))

    def _one_channel(self, h: torch.Tensor, c: int) -> torch.Tensor:
        """The layer's convolution and its followers for output channel ``c`` alone."""
        tail = self.chain[-1 - len(self.followers):]
        conv = tail[0][1]
        bias = conv.bias[c:c + 1] if conv.bias is not None else None
        h = torch.nn.functional.conv1d(h, conv.weight[c:c + 1], bias, conv.stride, conv.padding, conv.dilation)
        for _, m in tail[1:]:
            if isinstance(m, nn.BatchNorm1d):
                mean = m.running_mean[c:c + 1] if m.running_mean is not None else h.mean(dim=(0, 2))
                var = m.running_var[c:c + 1] if m.running_var is not None else h.var(dim=(0, 2), unbiased=False)
                h = (h - mean[None, :, None]) / torch.sqrt(var[None, :, None] + m.eps)
                if m.affine:
                    h = h * m.weight[c:c + 1][None, :, None] + m.bias[c:c + 1][None, :, None]
        return h

    @torch.no_grad()
    def activations(self, X, batch_size: int = 4096) -> np.ndarray:
        """``(N, C)`` float32 activations of every channel for windows ``(N, 4, width)``."""
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        out = [self.run(X[i:i + batch_size].to(self.device))[0].float().cpu() for i in range(0, len(X), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.channels), np.float32)

    @torch.no_grad()
    def pool_maps(self, X, call: int, batch_size: int = 4096) -> np.ndarray:
        """``(N, C_p * (hi - lo))``: the flattened input of max-pool call ``call`` within the
        substructure, for windows ``(N, 4, width)``."""
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        out = []
        for i in range(0, len(X), batch_size):
            _, maps = self.run(X[i:i + batch_size].to(self.device), capture=(call,))
            out.append(maps[call].flatten(1).float().cpu())
        return torch.cat(out).numpy()

    def channel_activations(self, X: torch.Tensor, channel: int) -> torch.Tensor:
        """``(N,)`` activations of one channel (no gradient)."""
        with torch.no_grad():
            act = self.run(X, channel=channel)[0]
        return act[:, 0] if act.shape[1] == 1 and self.channels > 1 else act[:, channel]

    def gradient(self, X: torch.Tensor, channel: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(activation (N,), d activation / d X (N, 4, width))`` of one channel."""
        X = X.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            act = self.run(X, channel=channel)[0]
            act = act[:, 0] if act.shape[1] == 1 and self.channels > 1 else act[:, channel]
            (grad,) = torch.autograd.grad(act.sum(), X)
        return act.detach(), grad


# ---- forward passes with hooks ---------------------------------------------------------------
@dataclass
class _Call:
    name: str
    module: nn.Module
    inp: object
    out: object


@dataclass
class _Partial:
    value: torch.Tensor
    pool_inputs: list


def _forward_until(model: nn.Module, x: torch.Tensor, module: nn.Module, *, pool_inputs: bool = False) -> _Partial:
    """Run ``model`` on ``x`` until ``module`` has produced its output (the rest of the model
    never runs); with ``pool_inputs`` also return every max-pool call's input, in call order."""
    got, pools, handles = {}, [], []

    def stop(mod, args, out):
        got["value"] = out
        raise _Stop

    def keep(mod, args):
        pools.append(args[0])

    if pool_inputs:
        handles += [m.register_forward_pre_hook(keep) for m in model.modules() if isinstance(m, nn.MaxPool1d)]
    handles.append(module.register_forward_hook(stop))
    try:
        model(x)
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    if "value" not in got:
        raise InputError("the forward pass ended before reaching the analysed layer")
    return _Partial(got["value"], pools)


def _trace(model: nn.Module, x: torch.Tensor, target: nn.Module) -> list[_Call]:
    """Every leaf-module call (and the target's) of one forward pass, in order."""
    calls: list[_Call] = []
    names = {id(m): n for n, m in model.named_modules()}
    handles = []
    for m in model.modules():
        if m is target or not any(True for _ in m.children()):
            handles.append(m.register_forward_hook(
                lambda mod, args, out: calls.append(_Call(names[id(mod)], mod, args[0] if args else None, out))))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return calls


# ---- analysis --------------------------------------------------------------------------------
def _input_length(model: nn.Module, input_length: int | None) -> int:
    if input_length is not None:
        return int(input_length)
    config = getattr(model, "config", None)
    for value in ((config or {}).get("input_length") if isinstance(config, dict) else None,
                  getattr(model, "input_length", None)):
        if value:
            return int(value)
    raise InputError("the model does not record its input length (model.config['input_length']); "
                     "give input_length=")


def candidate_layers(model: nn.Module) -> list[str]:
    """Names of the convolution and pooling modules of ``model``, in registration order."""
    return [n for n, m in model.named_modules() if n and isinstance(m, CANDIDATES)]


def _random_onehot(n: int, length: int, seed: int, device) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (n, length), generator=g)
    return torch.nn.functional.one_hot(idx, 4).transpose(1, 2).float().to(device)


def _support(grad: torch.Tensor) -> np.ndarray:
    """Positions (last axis) where any sample or channel has a non-zero gradient."""
    return torch.nonzero(grad.abs().sum(dim=tuple(range(grad.dim() - 1))) > 0).flatten().cpu().numpy()


ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
               nn.Mish, nn.Softplus, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softsign,
               nn.Tanhshrink, nn.LogSigmoid, nn.Threshold)


def structural_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose gradients show which inputs *can* reach each unit.

    Trained weights hide that: a dead ReLU, a zero weight or a filter that never fires on
    random sequences gives no gradient where the unit still looks. In the copy every
    parameter is positive (uniform 0.5-1.5 over the fan-in), batch normalisation is the identity map up to
    that scale, and activation modules pass their input through, so a gradient is zero only
    where no path exists (weights are divided by their fan-in so that the sigmoids and tanhs
    inside an LSTM do not saturate). Max-pools still pass gradient to one input per window, so supports
    are unions over many random inputs.
    """
    import copy

    probe = copy.deepcopy(model).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in probe.parameters():
            fan_in = int(np.prod(p.shape[1:])) if p.dim() > 1 else 1  # keeps bounded activations unsaturated
            p.copy_((0.5 + torch.rand(p.shape, generator=g)).to(p.device, p.dtype) / fan_in)
        for m in probe.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
            if isinstance(m, ACTIVATIONS):
                m.register_forward_hook(lambda mod, args, out: args[0])
    return probe


def _probe(model, x, end_module, position: int, pools: bool = False):
    """Gradient supports of ``end_module``'s output at ``position``: on the input, and on every
    max-pool call's input (``None`` where the pool receives no gradient)."""
    x = x.clone().requires_grad_(True)
    with torch.enable_grad():
        out = _forward_until(model, x, end_module, pool_inputs=pools)
        for t in out.pool_inputs:
            if t.requires_grad:
                t.retain_grad()
        out.value[:, :, position].sum().backward()
    return _support(x.grad), [(_support(t.grad) if t.grad is not None else None) for t in out.pool_inputs]


def _mixer(calls: list[_Call]) -> str | None:
    """The first module among ``calls`` that mixes all positions (by type) or whose output has
    no position axis."""
    for c in calls:
        if isinstance(c.module, GLOBAL_MIXERS):
            return f"{c.name!r} ({type(c.module).__name__})"
    for c in calls:
        out = c.out
        if not torch.is_tensor(out) or out.dim() != 3:
            what = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            return f"{c.name!r} ({type(c.module).__name__}, output {what})"
    return None


def _refuse(layer: str, why: str, model) -> InputError:
    ok = ", ".join(candidate_layers(model)) or "(none)"
    return InputError(f"layer {layer!r} cannot be analysed: {why}. Layers with convolutions or pools: {ok} "
                      f"(`wtko neurons MODEL --list-layers` says which can be analysed)")


def analyse(model: nn.Module, layer: str, *, input_length: int | None = None, seed: int = 0) -> Substructure:
    """Analyse the neurons of ``layer`` (a module name of ``model``).

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, 4, input_length)`` one-hot to outputs; put in eval mode here.
    layer : str
        Name of a module whose output is ``(N, C, L')`` (``model.named_modules()``), e.g.
        ``conv2`` or ``pool1``.
    input_length : int, optional
        Default: ``model.config['input_length']`` or ``model.input_length``.
    seed : int
        Seeds the random one-hot inputs the gradient probes use.

    Raises
    ------
    InputError
        Unknown layer (the candidates are listed), an output without a position axis, or a
        layer after a module that mixes all positions (named).
    """
    model.eval()
    length = _input_length(model, input_length)
    modules = dict(model.named_modules())
    if not layer or layer not in modules:
        raise InputError(f"the model has no layer {layer!r}; its convolution and pooling layers are: "
                         f"{', '.join(candidate_layers(model)) or '(none)'}")
    target = modules[layer]
    device = next(model.parameters()).device
    x = _random_onehot(PROBE_BATCH, length, seed, device)
    calls = _trace(model, x, target)
    hits = [i for i, c in enumerate(calls) if c.module is target]
    if not hits:
        raise _refuse(layer, "the model's forward pass never calls it", model)
    if len(hits) > 1:
        raise _refuse(layer, f"the forward pass calls it {len(hits)} times, so a neuron is not one module call", model)
    ti = hits[0]
    out = calls[ti].out
    if not torch.is_tensor(out) or out.dim() != 3:
        what = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise _refuse(layer, f"its output {what} has no position axis (NeuronMotif needs (N, channels, positions))",
                      model)
    before = calls[:ti]
    channels, n_pos = int(out.shape[1]), int(out.shape[2])

    # per-channel affine modules fed directly by the layer are read with it
    end, followers, end_module = out, [], target
    for c in calls[ti + 1:]:
        if c.inp is end and isinstance(c.module, AFFINE_FOLLOWERS):
            followers.append(c.name)
            end, end_module = c.out, c.module
        elif c.inp is not end or not isinstance(c.module, AFFINE_FOLLOWERS):
            break

    position = n_pos // 2
    probe = structural_copy(model, seed)
    probe_end = dict(probe.named_modules())[[n for n, m in modules.items() if m is end_module][0]]
    rf, pool_support = _probe(probe, x, probe_end, position, pools=True)
    mixer = _mixer(before)
    if not len(rf):
        why = f"it comes after {mixer}, which mixes every position" if mixer else \
            f"its position {position} does not depend on the input"
        raise _refuse(layer, why, model)
    start, width = int(rf[0]), int(rf[-1] - rf[0] + 1)
    if n_pos > 1:
        other = position + 1 if position + 1 < n_pos else position - 1
        rf2, _ = _probe(probe, x, probe_end, other)
        stride = abs(int(rf2[0]) - start) if len(rf2) else 0
        if stride == 0:
            why = f"it comes after {mixer}, which mixes every position" if mixer else \
                "all its positions see the same bases"
            raise _refuse(layer, f"{why}, so its neurons have no local receptive field (each sees "
                                 f"{width} of {length} bp)", model)
    elif mixer:
        raise _refuse(layer, f"it comes after {mixer}, which mixes every position, so its neurons have no "
                             f"local receptive field", model)
    else:
        stride = width
    convs = [c.name for c in calls[:ti + 1] if isinstance(c.module, nn.Conv1d)]

    pool_calls = [c for c in calls if isinstance(c.module, nn.MaxPool1d)]
    seen: dict[str, int] = {}
    pools = []
    for call, (c, sup) in enumerate(zip(pool_calls, pool_support)):
        seen[c.name] = seen.get(c.name, 0) + 1
        if sup is None or not len(sup):
            continue
        k = c.module.kernel_size
        name = c.name if seen[c.name] == 1 else f"{c.name}@{seen[c.name]}"
        pools.append(Pool(name, int(k if isinstance(k, int) else k[0]), (int(sup[0]), int(sup[-1]) + 1), call))

    sub = Substructure(model, layer, channels, width, stride, start, pools, convs, "embed", followers, length,
                       position=position, end_module=end_module)
    _use_replay_if_exact(sub, calls[:ti + 1 + len(followers)], x, end)
    return sub


def _chain(calls: list[_Call], x: torch.Tensor, end) -> list | None:
    """``[(name, module)]`` from the input ``x`` to the tensor ``end`` when each module takes
    the previous module's output; ``None`` otherwise."""
    path, want = [], end
    for c in reversed(calls):
        if c.out is want:
            path.append((c.name, c.module))
            want = c.inp
    return list(reversed(path)) if path and want is x else None


def _use_replay_if_exact(sub: Substructure, calls: list[_Call], x: torch.Tensor, end) -> None:
    """Switch ``sub`` to replay mode when the module chain exists and reproduces the full model
    (activations and pool inputs) on random windows."""
    chain = _chain(calls, x, end)
    if chain is None:
        return
    window = x[:, :, sub.start:sub.start + sub.width]
    with torch.no_grad():
        full, full_maps = sub.run(window, capture=tuple(p.call for p in sub.pools))
        h, pool_inputs = window, []
        try:
            for _, module in chain:
                if isinstance(module, nn.MaxPool1d):
                    pool_inputs.append(h)
                h = module(h)
        except RuntimeError:  # the chain needs a longer input than the window
            return
    if h.dim() != 3:
        return
    q = next((q for q in range(h.shape[-1]) if torch.allclose(h[:, :, q], full, rtol=1e-4, atol=1e-5)), None)
    if q is None:
        return
    # the replay chain's max-pool calls, matched by order to those the neuron depends on
    pool_calls = [c for c in calls if isinstance(c.module, nn.MaxPool1d)]
    chain_ids = [id(m) for _, m in chain if isinstance(m, nn.MaxPool1d)]
    if len(chain_ids) != len(pool_calls):
        return
    pools = []
    for p in sub.pools:
        ref, rm = full_maps[p.call], pool_inputs[p.call]
        n = p.support[1] - p.support[0]
        offset = next((o for o in range(rm.shape[-1] - n + 1)
                       if torch.allclose(rm[:, :, o:o + n], ref, rtol=1e-4, atol=1e-5)), None)
        if offset is None:
            return
        pools.append(Pool(p.name, p.kernel, (offset, offset + n), p.call))
    sub.mode, sub.chain, sub.out_index, sub.pools = "replay", chain, q, pools


def list_layers(model: nn.Module, *, input_length: int | None = None) -> list[dict]:
    """Every convolution and pooling layer: its receptive field and max-pools, or why it cannot
    be analysed. One dict per layer: ``layer``, ``type``, ``channels``, ``receptive_field``,
    ``pools`` (``name:kernel`` list), ``mode``, ``analysable``, ``reason``."""
    rows = []
    modules = dict(model.named_modules())
    for name in candidate_layers(model):
        row = {"layer": name, "type": type(modules[name]).__name__}
        try:
            sub = analyse(model, name, input_length=input_length)
        except InputError as exc:
            row.update(channels=None, receptive_field=None, pools="", mode="", analysable=False, reason=str(exc))
        else:
            row.update(channels=sub.channels, receptive_field=sub.width, mode=sub.mode,
                       pools=",".join(f"{p.name}:{p.kernel}" for p in sub.pools), analysable=True, reason="")
        rows.append(row)
    return rows
