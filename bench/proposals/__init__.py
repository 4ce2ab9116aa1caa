"""Optimisation proposals measured by the bench/ scripts; not part of lstm_core until the lead adopts them."""
