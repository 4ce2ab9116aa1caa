"""Data the app ships or loads offline: text corpora, real time series, pretrained lesson checkpoints."""
