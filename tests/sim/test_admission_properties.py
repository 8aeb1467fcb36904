"""Properties of the admission chain over random webhook configurations and writes:
dry-run decides exactly as the real write (and stores nothing); a failing webhook under
`failurePolicy: Ignore` never changes an outcome; under Fail it always refuses with 500."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from policies import loader
from sim import admission, callers, errors, store
from tests.sim.storebuilders import crd, widget
from tests.sim.test_admission import hook, mutating, toy_handle, validating

POLICY = loader.load_policy(None)
RULES = {
    "create": [
        {
            "apiGroups": ["example.io"],
            "apiVersions": ["v1"],
            "operations": ["CREATE"],
            "resources": ["widgets"],
        }
    ],
    "any": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*"]}],
    "update": [
        {
            "apiGroups": ["example.io"],
            "apiVersions": ["v1"],
            "operations": ["UPDATE"],
            "resources": ["widgets"],
        }
    ],
}


@st.composite
def webhooks(draw: st.DrawFn, paths: tuple[str, ...]) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "rules": RULES[draw(st.sampled_from(sorted(RULES)))],
        "failurePolicy": draw(st.sampled_from(["Fail", "Ignore"])),
    }
    if draw(st.booleans()):
        extra["namespaceSelector"] = {"matchLabels": {"env": "prod"}}
    if draw(st.booleans()):
        extra["objectSelector"] = {
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]
        }
    if draw(st.booleans()):
        extra["reinvocationPolicy"] = "IfNeeded"
    name = f"h{draw(st.integers(0, 999))}.example.io"
    return hook(name, draw(st.sampled_from(paths)), **extra)


configs = st.tuples(
    st.lists(webhooks(("/mark", "/count", "/allow", "/warn")), max_size=3),
    st.lists(webhooks(("/deny", "/allow", "/warn")), max_size=3),
)
objects = st.builds(
    lambda ns, labels: (
        widget("w", namespace=ns) | {"metadata": {"name": "w", "namespace": ns, "labels": labels}}
    ),
    st.sampled_from(["default", "prod"]),
    st.sampled_from([{}, {"tier": "web"}, {"tier": "db"}]),
)


def broken_or_toy(hook_: admission.Webhook, body: dict[str, Any], view: Any) -> dict[str, Any]:
    if hook_.path == "/broken":
        raise admission.CallFailed(
            'failed to call webhook: Post "https://opgate-webhook.vworkspace-system.svc:443/broken": EOF'
        )
    return callers.InProcess(POLICY, handle=toy_handle)(hook_, body, view)


def cluster(mutators: list[dict[str, Any]], validators: list[dict[str, Any]]) -> store.Store:
    s = store.Store(seed=4)
    s.create(crd())
    s.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "prod", "labels": {"env": "prod"}},
        }
    )
    if mutators:
        s.create(mutating("m", *mutators))
    if validators:
        s.create(validating("v", *validators))
    s.chain = admission.Chain(broken_or_toy, seed=1)
    return s


def outcome(s: store.Store, obj: dict[str, Any], **kwargs: Any) -> tuple[str, Any]:
    try:
        out = s.create(obj, **kwargs)
    except errors.ApiError as exc:
        return "refused", exc.status
    out["metadata"].pop("resourceVersion")
    out["metadata"].pop("uid")  # drawn from the seeded source; other writes move it on
    return "admitted", out


@given(configs, objects)
def test_dry_run_decides_as_the_real_write(hooks: Any, obj: dict[str, Any]) -> None:
    dry, real = cluster(*hooks), cluster(*hooks)
    rv = dry.resource_version
    assert outcome(dry, obj, dry_run=True) == outcome(real, obj)
    assert dry.resource_version == rv
    assert dry.find("example.io", "Widget", obj["metadata"]["namespace"], "w") is None


@given(configs, objects, st.booleans())
def test_failing_webhook_ignored_or_failing_closed(
    hooks: Any, obj: dict[str, Any], validating_: bool
) -> None:
    mutators, validators = hooks
    broken = hook("broken.example.io", "/broken", rules=RULES["any"], failurePolicy="Ignore")
    with_ignored = (
        (mutators, [*validators, broken]) if validating_ else ([*mutators, broken], validators)
    )
    assert outcome(cluster(*with_ignored), obj) == outcome(cluster(mutators, validators), obj)
    closed = dict(broken, failurePolicy="Fail")
    failing = (
        (mutators, [*validators, closed]) if validating_ else ([*mutators, closed], validators)
    )
    verdict, status = outcome(cluster(*failing), obj)
    assert verdict == "refused"
    denied_first = status["code"] != 500
    assert denied_first or status["message"].startswith(
        'Internal error occurred: failed calling webhook "broken.example.io": '
    )
