"""The expression language (Jinja2 in a hardened sandbox): parsing, static analysis, evaluation.

Saving or validating a workflow parses its templates and expressions but never evaluates them
(DESIGN §3): parsing never renders, compiles or constant-folds, so a hostile source such as
``{{ 9 ** 9 ** 9 ** 9 }}`` costs no more than its length to check. Evaluation
(:func:`evaluate_expression`, :func:`render_template`) runs compiled sources with every bound of
DESIGN §3 enforced while they run; see "evaluation" below.

The analysis finds every reference to the evaluation context (``inputs``, ``vars``, ``run``,
``nodes``, ``loop``, ``loops``) so the validator can check that a node only reads what is upstream
of it. References into ``nodes`` and ``loops`` must be static (``nodes.x`` or ``nodes['x']``):
anything computed would defeat that check.

Problem codes raised as :class:`ExpressionError` by parsing and analysis:

- ``expression_too_long``: the source is longer than :data:`MAX_SOURCE_LENGTH` characters.
- ``invalid_template`` / ``invalid_expression``: Jinja cannot parse (or compile) the source.
- ``forbidden_tag``: a ``macro``, ``call``, ``import``, ``from``, ``include``, ``extends`` or
  ``filter`` block.
- ``dynamic_node_ref``: ``nodes`` or ``loops`` used other than with a static name.
- ``unknown_name``: a variable, filter or test that does not exist.
- ``unknown_reference_field``: a field the context does not have, e.g. ``nodes.x.outptu``.

and by evaluation (besides the parsing codes, since evaluating parses first):

- ``undefined``: a name, attribute or item that does not exist (``inputs has no attribute 'x'``).
- ``unsafe``: the sandbox refused something (``__class__``, ``_private``, a mutating method …).
- ``evaluation_error``: any other failure while running: a type error, division by zero …
- ``range_too_large``: ``range()`` over :data:`MAX_RANGE_LENGTH` numbers.
- ``value_too_large``: a built value (text, list, map, number) over :data:`MAX_VALUE_SIZE`.
- ``exponent_too_large``: ``**`` with an exponent over :data:`MAX_EXPONENT`.
- ``loop_limit``: more than :data:`MAX_ITERATIONS` loop passes and filter items in one evaluation.
- ``output_too_large``: rendered text over :data:`MAX_OUTPUT_SIZE` characters.
- ``non_json_value``: the result is not JSON (a function, a set, NaN …).
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
import string
import types
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Sequence,
    ValuesView,
)
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, TypeGuard

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.filters import make_attrgetter
from jinja2.parser import Parser
from jinja2.runtime import BlockReference, Context, LoopContext, Undefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context

SourceKind = Literal["template", "expression"]

MAX_SOURCE_LENGTH = 10_240

CONTEXT_ROOTS = frozenset({"inputs", "vars", "run", "nodes", "loop", "loops"})
REMOVED_GLOBALS = ("lipsum", "cycler", "joiner", "namespace")

NODE_FIELDS = frozenset({"output", "status"})
LOOP_FIELDS = frozenset({"item", "index", "previous"})
ENCLOSING_LOOP_FIELDS = frozenset({"item", "index"})
RUN_FIELDS = frozenset({"id", "started_at"})

_FIELDS_BY_ROOT: dict[str, frozenset[str]] = {"run": RUN_FIELDS, "loop": LOOP_FIELDS}
_FIELDS_OF_NAMED: dict[str, frozenset[str]] = {"nodes": NODE_FIELDS, "loops": ENCLOSING_LOOP_FIELDS}
_NAMED_ROOTS = frozenset(_FIELDS_OF_NAMED)

_FORBIDDEN_TAGS: dict[type[nodes.Node], str] = {
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.FilterBlock: "filter",
}

_DYNAMIC = None
"""Marks an accessor that is not a static string (``nodes[name]``, ``nodes[0]``, a slice …)."""


class ExpressionError(Exception):
    """A template or expression that cannot be accepted, with a stable ``code`` and a 1-based line."""

    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line

    def __repr__(self) -> str:
        return f"ExpressionError({self.code!r}, {self.message!r}, line={self.line!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExpressionError):
            return NotImplemented
        return (self.code, self.message, self.line) == (other.code, other.message, other.line)

    def __hash__(self) -> int:
        return hash((self.code, self.message, self.line))


@dataclass(frozen=True)
class Reference:
    """One read of the evaluation context.

    ``name`` is the node id for ``nodes``, the loop id for ``loops``, the variable for ``vars`` and
    the first key for ``inputs`` (None when the whole root is used, or the key is computed).
    ``field`` is the attribute read next: ``output`` in ``nodes.x.output``, ``index`` in
    ``loop.index`` or ``loops.outer.index``, ``id`` in ``run.id``.
    """

    root: str
    name: str | None
    field: str | None
    line: int


@dataclass(frozen=True, eq=False)
class ParsedSource:
    """A parsed template (a ``jinja2.nodes.Template``) or bare expression (a ``jinja2.nodes.Expr``)."""

    source: str
    kind: SourceKind
    tree: nodes.Node


@dataclass(frozen=True)
class Analysis:
    """Everything static analysis learns about one source; ``problems`` is empty when it is usable."""

    references: tuple[Reference, ...]
    problems: tuple[ExpressionError, ...]


def make_environment() -> ImmutableSandboxedEnvironment:
    """The hardened environment every template and expression is parsed and run in.

    ``StrictUndefined`` turns a typo into an error instead of an empty string; the removed globals
    are either useless in workflows or give templates mutable state (``namespace``) to abuse. The
    class (:class:`HardenedEnvironment`, defined with the evaluation code below) also carries every
    resource bound, so a template run through it cannot escape them.
    """
    return HardenedEnvironment()


def parse_template(source: str) -> ParsedSource:
    """Parse a template such as ``"Hello {{ inputs.name }}"``; raises :class:`ExpressionError`."""
    _check_length(source)
    try:
        tree: nodes.Node = _ENVIRONMENT.parse(source)
    except TemplateSyntaxError as error:
        raise ExpressionError("invalid_template", _syntax_message(error), error.lineno) from None
    except RecursionError:
        raise ExpressionError("invalid_template", "The template is nested too deeply.") from None
    except ValueError as error:
        raise ExpressionError("invalid_template", _value_message(error)) from None
    _reject_forbidden_tags(tree)
    return ParsedSource(source, "template", tree)


def parse_expression(source: str) -> ParsedSource:
    """Parse a bare expression such as ``inputs.n > 3``, which must make up the whole source."""
    _check_length(source)
    try:
        parser = Parser(_ENVIRONMENT, source, state="variable")
        tree: nodes.Node = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            raise TemplateSyntaxError(
                f"unexpected {token.value!r} after the end of the expression", token.lineno
            )
    except TemplateSyntaxError as error:
        message = _syntax_message(error).replace("end of template", "end of expression")
        raise ExpressionError("invalid_expression", message, error.lineno) from None
    except RecursionError:
        raise ExpressionError("invalid_expression", "The expression is nested too deeply.") from None
    except ValueError as error:
        raise ExpressionError("invalid_expression", _value_message(error)) from None
    return ParsedSource(source, "expression", tree)


def parse(source: str, kind: SourceKind) -> ParsedSource:
    return parse_expression(source) if kind == "expression" else parse_template(source)


def references(parsed: ParsedSource) -> list[Reference]:
    """The context references of a parsed source; raises :class:`ExpressionError` on the first problem."""
    found, problems = _analyse_tree(parsed.tree)
    if problems:
        raise problems[0]
    return list(found)


def analyse(source: str, kind: SourceKind) -> Analysis:
    """Parse and analyse ``source`` without raising; every problem found is reported.

    Results for sources up to :data:`CACHED_SOURCE_LENGTH` characters are cached, because the same
    graph is analysed on every save, validate and publish; longer ones are rare and would make the
    cache's memory unbounded in practice. Simple sources (see :func:`_simple_references`), the large
    majority, are analysed without the Jinja parser, which costs about a tenth of a millisecond.
    """
    if len(source) > CACHED_SOURCE_LENGTH:
        return analyse_uncached(source, kind)
    return _analyse_cached(source, kind)


CACHED_SOURCE_LENGTH = 2_048


@functools.lru_cache(maxsize=4_096)
def _analyse_cached(source: str, kind: SourceKind) -> Analysis:
    return analyse_uncached(source, kind)


def analyse_uncached(source: str, kind: SourceKind, *, use_shortcut: bool = True) -> Analysis:
    """:func:`analyse` without the cache; ``use_shortcut=False`` forces the Jinja parser."""
    try:
        _check_length(source)
    except ExpressionError as error:
        return Analysis((), (error,))
    shortcut = _simple_references(source, kind) if use_shortcut else None
    if shortcut is not None:
        return _classify_all(shortcut)
    try:
        parsed = parse(source, kind)
    except ExpressionError as error:
        return Analysis((), (error,))
    found, problems = _analyse_tree(parsed.tree)
    return Analysis(tuple(found), tuple(problems))


def is_single_expression_template(parsed: ParsedSource) -> bool:
    """Whether a template is exactly one ``{{ expr }}`` (whitespace aside), so it keeps its JSON type."""
    tree = parsed.tree
    if not isinstance(tree, nodes.Template) or len(tree.body) != 1:
        return False
    output = tree.body[0]
    if not isinstance(output, nodes.Output):
        return False
    expressions = [
        item for item in output.nodes if not (isinstance(item, nodes.TemplateData) and not item.data.strip())
    ]
    return len(expressions) == 1 and not isinstance(expressions[0], nodes.TemplateData)


# --- parsing helpers ------------------------------------------------------------------------------


def _check_length(source: str) -> None:
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            "expression_too_long",
            f"This is {len(source)} characters long; the limit is {MAX_SOURCE_LENGTH}.",
        )


def _value_message(error: ValueError) -> str:
    """Jinja's lexer converts literals with ``int()``, which refuses numbers over 4 300 digits."""
    if "digits" in str(error):
        return "A number in it has too many digits."
    return f"It cannot be read: {error}"


