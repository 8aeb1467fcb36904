"""The reconciler: Operation -> Argo Workflow, Workflow status -> Operation status.

Pure parts: `materialize` (the Workflow of an Operation), `status` (DESIGN's mapping table)
over `nodes` (Argo node statuses: active node, first failing node, suspension),
`plan` (what to do for one Operation given what was observed). I/O at the edge: `kube` (the
`kubernetes` client), `informer` (list+watch), `leader` (Lease election), `controller` (the
work queue and workers). Run it with `opgate reconcile`.
"""
