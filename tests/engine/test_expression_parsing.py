"""Parsing and static analysis of templates and expressions: references, refusals, no evaluation."""

from __future__ import annotations

import time
from collections.abc import Callable

import jinja2
import jinja2.compiler
import jinja2.sandbox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from executions.engine import expressions
from executions.engine.expressions import (
    MAX_SOURCE_LENGTH,
    Analysis,
    ExpressionError,
    ParsedSource,
    Reference,
    analyse,
    analyse_uncached,
    is_single_expression_template,
    make_environment,
    parse_expression,
    parse_template,
    references,
)


def refs_of_template(source: str) -> list[Reference]:
    return references(parse_template(source))


def refs_of_expression(source: str) -> list[Reference]:
    return references(parse_expression(source))


def problem(source: str, kind: expressions.SourceKind = "template") -> ExpressionError:
    analysis = analyse_uncached(source, kind, use_shortcut=False)
    assert len(analysis.problems) == 1, analysis
    return analysis.problems[0]


# --- references -----------------------------------------------------------------------------------


def test_static_node_reference() -> None:
    assert refs_of_expression("nodes.classify.output.json.priority == 'high'") == [
        Reference("nodes", "classify", "output", 1)
    ]


def test_bracket_form_is_static_too() -> None:
    assert refs_of_template("{{ nodes['classify'].status }} {{ nodes[\"b\"]['output'] }}") == [
        Reference("nodes", "classify", "status", 1),
        Reference("nodes", "b", "output", 1),
    ]


def test_every_context_root() -> None:
    source = "{{ inputs.ticket }} {{ vars.team }} {{ run.id }} {{ loop.index }} {{ loops.outer.item }}"

    assert refs_of_template(source) == [
        Reference("inputs", "ticket", None, 1),
        Reference("vars", "team", None, 1),
        Reference("run", None, "id", 1),
        Reference("loop", None, "index", 1),
        Reference("loops", "outer", "item", 1),
    ]


def test_references_inside_filters_calls_and_conditions() -> None:
    source = "nodes.a.output.items | map(attribute=nodes.b.output.key) | list if vars.on else inputs.x"

    assert [reference.name for reference in refs_of_expression(source)] == ["on", "a", "b", "x"]


def test_line_numbers() -> None:
    assert refs_of_template("first\nsecond {{ inputs.a }}\n\n{{ nodes.x.output }}") == [
        Reference("inputs", "a", None, 2),
        Reference("nodes", "x", "output", 4),
    ]


@pytest.mark.parametrize(
    "source",
    [
        "nodes[name].output",
        "nodes[1 + 1]",
        "nodes",
        "nodes | list",
        "nodes[inputs.which]",
        "loops[inputs.i].item",
        "nodes[0]",
        "nodes[:2]",
    ],
)
def test_dynamic_references_are_refused(source: str) -> None:
    error = problem(f"{{% set name = 'a' %}}{{{{ {source} }}}}")

    assert error.code == "dynamic_node_ref"
    with pytest.raises(ExpressionError) as raised:
        refs_of_expression(source)
    assert raised.value.code in ("dynamic_node_ref", "unknown_name")


def test_whole_inputs_and_vars_may_be_used() -> None:
    assert refs_of_expression("inputs | tojson") == [Reference("inputs", None, None, 1)]
    assert refs_of_expression("vars[inputs.key]") == [
        Reference("vars", None, None, 1),
        Reference("inputs", "key", None, 1),
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nodes.a.outptu", "nodes.a has no field 'outptu' (it has: output, status)."),
        ("loop.idx", "loop has no field 'idx' (it has: index, item, previous)."),
        ("loops.outer.previous", "loops.outer has no field 'previous' (it has: index, item)."),
        ("run.secret", "run has no field 'secret' (it has: id, started_at)."),
    ],
)
def test_unknown_context_fields(source: str, message: str) -> None:
    error = problem(source, "expression")

    assert (error.code, error.message) == ("unknown_reference_field", message)