def _syntax_message(error: TemplateSyntaxError) -> str:
    message = error.message or "syntax error"
    return message[:1].upper() + message[1:] if message else message


def _reject_forbidden_tags(tree: nodes.Node) -> None:
    forbidden = tuple(_FORBIDDEN_TAGS)
    for node in _iterate(tree):
        if isinstance(node, forbidden):
            tag = _FORBIDDEN_TAGS[type(node)]
            raise ExpressionError(
                "forbidden_tag",
                f"The '{{% {tag} %}}' tag is not allowed in workflow templates.",
                node.lineno,
            )


def _iterate(tree: nodes.Node) -> Iterator[nodes.Node]:
    """Every node of a tree, depth first, without recursion: ``1+1+…`` builds very deep trees."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(node.iter_child_nodes())))


# --- reference analysis ---------------------------------------------------------------------------

Accessor = str | None
RawReference = tuple[str, tuple[Accessor, ...], int]
"""A context root, the static accessors read from it (None where one is computed) and a line."""


def _analyse_tree(tree: nodes.Node) -> tuple[list[Reference], list[ExpressionError]]:
    raw, problems = _collect_raw_references(tree)
    analysis = _classify_all(raw)
    return list(analysis.references), [*problems, *analysis.problems]


def _classify_all(raw_references: Sequence[RawReference]) -> Analysis:
    found: list[Reference] = []
    problems: list[ExpressionError] = []
    for root, accessors, line in raw_references:
        outcome = _classify(root, accessors, line)
        if isinstance(outcome, ExpressionError):
            problems.append(outcome)
        else:
            found.append(outcome)
    return Analysis(tuple(dict.fromkeys(found)), tuple(dict.fromkeys(problems)))


def _classify(root: str, accessors: tuple[Accessor, ...], line: int) -> Reference | ExpressionError:
    first = accessors[0] if accessors else _DYNAMIC
    second = accessors[1] if len(accessors) > 1 else _DYNAMIC
    if root in _NAMED_ROOTS:
        if first is _DYNAMIC:
            return ExpressionError(
                "dynamic_node_ref",
                f"'{root}' must be followed by a fixed name, like {root}.some_id or {root}['some_id'].",
                line,
            )
        allowed = _FIELDS_OF_NAMED[root]
        if second is not _DYNAMIC and second not in allowed:
            return _unknown_field(f"{root}.{first}", second, allowed, line)
        return Reference(root, first, second, line)
    if root in _FIELDS_BY_ROOT:
        allowed = _FIELDS_BY_ROOT[root]
        if first is not _DYNAMIC and first not in allowed:
            return _unknown_field(root, first, allowed, line)
        return Reference(root, None, first, line)
    return Reference(root, first, second, line)


def _unknown_field(owner: str, field: str, allowed: frozenset[str], line: int) -> ExpressionError:
    choices = ", ".join(sorted(allowed))
    return ExpressionError(
        "unknown_reference_field", f"{owner} has no field '{field}' (it has: {choices}).", line
    )


def _collect_raw_references(tree: nodes.Node) -> tuple[list[RawReference], list[ExpressionError]]:
    """Walk the tree in evaluation order, tracking names a template binds itself.

    Names bound with ``{% set %}`` stay bound for the rest of their block; ``{% for %}`` binds its
    targets and Jinja's own ``loop`` inside its body only, so ``loop`` there is not ours.
    """
    raw: list[RawReference] = []
    problems: list[ExpressionError] = []
    known_globals = frozenset(_ENVIRONMENT.globals)
    stack: list[tuple[nodes.Node | None, set[str], list[str]]] = [(tree, set(), [])]
    while stack:
        node, scope, bind_after = stack.pop()
        if node is None:
            scope.update(bind_after)
            continue
        if isinstance(node, nodes.Name):
            if node.ctx != "load" or node.name in scope:
                continue
            if node.name in CONTEXT_ROOTS:
                raw.append((node.name, (), node.lineno))
            elif node.name not in known_globals:
                problems.append(_unknown_name(node.name, node.lineno))
            continue
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            base, accessors, computed = _unwind(node)
            if _is_context_root(base, scope):
                raw.append((base.name, accessors, base.lineno))
                stack.extend((child, scope, []) for child in reversed(computed))
                continue
            stack.extend((child, scope, []) for child in reversed([base, *computed]))
            continue
        if isinstance(node, nodes.Filter | nodes.Test):
            catalogue = _ENVIRONMENT.filters if isinstance(node, nodes.Filter) else _ENVIRONMENT.tests
            if node.name not in catalogue:
                kind = "filter" if isinstance(node, nodes.Filter) else "test"
                problems.append(
                    ExpressionError("unknown_name", f"There is no {kind} named '{node.name}'.", node.lineno)
                )
        if isinstance(node, nodes.For):
            inner = {*scope, *_bound_names(node.target), "loop"}
            stack.extend((child, scope, []) for child in reversed(node.else_))
            stack.extend((child, inner, []) for child in reversed(node.body))
            if node.test is not None:
                stack.append((node.test, inner, []))
            stack.append((node.iter, scope, []))
            continue
        if isinstance(node, nodes.Assign | nodes.AssignBlock):
            stack.append((None, scope, _bound_names(node.target)))
            values: list[nodes.Node] = [node.node] if isinstance(node, nodes.Assign) else list(node.body)
            if isinstance(node, nodes.AssignBlock) and node.filter is not None:
                values.append(node.filter)
            stack.extend((child, scope, []) for child in reversed(values))
            continue
        if isinstance(node, nodes.With):
            inner = {*scope, *(name for target in node.targets for name in _bound_names(target))}
            stack.extend((child, inner, []) for child in reversed(node.body))
            stack.extend((child, scope, []) for child in reversed(node.values))
            continue
        if isinstance(node, nodes.Block | nodes.Scope):
            inner = set(scope)
            stack.extend((child, inner, []) for child in reversed(list(node.iter_child_nodes())))
            continue
        stack.extend((child, scope, []) for child in reversed(list(node.iter_child_nodes())))
    return raw, problems


def _is_context_root(node: nodes.Node, scope: set[str]) -> TypeGuard[nodes.Name]:
    """Whether ``node`` names one of our context roots rather than a template's own variable."""
    return (
        isinstance(node, nodes.Name)
        and node.ctx == "load"
        and node.name in CONTEXT_ROOTS
        and node.name not in scope
    )


