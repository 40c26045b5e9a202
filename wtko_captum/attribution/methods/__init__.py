"""Built-in attribution methods (captum adapters and exact DeepLIFT rules).

Every method has the tangermeme call form ``func(model, X, args=None, *, target=0,
batch_size=..., device="cpu", seed=None, verbose=False, **options)``, takes a float32
one-hot ``X`` of shape ``(N, 4, L)`` and returns a CPU float32 tensor ``(N, 4, L)``. Each is
registered through the ``wtko_captum.attributions`` entry-point group (see ``pyproject.toml``)
and declares its capabilities with :func:`wtko_captum.core.registry.attribution_method`.
Modules are imported lazily by the registry; import them directly for the functions.
"""
