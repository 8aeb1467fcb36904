"""RBAC review: effective permissions with the Kubernetes authorizer's semantics, and findings.

Pure over a `clusterview.ClusterView`: `authorizer` (who may do what, and through which
binding), `roles` (role resolution, aggregation, built-in roles), `findings` (the rule
catalogue of `policies/rbac-rules.yaml`), `report` (table, JSON, SARIF). Only `inputs` reads
files or a live cluster, for the CLI.
"""
