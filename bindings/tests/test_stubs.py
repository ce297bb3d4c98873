"""The type stubs (_tcpfault.pyi) describe the compiled module: no more, no less.

Type checkers and most editors read the stub, not the compiled module, so a name missing
from either side is a lie to someone. The stub is parsed with `ast`; the module is inspected,
with parameters read from the signatures pybind11 writes on the first docstring line.
"""

import ast
import pathlib
import re

import pytest

import tcpfault
from tcpfault import _tcpfault

PACKAGE_SOURCE = pathlib.Path(__file__).resolve().parents[1] / "python" / "tcpfault"
STUB = ast.parse((PACKAGE_SOURCE / "_tcpfault.pyi").read_text())
INIT = ast.parse((PACKAGE_SOURCE / "__init__.py").read_text())

# Keywords the rules take besides the match keywords (bind_faults.cpp, take_occurrence).
OCCURRENCE_KEYWORDS = {"nth", "count"}

# Dunders every pybind11 class or enum has; the stub needn't repeat them.
BOILERPLATE_DUNDERS = {"__repr__", "__str__", "__getstate__", "__setstate__", "__ne__"}


# ---- the stub, as ast sees it ----


def stub_classes():
    return {node.name: node for node in STUB.body if isinstance(node, ast.ClassDef)}


def stub_module_names():
    names = set(stub_classes())
    for node in STUB.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
    return public(names)


def stub_members(cls_node):
    """{name: (kind, node)} with kind 'property', 'method' or 'attribute'."""
    members = {}
    for node in cls_node.body:
        if isinstance(node, ast.FunctionDef):
            is_property = any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)
            members[node.name] = ("property" if is_property else "method", node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            members[node.target.id] = ("attribute", node)
    return members


# ---- the module, as inspection sees it ----


def public(names):
    return {n for n in names if not n.startswith("_")}


def runtime_classes():
    return {n: v for n, v in vars(_tcpfault).items() if isinstance(v, type) and not n.startswith("_")}


def runtime_members(cls):
    members = {}
    for name, value in vars(cls).items():
        if isinstance(value, property):
            kind = "property"
        elif isinstance(value, cls) or not callable(value):
            kind = "attribute"  # enum values, __members__
        else:
            kind = "method"
        members[name] = (kind, value)
    return members


def split_top_level(text):
    """Splits "a: Dict[str, int], b: int = 1" at the commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, c in enumerate(text):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:].strip())
    return parts


def runtime_signature(func):
    """pybind11's "name(self: T, a: T = 1, *, b: T, **kwargs) -> R" as a dict, or None if overloaded."""
    first = (func.__doc__ or "").splitlines()[0] if func.__doc__ else ""
    m = re.match(r"^\w*\((.*)\) -> (.+)$", first)
    if not m or "Overloaded function" in (func.__doc__ or ""):
        return None
    params, returns = split_top_level(m.group(1)), m.group(2)
    sig = {"positional": [], "kwonly": [], "varargs": False, "kwargs": False, "returns": returns}
    keyword_only = False
    for p in params[1:]:  # params[0] is self
        if p == "*":
            keyword_only = True
        elif p.startswith("**"):
            sig["kwargs"] = True
        elif p.startswith("*"):
            sig["varargs"] = keyword_only = True
        else:
            name, _, rest = p.partition(":")
            annotation, _, default = rest.partition(" = ")
            entry = (name.strip(), annotation.strip(), default.strip() or None)
            sig["kwonly" if keyword_only else "positional"].append(entry)
    return sig


def module_classes_in(text):
    return set(re.findall(r"tcpfault\._tcpfault\.(\w+)", text))


def names_in(annotation):
    if annotation is None:
        return set()
    return {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)} & set(runtime_classes())


def same_default(runtime_text, stub_node):
    try:
        return ast.literal_eval(runtime_text) == ast.literal_eval(stub_node)
    except ValueError:
        return True  # not a literal at runtime: nothing to compare


def match_keywords():
    """The match keywords, from the bindings' own error message for an unknown one."""
    with pytest.raises(TypeError) as caught:
        tcpfault.Match(no_such_keyword=1)
    return set(re.search(r"known: ([\w, ]+)", str(caught.value)).group(1).split(", "))


# ---- the tests ----


def test_module_names_match():
    runtime = public(dir(_tcpfault))
    stub = stub_module_names()
    assert sorted(runtime - stub) == [], "in the module, missing from the stub"
    assert sorted(stub - runtime) == [], "in the stub, missing from the module"


def test_module_constants_have_their_types():
    for node in STUB.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            value = getattr(_tcpfault, node.target.id)
            assert ast.unparse(node.annotation) == type(value).__name__, node.target.id


def test_every_role_and_state_is_a_module_name():
    for name, state in tcpfault.State.__members__.items():
        assert getattr(tcpfault, name) == state
    for name in ("SYN", "SYN_ACK", "HANDSHAKE_ACK", "DATA", "PURE_ACK", "FIN", "ACK_OF_FIN",
                 "FINAL_ACK", "RST", "KEEPALIVE", "WINDOW_PROBE", "RETRANSMISSION", "COPY"):
        assert isinstance(getattr(tcpfault, name), tcpfault.Roles), name


@pytest.mark.parametrize("name", sorted(runtime_classes()))
def test_class_bases_match(name):
    runtime = [b.__name__ for b in runtime_classes()[name].__bases__ if b.__name__ != "pybind11_object"]
    stub = [ast.unparse(b) for b in stub_classes()[name].bases]
    assert stub == runtime


