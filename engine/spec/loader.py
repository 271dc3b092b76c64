"""Read a workflow file (or a deployed bundle) into a checked ``LoadedWorkflow``.

Every problem is collected and reported as ``FILE:LINE:COL: message``; a workflow with
any problem is never returned. The whole-graph checks live in ``engine.spec.validate``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from engine.base.errors import BadInput, InvalidDefinition, Problem
from engine.spec.definition import Workflow
from engine.spec.problems import pydantic_problems
from engine.spec.workcalendar import DEFAULT_CALENDAR, WorkCalendar, parse_overrides
from rules.base import Rule

if TYPE_CHECKING:  # a deployed workflow comes from the cache (engine.ops.deploy) without YAML: see _read_yaml()
    from engine.base.yamlsafe import Located

TEMPLATE_DIR = "templates"
TEMPLATE_SUFFIX = ".j2"
CALENDAR_FILE = "calendar.yaml"  # the administrators' holiday overrides, beside the workflow
# A notice template is a page at most (the shipped ones are under 1 KB); the workflow and the
# calendar are YAML, bounded by engine.base.yamlsafe.MAX_YAML_BYTES.
MAX_TEMPLATE_BYTES = 256 * 1024


@dataclass(frozen=True)
class LoadedWorkflow:
    """A checked workflow: its definition, its rule instances and its templates."""

    definition: Workflow
    text: str
    templates: dict[str, str]
    file: str
    rules: dict[str, Rule] = field(default_factory=dict)
    calendar_text: str | None = None
    calendar: WorkCalendar = DEFAULT_CALENDAR
    warnings: list[Problem] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """A content hash of the YAML, every template and the calendar: the version's identity."""
        bundle = json.dumps({"workflow": self.text, "templates": self.templates, "calendar": self.calendar_text},
                            sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(bundle.encode("utf-8")).hexdigest()


def load_workflow_file(path: str | Path) -> LoadedWorkflow:
    """Load ``path`` and the ``templates/*.j2`` beside it; raise ``InvalidDefinition``.

    Each file is read only if it is a regular file within its size limit (``read_text_file``):
    ``rectify workflow check /dev/zero`` is refused at once instead of reading forever.
    """
    from engine.base.yamlsafe import FileNotRead, read_text_file

    path = workflow_file_in(Path(path))
    try:
        text = read_text_file(path)
    except FileNotFoundError as exc:
        raise BadInput(f"找不到工作流文件 / workflow file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"无法读取工作流文件 / cannot read workflow file {path}: {exc}") from exc
    folder = path.parent / TEMPLATE_DIR
    templates, problems = read_templates(folder)
    calendar_path = path.parent / CALENDAR_FILE
    calendar_text = None
    if calendar_path.exists():  # not is_file(): a calendar.yaml that is a FIFO or a device is reported
        try:
            calendar_text = read_text_file(calendar_path)
        except FileNotRead as exc:
            problems.append(Problem(str(calendar_path), 1, 1, exc.reason))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(calendar_path), 1, 1, f"无法读取节假日文件 / cannot read (save it as UTF-8): {exc}"))
    loaded = load_workflow_text(text, str(path), templates, str(folder), problems, calendar_text, str(calendar_path))
    if not folder.is_dir():  # after the YAML's own problems: one line, never one per notice it names
        raise InvalidDefinition([Problem(
            str(path), 1, 1, f"找不到通知模板目录 {folder}：工作流的通知模板（templates/*.j2）须放在工作流文件旁边；"
                             "'rectify workflow new 目录' 可生成工作流及其全部模板的可编辑副本 / no notice templates "
                             f"folder {folder}: a workflow's notice templates (templates/*.j2) live beside its YAML "
                             "file; 'rectify workflow new DIR' writes an editable copy of the shipped workflow with "
                             "all its templates")])
    return loaded


