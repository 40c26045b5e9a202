"""bpnet-lite's BPNet as a wtko model: its count or its profile output, as one logit ``(N, 1)``.

BPNet (Avsec et al., Nat Genet 2021; the bpnet-lite reimplementation, ``bpnetlite.bpnet.BPNet``)
predicts a base-resolution profile ``(N, n_tracks, L_out)`` and a total log count ``(N, 1)``.
An attribution method explains one number per sequence, so ``output`` picks it:

``"counts"``
    the predicted log count (bpnet-lite's ``CountWrapper``). Every layer is a conv, a ReLU, a
    residual sum or a mean: DeepLIFT is exact on it.
``"profile"``
    bpnet-lite's profile target (its ``ProfileWrapper``): ``sum_i l_i * softmax(l)_i`` over the
    flattened, mean-centred profile logits ``l``. That weighting mixes every position of the
    profile nonlinearly and has no exact DeepLIFT rule, so DeepLIFT and DeepLIFT-SHAP refuse it
    (naming :class:`ProfileScaling`); saliency, integrated gradients and ISM work. bpnet-lite's own
    choice, the rescale rule over the whole scaling (complete, but a convention), is available
    by passing ``additional_nonlinear_ops={ProfileScaling: "rescale"}``.

bpnet-lite saves whole pickled models; bring the weights in as a plain ``state_dict`` file
(``torch.save(model.state_dict(), "bpnet.pt")`` where bpnet-lite is used) and convert it with
``wtko import-model bpnet.pt --model bpnet -o model.pt`` (or
:func:`wtko_captum.core.checkpoint.checkpoint_from_state_dict`): the architecture options are
read from the weights' shapes (:meth:`BPNetModel.adapt_state_dict`). A model trained with control
tracks gets all-zero controls, as bpnet-lite's ``ControlWrapper`` gives them.

Needs the optional dependency: ``pip install "wtko-captum[bpnet]"`` (bpnet-lite).
"""
from __future__ import annotations

import re

import torch
from torch import nn

OUTPUTS = ("counts", "profile")


class ProfileScaling(nn.Module):
    """``l * softmax(l)`` over the last axis of the flattened profile logits ``(N, M)``.

    Declares no DeepLIFT rule (``deeplift_rule = "none"``): every output depends on every
    input through the softmax, which no exact per-layer rule covers."""

    deeplift_rule = "none"

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits * torch.softmax(logits, dim=-1)


class BPNetModel(nn.Module):
    """BPNet (bpnet-lite) with one output: the log count or the profile target.

    Parameters
    ----------
    input_length : bp of the one-hot input (bpnet-lite's default models take 2,114).
    n_classes : must be 1 (one explained output).
    output : ``"counts"`` or ``"profile"`` (see the module docstring).
    n_filters, n_layers, n_tracks, n_control_tracks, trimming, profile_output_bias,
    count_output_bias : bpnet-lite's ``BPNet`` arguments (``n_tracks`` is its ``n_outputs``, the
        profile's strands); ``trimming`` None keeps bpnet-lite's default
        ``47 + sum(2**i, i = 1..n_layers)``.
    """

    def __init__(self, input_length: int = 2114, n_classes: int = 1, output: str = "counts",
                 n_filters: int = 64, n_layers: int = 8, n_tracks: int = 2, n_control_tracks: int = 0,
                 trimming: int | None = None, profile_output_bias: bool = True, count_output_bias: bool = True):
        super().__init__()
        try:
            from bpnetlite.bpnet import BPNet
        except ImportError:
            raise ImportError('the bpnet model needs bpnet-lite: pip install "wtko-captum[bpnet]"') from None
        if n_classes != 1:
            raise ValueError(f"bpnet explains one output (its {' or '.join(OUTPUTS)}): n_classes must be 1")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
        self.bpnet = BPNet(n_filters=n_filters, n_layers=n_layers, n_outputs=n_tracks,
                           n_control_tracks=n_control_tracks, trimming=trimming,
                           profile_output_bias=profile_output_bias, count_output_bias=count_output_bias,
                           verbose=False)
        if input_length <= 2 * self.bpnet.trimming:
            raise ValueError(f"input_length {input_length} leaves no profile after trimming "
                             f"{self.bpnet.trimming} bp at each end")
        self.output = output
        self.n_control_tracks = n_control_tracks
        if output == "profile":  # only the profile output has it (so counts has no unruled layer)
            self.scaling = ProfileScaling()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        control = (x.new_zeros(x.shape[0], self.n_control_tracks, x.shape[-1])
                   if self.n_control_tracks else None)
        profile, counts = self.bpnet(x, control)
        if self.output == "counts":
            return counts
        logits = profile.flatten(1)
        logits = logits - logits.mean(dim=-1, keepdim=True)
        return self.scaling(logits).sum(dim=-1, keepdim=True)

    @staticmethod
    def adapt_state_dict(state_dict: dict) -> tuple[dict, dict]:
        """``(options, state_dict)`` for a bpnet-lite ``BPNet`` state dict: the architecture
        options read from the weights' shapes, and the weights under this model's names.

        Keys may carry a wrapper's prefix (``model.`` from ``CountWrapper``/``ControlWrapper``,
        ``bpnet.`` from a wtko checkpoint)."""
        prefix = next((p for p in ("bpnet.", "model.model.", "model.", "") if f"{p}iconv.weight" in state_dict), None)
        if prefix is None:
            raise ValueError("not a bpnet-lite BPNet state dict (no iconv.weight)")
        sd = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        n_filters = int(sd["iconv.weight"].shape[0])
        n_layers = len({m.group(1) for k in sd if (m := re.match(r"rconvs\.(\d+)\.weight$", k))})
        options = dict(n_filters=n_filters, n_layers=n_layers, n_tracks=int(sd["fconv.weight"].shape[0]),
                       n_control_tracks=int(sd["fconv.weight"].shape[1]) - n_filters,
                       profile_output_bias="fconv.bias" in sd, count_output_bias="linear.bias" in sd)
        return options, {f"bpnet.{k}": v for k, v in sd.items()}
