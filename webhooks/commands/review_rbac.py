"""`opgate review-rbac`: RBAC findings, who-can and effective permissions.

Three forms share one option set; the first word picks the form (a directory literally named
`who-can`, `permissions` or `findings` is written `./who-can`):

    opgate review-rbac [findings] [OPTIONS] [PATH ...]
    opgate review-rbac who-can VERB RESOURCE[/SUBRESOURCE] [-n NS] [--api-group G] [OPTIONS] [PATH ...]
    opgate review-rbac permissions SUBJECT [OPTIONS] [PATH ...]

Options and words may be interleaved. Input is manifest files, directories or `-` (stdin),
or a live cluster with --kubeconfig.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from webhooks import clusterview, errors, kinds
from webhooks.rbac import authorizer, catalogue, findings, inputs, report, subjects

FORMS = ("findings", "who-can", "permissions")
USAGE = """opgate review-rbac [findings] [OPTIONS] [PATH ...]
       opgate review-rbac who-can VERB RESOURCE[/SUBRESOURCE] [-n NS] [--api-group G] [--name N] [OPTIONS] [PATH ...]
       opgate review-rbac permissions SUBJECT [OPTIONS] [PATH ...]"""
DESCRIPTION = """\
Review RBAC with the Kubernetes authorizer's semantics (wildcards, subresources, resourceNames,
aggregated ClusterRoles, built-in cluster-admin/admin/edit/view, group subjects).

forms:
  findings (default)   findings of the rule catalogue RBAC001..RBAC023, per binding subject and,
                       with subject null, for roles nothing in the input binds
  who-can VERB RESOURCE[/SUB]
                       every binding subject allowed the request; without -n the request is
                       cluster-wide (only ClusterRoleBindings), with -n NS in that namespace
  permissions SUBJECT  a subject's effective rules, each with the binding that grants it, and
                       its findings; SUBJECT is ServiceAccount/NS/NAME, User/NAME or Group/NAME
                       (a ServiceAccount includes its groups system:serviceaccounts[:NS] and
                       system:authenticated)

