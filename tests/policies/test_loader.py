"""Policy files: the embedded default loads; bad files name the file, the path and the problem."""

from __future__ import annotations

import pytest

from policies import errors, loader


def test_embedded_default_loads():
    policy = loader.load_policy()
    assert policy.engines["workflow"].crds == (
        "workflows.argoproj.io",
        "workflowtemplates.argoproj.io",
    )
    assert policy.engines["job"].builtin and policy.engines["helm-hook"].builtin
    assert policy.engines["velero"].crds == ("backups.velero.io", "restores.velero.io")
    assert policy.runner_sa_name == "vworkspace-operation-runner"
    assert policy.mode("UnknownEngine") == "enforce"


GOOD = """apiVersion: policy.opgate.vworkspace.io/v1alpha1
kind: Policy
clusterId: c1
operator: {serviceAccount: {namespace: ops, name: operator}}
runner: {serviceAccountName: runner}
engines: {job: {builtin: true}}
"""


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        (GOOD + "enforcement: {TargetNotFound: maybe}\n", "enforcement.TargetNotFound", "maybe"),
        (GOOD + "enforcement: {NoSuchCheck: warn}\n", "enforcement", "NoSuchCheck"),
        (GOOD.replace("runner: {serviceAccountName: runner}\n", ""), "(top level)", "runner"),
        (
            GOOD.replace("name: operator", "name: Operator_SA"),
            "operator.serviceAccount.name",
            "does not match",
        ),
        (GOOD + "extra: 1\n", "(top level)", "extra"),
        (
            GOOD.replace("{job: {builtin: true}}", "{job: {crds: [nodots]}}"),
            "engines.job.crds[0]",
            "nodots",
        ),
        ("kind: [unclosed\n", "line 2", "not valid YAML"),
        ("- a list\n", "", "mapping"),
    ],
)
def test_bad_policy_files_name_file_path_and_problem(tmp_path, text, path, problem):
    file = tmp_path / "policy.yaml"
    file.write_text(text)
    with pytest.raises(errors.PolicyError) as info:
        loader.load_policy(file)
    assert info.value.file == str(file)
    assert info.value.path.startswith(path)
    assert problem in info.value.problem
    assert str(file) in str(info.value)


def test_custom_modes_are_loaded(tmp_path):
    file = tmp_path / "p.yaml"
    file.write_text(GOOD + "enforcement: {TargetNotFound: warn, ParametersInvalid: 'off'}\n")
    policy = loader.load_policy(file)
    assert policy.mode("TargetNotFound") == "warn"
    assert policy.mode("ParametersInvalid") == "off"
    assert policy.mode("UnknownEngine") == "enforce"


def test_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(errors.PolicyError, match="cannot read"):
        loader.load_policy(tmp_path / "absent.yaml")