def _unwind(node: nodes.Getattr | nodes.Getitem) -> tuple[nodes.Node, tuple[Accessor, ...], list[nodes.Node]]:
    """Split ``a.b['c'][d]`` into its base ``a``, its accessors and the computed keys to visit."""
    accessors: list[Accessor] = []
    computed: list[nodes.Node] = []
    current: nodes.Node = node
    while isinstance(current, nodes.Getattr | nodes.Getitem):
        if isinstance(current, nodes.Getattr):
            accessors.append(current.attr)
        elif isinstance(current.arg, nodes.Const) and isinstance(current.arg.value, str):
            accessors.append(current.arg.value)
        else:
            accessors.append(_DYNAMIC)
            computed.append(current.arg)
        current = current.node
    accessors.reverse()
    computed.reverse()
    first_dynamic = accessors.index(_DYNAMIC) if _DYNAMIC in accessors else len(accessors)
    return current, tuple(accessors[: first_dynamic + 1]), computed


def _bound_names(target: nodes.Node) -> list[str]:
    return [
        node.name
        for node in _iterate(target)
        if isinstance(node, nodes.Name) and node.ctx in ("store", "param")
    ]


def _unknown_name(name: str, line: int) -> ExpressionError:
    roots = ", ".join(sorted(CONTEXT_ROOTS))
    return ExpressionError("unknown_name", f"'{name}' is not defined here (available: {roots}).", line)


# --- the shortcut for simple sources --------------------------------------------------------------

_ROOT_PATTERN = "|".join(sorted(CONTEXT_ROOTS, key=len, reverse=True))
_SIMPLE_TOKEN = re.compile(
    rf"""
    \s*
    (?:
        (?P<path>(?:{_ROOT_PATTERN})(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?![A-Za-z0-9_])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<string>'[^'\\{{}}\n]*'|"[^"\\{{}}\n]*")
      | (?P<number>[0-9]{{1,100}}(?:\.[0-9]{{1,100}})?)
      | (?P<operator>==|!=|<=|>=|//|\*\*|[<>+\-*/%~])
      | (?P<open>\()
      | (?P<close>\))
    )
    """,
    re.VERBOSE,
)
_TRAILING_SPACE = re.compile(r"\s*")
_SIMPLE_INTERPOLATION = re.compile(r"\{\{([^{}]*)\}\}")
_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
_WORD_OPERATORS = frozenset({"and", "or", "in"})


def _simple_references(source: str, kind: SourceKind) -> list[RawReference] | None:
    """References of a simple source without the Jinja parser, or None when Jinja must decide.

    Simple means: for templates, text without ``{`` around ``{{ … }}`` interpolations; for
    expressions and interpolations, context paths (``nodes.x.output.text``), constants, quoted
    strings without escapes and numbers joined by binary operators, ``and``, ``or``, ``not``,
    ``in``, ``not in`` and parentheses. Every source accepted here is valid Jinja with the same
    references (a property test compares both); anything else goes to Jinja. ``\\r`` is left to
    Jinja, which counts it as a line break.
    """
    if "\r" in source:
        return None
    if kind == "expression":
        return _simple_expression(source, 0, len(source), 1)
    found: list[RawReference] = []
    position = 0
    for match in _SIMPLE_INTERPOLATION.finditer(source):
        if "{" in source[position : match.start()]:
            return None
        line = source.count("\n", 0, match.start(1)) + 1
        inner = _simple_expression(source, match.start(1), match.end(1), line)
        if inner is None:
            return None
        found.extend(inner)
        position = match.end()
    if "{" in source[position:]:
        return None
    return found


def _simple_expression(source: str, start: int, end: int, line: int) -> list[RawReference] | None:
    """Check ``source[start:end]`` against the simple grammar, collecting its context paths.

    A small state machine: an operand is expected at the start, after an operator and after
    ``(``; ``not`` only where Jinja allows it (at the start, after ``(``, ``and``, ``or`` or another
    ``not``), and before ``in`` as ``not in``.
    """
    found: list[RawReference] = []
    expecting_operand = True
    negation_allowed = True
    depth = 0
    position = start
    while True:
        trailing = _TRAILING_SPACE.match(source, position, end)
        if trailing is not None and trailing.end() == end:
            break
        match = _SIMPLE_TOKEN.match(source, position, end)
        if match is None:
            return None
        kind = match.lastgroup
        text = match.group(kind or 0)
        position = match.end()
        if expecting_operand:
            if kind == "path":
                root, *accessors = text.split(".")
                root_line = line + source.count("\n", start, match.start(kind))
                found.append((root, tuple(accessors[:2]), root_line))
                expecting_operand = False
            elif kind in ("string", "number") or (kind == "name" and text in _CONSTANTS):
                expecting_operand = False
            elif kind == "name" and text == "not" and negation_allowed:
                continue
            elif kind == "open":
                depth += 1
                negation_allowed = True
            else:
                return None
        elif kind == "operator" or (kind == "name" and text in _WORD_OPERATORS):
            expecting_operand = True
            negation_allowed = text in ("and", "or")
        elif kind == "name" and text == "not":
            follower = _SIMPLE_TOKEN.match(source, position, end)
            if follower is None or follower.group("name") != "in":
                return None
            position = follower.end()
            expecting_operand = True
            negation_allowed = False
        elif kind == "close" and depth > 0:
            depth -= 1
        else:
            return None
    return found if not expecting_operand and depth == 0 else None


# --- evaluation -----------------------------------------------------------------------------------
#
# Every bound of DESIGN §3 is enforced while a source runs, never by inspecting the source first:
#
# - ``range`` is replaced by :func:`bounded_range`; ``dict`` by :func:`bounded_dict` (the real
#   ``dict`` type would hand templates ``dict.update(inputs, …)``, which mutates the context).
# - ``*``, ``**``, ``+`` and ``%`` are intercepted (:meth:`HardenedEnvironment.call_binop`), and
#   ``~`` is compiled into :meth:`HardenedEnvironment.concatenate`; each computes the size of its
#   result from its operands and refuses before allocating.
# - Methods that grow text (``center``, ``ljust``, ``replace``, ``join``, ``format`` …) are checked
#   the same way when called (:meth:`HardenedEnvironment.call`); so are the filters that grow text
#   or repeat a value (:func:`_bounded_filter`).
# - List, tuple and map literals are measured when built. Because templates share values instead
#   of copying them, ``[x, x]`` twice nested doubles the text it writes; measuring each literal
#   (and remembering the size on the value, see :class:`_SizedList`) keeps every value a template
#   builds at most :data:`MAX_VALUE_SIZE` when written out, so printing, comparing or hashing it
#   stays cheap.
# - Every ``{% for %}`` pass, recursive passes included, and every item an iterating filter goes
#   through counts against :data:`MAX_ITERATIONS` on a per-evaluation counter held in a context
#   variable, so concurrent evaluations in worker threads never share one.
# - Rendered text is counted while it streams; ``{% set %}`` blocks and recursive loops, which
#   collect text instead of streaming it, collect into a :class:`_BoundedBuffer`.
# - Nothing is evaluated at compile time: the optimizer is off and ``finalize`` takes the context,
#   which stops Jinja from folding constant output.

MAX_RANGE_LENGTH = 10_000
MAX_VALUE_SIZE = 1_048_576
"""Characters a built value may take when written out (1 MB): text, or a list or map as text."""
MAX_OUTPUT_SIZE = 1_048_576
MAX_EXPONENT = 64
MAX_ITERATIONS = 100_000
MAX_INTEGER_DIGITS = 4_300
"""Python's own limit for turning an integer into text; a longer one could never be written out."""
COMPILED_CACHE_SIZE = 512

_CONTAINER_SIZE = 2
_SEPARATOR_SIZE = 2
_OPAQUE_SIZE = 32
"""Written size assumed for values that are not JSON (functions, ranges …); they are small."""
_REMEMBERED_SIZE_BUDGET = 8 * MAX_VALUE_SIZE
"""How much measured data the size memo may keep alive before it starts over."""
_RESULT_NAME = "result"


