"""The generic plug-in registry (engine.base.registry) and the registries built on it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeGuard

import pytest

import engine.base.registry
from engine.base.errors import BadInput, NotFound, NotifierError, RectifyError, UnknownPlugin
from engine.base.registry import Registry


class Widget:
    name = ""


class Gear(Widget):
    pass


class Spring(Widget):
    pass


NOT_A_WIDGET = "a string"
GROUP = "rectify.test_widgets"
PLUGIN = "rectify_test_widget_plugin"


def is_widget(obj: object) -> TypeGuard[type[Widget]]:
    return isinstance(obj, type) and issubclass(obj, Widget)


def widgets(**options) -> Registry[type[Widget]]:
    return Registry("widget 部件", is_widget, "a subclass of tests.test_registry.Widget", **options)


def test_a_name_is_registered_once():
    registry = widgets()
    assert registry.register("gear")(Gear) is Gear
    registry.add("gear", Gear)  # the same object again: no harm
    with pytest.raises(ValueError, match=r"widget 'gear' is already registered \(tests.test_registry.Gear\); "
                                         r"register tests.test_registry.Spring under another name"):
        registry.register("gear")(Spring)
    with pytest.raises(TypeError, match="is not a subclass of tests.test_registry.Widget"):
        registry.add("text", NOT_A_WIDGET)  # type: ignore[arg-type]
    assert registry.names() == ["gear"]
    assert registry.get("gear") is Gear


def test_an_unknown_name_lists_the_known_ones():
    registry = widgets()
    registry.add("spring", Spring)
    registry.add("gear", Gear)
    with pytest.raises(UnknownPlugin, match=r"^未知的部件“cog” / unknown widget 'cog'; known widgets: gear, spring$") as info:
        registry.get("cog")
    error = info.value
    assert isinstance(error, NotFound)
    assert isinstance(error, RectifyError)
    assert error.exit_code == 2
    assert (error.kind, error.key, error.known) == ("widget 部件", "cog", ["gear", "spring"])
    with pytest.raises(UnknownPlugin, match="unknown widget '5'"):
        registry.get(5)  # type: ignore[arg-type]  # a YAML value can be anything


def test_a_dotted_path_is_imported_and_type_checked():
    named: list[tuple[str, type[Widget]]] = []
    registry = widgets(dotted_paths=True, named=lambda name, cls: named.append((name, cls)))
    assert registry.get("tests.test_registry:Gear") is Gear
    assert named == [("tests.test_registry:Gear", Gear)]
    with pytest.raises(UnknownPlugin, match=r"cannot load widget 'tests.test_registry:NOT_A_WIDGET': "
                                            r"it is not a subclass of tests.test_registry.Widget"):
        registry.get("tests.test_registry:NOT_A_WIDGET")
    for path, why in [("no_such_module_x:Gear", "ModuleNotFoundError"), (":x", "ValueError"),
                      (".x:y", "TypeError"), ("tests.test_registry:Nope", "AttributeError")]:
        with pytest.raises(UnknownPlugin, match=f"cannot load widget '{path}': {why}: .*'package.module:Name'"):
            registry.get(path)
    assert registry.names() == []  # looking up by path registers nothing
    with pytest.raises(UnknownPlugin, match="unknown widget 'tests.test_registry:Gear'"):
        widgets().get("tests.test_registry:Gear")  # a registry without dotted paths


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A package declaring widgets in an entry-point group, installed on sys.path."""
    def install(entry_points: str, module: str = "from tests.test_registry import Widget\n\n"
                                                 "class Cog(Widget):\n    pass\n") -> None:
        (tmp_path / f"{PLUGIN}.py").write_text(module, encoding="utf-8")
        dist = tmp_path / "widget_plugin-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: widget-plugin\nVersion: 0.1\n", encoding="utf-8")
        (dist / "entry_points.txt").write_text(f"[{GROUP}]\n{entry_points}", encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))

    yield install
    sys.modules.pop(PLUGIN, None)


def test_entry_points_are_loaded_lazily_and_once(installed, monkeypatch):
    installed(f"cog = {PLUGIN}:Cog\ngear = {PLUGIN}:Cog\n")
    scans = []
    real = engine.base.registry.entry_points
    monkeypatch.setattr(engine.base.registry, "entry_points", lambda **kw: scans.append(kw) or real(**kw))
    registry = widgets(entry_points=GROUP)
    registry.add("gear", Gear)
    assert registry.get("gear") is Gear
    assert scans == []
    cog = registry.get("cog")
    assert cog.__name__ == "Cog"
    assert cog.__module__ == PLUGIN
    assert registry.names() == ["cog", "gear"]
    assert registry.get("gear") is Gear
    with pytest.raises(UnknownPlugin, match="known widgets: cog, gear"):
        registry.get("spring")
    assert scans == [{"group": GROUP}]


def test_a_broken_entry_point_is_named_with_its_package(installed):
    installed(f"cog = {PLUGIN}:Missing\nwheel = {PLUGIN}:NOT_A_WIDGET\n", module="NOT_A_WIDGET = 1\n")
    registry = widgets(entry_points=GROUP)
    with pytest.raises(UnknownPlugin, match=rf"cannot load widget 'cog': entry point cog = {PLUGIN}:Missing of "
                                            r"widget-plugin 0.1: AttributeError: .*reinstall or uninstall"):
        registry.names()
    with pytest.raises(UnknownPlugin, match="cannot load widget 'cog'"):  # again, until it is fixed
        registry.get("wheel")


def test_the_rule_registry_holds_the_builtin_rules_and_their_typed_parameters():
    import rules
    from engine.spec.rule_registry import rules_registry
    from rules.base import NoParams, Rule
    from rules.facts import FactsParams, FactsRecorded

    assert rules_registry.names() == sorted(rule.name for rule in rules.BUILTIN)
    assert all(rules_registry.get(rule.name) is rule for rule in rules.BUILTIN)
    assert FactsRecorded.Params is FactsParams  # from Rule[FactsParams]

    class Plain(Rule):
        pass

    class Explicit(Rule[FactsParams]):
        Params = FactsParams

    class Derived(FactsRecorded):
        pass

    assert (Plain.Params, Explicit.Params, Derived.Params) == (NoParams, FactsParams, FactsParams)
    with pytest.raises(UnknownPlugin, match="cannot load rule 'rules.base:Rule': it is not a subclass"):
        rules_registry.get("rules.base:Rule")


def test_every_project_error_is_under_the_one_tree():
    from engine.base.failpoints import FailpointError
    from notifiers.base import DeliveryError
    from notifiers.render import NoticeTemplateError

    assert issubclass(DeliveryError, NotifierError)
    assert issubclass(NotifierError, RectifyError)
    assert DeliveryError("x").exit_code == 1
    template = NoticeTemplateError("reminder.j2", 3, "unknown variable 'x'")
    assert isinstance(template, BadInput)
    assert template.exit_code == 2
    assert str(template) == "reminder.j2:3: unknown variable 'x'"
    assert not issubclass(FailpointError, RectifyError)  # a simulated crash is no project error