@pytest.mark.parametrize("name", sorted(runtime_classes()))
def test_class_members_match(name):
    runtime = runtime_members(runtime_classes()[name])
    stub = stub_members(stub_classes()[name])
    assert sorted(public(runtime) - public(stub)) == [], "in the module, missing from the stub"
    assert sorted(public(stub) - public(runtime)) == [], "in the stub, missing from the module"
    for member in public(runtime):
        assert stub[member][0] == runtime[member][0], f"{name}.{member}: property, method or attribute"
    # Operators the bindings define (|, in, bool(), with ...) must be visible to checkers.
    operators = {n for n, (kind, _) in runtime.items()
                 if n.startswith("__") and kind == "method" and n not in BOILERPLATE_DUNDERS
                 and type(runtime[n][1]).__name__ == "instancemethod"}
    stub_dunders = {n for n in stub if n.startswith("__")}
    assert sorted(operators - stub_dunders) == [], "operators missing from the stub"
    assert sorted(n for n in stub_dunders if not hasattr(runtime_classes()[name], n)) == []


def methods_with_signatures():
    for cls_name, cls in sorted(runtime_classes().items()):
        in_stub = stub_members(stub_classes()[cls_name]) if cls_name in stub_classes() else {}
        for member, (kind, value) in sorted(runtime_members(cls).items()):
            if kind == "method" and member in in_stub and runtime_signature(value):
                yield cls_name, member


@pytest.mark.parametrize("cls_name, member", list(methods_with_signatures()))
def test_method_signatures_match(cls_name, member):
    runtime = runtime_signature(getattr(runtime_classes()[cls_name], member))
    _, node = stub_members(stub_classes()[cls_name])[member]
    args = node.args
    stub_positional = (args.posonlyargs + args.args)[1:]
    defaults = [None] * (len(stub_positional) - len(args.defaults)) + list(args.defaults)

    assert len(stub_positional) == len(runtime["positional"]), "positional parameters"
    for (name, annotation, default), stub_arg, stub_default in zip(runtime["positional"], stub_positional, defaults):
        if not re.fullmatch(r"arg\d+", name):  # argN: pybind11 gave it no name
            assert stub_arg.arg == name
        assert (stub_default is None) == (default is None), f"{name}: default or not"
        if default is not None:
            assert same_default(default, stub_default), f"{name}: default {default}"
        # == takes any object (pybind11 answers NotImplemented for other types).
        if member != "__eq__":
            assert module_classes_in(annotation) <= names_in(stub_arg.annotation), f"{name}: type"
    assert bool(args.vararg) == runtime["varargs"]
    assert bool(args.kwarg) <= runtime["kwargs"], "the stub takes **kwargs the module does not"

    stub_kwonly = {a.arg: (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults)}
    for name, annotation, default in runtime["kwonly"]:
        assert name in stub_kwonly, f"keyword-only {name}"
        stub_arg, stub_default = stub_kwonly[name]
        assert (stub_default is None) == (default is None), f"{name}: default or not"
        if default is not None:
            assert same_default(default, stub_default), f"{name}: default {default}"
    # Keywords the module reads from **kwargs: the match keywords (and, for rules, nth/count).
    expected = {name for name, _, _ in runtime["kwonly"]}
    if runtime["kwargs"]:
        given = {name for name, _, _ in runtime["positional"] + runtime["kwonly"]}
        extra = match_keywords() | (OCCURRENCE_KEYWORDS if cls_name == "Faults" else set())
        expected |= extra - given
    assert sorted(stub_kwonly) == sorted(expected), "keyword-only parameters"

    assert module_classes_in(runtime["returns"]) == names_in(node.returns), "return type"
    if runtime["returns"] == "None":
        assert ast.unparse(node.returns) == "None"


@pytest.mark.parametrize("name", sorted(runtime_classes()))
def test_property_types_match(name):
    stub = stub_members(stub_classes()[name])
    for member, (kind, value) in runtime_members(runtime_classes()[name]).items():
        if kind != "property" or member.startswith("_"):
            continue
        returns = (value.fget.__doc__ or "").splitlines()[0].rpartition(" -> ")[2]
        assert module_classes_in(returns) == names_in(stub[member][1].returns), f"{name}.{member}"


def test_enum_name_is_a_property():
    assert tcpfault.Host.CLIENT.name == "CLIENT"
    assert tcpfault.TIME_WAIT.name == "TIME_WAIT"


def test_package_ships_the_stub():
    built = pathlib.Path(_tcpfault.__file__).parent
    assert (built / "_tcpfault.pyi").is_file()
    assert (built / "py.typed").is_file()


def test_package_reexports_for_type_checkers():
    # Type checkers treat `from m import X` as private; `X as X` (or `*`) re-exports.
    for node in INIT.body:
        if isinstance(node, ast.ImportFrom) and node.module == "_tcpfault":
            for alias in node.names:
                assert alias.name == "*" or alias.asname == alias.name, alias.name
    # Names the package adds to the module's are annotated, so checkers know their types.
    annotated = {n.target.id for n in INIT.body if isinstance(n, ast.AnnAssign)}
    added = {n for n in dir(tcpfault) if not n.startswith("_") and not hasattr(_tcpfault, n)
             and not isinstance(getattr(tcpfault, n), type(tcpfault))}
    assert sorted(added - annotated) == []
    for name in dir(_tcpfault):
        if not name.startswith("_"):
            assert getattr(tcpfault, name) is getattr(_tcpfault, name), name
