"""The workflow as a picture: Mermaid or Graphviz DOT text, with Chinese labels, guards and deadlines."""

from __future__ import annotations

import shutil
import subprocess

from engine.base.errors import BadInput
from engine.spec.definition import Deadline, Workflow


def _deadline(deadline: Deadline | None, wf: Workflow) -> str:
    if deadline is None:
        return ""
    if deadline.date:
        day = wf.resolved_dates()[deadline.date]
        return f"期限：{day.month}月{day.day}日"
    return f"期限：进入后{deadline.after.zh if deadline.after else ''}"


def _edge_label(t, wf: Workflow) -> str:
    parts = [t.label]
    if t.guards:
        parts.append("条件：" + "、".join(t.guards))
    if t.roles:
        parts.append("、".join(wf.roles[r] for r in t.roles))
    return "<br/>".join(parts)


def _auto_edges(wf: Workflow) -> list[tuple[str, str, str]]:
    """(source, destination, label) of each automatic transition, for both drawings."""
    edges = []
    for name, state in wf.states.items():
        for auto in state.auto:
            target = next(t.dest for t in wf.transitions if t.trigger == auto.trigger and name in t.sources)
            edges.append((name, target, f"自动（{auto.after.zh}后）"))
    return edges


def mermaid(wf: Workflow) -> str:
    lines = ["stateDiagram-v2", f"    %% {wf.title}"]
    for name, state in wf.states.items():
        extra = _deadline(state.deadline, wf)
        label = state.label + (f"<br/>{extra}" if extra else "")
        lines.append(f'    state "{label}" as {name}')
    lines.append(f"    [*] --> {wf.initial_state}")
    for t in wf.transitions:
        for source in t.sources:
            lines.append(f"    {source} --> {t.dest}: {_edge_label(t, wf)}")
    lines += [f"    {source} --> {target}: {label}" for source, target, label in _auto_edges(wf)]
    lines += [f"    {name} --> [*]" for name, state in wf.states.items() if state.final]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(wf: Workflow) -> str:
    lines = ["digraph workflow {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Noto Sans CJK SC"];',
             '  edge [fontname="Noto Sans CJK SC", fontsize=10];', f"  label={_quote(wf.title)};"]
    for name, state in wf.states.items():
        extra = _deadline(state.deadline, wf)
        shape = ", peripheries=2" if state.final else ""
        lines.append(f"  {name} [label={_quote(state.label + (chr(10) + extra if extra else ''))}{shape}];")
    for t in wf.transitions:
        for source in t.sources:
            lines.append(f"  {source} -> {t.dest} [label={_quote(_edge_label(t, wf).replace('<br/>', chr(10)))}];")
    lines += [f"  {source} -> {target} [style=dashed, label={_quote(label)}];"
              for source, target, label in _auto_edges(wf)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_image(dot_text: str, fmt: str) -> bytes:
    """SVG or PNG through Graphviz's ``dot`` program (Debian package graphviz)."""
    program = shutil.which("dot")
    if program is None:
        raise BadInput("需要 Graphviz 的 dot 程序才能生成图片 / the 'dot' program of Graphviz is needed for "
                       f"--format {fmt}: install it (apt-get install graphviz), or use --format mermaid|dot")
    done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True, timeout=60)
    if done.returncode != 0:
        raise BadInput(f"Graphviz failed: {done.stderr.decode('utf-8', 'replace')[:500]}")
    return done.stdout