def test_template_for_loop_variable_is_not_ours() -> None:
    source = "{% for tag in inputs.tags %}{{ loop.index }}: {{ tag }} {{ loops.outer.item }}{% endfor %}"

    assert refs_of_template(source) == [
        Reference("inputs", "tags", None, 1),
        Reference("loops", "outer", "item", 1),
    ]


def test_loop_outside_the_templates_own_for_is_ours() -> None:
    source = "{% for x in inputs.items %}{{ x }}{% endfor %}{{ loop.item }}"

    assert refs_of_template(source) == [
        Reference("inputs", "items", None, 1),
        Reference("loop", None, "item", 1),
    ]


def test_names_bound_by_the_template_are_not_unknown() -> None:
    source = (
        "{% set total = inputs.a + 1 %}{% set block %}{{ total }}{% endset %}"
        "{% with twice = total * 2 %}{{ twice }}{% endwith %}{{ block }}{{ range(3) | list }}{{ dict(a=1) }}"
    )

    assert refs_of_template(source) == [Reference("inputs", "a", None, 1)]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{{ secrets }}",
            "'secrets' is not defined here (available: inputs, loop, loops, nodes, run, vars).",
        ),
        ("{{ inputs.a | shout }}", "There is no filter named 'shout'."),
        ("{% if inputs.a is shiny %}{% endif %}", "There is no test named 'shiny'."),
        (
            "{{ lipsum() }}",
            "'lipsum' is not defined here (available: inputs, loop, loops, nodes, run, vars).",
        ),
        (
            "{{ namespace(a=1) }}",
            "'namespace' is not defined here (available: inputs, loop, loops, nodes, run, vars).",
        ),
    ],
)
def test_unknown_names(source: str, message: str) -> None:
    error = problem(source)

    assert (error.code, error.message) == ("unknown_name", message)


def test_a_name_bound_later_is_unknown_before() -> None:
    assert problem("{{ later }}{% set later = 1 %}").code == "unknown_name"


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "tag"),
    [
        ("{% macro greet() %}hi{% endmacro %}", "macro"),
        ("{% call inputs.f() %}x{% endcall %}", "call"),
        ("{% import 'other.html' as other %}", "import"),
        ("{% from 'other.html' import thing %}", "from"),
        ("{% include 'other.html' %}", "include"),
        ("{% extends 'base.html' %}", "extends"),
        ("{% filter upper %}text{% endfilter %}", "filter"),
    ],
)
def test_forbidden_tags(source: str, tag: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_template(f"before\n{source}")

    assert raised.value.code == "forbidden_tag"
    assert raised.value.message == f"The '{{% {tag} %}}' tag is not allowed in workflow templates."
    assert raised.value.line == 2


def test_set_blocks_are_allowed() -> None:
    assert refs_of_template("{% set x = inputs.a %}{{ x }}") == [Reference("inputs", "a", None, 1)]


@pytest.mark.parametrize("parse", [parse_template, parse_expression])
def test_source_over_the_size_limit(parse: Callable[[str], ParsedSource]) -> None:
    parse("a" * MAX_SOURCE_LENGTH)

    with pytest.raises(ExpressionError) as raised:
        parse("a" * (MAX_SOURCE_LENGTH + 1))

    assert raised.value.code == "expression_too_long"
    assert analyse("a" * (MAX_SOURCE_LENGTH + 1), "expression").problems[0].code == "expression_too_long"


def test_number_with_too_many_digits_is_an_error_not_a_crash() -> None:
    assert problem("9" * 5_000, "expression").message == "A number in it has too many digits."
    assert problem("{{ " + "9" * 5_000 + " }}").code == "invalid_template"
    assert analyse("9" * 5_000, "expression").problems[0].code == "invalid_expression"


def test_template_syntax_error_gives_jinjas_message_and_line() -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_template("Hello\n{{ inputs.name + }}")

    assert raised.value.code == "invalid_template"
    assert raised.value.message == "Unexpected 'end of print statement'"
    assert raised.value.line == 2


def test_unclosed_block_is_a_template_error() -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_template("{% if inputs.a %}yes")

    assert raised.value.code == "invalid_template"
    assert "endif" in raised.value.message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("inputs.n >", "Unexpected 'end of expression'"),
        ("inputs.a inputs.b", "Unexpected 'inputs' after the end of the expression"),
        ("{{ inputs.a }}", "Expected token ':', got '}'"),
        ("(inputs.a", "Unexpected end of expression, expected ')'."),
    ],
)
def test_expression_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_expression(source)

    assert (raised.value.code, raised.value.message, raised.value.line) == ("invalid_expression", message, 1)


