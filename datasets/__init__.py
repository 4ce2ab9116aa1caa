"""Data the app ships or loads, all offline: corpora, real series, the pretrained lessons and their registry.

Imports nothing from `lstm_core`: the engine depends on its data, never the other way round.
"""
