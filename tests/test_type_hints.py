"""The public interface of the data modules (the DataLoader, storage, datasets, ratios, items)
carries type hints on every function, so that they cannot drift (issue 33 point 6)."""

import ast
import importlib
import inspect
import typing
from functools import cached_property
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT / "screener_crawler"
HINTED_MODULES = sorted(
    str(path.relative_to(PROJECT))
    for path in [PACKAGE / "data_loader.py", PACKAGE / "datasets.py", PACKAGE / "items.py",
                 *(PACKAGE / "storage").glob("*.py"), *(PACKAGE / "ratios").glob("*.py")]
)


def unhinted_functions(source: str) -> list[str]:
    """Qualified names of the public functions in ``source`` (methods, properties and nested
    functions too; not lambdas) missing a parameter or return annotation. ``__init__`` of a
    public class needs its parameters annotated, not its return."""
    missing = []

    def visit(node: ast.AST, scope: str, in_public_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{scope}{child.name}.", not child.name.startswith("_"))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                is_init = child.name == "__init__" and in_public_class
                if is_init or not child.name.startswith("_"):
                    arguments = [argument for argument in (*child.args.posonlyargs, *child.args.args,
                                                           *child.args.kwonlyargs)
                                 if argument.arg not in ("self", "cls")]
                    if any(argument.annotation is None for argument in arguments) or (
                            child.returns is None and not is_init):
                        missing.append(f"{scope}{child.name}")
                visit(child, f"{scope}{child.name}.", False)
            else:
                visit(child, scope, in_public_class)

    visit(ast.parse(source), "", False)
    return missing


def test_the_scan_names_public_functions_without_hints_and_passes_hinted_or_private_ones():
    source = '''
def bare(a, b: int) -> int: ...
def no_return(a: int): ...
def hinted(a: int, *, b: str = "") -> str: ...
def _private(a): ...
class Loader:
    def __init__(self, root): ...
    @property
    def size(self): ...
    def load(self, name: str) -> list:
        def inner(row): ...
        return [inner(row) for row in name]
class _Hidden:
    def __init__(self, index): ...
'''
    assert unhinted_functions(source) == ["bare", "no_return", "Loader.__init__", "Loader.size",
                                          "Loader.load.inner"]


@pytest.mark.parametrize("module", HINTED_MODULES)
def test_every_public_function_has_parameter_and_return_hints(module):
    missing = unhinted_functions((PROJECT / module).read_text())
    assert not missing, f"{module}: public functions without type hints: {', '.join(missing)}"


def _module_name(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _defined_functions(module: object) -> list[tuple[str, object]]:
    """(qualified name, function) of the public functions, methods and properties the module
    itself defines."""
    found = []
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value):
            found.append((name, value))
        elif inspect.isclass(value):
            for attribute, member in vars(value).items():
                if isinstance(member, property):
                    member = member.fget
                elif isinstance(member, cached_property):
                    member = member.func
                elif isinstance(member, staticmethod | classmethod):
                    member = member.__func__
                if inspect.isfunction(member) and (attribute == "__init__" or not attribute.startswith("_")):
                    found.append((f"{name}.{attribute}", member))
    return found


@pytest.mark.parametrize("module", HINTED_MODULES)
def test_every_hint_names_a_real_type(module):
    """The hints resolve (no misspelt or unimported name hides in a string annotation)."""
    loaded = importlib.import_module(_module_name(module))
    for name, function in _defined_functions(loaded):
        try:
            typing.get_type_hints(function)
        except Exception as error:  # noqa: BLE001 - the test reports whichever way a hint fails to resolve
            pytest.fail(f"{module}: the hints of {name} do not resolve: {error!r}")
