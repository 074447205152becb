"""Dataset-specific source selection for the crop recipes (which videos, which time spans)."""
