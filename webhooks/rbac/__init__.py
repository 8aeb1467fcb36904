"""RBAC review: effective permissions with the Kubernetes authorizer's semantics, and findings.

Pure over a `clusterview.ClusterView`:

- `subjects`: subjects as written (`ServiceAccount/ns/name`, `User/x`, `Group/x`) and the
  identity (user name, groups) the authorizer sees for each;
- `roles` and `builtins`: rules of a role, aggregation, built-in cluster-admin/admin/edit/view;
- `authorizer`: `allows`, `effective_rules` (each grant with its binding and role), `who_can`;
- `catalogue` and `matchers`: the rule catalogue of `policies/rbac-rules.yaml`;
- `findings`: `review` (a whole input) and `for_subject` (what admission asks of the runner SA);
- `report`: table, JSON and SARIF printers.

Only `inputs` does I/O (manifest files, a live cluster), for the CLI.
"""