def workflow_file_in(path: Path) -> Path:
    """The workflow file ``path`` names: the file itself, or the one workflow YAML in a folder
    (as ``rectify workflow new`` writes it: ``DIR/*.yaml`` beside ``DIR/templates/``)."""
    if not path.is_dir():
        return path
    found = sorted(p for p in path.glob("*.yaml") if p.name != CALENDAR_FILE)
    if len(found) == 1:
        return found[0]
    if not found:
        raise BadInput(f"目录 {path} 中没有工作流文件（*.yaml） / no workflow file (*.yaml) in folder {path}")
    names = ", ".join(p.name for p in found)
    raise BadInput(f"目录 {path} 中有多个工作流文件，请指明其中一个 / folder {path} holds several workflow files "
                   f"({names}): name one of them")


def read_templates(folder: Path) -> tuple[dict[str, str], list[Problem]]:
    """Every ``*.j2`` in ``folder``; a file that is not UTF-8, not a regular file or larger than
    ``MAX_TEMPLATE_BYTES`` is a problem, not a crash."""
    from engine.base.yamlsafe import FileNotRead, read_text_file

    templates: dict[str, str] = {}
    problems: list[Problem] = []
    if not folder.is_dir():
        return templates, problems
    for file in sorted(folder.glob("*" + TEMPLATE_SUFFIX)):
        try:
            templates[file.name[: -len(TEMPLATE_SUFFIX)]] = read_text_file(file, MAX_TEMPLATE_BYTES)
        except FileNotRead as exc:
            problems.append(Problem(str(file), 1, 1, exc.reason))
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(file), 1, 1, f"模板不是 UTF-8 编码 / template is not UTF-8 "
                                                      f"({exc.reason} at byte {exc.start}): save it as UTF-8"))
        except OSError as exc:
            problems.append(Problem(str(file), 1, 1, f"无法读取模板 / cannot read template: {exc}"))
    return templates, problems


def load_calendar(text: str | None, file: str, problems: list[Problem]) -> WorkCalendar:
    if text is None:
        return DEFAULT_CALENDAR
    located = _read_yaml(text, file)
    problems += located.problems
    if located.data is None:
        return DEFAULT_CALENDAR
    return parse_overrides(located.data, lambda path, msg: problems.append(located.problem(path, msg)))


def load_workflow_text(text: str, file: str, templates: dict[str, str], template_dir: str = TEMPLATE_DIR,
                       problems: list[Problem] | None = None, calendar_text: str | None = None,
                       calendar_file: str = CALENDAR_FILE) -> LoadedWorkflow:
    # Imported when a workflow is really checked: a short command takes it, checked, from the cache.
    from engine.spec.validate import check_workflow, coverage_warnings

    problems = list(problems or [])
    calendar = load_calendar(calendar_text, calendar_file, problems)
    located = _read_yaml(text, file)
    problems += located.problems
    # The reader recovers from most problems (it keeps the first of duplicate keys), so go on
    # and report the schema's and the graph's problems in the same run.
    definition = _parse(located, problems) if located.data is not None else None
    rules: dict[str, Rule] = {}
    if definition is not None:
        graph_problems, rules = check_workflow(definition, located, templates, template_dir)
        problems += graph_problems
    if problems or definition is None:
        raise InvalidDefinition(sorted(set(problems), key=lambda p: (p.file != file, p.file, p.line, p.column)))
    return LoadedWorkflow(definition, text, dict(templates), file, rules, calendar_text, calendar,
                          coverage_warnings(definition, located, calendar))


def _read_yaml(text: str, file: str) -> Located:
    from engine.base.yamlsafe import read_yaml

    return read_yaml(text, file)


def _parse(located: Located, problems: list[Problem]) -> Workflow | None:
    if not isinstance(located.data, dict):
        problems.append(located.problem((), "顶层必须是映射 / the top level must be a mapping of keys"))
        return None
    try:
        return Workflow.model_validate(located.data)
    except ValidationError as exc:
        problems += pydantic_problems(exc, located, Workflow)
        return None