def test_deeply_nested_source_is_an_error_not_a_crash() -> None:
    source = "(" * 3_000 + "1" + ")" * 3_000

    assert problem(source, "expression").code == "invalid_expression"
    assert problem("{{ " + source + " }}").code == "invalid_template"


def test_very_long_flat_expression_is_analysed_without_recursion() -> None:
    source = " + ".join(["inputs.a"] * 900)

    assert analyse_uncached(source, "expression", use_shortcut=False) == Analysis(
        (Reference("inputs", "a", None, 1),), ()
    )


# --- nothing is ever evaluated --------------------------------------------------------------------


HOSTILE = [
    "{{ 9 ** 9 ** 9 ** 9 }}",
    "{{ 1 / 0 }}",
    "{% for i in range(10 ** 12) %}{% for j in range(10 ** 12) %}{{ i }}{% endfor %}{% endfor %}",
    "{{ 'x' * 10 ** 15 }}",
    "{{ ().__class__.__mro__[1].__subclasses__() }}",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_templates_parse_instantly(source: str) -> None:
    started = time.perf_counter()
    analysis = analyse_uncached(source, "template", use_shortcut=False)

    assert analysis.problems == ()
    assert time.perf_counter() - started < 1.0


def test_parsing_neither_compiles_nor_folds_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("evaluated during parsing")

    monkeypatch.setattr(jinja2.nodes.Expr, "as_const", refuse)
    monkeypatch.setattr(jinja2.compiler.CodeGenerator, "visit", refuse)
    monkeypatch.setattr(jinja2.Environment, "compile", refuse)
    monkeypatch.setattr(jinja2.Environment, "from_string", refuse)
    monkeypatch.setattr(jinja2.Environment, "compile_expression", refuse)

    for source in HOSTILE:
        assert analyse_uncached(source, "template", use_shortcut=False).problems == ()
    assert analyse_uncached("9 ** 9 ** 9 > nodes.a.output", "expression", use_shortcut=False).references == (
        Reference("nodes", "a", "output", 1),
    )


# --- the environment ------------------------------------------------------------------------------


def test_environment_is_the_hardened_sandbox() -> None:
    environment = make_environment()

    assert isinstance(environment, jinja2.sandbox.ImmutableSandboxedEnvironment)
    assert environment.undefined is jinja2.StrictUndefined
    assert not {"lipsum", "cycler", "joiner", "namespace"} & set(environment.globals)
    assert make_environment() is not environment


@pytest.mark.parametrize(
    ("source", "single"),
    [
        ("{{ inputs.a }}", True),
        ("  {{ nodes.x.output }}\n", True),
        ("Hi {{ inputs.a }}", False),
        ("{{ a }}{{ b }}", False),
        ("plain", False),
        ("{% if x %}{{ a }}{% endif %}", False),
    ],
)
def test_single_expression_templates_keep_their_type(source: str, single: bool) -> None:
    assert is_single_expression_template(parse_template(source)) is single


# --- the shortcut for simple sources agrees with Jinja --------------------------------------------


SIMPLE_SOURCES = [
    ("nodes.classify.output.json.priority == 'high'", "expression"),
    ("inputs.amount > 100 and not (vars.limit <= 3 or loop.index in inputs.list)", "expression"),
    ("nodes.a not in inputs.b", "expression"),
    ("Hello {{ inputs.name }}, see {{ nodes.x.output.text ~ '!' }}\n{{ loops.outer.item }}", "template"),
    ("no braces at all", "template"),
    ("nodes", "expression"),
    ("nodes.a.outptu", "expression"),
    ("true", "expression"),
]


@pytest.mark.parametrize(("source", "kind"), SIMPLE_SOURCES)
def test_shortcut_takes_simple_sources_and_agrees_with_jinja(
    source: str, kind: expressions.SourceKind
) -> None:
    assert expressions._simple_references(source, kind) is not None
    assert analyse_uncached(source, kind) == analyse_uncached(source, kind, use_shortcut=False)


TOKENS = [
    "nodes.a.output",
    "nodes['a']",
    "nodes",
    "inputs.x",
    "inputs",
    "vars.team",
    "run.id",
    "loop.index",
    "loops.outer.item",
    "nodes.a.outptu",
    "foo",
    "true",
    "None",
    "'text'",
    '"t"',
    "'a}}b'",
    "1",
    "2.5",
    "1e3",
    "1_000",
    "==",
    "!=",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "**",
    "//",
    "/",
    "%",
    "~",
    "and",
    "or",
    "not",
    "in",
    "is",
    "(",
    ")",
    "[",
    "]",
    "|",
    "upper",
    ".",
    ",",
    "\n",
    "{{",
    "}}",
    "{%",
    "%}",
    "-}}",
    "\r",
    "é",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=9), st.sampled_from([" ", ""]))