class _Evaluation:
    """The running totals of one evaluation.

    Held in a context variable, so each worker thread (and each nested generator resumed by it)
    sees only its own; a 90 000-pass render in one thread cannot push another over the limit.
    """

    __slots__ = ("iterations", "remembered_sizes", "remembered_total")

    def __init__(self) -> None:
        self.iterations = 0
        self.remembered_sizes: dict[int, tuple[object, int]] = {}
        self.remembered_total = 0

    def count(self, items: int = 1) -> None:
        self.iterations += items
        if self.iterations > MAX_ITERATIONS:
            raise ExpressionError(
                "loop_limit",
                f"This goes through more than {MAX_ITERATIONS:,} items in one evaluation "
                "(every loop pass and every item a filter handles counts).",
            )

    def check_size(self, size: int, what: str) -> None:
        if size > MAX_VALUE_SIZE:
            raise ExpressionError(
                "value_too_large", f"{what} would be larger than {MAX_VALUE_SIZE:,} characters (1 MB)."
            )

    def size_of(self, value: object) -> int:
        """The length of ``value`` written out, or ``MAX_VALUE_SIZE + 1`` once it is known to be more.

        Shared parts count every time they appear, as they would in the text. Lists and maps a
        template built carry their size; others (context data, filter results) are walked once,
        without recursion, and their sizes remembered by identity. The memo keeps what it measured
        alive so an identity is never reused, and starts over past a budget so it cannot hoard
        memory.
        """
        size = _known_size(value)
        if size is not None:
            return size
        remembered = self.remembered_sizes.get(id(value))
        if remembered is not None:
            return remembered[1]
        root = _PendingContainer(value)
        stack = [root]
        running_total = _CONTAINER_SIZE
        while stack:
            pending = stack[-1]
            descended = False
            for part in pending.parts:
                part_size = _known_size(part)
                if part_size is None:
                    remembered = self.remembered_sizes.get(id(part))
                    if remembered is None:
                        stack.append(_PendingContainer(part))
                        running_total += _CONTAINER_SIZE
                        descended = True
                        break
                    part_size = remembered[1]
                pending.size += part_size + _SEPARATOR_SIZE
                running_total += part_size + _SEPARATOR_SIZE
                if running_total > MAX_VALUE_SIZE:
                    return MAX_VALUE_SIZE + 1
            if descended:
                continue
            stack.pop()
            self._remember(pending.container, pending.size)
            if stack:
                stack[-1].size += pending.size + _SEPARATOR_SIZE
                running_total += _SEPARATOR_SIZE
                if running_total > MAX_VALUE_SIZE:
                    return MAX_VALUE_SIZE + 1
        return root.size

    def size_of_new(self, container: object, what: str) -> int:
        """The written size of a list, tuple or map just built, refusing it over the limit.

        Measured from its parts, so the new container itself is not kept in the memo.
        """
        size = _CONTAINER_SIZE
        for part in _parts_of(container):
            size += self.size_of(part) + _SEPARATOR_SIZE
            self.check_size(size, what)
        return size

    def _remember(self, container: object, size: int) -> None:
        if self.remembered_total + size > _REMEMBERED_SIZE_BUDGET:
            self.remembered_sizes.clear()
            self.remembered_total = 0
        self.remembered_sizes[id(container)] = (container, size)
        self.remembered_total += size


class _PendingContainer:
    __slots__ = ("container", "parts", "size")

    def __init__(self, container: object) -> None:
        self.container = container
        self.parts = _parts_of(container)
        self.size = _CONTAINER_SIZE


def _parts_of(container: object) -> Iterator[object]:
    if isinstance(container, dict):
        return (part for pair in container.items() for part in pair)
    if isinstance(container, Iterable):
        return iter(container)
    return iter(())


_MEASURED_CONTAINERS = (list, tuple, dict, set, frozenset, KeysView, ValuesView, ItemsView)


def _known_size(value: object) -> int | None:
    """The written size of a scalar or of a container that carries it; None for other containers."""
    if isinstance(value, str):
        return len(value) + 2
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return _digits(value) + 1
    if isinstance(value, float):
        return 24
    if isinstance(value, bytes | bytearray):
        return len(value) + 3
    if isinstance(value, _SizedList | _SizedTuple | _SizedDict):
        size: int | None = getattr(value, "_written_size", None)
        return size
    if isinstance(value, _MEASURED_CONTAINERS):
        return None
    return _OPAQUE_SIZE


def _digits(number: int) -> int:
    """An upper bound on the decimal digits of ``number``, without converting it."""
    return number.bit_length() * 30_103 // 100_000 + 1


class _SizedList(list[Any]):
    """A list a template built, carrying its written size so measuring what contains it is O(1).

    Instances made by other means (``{}.fromkeys`` on a sized map makes a sized map) lack the
    size and are measured like any other container.
    """

    _written_size: int


class _SizedTuple(tuple[Any, ...]):
    _written_size: int


class _SizedDict(dict[Any, Any]):
    _written_size: int


# Python's own error messages name the type ("'<' not supported between 'list' and 'str'"); a
# designer should see the type they wrote, not our subclass.
_SizedList.__name__ = _SizedList.__qualname__ = "list"
_SizedTuple.__name__ = _SizedTuple.__qualname__ = "tuple"
_SizedDict.__name__ = _SizedDict.__qualname__ = "dict"


def _with_size(value: Any, size: int) -> Any:
    """``value`` as a sized list, tuple or map (a shallow copy); other values unchanged."""
    sized: _SizedList | _SizedTuple | _SizedDict
    if isinstance(value, list):
        sized = _SizedList(value)
    elif isinstance(value, tuple) and type(value) is tuple:
        sized = _SizedTuple(value)
    elif isinstance(value, dict):
        sized = _SizedDict(value)
    else:
        return value
    sized._written_size = size
    return sized


_CURRENT_EVALUATION: contextvars.ContextVar[_Evaluation | None] = contextvars.ContextVar(
    "flowdeck_expression_evaluation", default=None
)


def _current_evaluation() -> _Evaluation:
    """The evaluation running in this thread.

    Outside one (Jinja trying to fold constants at compile time, or someone rendering through the
    environment directly) every bounded operation refuses to run, so nothing escapes the bounds.
    """
    evaluation = _CURRENT_EVALUATION.get()
    if evaluation is None:
        raise RuntimeError("Templates run only through render_template() or evaluate_expression().")
    return evaluation


# --- globals --------------------------------------------------------------------------------------


def bounded_range(*arguments: int) -> range:
    """``range`` for templates, refusing more than :data:`MAX_RANGE_LENGTH` numbers."""
    numbers = range(*arguments)
    try:
        length = len(numbers)
    except OverflowError:
        length = MAX_RANGE_LENGTH + 1
    if length > MAX_RANGE_LENGTH:
        raise ExpressionError(
            "range_too_large",
            f"range() would give more than {MAX_RANGE_LENGTH:,} numbers.",
        )
    return numbers


def bounded_dict(*arguments: Any, **items: Any) -> dict[Any, Any]:
    """``dict(a=1)`` for templates: a function, because the ``dict`` type's unbound methods mutate."""
    evaluation = _current_evaluation()
    built = dict(*arguments, **items)
    result: dict[Any, Any] = _with_size(built, evaluation.size_of_new(built, "This map"))
    return result


# --- size estimates for growing operations --------------------------------------------------------


def _as_text(evaluation: _Evaluation, value: Any) -> str:
    """``str(value)`` for a filter that works on text, measured first so it cannot blow up."""
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    evaluation.check_size(evaluation.size_of(value), "This value written as text")
    return str(value)


_PRINTF_FIELD = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?(?P<kind>.?)",
    re.DOTALL,
)
_DIGIT_RUN = re.compile(r"\d+")


def _number_in_format(digits: str) -> int:
    return int(digits) if len(digits) <= 9 else MAX_VALUE_SIZE + 1


