"""NeuronMotif: demix multifaceted convolutional neurons into motifs and motif syntax.

One module per step: :mod:`.substructure` (receptive field and max-pools read from the model),
:mod:`.sampling`, :mod:`.demixing`, :mod:`.pwm` (stacking, information content, segments,
quality), :mod:`.syntax` (motif trees), :mod:`.dictionary` (Tomtom de-duplication),
:mod:`.outputs`, and the verb, ``from wtko_captum.motifs.neurons.neurons import neurons``.
"""
