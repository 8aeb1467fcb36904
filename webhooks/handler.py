"""The one admission seam: endpoint path + typed request -> Decision.

HTTP, TLS and JSON live in `webhooks.server`; the simulator calls `handle` in process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable

from policies import model
from webhooks import (
    checks,
    clusterview,
    decisions,
    errors,
    kinds,
    operations,
    optemplates,
    review,
    workflows,
)
from webhooks.rbac import catalogue

Handler = Callable[
    [review.AdmissionRequest, clusterview.ClusterView, model.Policy], decisions.Decision
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """A webhook path: its handler, the kind it judges and whether it may patch."""

    path: str
    handler: Handler
    kind: kinds.Kind
    mutating: bool = False


ENDPOINTS: dict[str, Endpoint] = {
    e.path: e
    for e in (
        Endpoint("/mutate/operations", operations.mutate_operation, kinds.OPERATION, True),
        Endpoint("/validate/operations", operations.validate_operation, kinds.OPERATION),
        Endpoint(
            "/validate/operationtemplates",
            optemplates.validate_operation_template,
            kinds.OPERATION_TEMPLATE,
        ),
        Endpoint("/validate/workflows", workflows.validate_workflow, kinds.WORKFLOW),
    )
}


def handle(
    path: str,
    request: review.AdmissionRequest,
    view: clusterview.ClusterView,
    policy: model.Policy,
) -> decisions.Decision:
    """The decision of the webhook at `path`; MalformedReview for a path or kind it does not serve.

    Any exception inside a handler is answered as an InternalError denial (code 500), never raised.
    """
    endpoint = ENDPOINTS.get(path)
    if endpoint is None:
        raise errors.MalformedReview(
            f"no webhook at {path}; serve one of: {', '.join(sorted(ENDPOINTS))}", status=404
        )
    if (request.group, request.kind) != endpoint.kind.key:
        got = f"{request.kind}.{request.group}" if request.group else request.kind
        raise errors.MalformedReview(
            f"{path} judges {endpoint.kind.kind}.{endpoint.kind.group}, not {got}; "
            "check the rules of the webhook configuration"
        )
    try:
        decision = endpoint.handler(request, view, policy)
    except errors.MalformedReview:
        raise  # the request is bad, not the object: HTTP 400 at the transport
    except Exception as exc:
        log.exception("handler for %s failed on request %s", path, request.uid)
        return decisions.errored(
            500, f"InternalError: opgate could not judge this request ({type(exc).__name__})"
        )
    if decision.patch and not endpoint.mutating:
        decision = dataclasses.replace(decision, patch=())
    return decision


def warm(view: clusterview.ClusterView, policy: model.Policy) -> None:
    """Do at start-up what the first request would otherwise pay for: load the RBAC rule
    catalogue and compile every OperationTemplate's inputSchema."""
    del policy  # the policy is already loaded; kept for the handler signature's symmetry
    catalogue.default()
    for optemplate in view.list(kinds.OPERATION_TEMPLATE.group, kinds.OPERATION_TEMPLATE.kind):
        with contextlib.suppress(Exception):  # a broken schema is reported per request
            checks.input_validator(view, optemplate)
