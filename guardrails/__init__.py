"""guardrails: compile YAML blueprints of an AWS Organization into least-privilege IAM, SCPs and
account baselines for Terraform and CloudFormation, validated before anyone runs apply."""

from guardrails.diagnostics import BlueprintError, Diagnostic, GuardrailsError, Location, Severity, ValidationFailed

__version__ = "0.1.0"
__all__ = ["BlueprintError", "Diagnostic", "GuardrailsError", "Location", "Severity", "ValidationFailed", "__version__"]
