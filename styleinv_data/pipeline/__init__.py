"""The crop pipeline: recipes, the strategy registry, per-video tasks with resumable outputs, the batch runner."""
