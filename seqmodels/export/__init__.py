"""Exports for TF Serving: raw inputs in, named outputs out, versioned directories."""

from seqmodels.export.serving import export_text_classifier, next_version
