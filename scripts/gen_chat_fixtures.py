#!/usr/bin/env python3
"""Writes the expected renders for tests/test_chat_template.c (run once; the test never runs Python).

    python3 scripts/gen_chat_fixtures.py     # jinja2 3.1 (transformers' dependency)

Reads tests/data/chat_templates/*.jinja (real chat templates, see SOURCES.md) and writes, in that folder:
  renders.json      the templates, their tokens and the conversations; renders/TEMPLATE.json holds
                    every conversation x add_generation_prompt of that template: the text jinja2 renders, or
                    the error it raises, and the assistant spans by the prefix method that
                    src/chat/chat_template.h documents (byte offsets into the UTF-8 text), or that the
                    method refuses the conversation;
  jinja_cases.json  small templates that exercise the interpreter (expressions, filters, whitespace
                    control, loops, macros, namespace), each with its variables and jinja2's output or
                    error class.

The environment is the one transformers builds for apply_chat_template: ImmutableSandboxedEnvironment
with trim_blocks, lstrip_blocks and loopcontrols, its own tojson (json.dumps, ensure_ascii=False) and
raise_exception, and strftime_now pinned to FIXED_NOW so renders are reproducible (the C test pins the
same instant with vkt_chat_template_set_now).
"""
import json
import os
from datetime import datetime, timezone

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "chat_templates")
FIXED_NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=timezone.utc)  # 1741964966


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()

