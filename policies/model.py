"""The policy as frozen values: what admission knows about the cluster it guards."""

from __future__ import annotations

import dataclasses
from typing import Literal

Mode = Literal["enforce", "warn", "off"]

# Every deny reason whose check can be switched to warn or off, in evaluation order.
CHECKS: tuple[str, ...] = (
    "UnknownEngine",
    "EngineNotInstalled",
    "OperationTemplateNotFound",
    "TargetNotFound",
    "ParametersInvalid",
    "TemplateNotFound",
    "TemplateArgumentMissing",
    "ServiceAccountNotAllowed",
    "FieldImmutable",
    "InvalidInputSchema",
    "WorkflowNotAllowed",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Engine:
    """An engine of the catalog: the CRDs it needs, or built in (needs none)."""

    name: str
    crds: tuple[str, ...] = ()
    builtin: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceAccountRef:
    """A ServiceAccount by namespace and name."""

    namespace: str
    name: str

    @property
    def username(self) -> str:
        """The username the apiserver gives this SA's tokens."""
        return f"system:serviceaccount:{self.namespace}:{self.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    """The whole policy: engine catalog, identities, cluster id and enforcement modes."""

    cluster_id: str
    operator_sa: ServiceAccountRef
    managed_by: str
    runner_sa_name: str
    engines: dict[str, Engine]
    enforcement: dict[str, Mode]
    source: str = "<embedded>"

    def mode(self, check: str) -> Mode:
        """The enforcement mode of a check; `enforce` unless the policy says otherwise."""
        return self.enforcement.get(check, "enforce")
