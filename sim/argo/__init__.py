"""The fake Argo Workflows controller: Argo's DAG/steps semantics over a simulated clock."""
