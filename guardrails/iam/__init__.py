"""The one IAM kernel: documents, actions, ARNs, organization paths, mitigations, the manifest reader."""
