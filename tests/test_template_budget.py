"""Templates have a budget (issue 13, item 3): a template an administrator writes can neither
hang a render — which runs inside the transaction that holds the database's write lock — nor
crash it with a traceback. Every test here uses the real sandboxed renderer."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from engine.base.errors import InvalidDefinition
from engine.spec.loader import load_workflow_file
from engine.spec.validate import notice_uses
from notifiers.render import (
    MAX_LOOP_STEPS,
    SAMPLE_CONTEXT,
    Budget,
    NoticeRenderer,
    NoticeTemplateError,
    sample_context,
)
from tests.runner import Rectify
from tests.timed_workflow import write_timed_workflow
from workflows import (
    DEFAULT_WORKFLOW as WORKFLOW,  # the shipped workflow and every template it ships
)

QUICK = 1.0  # seconds: far below the two-second deadline, so a refusal came from its own limit
OVER = "模板超出渲染限制：.* / template exceeds its budget: "


def _refused(source: str, budget: Budget | None = None) -> tuple[NoticeTemplateError, float]:
    """Render ``source`` as template 't'; the error it must raise and how long that took."""
    renderer = NoticeRenderer({"t": source}, budget)
    started = time.monotonic()
    with pytest.raises(NoticeTemplateError) as info:
        renderer.render("t", SAMPLE_CONTEXT)
    return info.value, time.monotonic() - started


@pytest.mark.parametrize(("source", "line", "fragment"), [
    pytest.param("标题\n{% for i in range(10**9) %}x{% endfor %}\n", 2,
                 "range() of more than 10000 items", id="range_1e9_loop"),
    pytest.param("标题\n{% for a in range(5000) %}\n{% for b in range(5000) %}{% endfor %}\n{% endfor %}\n", 3,
                 "more than 10000 loop steps", id="nested_loops"),
    pytest.param('标题\n正文\n{{ "a"*3*10**9 }}\n', 3,
                 "a value of more than 1000000 characters or items", id="string_times_3e9"),
    pytest.param("标题\n{{ 999999**99999999 }}\n", 2, "a power of more than 100 digits", id="huge_power"),
    pytest.param('标题\n{% for i in range(2000) %}\n{{ "x" * 100 }}\n{% endfor %}\n', 3,
                 "the notice is longer than 100000 characters", id="huge_output_via_a_loop"),
    pytest.param("标题\n{% set ns = namespace(n=2) %}\n{% for i in range(20) %}{% set ns.n = ns.n * ns.n %}"
                 "{% endfor %}\n", 3, "a product of more than 100 digits", id="squaring_in_a_loop"),
    pytest.param("标题\n{{ 'a'|center(10**9) }}\n", 2, "a value of more than", id="center_filter"),
    pytest.param("标题\n{{ case.ref.ljust(10**9) }}\n", 2, "a value of more than", id="ljust_method"),
    pytest.param("标题\n{{ ('a'*1000)|replace('', 'b'*1000)|replace('', 'c'*1000) }}\n", 2,
                 "a value of more than", id="replace_growing"),
    pytest.param("标题\n{{ (['a']*100000)|join('b'*100000) }}\n", 2, "a value of more than", id="join_separator"),
    pytest.param("标题\n{{ '%999999999d'|format(1) }}\n", 2, "a value of more than", id="format_width"),
    pytest.param("标题\n{{ '%*d' % (10**9, 1) }}\n", 2, "a '\\*' width or precision", id="star_width"),
    pytest.param("标题\n{{ '{:>999999999}'.format(1) }}\n", 2, "a value of more than", id="str_format_width"),
    pytest.param("标题\n{{ ([[1]]*3000)|sum(start=[]) }}\n", 2, "sum of something other than numbers",
                 id="sum_of_lists"),
    pytest.param("标题\n{% set a = ['x'*100000, 'x'*100000] %}{% set b = [a, a] %}{% set c = [b, b] %}\n"
                 "{% set d = [c, c] %}\n", 3, "a value of more than", id="lists_doubling"),
    pytest.param("标题\n{% set ns = namespace(x=[]) %}\n{% for i in range(100) %}{% set ns.x = [ns.x] %}{% endfor %}\n",
                 3, "a value nested more than 50 deep", id="lists_nested"),
    pytest.param("标题\n{% macro m() %}\n{{ m() }}\n{% endmacro %}\n{{ m() }}\n", 3,
                 "calls nested more than 50 deep", id="macro_calling_itself"),
    pytest.param('标题\n{% macro m() %}\n{{ "a" * 10**7 }}\n{% endmacro %}\n{{ m() }}\n', 3,
                 "a value of more than", id="inside_a_macro"),
    pytest.param("标题\n{% macro m() %}{% for i in range(9000) %}" + "长" * 200 + "{% endfor %}{% endmacro %}\n"
                 "{{ m()|length }}\n", 2, "a macro or block of more than 1000000 characters", id="macro_text"),
    pytest.param("标题\n{{ lipsum(100000) }}\n", 2, "lipsum() of more than 10000 words", id="lipsum"),
])
def test_budget_violation_is_refused_quickly_at_its_line(source: str, line: int, fragment: str):
    error, took = _refused(source)
    assert (error.template, error.line, error.over_budget) == ("t", line, True), error
    assert re.match(OVER, error.message), error.message
    assert re.search(re.escape(fragment).replace("\\\\\\*", "\\*"), error.message), error.message
    assert str(error).startswith(f"t:{line}: ")
    assert took < QUICK


def test_loop_steps_are_counted_across_the_whole_render():
    one_loop = "标题\n{% for i in range(6000) %}{% endfor %}\n"
    NoticeRenderer({"t": one_loop}).render("t", SAMPLE_CONTEXT)  # within the budget alone
    error, _ = _refused(one_loop + "{% for i in range(6000) %}{% endfor %}\n")
    assert (error.line, error.over_budget) == (3, True)
    assert f"more than {MAX_LOOP_STEPS} loop steps" in error.message


def test_a_loop_of_exactly_the_budget_renders():
    notice = NoticeRenderer({"t": f"标题\n{{% for i in range({MAX_LOOP_STEPS}) %}}{{% endfor %}}完\n"})
    assert notice.render("t", SAMPLE_CONTEXT).body == "完\n"


def test_the_deadline_stops_work_no_other_limit_sees():
    # 2**40 macro calls, never deeper than 40, no loop, no big value: only the clock stops it.
    source = "标题\n{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}\n{{ f(40) }}\n"
    error, took = _refused(source, Budget(seconds=0.2))
    assert error.over_budget
    assert "rendering took more than 0.2 s" in error.message
    assert error.line == 2  # inside the macro, where the time ran out
    assert took < QUICK


@pytest.mark.parametrize(("source", "fragment"), [
    pytest.param("标题\n{{ 1/0 }}\n", "ZeroDivisionError", id="division_by_zero"),
    pytest.param("标题\n{{ 1" + "1" * 5000 + " }}\n", "ValueError", id="number_too_long_to_parse"),
    pytest.param("标题\n{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}\n", "nested too deeply", id="brackets"),
    pytest.param("标题\n{{ 10.0**400 }}\n", "OverflowError", id="float_overflow"),
    pytest.param("标题\n{% include 't' %}\n", "nested too deeply", id="include_itself"),
    pytest.param("标题\n{{ case.ref|wordwrap(0) }}\n", "ValueError", id="bad_filter_argument"),
    pytest.param("标题\n{% for x in 5 %}{% endfor %}\n", "TypeError", id="loop_over_a_number"),
])
def test_no_traceback_escapes_a_render(source: str, fragment: str):
    error, took = _refused(source)
    assert error.template == "t"
    assert "模板" in error.message  # bilingual
    assert " / template " in error.message
    assert fragment in error.message
    assert took < QUICK


def test_workflow_check_of_such_templates_does_not_hang():
    for source in ('标题\n{{ "a"*3*10**9 }}\n', "标题\n{{ 999999**99999999 }}\n",
                   "标题\n{% for i in range(10**9) %}x{% endfor %}\n"):
        started = time.monotonic()
        error = NoticeRenderer({"t": source}).check("t")
        assert error is not None, source
        assert error.over_budget, source
        assert time.monotonic() - started < QUICK


# --- a heavy branch the sample does not take is found by the check ------------------------

HEAVY_WITHOUT_TRANSITION = """关于{{ case.organization }}的通知
{{ case.superior }}：
{% if transition is none %}
{% for a in range(200) %}{% for b in range(200) %}{{ a }}{% endfor %}{% endfor %}
{% endif %}
{{ workflow.issuer }}
"""


def test_heavy_branch_taken_only_without_a_transition_is_found_by_the_check():
    renderer = NoticeRenderer({"t": HEAVY_WITHOUT_TRANSITION})
    assert renderer.render("t", SAMPLE_CONTEXT).title == "关于××镇××村党支部的通知"  # the sample passes
    started = time.monotonic()
    error = renderer.check("t")
    assert time.monotonic() - started < QUICK
    assert error is not None
    assert error.over_budget
    assert (error.template, error.line) == ("t", 4)
    assert "more than 10000 loop steps" in error.message
    assert "transition=None" in error.message  # the variant that found it
    error = renderer.check("t", sample_context("transition"))  # the shape of a transition's notice
    assert error is not None
    assert (error.line, error.over_budget) == (4, True)


def test_heavy_branch_behind_a_flag_is_found_by_the_check():
    source = '标题\n{% if not case.key_target %}\n{{ "a" * 10**7 }}\n{% endif %}\n'
    renderer = NoticeRenderer({"t": source})
    renderer.render("t", sample_context("transition"))  # the sample's case is a key target
    error = renderer.check("t", sample_context("transition"))
    assert error is not None
    assert (error.line, error.over_budget) == (3, True)
    assert "case.key_target=False" in error.message


def test_other_errors_of_a_variant_are_not_reported():
    # A reminder always has its deadline: the variant without one fails, and that is no problem.
    source = "{{ deadline.label }}到期\n{{ case.organization }}\n"
    assert NoticeRenderer({"t": source}).check("t", sample_context("deadline")) is None


# --- the shipped workflow ------------------------------------------------------------------

def test_shipped_templates_render_and_check_within_their_budget():
    loaded = load_workflow_file(WORKFLOW)  # its check renders every template and its variants
    renderer = NoticeRenderer(loaded.templates)
    uses = {(name, kind) for _, name, kind in notice_uses(loaded.definition)}
    # progress_report_request is shipped for a workflow that requests reports per case (recurring),
    # as the timer tests' variant does (tests/timed_workflow.py): checked with that use
    timed = load_workflow_file(write_timed_workflow())
    uses |= {(name, kind) for _, name, kind in notice_uses(timed.definition) if name == "progress_report_request"}
    assert {name for name, _ in uses} == set(loaded.templates)
    started = time.monotonic()
    for name, kind in sorted(uses):
        notice = renderer.render(name, sample_context(kind))
        assert notice.title, name
        assert notice.body.strip(), name
        assert renderer.check(name) is None, name
        assert renderer.check(name, sample_context(kind)) is None, name
    assert time.monotonic() - started < QUICK  # the variants keep the check fast


def _with_heavy_branch(workflow: Path) -> Path:
    template = workflow.parent / "templates" / "accepted_notice.j2"
    lines = template.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2:2] = ["{% if transition is none %}\n",
                  "{% for a in range(200) %}{% for b in range(200) %}{{ a }}{% endfor %}{% endfor %}\n",
                  "{% endif %}\n"]
    template.write_text("".join(lines), encoding="utf-8")
    return template


def test_workflow_check_reports_a_heavy_branch_with_its_place(workflow_copy: Path, tmp_path: Path):
    template = _with_heavy_branch(workflow_copy)
    with pytest.raises(InvalidDefinition) as info:
        load_workflow_file(workflow_copy)
    assert [(Path(p.file), p.line) for p in info.value.problems] == [(template, 4)]
    run = Rectify(f"sqlite:///{tmp_path / 'unused.db'}")
    started = time.monotonic()
    result = run("workflow", "check", str(workflow_copy), code=2)  # and no traceback (Rectify checks)
    assert time.monotonic() - started < 10 * QUICK
    problems = [line for line in result.output.splitlines() if line.strip()]
    assert len(problems) == 1, result.output
    assert problems[0].startswith(f"{template}:4:1: 模板超出渲染限制：")
    assert "template exceeds its budget: more than 10000 loop steps" in problems[0]
    assert "transition=None" in problems[0]