input: PATH is a manifest file, a directory (every .yaml/.yml/.json below it) or - for stdin,
e.g. `kubectl kustomize deploy | opgate review-rbac -`; or --kubeconfig for a live cluster.
exit codes: 0 done; 1 a finding at or above --fail-on; 2 bad input or usage."""


def _options(parser: argparse.ArgumentParser, *, inner: bool) -> None:
    default: Any = argparse.SUPPRESS if inner else None
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json", "sarif"),
        default=argparse.SUPPRESS if inner else "table",
        help="output format (default: table; sarif only for findings)",
    )
    parser.add_argument(
        "--fail-on",
        choices=catalogue.SEVERITIES,
        default=default,
        metavar="SEVERITY",
        help="exit 1 when a finding is at least this severe: low, medium, high, critical "
        "(default: never)",
    )
    parser.add_argument("--kubeconfig", default=default, help="read RBAC from a live cluster")
    parser.add_argument("--context", default=default, help="kubeconfig context (with --kubeconfig)")
    parser.add_argument("-n", "--namespace", default=default, help="who-can: request namespace")
    parser.add_argument(
        "--api-group", default=default, metavar="G", help="who-can: API group (default: core)"
    )
    parser.add_argument("--name", default=default, help="who-can: object name of the request")
    parser.add_argument(
        "--rules", default=default, metavar="FILE", help="rule catalogue (default: shipped)"
    )
    parser.add_argument(
        "--include-defaults",
        action="store_true",
        default=argparse.SUPPRESS if inner else False,
        help="also judge bindings and roles labelled kubernetes.io/bootstrapping=rbac-defaults",
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `review-rbac`."""
    parser = subparsers.add_parser(
        "review-rbac",
        help="RBAC findings, who-can and effective permissions",
        usage=USAGE,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _options(parser, inner=False)
    parser.add_argument("words", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(func=run, review_parser=parser)


def _parse_words(args: argparse.Namespace) -> argparse.Namespace:
    inner = argparse.ArgumentParser(
        prog="opgate review-rbac", usage=USAGE, add_help=False, exit_on_error=False
    )
    _options(inner, inner=True)
    inner.add_argument("positional", nargs="*")
    try:
        extra = inner.parse_intermixed_args(args.words)
    except argparse.ArgumentError as exc:
        raise errors.UsageError(str(exc)) from None
    merged = argparse.Namespace(**{**vars(args), **vars(extra)})
    words = list(extra.positional)
    merged.form = words.pop(0) if words and words[0] in FORMS else "findings"
    merged.positional = words
    return merged


def _load(args: argparse.Namespace, paths: list[str]) -> inputs.Loaded:
    if args.kubeconfig and paths:
        raise errors.UsageError("give manifest PATHs or --kubeconfig, not both")
    if args.kubeconfig:
        return inputs.from_cluster(args.kubeconfig, args.context)
    if not paths:
        raise errors.UsageError(
            "nothing to review: give manifest PATHs (files, directories, - for stdin) or "
            "--kubeconfig"
        )
    loaded = inputs.from_paths(paths)
    if not any(kinds.key_of(o) in kinds.RBAC_KINDS for o in loaded.objects):
        # An empty pipe (`kubectl kustomize typo | opgate review-rbac -`) must not pass as clean.
        raise errors.UsageError(
            f"no Role, ClusterRole, RoleBinding or ClusterRoleBinding in {', '.join(paths)}; "
            "check the path or the command that feeds stdin"
        )
    return loaded


def run(args: argparse.Namespace) -> int:
    """Run the chosen form; returns the exit code."""
    if any(word in ("-h", "--help") for word in args.words):
        args.review_parser.print_help()
        return 0
    args = _parse_words(args)
    cat = catalogue.load(args.rules)
    words = args.positional
    if args.form == "who-can":
        if len(words) < 2:
            raise errors.UsageError("who-can needs VERB and RESOURCE[/SUBRESOURCE]")
        verb, resource, paths = words[0], words[1], words[2:]
    elif args.form == "permissions":
        if not words:
            raise errors.UsageError(
                "permissions needs SUBJECT (ServiceAccount/NS/NAME, User/X, Group/X)"
            )
        subject, paths = subjects.parse(words[0]), words[1:]
    else:
        paths = words
    if args.output == "sarif" and args.form != "findings":
        raise errors.UsageError("--output sarif is only for findings")
    loaded = _load(args, paths)
    view = clusterview.ClusterIndex(loaded.objects)
    for line in authorizer.diagnostics(view):
        print(f"warning: {line}", file=sys.stderr)
    if args.form == "who-can":
        base, _, sub = resource.partition("/")
        namespace = args.namespace or ""
        if namespace and cat.scope_of(args.api_group or "", base) == "cluster":
            # A request for a cluster-scoped resource carries no namespace: only
            # ClusterRoleBindings can allow it, whatever -n says.
            print(
                f"warning: {base} is cluster-scoped; -n {namespace} ignored (a request for it "
                "has no namespace)",
                file=sys.stderr,
            )
            namespace = ""
        access = authorizer.who_can(
            view,
            verb,
            base,
            sub,
            group=args.api_group or "",
            namespace=namespace,
            name=args.name or "",
        )
        out = report.who_can_json if args.output == "json" else report.who_can_table
        sys.stdout.write(out(access))
        return 0
    if args.form == "permissions":
        grants = authorizer.effective_rules(view, subject)
        found = findings.for_subject(view, subject, cat)
        if args.output == "json":
            sys.stdout.write(report.permissions_json(subject, grants, found))
        else:
            sys.stdout.write(report.permissions_table(grants))
            sys.stdout.write("\n" + report.findings_table(found))
        return _exit(found, args.fail_on)
    found = findings.review(view, cat, include_defaults=args.include_defaults)
    if args.output == "json":
        sys.stdout.write(report.findings_json(found))
    elif args.output == "sarif":
        sys.stdout.write(report.sarif(found, cat, loaded.locations))
    else:
        sys.stdout.write(report.findings_table(found))
    return _exit(found, args.fail_on)


def _exit(found: list[findings.Finding], fail_on: str | None) -> int:
    return 1 if fail_on and findings.at_least(found, fail_on) else 0
