"""Stage 1: read a blueprint directory into validated, located input models."""

from guardrails.blueprint.loader import LoadedBlueprint, load_blueprint

__all__ = ["LoadedBlueprint", "load_blueprint"]
