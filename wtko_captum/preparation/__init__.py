"""Turning what users have (peaks, tables, sequences, labelled sets) into training windows."""

#: shortest window: the default WTKO-CNN needs 29 bp, and a shorter window holds no motif with context
MIN_WIDTH = 30
