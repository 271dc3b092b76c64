"""`rectify workflow graph`: the workflow as Mermaid or DOT, with Chinese labels, guards and deadlines."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from cli import main
from engine.spec.graph import dot, mermaid
from engine.spec.loader import load_workflow_file
from workflows import DEFAULT_WORKFLOW as WORKFLOW  # the shipped one, as `workflow graph` draws it

WF = load_workflow_file(WORKFLOW).definition


def test_mermaid_has_every_state_and_transition():
    text = mermaid(WF)
    assert text.startswith("stateDiagram-v2")
    for name, state in WF.states.items():
        assert f'state "{state.label}' in text
        assert f" as {name}" in text
    assert "survey --> re_rectify: 满意度低于70%，重新整顿<br/>条件：survey_window_open、survey_valid、not satisfaction_passes" in text
    assert "re_rectify --> rectifying: 自动（0天后）" in text
    assert 'state "整顿转化<br/>期限：11月30日" as rectifying' in text
    assert "accepted --> [*]" in text


def test_dot_is_valid_for_graphviz(tmp_path):
    text = dot(WF)
    assert text.count("->") == sum(len(t.sources) for t in WF.transitions) + 1  # + the automatic restart
    result = CliRunner().invoke(main, ["workflow", "graph", "--format", "dot", "-o", str(tmp_path / "w.dot")])
    assert result.exit_code == 0
    assert (tmp_path / "w.dot").read_text(encoding="utf-8") == text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
def test_svg_through_graphviz(tmp_path):
    result = CliRunner().invoke(main, ["workflow", "graph", "--format", "svg", "-o", str(tmp_path / "w.svg")])
    assert result.exit_code == 0
    assert "<svg" in (tmp_path / "w.svg").read_text(encoding="utf-8")


def test_png_needs_an_output_file():
    result = CliRunner().invoke(main, ["workflow", "graph", "--format", "png"])
    assert result.exit_code == 2


def test_an_output_file_that_cannot_be_written_is_bad_input(tmp_path):
    result = CliRunner().invoke(main, ["workflow", "graph", "-o", str(tmp_path / "no" / "such" / "w.mmd")])
    assert result.exit_code == 2
    assert "cannot write" in result.output
    assert "Traceback" not in result.output
