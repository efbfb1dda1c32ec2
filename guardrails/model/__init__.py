"""Stage 2: the resolved organization model and its semantic checks."""

from guardrails.model.build import Model, build_model

__all__ = ["Model", "build_model"]