def test_shortcut_expressions_agree_with_jinja(tokens: list[str], separator: str) -> None:
    source = separator.join(tokens)

    assert analyse_uncached(source, "expression") == analyse_uncached(
        source, "expression", use_shortcut=False
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=7), st.text(alphabet="ab {}\n", max_size=6))
def test_shortcut_templates_agree_with_jinja(tokens: list[str], text: str) -> None:
    source = f"{text}{{{{ {' '.join(tokens)} }}}}{text}"

    assert analyse_uncached(source, "template") == analyse_uncached(source, "template", use_shortcut=False)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_analysis_never_raises_on_any_text(source: str) -> None:
    for kind in ("template", "expression"):
        analysis = analyse_uncached(source, kind)
        assert all(isinstance(item, ExpressionError) for item in analysis.problems)


OPERANDS = [
    "nodes.a.output.x",
    "inputs.n",
    "vars.team",
    "loop.index",
    "loops.outer.item",
    "run.id",
    "nodes",
    "nodes.b.status",
    "nodes.c.bad",
    "true",
    "none",
    "'high'",
    '"low"',
    "3",
    "0.5",
    "12345678901234567890",
]
OPERATORS = [
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "~",
    "and",
    "or",
    "in",
    "not in",
]

simple_expressions = st.recursive(
    st.sampled_from(OPERANDS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(OPERATORS), inner).map(" ".join),
        inner.map(lambda text: f"not {text}"),
        inner.map(lambda text: f"({text})"),
        st.tuples(inner, st.sampled_from(["\n", "  ", ""]), inner).map(
            lambda parts: " and ".join(parts[::2])
        ),
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(simple_expressions)
def test_shortcut_agrees_with_jinja_on_generated_expressions(source: str) -> None:
    assert analyse_uncached(source, "expression") == analyse_uncached(
        source, "expression", use_shortcut=False
    )
    template = f"line\n{{{{ {source} }}}} and {{{{ inputs.z }}}}"
    assert analyse_uncached(template, "template") == analyse_uncached(
        template, "template", use_shortcut=False
    )
