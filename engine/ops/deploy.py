"""Deployed workflow versions and campaigns.

A deployed version keeps the YAML text and every template, so a case stays on the version
it started with even after the files change; the version's identity is the content hash.

Nearly every command needs the compiled workflow of the cases it touches, and checking a
bundle again (YAML, schema, graph, every template) costs a short command more than its own
work. The bundle was checked when it was deployed, so the checked ``LoadedWorkflow`` is
kept in a per-user cache on disk, under the hash of the content it was built from (see
``_cached_load``); the transitions machine is rebuilt from it in each process, which is
cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import pickle
import sys
import types
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.base.errors import BadInput, NotFound
from engine.store.campaign_queries import (
    all_campaigns,
    campaign_of,
    last_version_number,
    version_by_digest,
)
from engine.store.models import Campaign, WorkflowVersion

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.spec.loader import LoadedWorkflow
    from engine.spec.machine import CompiledWorkflow


def deploy(session: Session, loaded: LoadedWorkflow, actor: str, now: datetime) -> tuple[WorkflowVersion, bool]:
    """Record ``loaded`` as the newest version of its workflow and make its campaign use it.

    Deploying the same content again changes nothing and returns ``created=False``.
    """
    wf = loaded.definition
    existing = version_by_digest(session, wf.name, loaded.digest)
    created = existing is None
    if existing is None:
        last = last_version_number(session, wf.name)
        existing = WorkflowVersion(name=wf.name, version=(last or 0) + 1, digest=loaded.digest,
                                   source_file=loaded.file, text=loaded.text, templates=loaded.templates,
                                   calendar=loaded.calendar_text,
                                   deployed_at=now, deployed_by=actor)
        session.add(existing)
        session.flush()
    campaign = campaign_of(session, wf.name, wf.year)
    if campaign is None:
        session.add(Campaign(workflow_name=wf.name, year=wf.year, title=wf.title,
                             current_version_id=existing.id, case_seq=0))
    else:
        campaign.current_version_id = existing.id
        campaign.title = wf.title
    return existing, created


_by_digest: dict[str, CompiledWorkflow] = {}


def compiled_version(version: WorkflowVersion) -> CompiledWorkflow:
    """The shared machine of a deployed version (loaded and compiled once per process).

    Looked up by the version's content hash first, so listing many cases costs one dict
    look-up per case, not a parse.
    """
    found = _by_digest.get(version.digest)
    if found is None:
        from engine.spec.machine import compiled

        label = f"{version.name}@v{version.version}"
        found = _by_digest[version.digest] = compiled(_cached_load(
            version.text, label, dict(version.templates), version.calendar, f"{label}:calendar.yaml"))
    return found


def campaigns(session: Session) -> list[Campaign]:
    """Every campaign, by year then workflow name."""
    return all_campaigns(session)


def resolve_campaign(session: Session, ref: str | None) -> Campaign:
    """The campaign named ``ref`` (``name`` or ``name:year``), or the only one there is."""
    found = campaigns(session)
    if not found:
        raise BadInput("尚未部署工作流 / no workflow deployed yet: run 'rectify workflow deploy FILE' first")
    if ref is None:
        if len(found) == 1:
            return found[0]
        names = ", ".join(f"{c.workflow_name}:{c.year}" for c in found)
        raise BadInput(f"有多个专项整治，请用 --campaign 指定 / several campaigns exist, choose one with --campaign: {names}")
    name, _, year = ref.partition(":")
    matches = [c for c in found if c.workflow_name == name and (not year or str(c.year) == year)]
    if len(matches) != 1:
        names = ", ".join(f"{c.workflow_name}:{c.year}" for c in found)
        raise NotFound("campaign 专项整治", ref, f"known: {names}")
    return matches[0]


# --- the per-user cache of checked deployed workflows ------------------------------------
#
# One file per bundle: a small pickle (format, fingerprint) and then the pickled
# LoadedWorkflow. The file's name hashes everything the load depends on (the YAML, the
# templates, the calendar, the names they are reported under, the Python build); the
# fingerprint names the source file (path, mtime, size) of every module whose classes are
# in the pickle or whose code checked the bundle, so an upgrade of rectify, of pydantic or
# of a rule plugin, an edited checkout or another checkout makes the entry stale: it is then
# rebuilt, never trusted. That is stricter than rectify's version number (which an editable
# install keeps while its code changes) and cheaper to learn (importlib.metadata costs a short
# command ~15 ms). A file that cannot be read, or is not the user's own, is ignored the same way.

CACHE_FORMAT = 1
_CHECKED_BY = ("engine.spec.loader", "engine.spec.validate", "engine.base.yamlsafe", "engine.spec.definition",
               "engine.spec.workcalendar", "notifiers.render", "rules.base", "engine.base.registry",
               "engine.spec.rule_registry", "pydantic.main")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rectify``, or ``~/.cache/rectify``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rectify"


def _cached_load(text: str, file: str, templates: dict[str, str], calendar_text: str | None,
                 calendar_file: str) -> LoadedWorkflow:
    key = json.dumps([CACHE_FORMAT, sys.version, file, calendar_file, text, templates, calendar_text],
                     sort_keys=True, ensure_ascii=False)
    path = cache_dir() / f"workflow-{hashlib.sha256(key.encode('utf-8')).hexdigest()}.pickle"
    loaded = _read_cache(path)
    if loaded is None or not _rules_resolve(loaded):
        from engine.spec.loader import load_workflow_text

        loaded = load_workflow_text(text, file, templates, calendar_text=calendar_text, calendar_file=calendar_file)
        _write_cache(path, loaded)
    return loaded


def _read_cache(path: Path) -> LoadedWorkflow | None:
    try:
        with path.open("rb") as f:
            if not (_private(os.fstat(f.fileno())) and _private(os.stat(path.parent))):
                return None
            fmt, fingerprint = pickle.load(f)
            if fmt != CACHE_FORMAT or not _unchanged(fingerprint):
                return None
            loaded = pickle.load(f)
    except Exception:  # missing, truncated, a class gone: rebuild, whatever the reason
        return None
    from engine.spec.loader import LoadedWorkflow

    return loaded if isinstance(loaded, LoadedWorkflow) else None


def _rules_resolve(loaded: LoadedWorkflow) -> bool:
    """Look the cached rules up in the registry as a fresh load does, and find the same classes.

    The look-up has effects a new process needs: it loads entry-point plugins and names the
    classes of ``module:Class`` rules (in their messages).
    """
    from engine.base.errors import UnknownPlugin
    from engine.spec.rule_registry import rules_registry

    try:
        return all(rules_registry.get(use.rule) is type(loaded.rules[name])
                   for name, use in loaded.definition.rules.items())
    except (UnknownPlugin, KeyError):
        return False


def _write_cache(path: Path, loaded: LoadedWorkflow) -> None:
    """Write atomically (a whole file or none); a cache that cannot be written is no error."""
    import tempfile

    payload = io.BytesIO()
    pickler = _ModuleRecorder(payload, pickle.HIGHEST_PROTOCOL)
    try:
        pickler.dump(loaded)
        header = pickle.dumps((CACHE_FORMAT, _fingerprint(pickler.modules | set(_CHECKED_BY))))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(os.stat(path.parent)):
            return
        fd, tmp = tempfile.mkstemp(prefix=".workflow-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(header + payload.getvalue())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except Exception:  # a read-only home, a rule class defined in a function…: the command goes on uncached
        pass


class _ModuleRecorder(pickle.Pickler):
    """Pickles as usual, noting the module of every class and function it meets."""

    def __init__(self, file: io.BytesIO, protocol: int):
        super().__init__(file, protocol)
        self.modules: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        owner = obj if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)) else type(obj)
        self.modules.add(getattr(owner, "__module__", None) or "builtins")
        return NotImplemented


def _fingerprint(modules: set[str]) -> dict[str, tuple[str, int, int] | None]:
    """``{module: (file, mtime_ns, size)}`` (None for a module without a source file)."""
    return {name: _stamp(_source(name)) for name in sorted(modules)}


def _unchanged(fingerprint: dict[str, tuple[str, int, int] | None]) -> bool:
    """The same modules would be imported now: same files (not another checkout's), unchanged."""
    return all(_stamp(_source(name)) == stamp for name, stamp in fingerprint.items())


def _source(name: str) -> str | None:
    """The file ``import name`` uses in this process (found, not imported, if not imported yet)."""
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__file__", None)
    spec = importlib.util.find_spec(name)
    return spec.origin if spec is not None and spec.has_location else None


def _stamp(file: str | None) -> tuple[str, int, int] | None:
    if not file:
        return None
    st = os.stat(file)
    return file, st.st_mtime_ns, st.st_size


def _private(st: os.stat_result) -> bool:
    """Only the user's own files, writable by nobody else, are unpickled."""
    return (not hasattr(os, "getuid") or st.st_uid == os.getuid()) and not st.st_mode & 0o022