# name: (file, bos, eos, end-of-turn marker the spans must end with)
TEMPLATES = {
    "llama2": ("llama2.jinja", "<s>", "</s>", "</s>"),
    "llama3": ("llama3.jinja", "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>"),
    "llama3.2": ("llama3.2.jinja", "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>"),
    "llama3.3": ("llama3.3.jinja", "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>"),
    "mistral_v0.1": ("mistral_v0.1.jinja", "<s>", "</s>", "</s>"),
    "mistral_v0.3": ("mistral_v0.3.jinja", "<s>", "</s>", "</s>"),
    "qwen2": ("qwen2.jinja", "", "<|im_end|>", "<|im_end|>"),
    "qwen2.5": ("qwen2.5.jinja", "", "<|im_end|>", "<|im_end|>"),
    "chatml": ("chatml.jinja", "<s>", "<|im_end|>", "<|im_end|>"),
    "zephyr": ("zephyr.jinja", "<s>", "</s>", "</s>"),
    "tinyllama": ("tinyllama.jinja", "<s>", "</s>", "</s>"),
    "gemma": ("gemma.jinja", "<bos>", "<eos>", "<end_of_turn>"),
    "phi3": ("phi3.jinja", "<s>", "<|endoftext|>", "<|end|>"),
    "smollm2": ("smollm2.jinja", "<|im_start|>", "<|im_end|>", "<|im_end|>"),
    "hermes3_tool_use": ("hermes3_tool_use.jinja", "<|begin_of_text|>", "<|im_end|>", "<|im_end|>"),
    # vktrain's built-ins (src/chat/chat_template.c embeds these files; written for vktrain, see SOURCES.md)
    "builtin_chatml": ("builtin_chatml.jinja", "<s>", "<|im_end|>", "<|im_end|>"),
    "builtin_llama3": ("builtin_llama3.jinja", "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>"),
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

U = lambda text: {"role": "user", "content": text}  # noqa: E731
A = lambda text: {"role": "assistant", "content": text}  # noqa: E731
S = lambda text: {"role": "system", "content": text}  # noqa: E731

CONVERSATIONS = {
    "two_turns": {"messages": [U("Hi there"), A("Hello! How can I help?"), U("What is 2+2?"), A("2+2 is 4.")]},
    "system": {"messages": [S("You are a terse assistant."), U("Name a colour."), A("Blue."), U("Another?"),
                            A("Green.")]},
    "prompt_only": {"messages": [S("Be brief."), U("Summarise the plot of Hamlet.")]},
    "unicode_quotes": {"messages": [
        U("héllo 世界 🙂 \"double\" 'single' back\\slash\ttab\nnew line"),
        A("  Bonjour ! ça va ? « guillemets » — 😀  "),
        U("{{ not a template }} {% neither %}"),
        A("Literal braces: {{ }} and </s> inside."),
    ]},
    "content_parts": {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "Describe "}, {"type": "text", "text": "a cat."}]},
        A("A small furry animal."),
    ]},
    "tools": {
        "messages": [
            U("What's the weather in Paris?"),
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call12345", "type": "function",
                 "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
            {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
             "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
            A("It is 21 °C and clear in Paris."),
        ],
        "tools": [WEATHER_TOOL],
    },
    "tools_with_system": {
        "messages": [S("You help with the weather."), U("Weather in Oslo?"),
                     {"role": "assistant", "content": None, "tool_calls": [
                         {"id": "abcdefghi", "type": "function",
                          "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
                     {"role": "tool", "tool_call_id": "abcdefghi", "content": "-3 degrees"},
                     A("It is -3 °C in Oslo.")],
        "tools": [WEATHER_TOOL],
    },
    "not_alternating": {"messages": [U("first"), U("second"), A("answer")]},
    "with_date": {"messages": [S("Sys."), U("What day is it?"), A("Friday.")], "extra": {"date_string": "07 Feb 2025"}},
}


def render(tmpl, bos, eos, conv, messages, gen):
    kwargs = dict(conv.get("extra", {}))
    return tmpl.render(messages=messages, tools=conv.get("tools"), documents=None, add_generation_prompt=gen,
                       bos_token=bos, eos_token=eos, **kwargs)


def spans(tmpl, bos, eos, conv, full):
    """The prefix method of chat_template.h, in UTF-8 byte offsets; None when it refuses."""
    msgs = conv["messages"]
    out = []
    for i, m in enumerate(msgs):
        if m["role"] != "assistant":
            continue
        before = render(tmpl, bos, eos, conv, msgs[:i], True)
        upto = render(tmpl, bos, eos, conv, msgs[:i + 1], False)
        if not upto.startswith(before) or not full.startswith(before):
            return None
        end = len(upto.rstrip(" \n\t\r"))
        if not full.startswith(upto[:end]) and eos and upto[:end].endswith(eos):
            end = len(upto[:end - len(eos)].rstrip(" \n\t\r"))  # an eos only the final message gets
        if end < len(before) or not full.startswith(upto[:end]):
            return None
        b = len(full[:len(before)].encode())
        e = len(full[:end].encode())
        if out and b < out[-1][2]:
            return None
        out.append([i, b, e])
    return out


def gen_renders():
    cases = []
    for name, (fname, bos, eos, marker) in TEMPLATES.items():
        with open(os.path.join(HERE, fname), encoding="utf-8") as f:
            tmpl = ENV.from_string(f.read())
        for cname, conv in CONVERSATIONS.items():
            for gen in (False, True):
                case = {"template": name, "conversation": cname, "add_generation_prompt": gen}
                try:
                    text = render(tmpl, bos, eos, conv, conv["messages"], gen)
                except Exception as e:  # the template rejects the conversation
                    case["error"] = f"{type(e).__name__}: {e}"
                    cases.append(case)
                    continue
                case["output"] = text
                try:
                    sp = spans(tmpl, bos, eos, conv, text)
                except Exception:
                    sp = None
                if sp is None:
                    case["span_error"] = True
                else:
                    case["spans"] = sp
                cases.append(case)
    templates = {n: {"file": f, "bos_token": b, "eos_token": e, "end_marker": m}
                 for n, (f, b, e, m) in TEMPLATES.items()}
    return {"fixed_now_unix": int(FIXED_NOW.timestamp()), "templates": templates,
            "conversations": CONVERSATIONS, "renders": cases}


CONV = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "  What is 2+2?  "}]

# (name, template, variables)
JINJA_CASES = [
    ("text", "plain text", {}),
    ("output", "a{{ x }}b", {"x": "X"}),
    ("undefined prints nothing", "[{{ missing }}]", {}),
    ("none and bools", "{{ none }} {{ true }} {{ False }} {{ None }}", {}),
    ("integers", "{{ 1 + 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 * 3 - 1 }} {{ -4 }} {{ 2 ** 10 }}", {}),
    ("floats", "{{ 1.5 + 1 }} {{ 3 / 2 }} {{ 4 / 2 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 2 ** -1 }} {{ 1.0 }} {{ 123456789012345678.0 }}", {}),
    ("string escapes", "{{ 'a\\nb\\t\"c\"' }}|{{ \"it's\" }}|{{ '\\u00e9\\x41' }}", {}),
    ("adjacent strings", "{{ 'a' 'b' \"c\" }}", {}),
    ("comment", "a{# gone #}b", {}),
    ("trim_blocks", "{% if true %}\nx\n{% endif %}\ny", {}),
    ("lstrip_blocks", "a\n    {% if true %}\n    b\n    {% endif %}\nc", {}),
    ("lstrip not for output", "a\n    {{ 'b' }}\nc", {}),
    ("minus trims", "a   {{- 'b' -}}   c  {%- if true -%}  d  {%- endif %}", {}),
    ("plus keeps", "a\n  {%+ if true %}x{% endif +%}\ny", {}),
    ("comment trim", "a\n  {# c #}\nb {#- c -#} c", {}),
    ("trailing newline dropped", "x\n", {}),
    ("crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("raw", "{% raw %}{{ not }}{% if %}{% endraw %}!", {}),
    ("if elif else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}", {}),
    ("for loop variables", "{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
     "{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }};{% endfor %}", {"items": ["a", "b", "c"]}),
    ("previtem nextitem cycle", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }};{% endfor %}", {}),
    ("for else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for with a condition", "{% for x in [1, 2, 3, 4] if x % 2 == 0 %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", {}),
    ("for over items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
     {"d": {"x": 1, "y": "z"}}),
    ("for tuple unpacking", "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", {}),
    ("nested loops", "{% for i in range(3) %}{% for j in range(i) %}{{ i }}{{ j }}{{ loop.length }} {% endfor %}{% endfor %}", {}),
    ("break continue", "{% for n in [1, 2, 3, 4, 5] %}{% if n == 2 %}{% continue %}{% endif %}{% if n == 4 %}{% break %}{% endif %}{{ n }}{% endfor %}", {}),
    ("set scope", "{% set a = 1 %}{% for x in [1, 2] %}{{ a }}{% set a = a + 1 %}{{ a }}{% endfor %}{{ a }}"
     "{% if true %}{% set b = 3 %}{% endif %}{{ b }}", {}),
    ("set in loop resets", "{% for x in [1, 2] %}{% if loop.first %}{% set a = 5 %}{% endif %}[{{ a }}]{% endfor %}", {}),
    ("set tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    ("block set", "{% set x %}in {{ 'block' }}{% endset %}[{{ x }}]{% set y | upper %}up{% endset %}{{ y }}", {}),
    ("namespace", "{% set ns = namespace(total=0, seen=false) %}{% for x in [1, 2, 3] %}{% set ns.total = ns.total + x %}"
     "{% if x == 2 %}{% set ns.seen = true %}{% endif %}{% endfor %}{{ ns.total }} {{ ns.seen }}", {}),
    ("namespace attribute added", "{% set ns = namespace() %}{% set ns.a = 'x' %}{{ ns.a }}", {}),
    ("macro", "{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(b=5, a=4) }}", {}),
    ("macro sees outer", "{% macro m() %}{{ g }}{% endmacro %}{% set g = 9 %}{{ m() }}", {}),
    ("macro varargs kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, z=3) }}", {}),
    ("call block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
    ("call block args", "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}[{{ v }}]{% endcall %}", {}),
    ("filter block", "{% filter upper %}abc {{ 'def' }}{% endfilter %}", {}),
    ("comparisons", "{{ 1 < 2 }}{{ 2 <= 1 }}{{ 'a' == 'a' }}{{ 'a' != 'a' }}{{ 3 > 2 }}{{ 1 >= 1 }}{{ 1 < 2 < 3 }}{{ 1 == 1.0 }}{{ true == 1 }}", {}),
    ("string ordering", "{{ 'a' < 'b' }}{{ 'é' > 'z' }}{{ [1, 2] < [1, 3] }}", {}),
    ("logic values", "{{ true and false }}{{ true or false }}{{ not true }}{{ not (1 == 2) }}{{ 0 or 'x' }}{{ 'a' and 'b' }}{{ '' or none }}", {}),
    ("in", "{{ 'b' in 'abc' }}{{ 2 in [1, 2] }}{{ 'k' in d }}{{ 'q' not in d }}{{ 'z' in undefinedvar }}", {"d": {"k": 1}}),
    ("tests", "{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ n is none }}{{ s is string }}{{ d is mapping }}"
     "{{ s is iterable }}{{ l is sequence }}{{ 3 is number }}{{ 3 is integer }}{{ 3.0 is float }}{{ true is boolean }}"
     "{{ false is false }}{{ true is true }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}"
     "{{ n is not none }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ 1 is eq 1 }}{{ 2 is gt 1 }}{{ none is sameas none }}",
     {"x": 1, "n": None, "s": "s", "d": {}, "l": [1]}),
    ("conditional expression", "{{ 'yes' if flag else 'no' }}[{{ 'a' if false }}]{{ 1 if 0 else 2 if 0 else 3 }}", {"flag": True}),
    ("concat operator", "{{ 'n=' ~ 3 ~ none ~ true ~ 1.5 ~ missing }}", {}),
    ("string plus", "{{ 'a' + 'b' }}{{ [1] + [2] }}{{ 'ab' * 3 }}{{ 2 * [0] }}", {}),
    ("attribute and item", "{{ m.role }} {{ m['content'] }} {{ l[0] }} {{ l[-1] }} {{ l.1 }} {{ m.nope }}[{{ l[5] }}]",
     {"m": {"role": "user", "content": "hi"}, "l": [10, 20, 30]}),
    ("dict methods", "{{ d.get('a') }} {{ d.get('z', 'dflt') }} {{ d.get('z') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}",
     {"d": {"a": 1, "b": [2]}}),
    ("slices", "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[-2:] }} {{ l[5:] }}",
     {"l": [1, 2, 3, 4], "s": "héllo"}),
    ("list and dict literals", "{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }} {{ {'a': 1, 'b': [1, 2]} }} {{ (1, 2) }} {{ (1,) }} {{ () }}", {}),
    ("repr of strings", "{{ ['it\\'s', 'a\"b', '\\n', 'both \\' and \"', '\\\\'] }}", {}),
    ("string methods", "{{ '  x  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  x '.lstrip() }}|{{ ' x  '.rstrip() }}|"
     "{{ 'a,b,,c'.split(',') }}|{{ ' a  b c '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|"
     "{{ '  a b  '.split(none, 1) }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aBc dEf'.upper() }}"
     "{{ 'aBc dEf'.lower() }}|{{ 'hello world-x'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'aaa'.replace('a', 'b', 2) }}|"
     "{{ 'ab'.replace('', '-') }}|{{ '{} and {}'.format(1, 'b') }}|{{ '{0}{name}'.format('x', name='y') }}|"
     "{{ 'héllo'.find('l') }}|{{ 'banana'.count('an') }}|{{ '-'.join(['a', 'b']) }}|{{ 'a\\nb\\r\\nc'.splitlines() }}", {}),
    ("percent format", "{{ '%s-%d-%05.2f-%%' % ('a', 3, 2.5) }}|{{ '%s' % 'x' }}|{{ '%(a)s' % {'a': 1} }}", {}),
    ("filters text", "{{ '  t  ' | trim }}|{{ 'xxtxx' | trim('x') }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'hello WORLD' | capitalize }}|"
     "{{ 'hello world-wide (x' | title }}|{{ 'aXa' | replace('a', 'b') }}|{{ 'a b  c' | wordcount }}|{{ '<&>' | e }}|{{ 'x' | safe }}", {}),
    ("filters sequences", "{{ [3, 1, 2] | sort }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ ['b', 'A', 'a'] | sort }}|{{ ['b', 'A', 'a'] | sort(case_sensitive=true) }}|"
     "{{ [1, 2] | first }}|{{ [1, 2] | last }}|{{ 'abc' | first }}|{{ [1, 2, 3] | length }}|{{ 'héllo' | length }}|{{ {'a': 1} | length }}|"
     "{{ [1, 2, 1, 3] | unique | list }}|{{ [1, 2] | reverse | list }}|{{ 'abc' | reverse }}|{{ 'abc' | list }}|{{ [1, 2, 3] | join('-') }}|"
     "{{ [1, 2, 3] | sum }}|{{ [1, 5, 3] | max }}|{{ [4, 2, 9] | min }}|{{ [1, 2, 3, 4, 5] | batch(2) | list }}", {}),
    ("filters mappings", "{{ d | dictsort }}|{{ d | dictsort(by='value') }}|{{ d | items | list }}|{{ missing | items | list }}|{{ d | list }}",
     {"d": {"b": 1, "a": 2}}),
    ("filters attributes", "{{ msgs | selectattr('role', 'equalto', 'user') | list | length }}|"
     "{{ (msgs | selectattr('role', 'equalto', 'user') | list)[-1].content }}|{{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='content') | join(',') }}|"
     "{{ msgs | map(attribute='role') | unique | list }}|{{ items | selectattr('on') | map(attribute='n') | list }}|"
     "{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ ['a', 'b'] | map('upper') | list }}|"
     "{{ msgs | map(attribute='missing', default='d') | list }}|{{ msgs | join(', ', attribute='role') }}|{{ msgs | sort(attribute='content') | map(attribute='content') | first }}",
     {"msgs": CONV, "items": [{"n": 1, "on": True}, {"n": 2, "on": False}, {"n": 3}]}),
    ("filters numbers", "{{ -3 | abs }}|{{ 2.567 | round(2) }}|{{ 2.5 | round }}|{{ 3.7 | round(method='floor') }}|{{ '42' | int }}|{{ 'x' | int }}|"
     "{{ '3.5' | float }}|{{ 3 | float }}|{{ 3.9 | int }}|{{ '0x1A' | int(base=16) }}|{{ x | default('dflt') }}|{{ '' | default('e', true) }}|{{ 0 | d(5) }}", {}),
    ("filters misc", "{{ 'a\\nb\\n' | indent }}|{{ 'a\\n\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|"
     "{{ 3 | string }}{{ none | string }}|{{ '%s=%s' | format('k', 1) }}|{{ d | attr('x') }}", {"d": {"x": 1}}),
    ("tojson", "{{ v | tojson }}|{{ v | tojson(indent=2) }}|{{ 'é\\n\"\\\\' | tojson }}|{{ 1.5 | tojson }}|{{ none | tojson }}|"
     "{{ [] | tojson(indent=4) }}|{{ {} | tojson }}|{{ v | tojson(sort_keys=true) }}|{{ 'é' | tojson(ensure_ascii=true) }}|"
     "{{ v | tojson(separators=(',', ':')) }}",
     {"v": {"z": [1, 2, {"q": None}], "a": "s", "t": True, "f": 2.25}}),
    ("tojson tool", "{{ t | tojson(indent=4) }}", {"t": WEATHER_TOOL}),
    ("loop over string and dict", "{% for ch in 'hé' %}[{{ ch }}]{% endfor %}{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}", {}),
    ("range", "{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(5, 0, -2) | list }}{{ range(0) | list }}", {}),
    ("dict function", "{{ dict(a=1, b='x') }}", {}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M') }}", {}),
    ("builtins are defined", "{{ strftime_now is defined }} {{ raise_exception is defined }} {{ range is defined }} "
     "{{ namespace is defined }} {{ nothing is defined }}", {}),
    ("messages like a template", "{% for m in messages %}{{ m.role | upper }}: {{ m.content | trim }}\n{% endfor %}", {"messages": CONV}),
    ("whitespace around blocks", "{% for m in messages %}\n  {% if m.role == 'user' %}\n    U {{ m.content }}\n  {% else %}\n    A\n  {% endif %}\n{% endfor %}\n", {"messages": CONV}),
    ("unicode whitespace trim", "{{ '\\u3000 x \\xa0' | trim }}|{{ 'x\\u2028' | trim }}", {}),
    ("int overflow safe", "{{ 9223372036854775807 }} {{ -9223372036854775807 - 1 }}", {}),
    ("nested data", "{{ d.a.b[1].c }}", {"d": {"a": {"b": [0, {"c": "deep"}]}}}),
    # errors: (template, variables) whose render raises
    ("error raise_exception", "{{ raise_exception('Roles must alternate!') }}", {}),
    ("error undefined attribute chain", "{{ x.y.z }}", {"x": {}}),
    ("error undefined name attribute", "{{ nothing.attr }}", {}),
    ("error undefined arithmetic", "{{ nothing + 1 }}", {}),
    ("error str plus list", "{{ 'a' + [1] }}", {}),
    ("error str plus none", "{{ 'a' + none }}", {}),
    ("error division by zero", "{{ 1 / 0 }}", {}),
    ("error calling a string", "{{ 'a'() }}", {}),
    ("error list append sandbox", "{% set l = [] %}{% set _ = l.append(1) %}{{ l }}", {}),
    ("error dict update sandbox", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
    ("error set attribute of non-namespace", "{% set d = {'a': 1} %}{% set d.a = 2 %}{{ d.a }}", {}),
    ("error compare str int", "{{ 'a' < 1 }}", {}),
    ("first of undefined", "[{{ nothing | first }}]", {}),
    ("error tojson undefined", "{{ nothing | tojson }}", {}),
    ("error items of a list", "{{ [1] | items | list }}", {}),
    ("error unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("error int not iterable", "{% for x in 3 %}{% endfor %}", {}),
    ("error in int", "{{ 1 in 2 }}", {}),
]


def gen_jinja_cases():
    out = []
    for name, src, variables in JINJA_CASES:
        case = {"name": name, "template": src, "vars": variables}
        try:
            case["output"] = ENV.from_string(src).render(**variables)
        except Exception as e:
            case["error"] = f"{type(e).__name__}: {e}"
        out.append(case)
    return {"fixed_now_unix": int(FIXED_NOW.timestamp()), "cases": out}


def write(name, obj):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    assert jinja2.__version__.startswith("3.1"), f"expected jinja2 3.1, found {jinja2.__version__}"
    renders = gen_renders()
    cases = renders.pop("renders")
    os.makedirs(os.path.join(HERE, "renders"), exist_ok=True)
    for name in renders["templates"]:  # one file per template: a reader sees one template's renders at a time
        write(os.path.join("renders", name + ".json"), [c for c in cases if c["template"] == name])
    write("renders.json", renders)
    write("jinja_cases.json", gen_jinja_cases())
    print(f"wrote renders.json, renders/*.json and jinja_cases.json with jinja2 {jinja2.__version__}")