def _printf_size(evaluation: _Evaluation, template: str | bytes | bytearray, arguments: Any) -> int:
    """An upper bound on the length of ``template % arguments``, without formatting it.

    Fields take their arguments in order, as Python's ``%`` does (``*`` widths take one too);
    ``%(key)s`` fields read the mapping.
    """
    text = template.decode("latin-1") if isinstance(template, bytes | bytearray) else template
    positional: list[Any] = list(arguments) if isinstance(arguments, tuple) else [arguments]
    mapping = arguments if isinstance(arguments, Mapping) else None
    next_index = 0
    total = len(text)
    for field in _PRINTF_FIELD.finditer(text):
        if field.group("kind") == "%":
            continue
        for number in (field.group("width"), field.group("precision")):
            if number == "*":
                taken = positional[next_index] if next_index < len(positional) else 0
                next_index += 1
                total += abs(taken) if isinstance(taken, int) else 0
            elif number:
                total += _number_in_format(number)
        key = field.group("key")
        if key is not None and mapping is not None:
            total += evaluation.size_of(mapping.get(key, ""))
        else:
            total += evaluation.size_of(positional[next_index]) if next_index < len(positional) else 0
            next_index += 1
        if total > MAX_VALUE_SIZE:
            break
    return total


def _format_size(
    evaluation: _Evaluation, template: str, positional: Sequence[Any], named: Mapping[str, Any]
) -> int | None:
    """An upper bound on the length of ``template.format(...)``; None when the template is malformed.

    Fields are matched to their arguments as Python numbers them, except when a spec holds nested
    fields (``{:{}}``), which renumber the fields after them: then every positional field counts
    as the largest positional argument.
    """
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return None
    integers = [abs(item) for item in (*positional, *named.values()) if isinstance(item, int)]
    largest_integer = max(integers, default=0)
    sizes = [evaluation.size_of(item) for item in positional]
    nested = any(spec and "{" in spec for _literal, _field, spec, _conversion in fields)
    next_index = 0
    total = 0
    for literal, field_name, spec, _conversion in fields:
        total += len(literal)
        if field_name is None:
            continue
        first = re.split(r"[.\[]", field_name, maxsplit=1)[0]
        if first == "" or first.isdigit():
            index = next_index if first == "" else int(first) if len(first) <= 9 else len(sizes)
            next_index += first == ""
            total += max(sizes, default=0) if nested else sizes[index] if index < len(sizes) else 0
        elif first in named:
            total += evaluation.size_of(named[first])
        for digits in _DIGIT_RUN.findall(spec or ""):
            total += _number_in_format(digits)
        if spec and "{" in spec:
            total += largest_integer
        if total > MAX_VALUE_SIZE:
            break
    return total


def _pretty_size(value: object, indent_width: int) -> int:
    """An upper bound on the length of ``value`` pretty-printed with ``indent_width`` per level.

    Each item goes on its own line, indented by its depth. Stops once over the limit, so it costs
    at most one pass over a megabyte of items.
    """
    total = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        line = 1 + indent_width * depth
        size = _known_size(item)
        if size is None or isinstance(item, _SizedList | _SizedTuple | _SizedDict):
            total += _CONTAINER_SIZE + line
            stack.extend((part, depth + 1) for part in _parts_of(item))
        else:
            total += size + line
        if total > MAX_VALUE_SIZE:
            return MAX_VALUE_SIZE + 1
    return total


# --- methods called from templates ----------------------------------------------------------------

_TEXT_TYPES = (str, bytes, bytearray)
_SHARED_COPY_METHODS = frozenset({"copy", "keys", "values", "items", "get"})


def _method_target(callee: Any) -> tuple[object, str] | None:
    """The object a method is bound to and its name, seeing through the sandbox's ``format`` wrapper."""
    if isinstance(callee, types.FunctionType):
        callee = callee.__dict__.get("__wrapped__")
    if isinstance(callee, types.BuiltinMethodType | types.MethodType):
        return callee.__self__, callee.__name__
    return None


def _check_text_method(
    evaluation: _Evaluation,
    text: str | bytes | bytearray,
    name: str,
    arguments: tuple[Any, ...],
    keywords: dict[str, Any],
) -> tuple[Any, ...]:
    """Refuse a text method whose result would be over the limit, before it allocates.

    Returns the arguments to call it with: ``join`` gets its items as a list, measured once.
    """
    what = f"The result of {name}()"
    if name in ("center", "ljust", "rjust", "zfill"):
        width = arguments[0] if arguments else None
        if isinstance(width, int):
            evaluation.check_size(max(len(text), width), what)
    elif name == "expandtabs":
        tab_size = arguments[0] if arguments else keywords.get("tabsize", 8)
        if isinstance(tab_size, int):
            tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
            evaluation.check_size(len(text) + tabs * max(tab_size, 0), what)
    elif name == "replace" and len(arguments) >= 2:
        old, new = arguments[0], arguments[1]
        limit = arguments[2] if len(arguments) > 2 else keywords.get("count", -1)
        try:
            occurrences = text.count(old)
            growth = len(new) - len(old)
        except TypeError:
            return arguments
        if isinstance(limit, int) and limit >= 0:
            occurrences = min(occurrences, limit)
        evaluation.check_size(len(text) + occurrences * max(growth, 0), what)
    elif name == "join" and arguments:
        if isinstance(arguments[0], _COUNTABLE_INPUTS):
            evaluation.count(len(arguments[0]))
        items = list(arguments[0])
        joined = sum(len(item) for item in items if isinstance(item, _TEXT_TYPES))
        evaluation.check_size(joined + len(text) * max(len(items) - 1, 0), what)
        return (items, *arguments[1:])
    elif name in ("format", "format_map") and isinstance(text, str):
        if name == "format":
            bound = _format_size(evaluation, text, arguments, keywords)
        else:
            mapping = arguments[0] if arguments and isinstance(arguments[0], Mapping) else {}
            bound = _format_size(evaluation, text, (), mapping)
        if bound is not None:
            evaluation.check_size(bound, what)
    elif name == "translate" and arguments and isinstance(arguments[0], Mapping):
        longest = max(
            (len(item) if isinstance(item, _TEXT_TYPES) else 1 for item in arguments[0].values()),
            default=1,
        )
        evaluation.check_size(len(text) * max(longest, 1), what)
    return arguments


# --- filters --------------------------------------------------------------------------------------

FilterArguments = tuple[Any, tuple[Any, ...]]
FilterCheck = Callable[[_Evaluation, Any, tuple[Any, ...], dict[str, Any]], FilterArguments]
"""Checks a filter call before it runs: (evaluation, value, other arguments, keywords) → the value
and other arguments to call it with. A check may apply an argument itself and drop it (keywords
are dropped in place)."""


def _argument(
    positional: Sequence[Any], keywords: Mapping[str, Any], position: int, name: str, default: Any
) -> Any:
    return positional[position] if len(positional) > position else keywords.get(name, default)


