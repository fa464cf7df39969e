"""Measurement: end-of-run analyses, metric definitions, evaluation of a trained model."""
