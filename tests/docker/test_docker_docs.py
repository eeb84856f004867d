"""docs/containers.md tells the truth: its commands run and print what the page shows.

The `make` commands build images, which CI does before the tests (containers/ci-setup.sh):
here they are only checked to be the ones that script runs. Every other command is run,
in order, and its output compared with the page's.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from docker_helpers import CUSTOM_EXAMPLE, REPO, docker_client, image  # noqa: F401  (fixtures)

DOC = REPO / "docs" / "containers.md"
CI_SETUP = REPO / "containers" / "ci-setup.sh"


def console_blocks() -> list[list[tuple[str, list[str]]]]:
    """Each ```console block as (command, expected output lines) pairs."""
    blocks = []
    for body in re.findall(r"```console\n(.*?)```", DOC.read_text(), re.S):
        steps: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        blocks.append(steps)
    return blocks


def is_build_block(steps) -> bool:
    return all(command.startswith("make ") for command, _ in steps)


def code_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_make_commands_shown_are_the_ones_ci_runs():
    ci_lines = {line.strip() for line in CI_SETUP.read_text().splitlines()}
    shown = [command for steps in console_blocks() if is_build_block(steps) for command, _ in steps]
    assert shown, "the page shows no build commands"
    assert [command for command in shown if command not in ci_lines] == []


def test_dockerfile_shown_is_the_examples():
    shown = re.findall(r"```dockerfile\n(.*?)```", DOC.read_text(), re.S)
    assert [code_lines(block) for block in shown] == [code_lines((CUSTOM_EXAMPLE / "Dockerfile").read_text())]


@pytest.mark.docker
@pytest.mark.parametrize("steps", [s for s in console_blocks() if not is_build_block(s)],
                         ids=lambda steps: steps[0][0].split()[1])
def test_commands_print_what_the_page_shows(docker_client, image, steps):
    image("model")
    names = [m for command, _ in steps for m in re.findall(r"--name (\S+)", command)]
    remove_containers(names)  # left over by an interrupted run
    try:
        for command, expected in steps:
            done = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            if expected:
                assert done.stdout.splitlines() == expected, command
    finally:
        remove_containers(names)


def remove_containers(names: list[str]) -> None:
    for name in names:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
