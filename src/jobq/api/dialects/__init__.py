"""The seed APIs jobq speaks beside its native API: each a thin translation over the engine."""
