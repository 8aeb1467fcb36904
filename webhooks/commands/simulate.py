"""`opgate simulate`: run scenarios in the fake cluster, or explain one Operation's admission.

Read (scenarios) -> run (`sim.runner`) -> print (`sim.printers`). Exit codes: 0 every
expectation holds, 1 one does not (or `--explain` denies), 2 a bad scenario or bad input.
The simulator is imported lazily: only this command pays for it.
"""

from __future__ import annotations

import argparse
import copy
import sys
from typing import Any

import orjson

from webhooks import errors

Obj = dict[str, Any]


def register(subparsers: Any) -> None:
    """Add `simulate` to the CLI."""
    parser = subparsers.add_parser(
        "simulate",
        help="run simulation scenarios offline (fake cluster, admission, reconciler, Argo)",
        description=(
            "Run YAML scenarios through an in-memory cluster with the apiserver's admission "
            "chain, the reconciler and a fake Argo controller, and check their expectations. "
            "The scenario format is documented in sim/scenarios/README.md of the opgate "
            "repository; the shipped scenarios there are examples. With --explain OPERATION_FILE "
            "--cluster-state PATH, print each admission check for one Operation instead."
        ),
        epilog=(
            "exit codes: 0 every expectation held (--explain: admitted); 1 an expectation "
            "failed (--explain: denied); 2 a bad scenario, file or flag (the file, the path in "
            "it and what is wrong)"
        ),
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help="scenario files or directories"
    )
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text")
    parser.add_argument(
        "--webhook-url", help="call a running `opgate serve` at this base URL over HTTPS"
    )
    parser.add_argument("--ca-file", help="CA bundle (PEM) that signed the server's certificate")
    parser.add_argument(
        "--seed", type=int, help="seed for uids and names (overrides the scenario's)"
    )
    parser.add_argument(
        "--policy", help="policy file (default: the scenario's, else the embedded one)"
    )
    parser.add_argument(
        "--explain", metavar="OPERATION_FILE", help="print each admission check for one Operation"
    )
    parser.add_argument(
        "--cluster-state",
        action="append",
        default=[],
        metavar="PATH",
        help="with --explain: manifests of the cluster (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    if args.explain:
        return _explain(args)
    if args.cluster_state:
        raise errors.UsageError("--cluster-state goes with --explain (scenarios name their own)")
    if not args.scenarios:
        raise errors.UsageError("give at least one SCENARIO (or --explain OPERATION_FILE)")
    if args.ca_file and not args.webhook_url:
        raise errors.UsageError("--ca-file goes with --webhook-url")
    from policies import loader
    from sim import printers, runner, scenario

    files = scenario.discover(args.scenarios)
    if not files:
        raise errors.UsageError(f"no scenario files in {', '.join(args.scenarios)}")
    loaded = [scenario.load(f) for f in files]
    policy = loader.load_policy(args.policy) if args.policy else None
    progress = printers.Progress(len(loaded))
    results = []
    for i, scen in enumerate(loaded):
        progress.update(i, scen.name)
        sim = runner.Simulation(
            scen, seed=args.seed, webhook_url=args.webhook_url, ca_file=args.ca_file, policy=policy
        )
        results.append(sim.run())
    progress.update(len(loaded), "done")
    progress.close()
    if args.output == "json":
        sys.stdout.write(
            orjson.dumps(printers.to_json(results), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        for result in results:
            print(printers.timeline(result))
            print()
        print(printers.summary(results))
    return 0 if all(r.ok for r in results) else 1


def _explain(args: argparse.Namespace) -> int:
    from policies import loader
    from sim import patches, printers
    from webhooks import checks, clusterview, kinds, manifests, operations
    from webhooks.commands import decide

    if args.scenarios:
        raise errors.UsageError("give either SCENARIO files or --explain OPERATION_FILE, not both")
    if not args.cluster_state:
        raise errors.UsageError("--explain needs --cluster-state PATH")
    objs = [o for o in manifests.load([args.explain]) if kinds.key_of(o) == kinds.OPERATION.key]
    if len(objs) != 1:
        raise errors.UsageError(
            f"{args.explain} must hold exactly one Operation, found {len(objs)}"
        )
    view = clusterview.ClusterIndex(manifests.load(args.cluster_state))
    policy = loader.load_policy(args.policy)
    operation = objs[0]
    namespace = str((operation.get("metadata") or {}).get("namespace") or "default")
    operation.setdefault("metadata", {})["namespace"] = namespace
    group, kind = kinds.OPERATION.key
    name = str(operation["metadata"].get("name") or "")
    old = view.get(group, kind, namespace, name)
    # The decision is `opgate decide`'s (an Operation already in the cluster is an UPDATE).
    result = decide.judge(operation, view, policy)
    current = patches.merge(copy.deepcopy(old), operation) if old is not None else operation
    if result.decision.patch:
        current = patches.json_patch(current, list(result.decision.patch))
    decision = result.decision.to_json()
    if old is not None and old.get("spec") == current.get("spec"):
        rows = [_row("FieldImmutable", "pass", policy.mode("FieldImmutable"))]
        rows[0]["message"] = "spec unchanged: an UPDATE that leaves spec alone skips the checks"
    else:
        results = operations.run_checks(current, namespace, view, policy)
        rows = [
            _row(r.check, r.outcome, r.mode, r.failure.reason if r.failure else None,
                 r.failure.code if r.failure else None, r.failure.message if r.failure else None)
            for r in results
        ]  # fmt: skip
        done = {r.check for r in results}
        rows += [
            _row(check, "not-run", policy.mode(check))
            for check, _ in checks.ORDER
            if check not in done
        ]
        if old is not None:  # judged after the checks, on an UPDATE they admit
            mode = policy.mode("FieldImmutable")
            failure = operations.immutability(old, current, name)
            if results and results[-1].outcome == "fail":
                rows.append(_row("FieldImmutable", "not-run", mode))
            elif failure is None:
                rows.append(_row("FieldImmutable", "pass", mode))
            else:
                outcome = {"off": "off", "warn": "warn"}.get(mode, "fail")
                rows.append(
                    _row("FieldImmutable", outcome, mode, failure.reason, failure.code,
                         failure.message)
                )  # fmt: skip
    decision["operation"] = result.operation
    if args.output == "json":
        body = {"checks": rows, "decision": decision}
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(printers.explain(rows, decision))
    return 0 if decision["allowed"] else 1


def _row(
    check: str,
    outcome: str,
    mode: str,
    reason: str | None = None,
    code: int | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """One line of `--explain`: a check, its outcome and mode, and its failure if any."""
    return {
        "check": check, "outcome": outcome, "mode": mode,
        "reason": reason, "code": code, "message": message,
    }  # fmt: skip
