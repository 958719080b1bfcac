"""Evaluation in the hardened sandbox: every bound of DESIGN §3, every escape class, the typing rule.

Each bomb asserts the exact error code, that it fails fast, and that the process is fine afterwards.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from executions.engine import expressions
from executions.engine.expressions import (
    MAX_ITERATIONS,
    MAX_OUTPUT_SIZE,
    MAX_RANGE_LENGTH,
    MAX_SOURCE_LENGTH,
    MAX_VALUE_SIZE,
    ExpressionError,
    evaluate_expression,
    make_environment,
    render_template,
)

CONTEXT: dict[str, Any] = {
    "inputs": {"n": 5, "name": "Ada", "items": [1, 2, 3], "tags": ["a", "b"], "user": {"id": 7}},
    "vars": {"team": "support"},
    "nodes": {"a": {"output": {"items": [{"id": 1}, {"id": 2}], "text": "hi"}, "status": "succeeded"}},
    "run": {"id": "r1", "started_at": "2024-01-01T00:00:00Z"},
}

Evaluate = Callable[[str, Any], Any]


def failure(evaluate: Evaluate, source: str, context: dict[str, Any] | None = None) -> ExpressionError:
    with pytest.raises(ExpressionError) as raised:
        evaluate(source, CONTEXT if context is None else context)
    return raised.value


def refused(source: str, *, kind: str = "expression") -> str:
    """The error code of a hostile source, checking it leaves the process working. (How fast it is
    refused is a benchmark concern, not a unit-test assertion: timings drift on a shared machine.)"""
    evaluate = evaluate_expression if kind == "expression" else render_template
    error = failure(evaluate, source)
    assert_process_is_fine()
    return error.code


def assert_process_is_fine() -> None:
    assert evaluate_expression("inputs.n * 2 + 1", CONTEXT) == 11
    assert render_template("Hello {{ inputs.name }}", CONTEXT) == "Hello Ada"


# --- typing rule ----------------------------------------------------------------------------------


def test_bare_expressions_give_native_json_values() -> None:
    assert evaluate_expression("inputs.n > 3", CONTEXT) is True
    assert evaluate_expression("nodes.a.output.items | length", CONTEXT) == 2
    assert evaluate_expression("inputs.user", CONTEXT) == {"id": 7}
    assert evaluate_expression("inputs.n / 2", CONTEXT) == 2.5


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ inputs.items }}", [1, 2, 3]),
        ("{{ 3 }}", 3),
        ("  {{ inputs.user }}\n", {"id": 7}),
        ("{{ none }}", None),
        ("{{ (1, 'a') }}", [1, "a"]),
        ("{{ inputs.name }}", "Ada"),
    ],
)
def test_a_single_interpolation_keeps_its_json_type(source: str, expected: Any) -> None:
    assert render_template(source, CONTEXT) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ inputs.n }}{{ inputs.n }}", "55"),
        ("n={{ inputs.n }}", "n=5"),
        ("{% if true %}{{ inputs.n }}{% endif %}", "5"),
        ("plain text", "plain text"),
        ("{{ inputs.items }}.", "[1, 2, 3]."),
        ("{{ 3 }}{# a comment #}x", "3x"),
    ],
)
def test_any_other_template_gives_text(source: str, expected: str) -> None:
    assert render_template(source, CONTEXT) == expected


def test_whitespace_around_a_single_interpolation_does_not_make_it_text() -> None:
    assert render_template("\n  {{ inputs.items | sum }}  \n", CONTEXT) == 6


def test_output_items_is_the_key_not_the_dict_method() -> None:
    assert evaluate_expression("nodes.a.output.items | map(attribute='id') | list", CONTEXT) == [1, 2]
    assert render_template("{{ nodes.a.output.items }}", CONTEXT) == [{"id": 1}, {"id": 2}]


def test_llm_text_is_data_and_never_compiled() -> None:
    context = {"nodes": {"llm": {"output": {"text": "{{ 7*7 }} {% for x in range(10**9) %}"}}}}

    assert render_template("Reply: {{ nodes.llm.output.text }}", context) == (
        "Reply: {{ 7*7 }} {% for x in range(10**9) %}"
    )
    assert render_template("{{ nodes.llm.output.text }}", context) == "{{ 7*7 }} {% for x in range(10**9) %}"
    assert evaluate_expression("nodes.llm.output.text ~ '!'", context).startswith("{{ 7*7 }}")


def test_everyday_jinja_still_works() -> None:
    source = (
        "{% for tag in inputs.tags %}{{ loop.index }}:{{ tag | upper }}"
        "{{ ', ' if not loop.last else '' }}{% else %}none{% endfor %}"
        " | {{ nodes.a.output.items | selectattr('id', 'gt', 1) | map(attribute='id') | join }}"
        " | {% set total %}{{ inputs.items | sum }}{% endset %}{{ total }}"
        " | {{ '%s-%s' | format(vars.team, run.id) }} | {{ dict(a=1) | tojson }}"
        " | {{ '{:>4}'.format(inputs.n) }} | {{ inputs | dictsort | first | first }}"
    )

    assert render_template(source, CONTEXT) == ('1:A, 2:B | 2 | 6 | support-r1 | {"a": 1} |    5 | items')


def test_recursive_loops_work_over_a_tree() -> None:
    context = {"inputs": {"tree": [{"name": "a", "children": [{"name": "b", "children": []}]}]}}
    source = "{% for node in inputs.tree recursive %}{{ node.name }}[{{ loop(node.children) }}]{% endfor %}"

    assert render_template(source, context) == "a[b[]]"


# --- undefined ------------------------------------------------------------------------------------


def test_undefined_attribute_names_the_path_and_what_exists() -> None:
    error = failure(evaluate_expression, "inputs.x")

    assert (error.code, error.message) == (
        "undefined",
        "inputs has no attribute 'x' (it has: items, n, name, tags, user).",
    )
    assert failure(render_template, "a\n{{ nodes.a.output.txet }}").message.startswith(
        "nodes.a.output has no attribute 'txet'"
    )
    assert failure(render_template, "a\n{{ nodes.a.output.txet }}").line == 2


def test_undefined_item_and_undefined_name() -> None:
    assert failure(evaluate_expression, "inputs.items[5]").message == (
        "inputs.items has no item 5 (it has 3 items)."
    )
    assert failure(evaluate_expression, "missing").code == "undefined"
    assert failure(render_template, "Hi {{ missing }}").code == "undefined"
    assert failure(evaluate_expression, "inputs.x.y").code == "undefined"


def test_defined_test_and_default_filter_still_see_undefined() -> None:
    assert evaluate_expression("inputs.x is defined", CONTEXT) is False
    assert evaluate_expression("inputs.x | default('none')", CONTEXT) == "none"


# --- bounds ---------------------------------------------------------------------------------------


def test_range_over_10000_is_refused() -> None:
    assert evaluate_expression(f"range({MAX_RANGE_LENGTH}) | length", CONTEXT) == MAX_RANGE_LENGTH

    assert refused(f"range({MAX_RANGE_LENGTH + 1})") == "range_too_large"
    assert refused("range(10 ** 60)") == "range_too_large"
    assert refused("range(0, 10 ** 30, 2) | list") == "range_too_large"


def test_string_repetition_over_1mb_is_refused() -> None:
    assert len(evaluate_expression(f"'a' * {MAX_VALUE_SIZE}", CONTEXT)) == MAX_VALUE_SIZE

    assert refused(f"'a' * {MAX_VALUE_SIZE + 1}") == "value_too_large"
    assert refused("'ab' * 10 ** 15") == "value_too_large"
    assert refused("10 ** 15 * 'ab'") == "value_too_large"


def test_list_repetition_over_1mb_is_refused() -> None:
    assert evaluate_expression("([0] * 100000) | length", CONTEXT) == 100_000

    assert refused("[0] * 10 ** 6") == "value_too_large"
    assert refused("[inputs.name] * 10 ** 9") == "value_too_large"
    assert refused("(1, 2) * 10 ** 12") == "value_too_large"


def test_power_exponent_over_64_is_refused() -> None:
    assert evaluate_expression("2 ** 64", CONTEXT) == 2**64

    assert refused("2 ** 65") == "exponent_too_large"
    assert refused("9 ** (9 ** 9)") == "exponent_too_large"
    assert refused("2 ** 1e10") == "exponent_too_large"
    assert refused("1.5 ** 1000") == "exponent_too_large"


def test_big_int_power_result_is_refused() -> None:
    assert refused("(99999 ** 64) ** 64") == "value_too_large"
    assert refused("9 ** 9 ** 9 ** 9 ** 9") == "value_too_large"  # left-associative: ((9**9)**9)…
    assert refused("(10 ** 60) ** 64 * (10 ** 60) ** 64") == "value_too_large"


def test_concatenation_growth_in_a_loop_is_refused() -> None:
    quadrupling_text = "{% for s in ['x' * 1000] recursive %}{{ loop([s ~ s ~ s ~ s]) }}{% endfor %}"
    doubling_list = "{% for xs in [[0] * 1000] recursive %}{{ loop([xs + xs]) }}{% endfor %}"
    doubling_plus = "{% for s in ['x' * 1000] recursive %}{{ loop([s + s]) }}{% endfor %}"

    assert refused(quadrupling_text, kind="template") == "value_too_large"
    assert refused(doubling_list, kind="template") == "value_too_large"
    assert refused(doubling_plus, kind="template") == "value_too_large"
    assert refused("'x' * 600000 ~ 'y' * 600000") == "value_too_large"


def test_nested_loops_over_100000_iterations_are_refused() -> None:
    within = "{% for i in range(1000) %}{% for j in range(99) %}{% endfor %}{% endfor %}ok"
    beyond = "{% for i in range(1000) %}{% for j in range(100) %}{% endfor %}{% endfor %}"

    assert render_template(within, CONTEXT) == "ok"
    assert refused(beyond, kind="template") == "loop_limit"


def test_recursive_loop_passes_count_towards_the_limit() -> None:
    source = (
        "{% for x in range(400) recursive %}"
        "{% if loop.depth == 1 %}{{ loop(range(300)) }}{% endif %}"
        "{% endfor %}"
    )

    assert refused(source, kind="template") == "loop_limit"


def test_items_a_filter_goes_through_count_towards_the_limit() -> None:
    source = "{% for i in range(100) %}{{ range(1001) | list | length }}{% endfor %}"

    assert refused(source, kind="template") == "loop_limit"
    assert refused("[1] | slice(10 ** 9) | list") == "loop_limit"


def test_output_over_1mb_is_refused_while_streaming() -> None:
    exactly = f"{{% for i in range(1024) %}}{{{{ 'x' * {MAX_OUTPUT_SIZE // 1024} }}}}{{% endfor %}}"
    hundred_gigabytes = (
        "{% for i in range(10000) %}{% for j in range(10) %}{{ 'x' * 1000000 }}{% endfor %}{% endfor %}"
    )

    assert len(render_template(exactly, CONTEXT)) == MAX_OUTPUT_SIZE
    assert refused(exactly + "!", kind="template") == "output_too_large"
    assert refused(hundred_gigabytes, kind="template") == "output_too_large"


def test_set_blocks_that_collect_over_1mb_are_refused() -> None:
    source = (
        "{% set page %}{% for i in range(2000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}{{ page | length }}"
    )

    assert refused(source, kind="template") == "output_too_large"


def test_a_list_written_out_over_1mb_is_refused() -> None:
    context = {"inputs": {"rows": ["x" * 1000] * 2000}}

    assert failure(render_template, "rows: {{ inputs.rows }}", context).code == "output_too_large"


@pytest.mark.parametrize("evaluate", [evaluate_expression, render_template])
def test_source_over_10kb_is_refused(evaluate: Evaluate) -> None:
    assert failure(evaluate, "1" + " " * MAX_SOURCE_LENGTH).code == "expression_too_long"


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
def test_macro_call_import_include_extends_filter_blocks_are_refused(source: str, tag: str) -> None:
    error = failure(render_template, source)

    assert (error.code, error.message) == (
        "forbidden_tag",
        f"The '{{% {tag} %}}' tag is not allowed in workflow templates.",
    )


@pytest.mark.parametrize("name", ["lipsum", "cycler", "joiner", "namespace"])
def test_removed_globals_are_undefined(name: str) -> None:
    assert failure(evaluate_expression, f"{name}()").code == "undefined"
    assert failure(render_template, f"{{{{ {name}(1, 2) }}}}").message == f"'{name}' is undefined"


# --- escapes --------------------------------------------------------------------------------------


def test_class_mro_escape_is_refused() -> None:
    assert refused("''.__class__.__mro__[1]") == "unsafe"
    assert refused("inputs.name.__class__.mro()") == "unsafe"


def test_empty_string_class_is_refused() -> None:
    assert refused("''.__class__") == "unsafe"


def test_tuple_class_bases_is_refused() -> None:
    assert refused("().__class__.__bases__[0]") == "unsafe"


def test_subclasses_escape_is_refused() -> None:
    assert refused("().__class__.__mro__[1].__subclasses__()", kind="expression") == "unsafe"
    assert refused("{{ [].__class__.__base__.__subclasses__() }}", kind="template") == "unsafe"


def test_globals_escape_is_refused() -> None:
    assert refused("range.__globals__") == "unsafe"
    assert refused("dict.__globals__['__builtins__']") == "unsafe"


def test_builtins_escape_is_refused() -> None:
    assert refused("__builtins__") == "undefined"
    assert refused("range.__builtins__") == "unsafe"
    assert refused("inputs.name.__init__.__globals__['__builtins__']") == "unsafe"


def test_template_reference_context_escape_is_refused() -> None:
    assert refused("{{ self._TemplateReference__context }}", kind="template") == "unsafe"


def test_rendering_a_block_again_is_refused() -> None:
    assert refused("{{ self.b() }}{% block b %}x{% endblock %}", kind="template") == "unsafe"


@pytest.mark.parametrize("name", ["config", "request", "settings", "os", "environment", "context"])
def test_config_and_request_style_names_are_undefined(name: str) -> None:
    assert refused(name) == "undefined"
    assert refused(f"{{{{ {name}.SECRET_KEY }}}}", kind="template") == "undefined"


def test_cycler_init_globals_is_undefined() -> None:
    assert refused("cycler.__init__.__globals__") == "undefined"


def test_private_attribute_access_is_refused() -> None:
    assert refused("{% for x in [1] %}{{ loop._iterator }}{% endfor %}", kind="template") == "unsafe"
    assert refused("{% for x in [1] %}{{ loop._after }}{% endfor %}", kind="template") == "unsafe"


@pytest.mark.parametrize(
    "source",
    [
        "'{0.__class__}'.format('')",
        "'{0.__class__.__mro__}'.format(inputs.name)",
        "'{0[__class__]}'.format('')",
        "'{x.__init__.__globals__}'.format(x=range)",
        "'{a.__class__}'.format_map({'a': ''})",
        "'{0.__class__}'.format(inputs)",
        "'{0.keys.__self__}'.format(inputs.user)",
    ],
)
def test_str_format_tricks_are_refused(source: str) -> None:
    assert refused(source) == "unsafe"


@pytest.mark.parametrize(
    "source",
    ["inputs.items.append(4)", "inputs.user.update({'id': 1})", "inputs.user.clear()", "inputs.tags.pop()"],
)
def test_mutating_methods_are_refused(source: str) -> None:
    context = copy.deepcopy(CONTEXT)

    assert failure(evaluate_expression, source, context).code == "unsafe"
    assert context == CONTEXT


def test_the_dict_global_cannot_mutate_the_context() -> None:
    context = copy.deepcopy(CONTEXT)

    assert failure(evaluate_expression, "dict.update(inputs, {'n': 0})", context).code == "undefined"
    assert context == CONTEXT
    assert evaluate_expression("dict(a=1, b=inputs.n)", context) == {"a": 1, "b": 5}


# --- method and filter bombs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "'a'.center(10 ** 9)",
        "'a'.ljust(10 ** 9)",
        "'a'.rjust(10 ** 9, 'x')",
        "'1'.zfill(10 ** 9)",
        "('\\t' * 1000).expandtabs(10 ** 6)",
        "('a' * 1000).replace('a', 'b' * 10000)",
        "('a' * 1000).replace('', 'b' * 10000)",
        "('x' * 1000).join(['a'] * 10000)",
        "'{:>1000000000}'.format('a')",
        "'{0}{0}{0}{0}'.format('x' * 300000)",
        "'{:{}}'.format('a', 10 ** 9)",
        "'%1000000000s' % 'a'",
        "'%*d' % (10 ** 9, 1)",
        "'%(a)s%(a)s%(a)s%(a)s' % {'a': 'x' * 300000}",
        "('a' * 1000).translate({97: 'b' * 10000})",
        "(1).to_bytes(10 ** 9, 'big')",
        "'a'.encode().center(10 ** 9)",
        "{}.fromkeys(range(10000), 'x' * 1000)",
    ],
)
def test_string_method_bombs_are_refused(source: str) -> None:
    assert refused(source) == "value_too_large"


def test_indent_filter_bomb_is_refused() -> None:
    assert refused("'a' | indent(10 ** 9)") == "value_too_large"
    assert refused("('a\\n' * 1000) | indent(2000, true)") == "value_too_large"


def test_center_filter_bomb_is_refused() -> None:
    assert refused("'a' | center(10 ** 9)") == "value_too_large"


@pytest.mark.parametrize(
    "source",
    [
        "'%1000000000s' | format('a')",
        "'%*s' | format(10 ** 9, 'a')",
        "'%.1000000000f' | format(1.5)",
        "('%(a)s' * 1000) | format(a='x' * 2000)",
    ],
)
def test_format_filter_bomb_is_refused(source: str) -> None:
    assert refused(source) == "value_too_large"


def test_join_of_a_huge_repetition_is_refused() -> None:
    assert refused("(['a'] * 100000) | join('x' * 100)") == "value_too_large"
    assert refused("('x' * 600000) | join(',')") == "value_too_large"


@pytest.mark.parametrize(
    "source",
    [
        "('a ' * 100000) | wordwrap(1, wrapstring='x' * 1000)",
        "('a' * 1000) | replace('a', 'b' * 10000)",
        "[1, [2, [3]]] | tojson(indent=10 ** 6)",
        "[0, 0] | batch(10 ** 9, 'x' * 10)",
        "[0] | slice(1000, 'x' * 10000) | list",
        "(['x'] * 10) | map('center', 200000) | list | length",
    ],
)
def test_other_growing_filters_are_refused(source: str) -> None:
    assert refused(source) == "value_too_large"


# --- values shared instead of copied --------------------------------------------------------------


def test_nested_shared_lists_are_measured_as_written() -> None:
    source = (
        "{% set a = 'x' * 100000 %}{% set b = [a, a, a, a, a, a, a, a, a] %}"
        "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{% set d = [c, c, c, c, c, c, c, c, c, c] %}"
        "{{ d | length }}"
    )

    assert refused(source, kind="template") == "value_too_large"


def test_a_filter_repeating_one_value_is_refused() -> None:
    source = "([0] * 5000) | map('default', 'x' * 1000, true) | list"

    assert refused(source) == "value_too_large"


def test_groupby_growth_is_refused() -> None:
    source = "[['x' * 30000]]" + " | groupby('0')" + " | groupby('1')" * 12

    assert refused(source) == "value_too_large"


def test_formatting_large_text_counts_it_once_per_use() -> None:
    assert evaluate_expression("'{} - {}'.format('x' * 600000, 'y') | length", CONTEXT) == 600_004
    assert evaluate_expression("('%s - %s' % ('x' * 600000, 'y')) | length", CONTEXT) == 600_004
    assert refused("'{0} - {0}'.format('x' * 600000)") == "value_too_large"
    assert refused("'%s - %s' % ('x' * 600000, 'x' * 600000)") == "value_too_large"


def test_joining_attributes_of_a_large_result_measures_only_the_attributes() -> None:
    context = {"inputs": {"results": [{"title": f"t{i}", "body": "x" * 3000} for i in range(1000)]}}

    assert evaluate_expression("inputs.results | join(',', attribute='title') | length", context) == 4889
    assert evaluate_expression("inputs.results | join(',', 'title') | length", context) == 4889
    assert failure(evaluate_expression, "inputs.results | join(',')", context).code == "value_too_large"


def test_size_bookkeeping_is_invisible_to_templates() -> None:
    assert refused("[1, 2]._written_size") == "unsafe"
    assert (
        failure(evaluate_expression, "[1] < 'a'").message
        == "'<' not supported between instances of 'list' and 'str'"
    )


# --- results that are not JSON --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "context"),
    [
        ("range", CONTEXT),
        ("{{ range }}", CONTEXT),
        ("inputs.s", {"inputs": {"s": {1, 2}}}),
        ("inputs.a.keys() - inputs.b.keys()", {"inputs": {"a": {"x": 1}, "b": {}}}),
        ("'nan' | float", CONTEXT),
        ("'inf' | float", CONTEXT),
        ("[1, 'nan' | float]", CONTEXT),
        ("{1: 'a'}", CONTEXT),
        ("inputs.items | map('string')", CONTEXT),
        ("range(3)", CONTEXT),
        ("'x'.upper", CONTEXT),
        ("inputs.name.encode()", CONTEXT),
        ("(-8) ** 0.5", CONTEXT),
    ],
)
def test_non_json_results_are_refused(source: str, context: dict[str, Any]) -> None:
    evaluate = render_template if source.startswith("{{") else evaluate_expression

    assert failure(evaluate, source, context).code == "non_json_value"


def test_non_json_message_says_how_to_fix_it() -> None:
    assert failure(evaluate_expression, "inputs.items | map('string')").message == (
        "The result is a sequence computed on demand (add '| list' to make it a list), "
        "which is not a JSON value."
    )


def test_non_json_values_inside_text_are_just_text() -> None:
    assert render_template("{{ 'nan' | float }} and {{ range(2) }}", CONTEXT) == "nan and range(0, 2)"


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "code", "message"),
    [
        ("1 / 0", "evaluation_error", "Division by zero."),
        ("inputs.name + 1", "evaluation_error", 'Can only concatenate str (not "int") to str'),
        ("inputs.n >", "invalid_expression", "Unexpected 'end of expression'"),
        ("inputs.n | shout", "invalid_expression", "No filter named 'shout'."),
    ],
)
def test_runtime_and_syntax_errors_have_stable_codes(source: str, code: str, message: str) -> None:
    error = failure(evaluate_expression, source)

    assert (error.code, error.message) == (code, message)


def test_a_missing_format_argument_is_explained() -> None:
    assert failure(evaluate_expression, "'{.x}'.format(1)").message == "There is no value named ''."


def test_slices_work_and_read_through_the_sandbox() -> None:
    assert evaluate_expression("inputs.items[1:]", CONTEXT) == [2, 3]
    assert evaluate_expression("inputs.name[::-1]", CONTEXT) == "adA"
    assert failure(evaluate_expression, "true[1:]").code == "undefined"


def test_runtime_error_reports_the_template_line() -> None:
    error = failure(render_template, "first\nsecond\n{{ 1 / 0 }}")

    assert (error.code, error.line) == ("evaluation_error", 3)


def test_errors_carry_no_chained_exception() -> None:
    error = failure(evaluate_expression, "1 / 0")

    assert error.__cause__ is None
    assert error.__context__ is None


def test_the_environment_refuses_to_render_outside_an_evaluation() -> None:
    template = make_environment().from_string("{{ 'a' | upper }}")

    with pytest.raises(RuntimeError):
        template.render()


# --- caching and threads --------------------------------------------------------------------------


def test_compiled_sources_are_cached_per_source() -> None:
    source = "inputs.n * 7 + 0"
    before = expressions._compiled.cache_info()

    for _ in range(5):
        assert evaluate_expression(source, CONTEXT) == 35

    after = expressions._compiled.cache_info()
    assert after.misses - before.misses <= 1
    assert after.hits - before.hits >= 4
    assert after.maxsize == expressions.COMPILED_CACHE_SIZE


def test_a_failed_evaluation_does_not_leak_its_iterations_into_the_next() -> None:
    over_the_limit = "{% for i in range(10000) %}{% for j in range(11) %}{% endfor %}{% endfor %}"

    assert refused(over_the_limit, kind="template") == "loop_limit"

    assert (
        render_template(
            "{% for i in range(10000) %}{% for j in range(9) %}{% endfor %}{% endfor %}ok", CONTEXT
        )
        == "ok"
    )


@contextmanager
def started_together(workers: list[Callable[[], None]]) -> Iterator[list[BaseException]]:
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        barrier.wait()
        try:
            work()
        except BaseException as error:  # reported to the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    yield errors
    for thread in threads:
        thread.join(timeout=30)


def test_concurrent_evaluations_see_only_their_own_context() -> None:
    results: dict[int, list[Any]] = {}

    def worker(number: int) -> Callable[[], None]:
        def work() -> None:
            context = {"inputs": {"n": number, "tags": [str(number)] * number}}
            results[number] = [
                (
                    evaluate_expression("inputs.n * 2", context),
                    render_template("{% for t in inputs.tags %}{{ t }}{% endfor %}", context),
                )
                for _ in range(200)
            ]

        return work

    with started_together([worker(number) for number in range(1, 9)]) as errors:
        pass

    assert errors == []
    for number in range(1, 9):
        assert set(results[number]) == {(number * 2, str(number) * number)}


def test_iteration_counters_do_not_leak_between_threads() -> None:
    """Both start together; together they pass 110 000 iterations, each alone stays under the limit."""
    ninety_thousand = "{% for i in range(9000) %}{% for j in range(9) %}{% endfor %}{% endfor %}big"
    twenty_thousand = "{% for i in range(2000) %}{% for j in range(9) %}{% endfor %}{% endfor %}small"
    outcomes: list[str] = []
    assert 90_000 < MAX_ITERATIONS < 90_000 + 20_000

    def render(source: str) -> Callable[[], None]:
        return lambda: outcomes.append(render_template(source, CONTEXT))

    for _round in range(3):
        with started_together([render(ninety_thousand), render(twenty_thousand)]) as errors:
            pass
        assert errors == []

    assert sorted(outcomes) == ["big"] * 3 + ["small"] * 3


# --- property: never anything but JSON or ExpressionError -----------------------------------------

OPERANDS = [
    "0",
    "1",
    "-3",
    "7",
    "64",
    "10 ** 20",
    "0.5",
    "1e308",
    "''",
    "'a'",
    "'xyz'",
    "'%s'",
    "'{}'",
    "'{{ 1 }}'",
    "[]",
    "[1, 'a']",
    "(1, 2)",
    "{'k': 1}",
    "none",
    "true",
    "inputs.n",
    "inputs.name",
    "inputs.items",
    "inputs.user",
    "inputs.missing",
    "range(5)",
    "range(20000)",
    "10 ** 9",
]
BINARY = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "<", "and", "or", "in"]
SUFFIXES = [
    "| length",
    "| list",
    "| join(',')",
    "| upper",
    "| center(10 ** 9)",
    "| center(7)",
    "| first",
    "| sum",
    "| sort",
    "| tojson",
    "| string",
    "| int",
    "| float",
    "| reverse",
    "| unique | list",
    "| batch(2) | list",
    "| map('string') | list",
    "| replace('a', 'bb')",
    "| format(1)",
    "| indent(3)",
    "| default(1)",
    "| round",
    ".upper()",
    ".center(10 ** 9)",
    ".split()",
    ".count('a')",
    ".format(1)",
    ".join(['a', 'b'])",
    ".__class__",
    "[0]",
    "[1:]",
    ".keys()",
]

expressions_grammar = st.recursive(
    st.sampled_from(OPERANDS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(BINARY), inner).map(
            lambda parts: f"({parts[0]} {parts[1]} {parts[2]})"
        ),
        st.tuples(inner, st.sampled_from(SUFFIXES)).map(lambda parts: f"({parts[0]}){parts[1]}"),
        inner.map(lambda text: f"(not {text})"),
        inner.map(lambda text: f"(-{text})"),
        st.lists(inner, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
    ),
    max_leaves=6,
)


def assert_json(value: Any) -> None:
    json.dumps(value, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(expressions_grammar)
def test_random_expressions_give_json_or_an_expression_error(source: str) -> None:
    try:
        value = evaluate_expression(source, CONTEXT)
    except ExpressionError as error:
        assert error.code and error.message
    else:
        assert_json(value)


@settings(max_examples=150, deadline=None)
@given(expressions_grammar, expressions_grammar)
def test_random_templates_give_json_or_text_or_an_expression_error(first: str, second: str) -> None:
    for source in (f"{{{{ {first} }}}}", f"{{{{ {first} }}}} and {{{{ {second} }}}}"):
        try:
            value = render_template(source, CONTEXT)
        except ExpressionError as error:
            assert error.code and error.message
        else:
            assert_json(value)
