"""Crop geometry (no I/O): Algorithm 1 square boxes, FFHQ quads, stabilisation, tracking, smoothing."""