def _check_center(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    text = _as_text(evaluation, value)
    width = _argument(rest, keywords, 0, "width", 80)
    if isinstance(width, int):
        evaluation.check_size(max(len(text), width), "The centred text")
    return text, rest


def _check_indent(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    text = _as_text(evaluation, value)
    width = _argument(rest, keywords, 0, "width", 4)
    unit = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    evaluation.check_size(unit, "The indentation")
    evaluation.check_size(len(text) + (text.count("\n") + 1) * max(unit, 0), "The indented text")
    return text, rest


def _check_wordwrap(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    """Greedy wrapping puts more than ``width`` characters on every two lines, which bounds the breaks."""
    text = _as_text(evaluation, value)
    width = _argument(rest, keywords, 0, "width", 79)
    wrap_string = _argument(rest, keywords, 2, "wrapstring", None)
    wrap_length = len(wrap_string) if isinstance(wrap_string, str) else 2
    if isinstance(width, int) and width > 0:
        breaks = 2 * len(text) // width + text.count("\n") + 2
        evaluation.check_size(len(text) + breaks * wrap_length, "The wrapped text")
    return text, rest


def _check_format(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    text = _as_text(evaluation, value)
    evaluation.check_size(_printf_size(evaluation, text, keywords or tuple(rest)), "The formatted text")
    return text, rest


def _check_join(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    """Measure the items once (from their memo when a template built them) before joining them.

    With ``attribute=``, the attributes are read here and joined instead, so joining the titles of
    a large search result measures the titles, not the whole result.
    """
    separator = _argument(rest, keywords, 0, "d", "")
    separator_length = len(separator) if isinstance(separator, str) else _OPAQUE_SIZE
    attribute = rest[1] if len(rest) > 1 else keywords.pop("attribute", None)
    rest = rest[:1]
    if attribute is not None:
        if isinstance(value, _COUNTABLE_INPUTS):
            evaluation.count(len(value))
        value = [make_attrgetter(_ENVIRONMENT, attribute)(item) for item in value]
    items = value
    if isinstance(value, str):
        joined = len(value)
    elif isinstance(value, (*_MEASURED_CONTAINERS, range)):
        joined = evaluation.size_of(value)
    else:
        items = list(value)
        joined = sum(evaluation.size_of(item) for item in items)
    count = len(items)
    evaluation.check_size(joined + separator_length * max(count - 1, 0), "The joined text")
    return items, rest


def _check_replace(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    text = _as_text(evaluation, value)
    old = _argument(rest, keywords, 0, "old", None)
    new = _argument(rest, keywords, 1, "new", None)
    limit = _argument(rest, keywords, 2, "count", None)
    if isinstance(old, str) and isinstance(new, str):
        occurrences = text.count(old)
        if isinstance(limit, int) and limit >= 0:
            occurrences = min(occurrences, limit)
        evaluation.check_size(len(text) + occurrences * max(len(new) - len(old), 0), "The replaced text")
    return text, rest


def _check_batch(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    size = _argument(rest, keywords, 0, "linecount", None)
    filler = _argument(rest, keywords, 1, "fill_with", None)
    if filler is not None and isinstance(size, int):
        evaluation.check_size(size * (evaluation.size_of(filler) + _SEPARATOR_SIZE), "The padded batch")
    return value, rest


def _check_slice(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    """``slice(n)`` makes n lists whatever its input, so n counts as iterations up front."""
    slices = _argument(rest, keywords, 0, "slices", None)
    filler = _argument(rest, keywords, 1, "fill_with", None)
    if isinstance(slices, int) and slices > 0:
        evaluation.count(slices)
        if filler is not None:
            evaluation.check_size(
                slices * (evaluation.size_of(filler) + _SEPARATOR_SIZE), "The padded slices"
            )
    return value, rest


def _check_tojson(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    indent = _argument(rest, keywords, 0, "indent", None)
    if indent is not None:
        width = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
        evaluation.check_size(width, "The indentation")
        evaluation.check_size(_pretty_size(value, max(width, 0)), "The indented JSON")
    return value, rest


def _check_pprint(
    evaluation: _Evaluation, value: Any, rest: tuple[Any, ...], keywords: dict[str, Any]
) -> FilterArguments:
    evaluation.check_size(_pretty_size(value, 1), "The pretty-printed value")
    return value, rest


_FILTER_CHECKS: dict[str, FilterCheck] = {
    "batch": _check_batch,
    "center": _check_center,
    "format": _check_format,
    "indent": _check_indent,
    "join": _check_join,
    "pprint": _check_pprint,
    "replace": _check_replace,
    "slice": _check_slice,
    "tojson": _check_tojson,
    "wordwrap": _check_wordwrap,
}

_TEXT_FILTERS = frozenset(
    {"capitalize", "e", "escape", "forceescape", "lower", "safe", "string", "striptags", "title", "trim"}
    | {"truncate", "upper", "urlize", "wordcount"}
)
"""Filters that write their input as text first; a list or map input is measured before that."""

_SELECTING_FILTERS = frozenset(
    {"abs", "attr", "batch", "count", "d", "default", "dictsort", "first", "float", "int", "items"}
    | {"last", "length", "list", "max", "min", "random", "reject", "rejectattr", "reverse", "round"}
    | {"select", "selectattr", "slice", "sort", "sum", "unique"}
)
"""Filters whose results only rearrange or pick from their input, so they cannot grow it.

Every other filter (and any filter a later Jinja adds) has its result measured.
"""

_ITERATING_FILTERS = frozenset(
    {"batch", "dictsort", "groupby", "items", "join", "list", "map", "max", "min", "reject"}
    | {"rejectattr", "select", "selectattr", "slice", "sort", "sum", "unique", "urlencode", "xmlattr"}
)
"""Filters that go through every item of their input; each item counts as an iteration."""

_COUNTABLE_INPUTS = (*_MEASURED_CONTAINERS, str, range)


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a built-in filter with the checks its name calls for.

    The wrapper keeps the original's ``jinja_pass_arg`` (through ``functools.wraps``), so Jinja
    passes it the same leading context, environment or eval-context argument. ``map`` applies
    filters by name through the environment, so mapped filters are the bounded ones too.
    """
    value_index = 1 if hasattr(original, "jinja_pass_arg") else 0
    check = _FILTER_CHECKS.get(name)
    iterating = name in _ITERATING_FILTERS
    text_input = name in _TEXT_FILTERS

    @functools.wraps(original)
    def bounded(*arguments: Any, **keywords: Any) -> Any:
        evaluation = _current_evaluation()
        if len(arguments) <= value_index:
            return original(*arguments, **keywords)
        value = arguments[value_index]
        rest = arguments[value_index + 1 :]
        if check is not None:
            value, rest = check(evaluation, value, rest, keywords)
        elif text_input and not isinstance(value, str):
            evaluation.check_size(evaluation.size_of(value), "This value written as text")
        counted = iterating and isinstance(value, _COUNTABLE_INPUTS)
        if counted:
            evaluation.count(len(value))
        result = original(*arguments[:value_index], value, *rest, **keywords)
        selecting = name in _SELECTING_FILTERS or (name == "map" and not rest)
        return _admit_filter_result(evaluation, name, result, count_items=not counted, measure=not selecting)

    return bounded


def _admit_filter_result(
    evaluation: _Evaluation, name: str, result: Any, *, count_items: bool, measure: bool
) -> Any:
    if isinstance(result, Iterator) and not isinstance(result, LoopContext):
        if count_items or measure:
            return _bounded_items(evaluation, result, name, count_items=count_items, measure=measure)
        return result
    if not measure:
        return result
    if isinstance(result, _TEXT_TYPES):
        evaluation.check_size(len(result), f"The result of the '{name}' filter")
    elif isinstance(result, list | tuple | dict):
        return _with_size(result, evaluation.size_of_new(result, f"The result of the '{name}' filter"))
    return result


def _bounded_items(
    evaluation: _Evaluation, items: Iterator[Any], name: str, *, count_items: bool, measure: bool
) -> Iterator[Any]:
    """A filter's lazy result, counting its items and, when it builds them, their total size."""
    total = 0
    for item in items:
        if count_items:
            evaluation.count()
        if measure:
            total += evaluation.size_of(item) + _SEPARATOR_SIZE
            evaluation.check_size(total, f"The items of the '{name}' filter")
        yield item


# --- the environment ------------------------------------------------------------------------------


class _LoopPasses:
    """What a ``{% for %}`` iterates: the original items, each counted as it is reached.

    ``len()`` passes through so ``loop.length`` and ``loop.last`` stay cheap when the items have one.
    """

    __slots__ = ("_evaluation", "_items")

    def __init__(self, evaluation: _Evaluation, items: Any) -> None:
        self._evaluation = evaluation
        self._items = items

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            self._evaluation.count()
            yield item

    def __len__(self) -> int:
        return len(self._items)


class _BoundedBuffer(list[str]):
    """Where ``{% set %}`` blocks and recursive loops collect text instead of streaming it."""

    def __init__(self) -> None:
        super().__init__()
        self._written = 0

    def append(self, piece: str, /) -> None:
        self._grow(len(piece))
        super().append(piece)

    def extend(self, pieces: Iterable[str], /) -> None:
        collected = tuple(pieces)
        self._grow(sum(len(piece) for piece in collected))
        super().extend(collected)

    def _grow(self, length: int) -> None:
        self._written += length
        if self._written > MAX_OUTPUT_SIZE:
            raise ExpressionError(
                "output_too_large",
                f"A block of this template renders more than {MAX_OUTPUT_SIZE:,} characters (1 MB).",
            )


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, routing the operations that can grow through the environment's checks."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            escaping = "context.eval_ctx.autoescape"
        else:
            escaping = repr(bool(frame.eval_ctx.autoescape))
        self.write(f"environment.concatenate({escaping}, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.built_literal(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":
            super().visit_Tuple(node, frame)
            return
        self.write("environment.built_literal(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.built_literal(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        self.write("environment.read_attribute(")
        self.visit(node.node, frame)
        self.write(f", {node.attr!r}, {_path_of(node.node)!r})")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        """Slices too, as ``slice(…)`` objects: Jinja writes ``True[1:]`` literally, and Python warns."""
        self.write("environment.read_item(")
        self.visit(node.node, frame)
        self.write(", ")
        if isinstance(node.arg, nodes.Slice):
            self.write("slice(")
            for index, bound in enumerate((node.arg.start, node.arg.stop, node.arg.step)):
                self.write(", " if index else "")
                if bound is None:
                    self.write("None")
                else:
                    self.visit(bound, frame)
            self.write(")")
        else:
            self.visit(node.arg, frame)
        self.write(f", {_path_of(node.node)!r})")

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.bounded_buffer()")


def _path_of(node: nodes.Node) -> str | None:
    """How a designer wrote the value being read (``inputs.user``), for error messages."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Name):
            parts.append(node.name)
            break
        if isinstance(node, nodes.Getattr):
            parts.append(f".{node.attr}")
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            parts.append(f"[{node.arg.value!r}]")
        else:
            return None
        node = node.node
    path = "".join(reversed(parts))
    return path if len(path) <= 120 else None


@pass_context
def _written_piece(context: Context, value: Any) -> Any:
    """Jinja's ``finalize``: measures a list or map before it is written into the output.

    Taking the context also stops Jinja from rendering constant output at compile time.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if _current_evaluation().size_of(value) > MAX_OUTPUT_SIZE:
        raise ExpressionError(
            "output_too_large", f"This value would render more than {MAX_OUTPUT_SIZE:,} characters (1 MB)."
        )
    return value


class HardenedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with every resource bound of DESIGN §3 (see "evaluation" above)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined, autoescape=False, optimized=False, finalize=_written_piece
        )
        for name in REMOVED_GLOBALS:
            self.globals.pop(name, None)
        self.globals["range"] = bounded_range
        self.globals["dict"] = bounded_dict
        self.filters = {name: _bounded_filter(name, original) for name, original in self.filters.items()}

    # -- hooks the generated code calls --

    def count_loop_passes(self, items: Any) -> _LoopPasses:
        return _LoopPasses(_current_evaluation(), items)

    def bounded_buffer(self) -> _BoundedBuffer:
        return _BoundedBuffer()

    def built_literal(self, value: Any) -> Any:
        return _with_size(value, _current_evaluation().size_of_new(value, "This list or map"))

    def concatenate(self, escaping: bool, parts: tuple[Any, ...]) -> str:
        evaluation = _current_evaluation()
        total = 0
        for part in parts:
            if isinstance(part, Undefined):
                part._fail_with_undefined_error()
            total += len(part) if isinstance(part, str) else evaluation.size_of(part)
        evaluation.check_size(total, "The text joined with '~'")
        return markup_join(parts) if escaping else str_join(parts)

    def read_attribute(self, owner: Any, name: str, path: str | None) -> Any:
        if isinstance(owner, Undefined):
            owner._fail_with_undefined_error()
        value = self.getattr(owner, name)
        if isinstance(value, Undefined):
            return self.undefined(hint=_missing_message(path, owner, name, "attribute"), obj=owner, name=name)
        return value

    def read_item(self, owner: Any, key: Any, path: str | None) -> Any:
        if isinstance(owner, Undefined):
            owner._fail_with_undefined_error()
        value = self.getitem(owner, key)
        if isinstance(value, Undefined):
            return self.undefined(hint=_missing_message(path, owner, key, "item"), obj=owner, name=key)
        return value

    # -- sandbox overrides --

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Workflow data is JSON, so ``output.items`` means the key ``items``, not ``dict.items``."""
        if isinstance(obj, dict):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        """Refuse at once rather than return an undefined that only fails when used."""
        raise ExpressionError(
            "unsafe",
            f"Reading {attribute!r} of {_kind_of(obj)} is not allowed in workflow templates.",
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        evaluation = _current_evaluation()
        size: int | None = None
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            size = _product_size(evaluation, left, right)
        elif operator == "+":
            size = _sum_size(evaluation, left, right)
        elif isinstance(left, _TEXT_TYPES):
            evaluation.check_size(_printf_size(evaluation, left, right), "The text formatted with '%'")
        result = self.binop_table[operator](left, right)
        return _with_size(result, size) if size is not None else result

    def call(self, context: Context, callee: Any, /, *arguments: Any, **keywords: Any) -> Any:
        evaluation = _current_evaluation()
        if isinstance(callee, BlockReference):
            raise ExpressionError("unsafe", "Workflow templates cannot render their blocks again.")
        if isinstance(callee, LoopContext) and arguments:
            arguments = (self.count_loop_passes(arguments[0]), *arguments[1:])
        target = _method_target(callee)
        if target is not None and isinstance(target[0], _TEXT_TYPES):
            arguments = _check_text_method(evaluation, target[0], target[1], arguments, keywords)
        elif target is not None and target[1] == "to_bytes" and isinstance(target[0], int):
            length = arguments[0] if arguments else keywords.get("length", 1)
            if isinstance(length, int):
                evaluation.check_size(length, "The result of to_bytes()")
        result = super().call(context, callee, *arguments, **keywords)
        if target is None:
            return result
        if isinstance(target[0], _TEXT_TYPES) and isinstance(result, _TEXT_TYPES):
            evaluation.check_size(len(result), f"The result of {target[1]}()")
        elif isinstance(result, list | tuple | dict) and target[1] not in _SHARED_COPY_METHODS:
            return _with_size(result, evaluation.size_of_new(result, f"The result of {target[1]}()"))
        return result


def _check_power(base: Any, exponent: Any) -> None:
    numbers = (int, float)
    if not (isinstance(base, numbers) and isinstance(exponent, numbers)):
        return
    if exponent > MAX_EXPONENT:
        raise ExpressionError(
            "exponent_too_large", f"The exponent {_short(exponent)} is larger than {MAX_EXPONENT}."
        )
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and _digits(base) * exponent > MAX_INTEGER_DIGITS
        and abs(base) > 1
    ):
        raise ExpressionError(
            "value_too_large", f"The power would have more than {MAX_INTEGER_DIGITS:,} digits."
        )


def _product_size(evaluation: _Evaluation, left: Any, right: Any) -> int | None:
    """Refuse a repetition or product over the limit; the written size of a repeated list or tuple."""
    if isinstance(left, int) and isinstance(right, int):
        if _digits(left) + _digits(right) > MAX_INTEGER_DIGITS:
            raise ExpressionError(
                "value_too_large", f"The product would have more than {MAX_INTEGER_DIGITS:,} digits."
            )
        return None
    repeated, times = (left, right) if isinstance(right, int) else (right, left)
    if not isinstance(times, int):
        return None
    times = max(times, 0)
    if isinstance(repeated, _TEXT_TYPES):
        evaluation.check_size(len(repeated) * times, "The repeated text")
        return None
    if isinstance(repeated, list | tuple):
        items_size = evaluation.size_of(repeated) - _CONTAINER_SIZE
        size = _CONTAINER_SIZE + items_size * times
        evaluation.check_size(size, "The repeated list")
        return size
    return None


def _sum_size(evaluation: _Evaluation, left: Any, right: Any) -> int | None:
    if isinstance(left, _TEXT_TYPES) and isinstance(right, _TEXT_TYPES):
        evaluation.check_size(len(left) + len(right), "The joined text")
        return None
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        size = evaluation.size_of(left) + evaluation.size_of(right) - _CONTAINER_SIZE
        evaluation.check_size(size, "The joined list")
        return size
    return None


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or _digits(value) < 30 else "a very large number"
    return text


def _missing_message(path: str | None, owner: Any, key: Any, what: str) -> str:
    """``inputs has no attribute 'x' (it has: a, b).``: what a designer needs to fix a typo."""
    kind = _kind_of(owner)
    if path is None:
        return f"{kind[:1].upper()}{kind[1:]} has no {what} {_short(key)}."
    message = f"{path} has no {what} {_short(key)}"
    if isinstance(owner, dict):
        names = sorted(str(name)[:40] for name in list(owner)[:50])
        if not names:
            return f"{message} (it is empty)."
        listed = ", ".join(names[:10]) + (", …" if len(owner) > 10 else "")
        return f"{message} (it has: {listed})."
    if isinstance(owner, list | tuple):
        return f"{message} (it has {len(owner)} items)."
    return f"{message} (it is {kind})."


def _kind_of(value: Any) -> str:
    """A value's type in a designer's words."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    if isinstance(value, types.FunctionType | types.BuiltinFunctionType | types.MethodType):
        return "a function"
    return f"a {type(value).__name__}"


_ENVIRONMENT = make_environment()


# --- running compiled sources ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Compiled:
    """A compiled source. ``native`` ones assign their expression's value to ``result`` (the typing rule)."""

    template: Template
    native: bool
    line: int | None

    def run(self, variables: Mapping[str, Any]) -> Any:
        context = self.template.new_context(dict(variables))
        pieces = self.template.root_render_func(context)
        try:
            if self.native:
                for _ in pieces:
                    pass
                return _json_value(context.vars[_RESULT_NAME], top_level=True)
            return _streamed_text(pieces)
        finally:
            if isinstance(pieces, types.GeneratorType):
                pieces.close()


def _streamed_text(pieces: Iterator[str]) -> str:
    """Collect rendered text, refusing as soon as it passes the limit rather than after building it.

    This is the stream ``Template.generate()`` yields, read without its traceback rewriting so
    line numbers come from one place (:func:`_template_line`).
    """
    collected: list[str] = []
    written = 0
    for piece in pieces:
        written += len(piece)
        if written > MAX_OUTPUT_SIZE:
            raise ExpressionError(
                "output_too_large", f"The template renders more than {MAX_OUTPUT_SIZE:,} characters (1 MB)."
            )
        collected.append(piece)
    return "".join(collected)


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compiled(source: str, kind: SourceKind) -> _Compiled | ExpressionError:
    """Parse (with every refusal of :func:`parse`) and compile, once per source.

    The same node config is evaluated on every loop pass, so this is cached; failures are cached
    as values. ``lru_cache`` is thread-safe, and compiling is deterministic, so two threads
    compiling one source at once build equal programs.
    """
    try:
        parsed = parse(source, kind)
    except ExpressionError as error:
        return ExpressionError(error.code, error.message, error.line)  # without the parser's frames
    invalid = "invalid_expression" if kind == "expression" else "invalid_template"
    expression: nodes.Node | None = parsed.tree if kind == "expression" else None
    if kind == "template" and is_single_expression_template(parsed):
        expression = _single_expression(parsed.tree)
    program: nodes.Node = parsed.tree
    if expression is not None:
        assignment = nodes.Assign(nodes.Name(_RESULT_NAME, "store"), expression, lineno=expression.lineno)
        program = nodes.Template([assignment], lineno=1)
    assert isinstance(program, nodes.Template)
    for loop in program.find_all(nodes.For):
        loop.iter = _counted(loop.iter)
    program.set_environment(_ENVIRONMENT)
    try:
        template = _ENVIRONMENT.from_string(program)
    except TemplateSyntaxError as error:
        return ExpressionError(invalid, _syntax_message(error), error.lineno)
    except Exception:
        return ExpressionError(invalid, "It is nested too deeply or too complex to run.")
    line = expression.lineno if expression is not None else None
    return _Compiled(template, native=expression is not None, line=line)


def _counted(iterable: nodes.Node) -> nodes.Expr:
    """``environment.count_loop_passes(iterable)``: Jinja allows no custom node types, so a call."""
    counter = nodes.EnvironmentAttribute("count_loop_passes", lineno=iterable.lineno)
    return nodes.Call(counter, [iterable], [], None, None, lineno=iterable.lineno)


def _single_expression(tree: nodes.Node) -> nodes.Node:
    output = tree.body[0] if isinstance(tree, nodes.Template) else tree
    assert isinstance(output, nodes.Output)
    return next(
        item for item in output.nodes if not (isinstance(item, nodes.TemplateData) and not item.data.strip())
    )


def evaluate_expression(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate a bare expression (``inputs.n > 3``) to its JSON value.

    ``context`` must hold plain JSON data only (DESIGN §3): the sandbox protects against the
    template, not against a context that hands it settings, requests or callables. Every failure
    raises :class:`ExpressionError`.
    """
    return _evaluate(source, "expression", context)


def render_template(source: str, context: Mapping[str, Any]) -> Any:
    """Render a template, applying the typing rule.

    A template that is exactly one ``{{ expr }}`` (whitespace aside) gives the expression's JSON
    value (``"{{ inputs.items }}"`` gives the list); any other gives a string. Values from the
    context are data: a context value containing ``{{ … }}`` comes out verbatim, never compiled.
    """
    return _evaluate(source, "template", context)


def _evaluate(source: str, kind: SourceKind, context: Mapping[str, Any]) -> Any:
    compiled = _compiled(source, kind)
    if isinstance(compiled, ExpressionError):
        raise ExpressionError(compiled.code, compiled.message, compiled.line)
    token = _CURRENT_EVALUATION.set(_Evaluation())
    failure: ExpressionError
    try:
        return compiled.run(context)
    except Exception as error:  # every failure becomes an ExpressionError, raised below
        failure = _translate(error, compiled.template, compiled.line)
    finally:
        _CURRENT_EVALUATION.reset(token)
    # Raised outside the handler so the failure carries no chained exception holding template frames.
    raise failure


def _translate(error: Exception, template: Template, default_line: int | None) -> ExpressionError:
    line = _template_line(error, template) or default_line
    if isinstance(error, ExpressionError):
        return ExpressionError(error.code, error.message, error.line or line)
    if isinstance(error, SecurityError):
        return ExpressionError("unsafe", _sentence(error.message or "This is not allowed."), line)
    if isinstance(error, UndefinedError):
        return ExpressionError("undefined", error.message or "Something is undefined.", line)
    if isinstance(error, RecursionError):
        return ExpressionError("evaluation_error", "It is nested too deeply to evaluate.", line)
    if isinstance(error, MemoryError):
        return ExpressionError("evaluation_error", "It needs more memory than is available.", line)
    if isinstance(error, ZeroDivisionError):
        return ExpressionError("evaluation_error", "Division by zero.", line)
    if isinstance(error, KeyError):
        return ExpressionError(
            "evaluation_error",
            f"There is no value named {_short(error.args[0] if error.args else '')}.",
            line,
        )
    if isinstance(error, OverflowError):
        return ExpressionError("evaluation_error", f"A number is too large: {error}.", line)
    detail = str(error) or type(error).__name__
    return ExpressionError("evaluation_error", _sentence(detail[:500]), line)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] if message[:1].isalpha() else message


def _template_line(error: BaseException, template: Template) -> int | None:
    """The template line the innermost generated-code frame of ``error`` was running."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = template.get_corresponding_lineno(trace.tb_lineno)
        trace = trace.tb_next
    return line


# --- results as JSON ------------------------------------------------------------------------------


def _json_value(value: Any, *, top_level: bool = False) -> Any:
    """``value`` as plain JSON data (tuples become lists); anything else is ``non_json_value``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        if value.bit_length() > 3 * MAX_INTEGER_DIGITS:
            try:
                str(value)
            except ValueError:
                raise _not_json("a number with too many digits", top_level) from None
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _not_json("NaN or an infinite number", top_level)
        return float(value)
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _not_json(f"a map key that is not text ({_short(key)})", top_level)
            converted[str(key)] = _json_value(item)
        return converted
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    raise _not_json(_describe_non_json(value), top_level)


def _describe_non_json(value: Any) -> str:
    as_list = " (add '| list' to make it a list)"
    if isinstance(value, set | frozenset):
        return "a set"
    if isinstance(value, range):
        return "a range" + as_list
    if isinstance(value, KeysView | ValuesView | ItemsView | Iterator):
        return "a sequence computed on demand" + as_list
    if isinstance(value, bytes | bytearray):
        return "bytes"
    if callable(value):
        return "a function"
    return f"a {type(value).__name__} value"


def _not_json(description: str, top_level: bool) -> ExpressionError:
    verb = "is" if top_level else "contains"
    return ExpressionError("non_json_value", f"The result {verb} {description}, which is not a JSON value.")
