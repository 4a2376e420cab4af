"""Renderers: they format what the engine recorded and never compute a gradient."""
