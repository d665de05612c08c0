"""The gettext catalogues: every extracted message is translated, placeholders survive, the admin guide's wording.

Extraction uses Babel's Python API with ``babel.cfg`` (what ``make messages`` runs), so adding ``_("New text")``,
``N_("New text")``, ``translate("New text", locale)`` or ``{% trans %}New text{% endtrans %}`` without running
``make messages`` and filling its Spanish ``msgstr`` fails here.
"""

from __future__ import annotations

import ast
import gettext
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.util import pathmatch

from salesbridge.i18n import DEFAULT_LOCALE, N_, SUPPORTED_LOCALES, normalize_locale, translate, translations

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "src" / "salesbridge" / "locales"
SPANISH_PO = LOCALES / "es" / "LC_MESSAGES" / "messages.po"
TEMPLATE_POT = LOCALES / "messages.pot"
KEYWORDS = {**DEFAULT_KEYWORDS, "translate": None}
"""The keywords of ``make messages``: gettext's defaults (``_``, ``gettext``, ``ngettext``, ``N_``…) + translate."""

Key = tuple[str, str | None]
"""A catalogue entry: the (singular) msgid and the msgctxt."""


def _mapping() -> tuple[list[tuple[str, str]], dict[str, dict[str, object]]]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, "babel.cfg")
    return method_map, options_map


def _key(message: str | tuple[str, ...] | list[str], context: str | None) -> Key:
    return (message if isinstance(message, str) else message[0], context)


@pytest.fixture(scope="module")
def extracted() -> dict[Key, str]:
    """Every message the source tree marks for translation → the first file marking it. Once for the module:
    an extraction reads the whole tree (1-3 s), and three tests compare against it."""
    method_map, options_map = _mapping()
    found: dict[Key, str] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(_key(message, context), filename)
    return found


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale="es")


def _entries(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def _strings(message: Message) -> tuple[str, ...]:
    """The translation of ``message``, one string per plural form."""
    return (message.string,) if isinstance(message.string, str) else tuple(message.string or ("",))


def _untranslated(keys: Iterable[Key], catalog: Catalog) -> list[str]:
    """The msgids of ``keys`` that ``catalog`` lacks, leaves empty or marks fuzzy."""
    missing = []
    for msgid, context in keys:
        message = catalog.get(msgid, context)
        if message is None or message.fuzzy or not all(_strings(message)):
            missing.append(msgid)
    return sorted(missing)


def _fields(text: str) -> set[str]:
    """The ``{name}`` fields (and the ``%(name)s`` ones of Jinja2 ``{% trans %}`` blocks) of ``text``."""
    braces = {name for _literal, name, _spec, _conversion in Formatter().parse(text) if name is not None}
    return braces | set(re.findall(r"%\((\w+)\)", text))


# 1. Completeness.


def test_every_extracted_message_has_a_spanish_translation(extracted: dict[Key, str]) -> None:
    assert extracted, "extraction found nothing: check babel.cfg"
    assert ("Connected to Microsoft Dynamics", None) in extracted
    assert _untranslated(extracted, _catalog(SPANISH_PO)) == [], "run `make messages`, then fill these msgstr"


def test_a_new_string_without_translation_is_caught() -> None:
    source = b'_("New text")\nN_("Constant")\ntranslate("Call {name}", locale)\ngettext("Empty")\ntranslate(variable)\n'
    keys = [
        _key(message, context) for _line, message, _comments, context in extract("python", BytesIO(source), KEYWORDS)
    ]
    catalog = Catalog(locale="es")
    catalog.add("Constant", "Constante")
    catalog.add("Call {name}", "Llamar a {name}", flags=["fuzzy"])
    catalog.add("Empty", "")

    assert keys == [("New text", None), ("Constant", None), ("Call {name}", None), ("Empty", None)]
    assert _untranslated(keys, catalog) == ["Call {name}", "Empty", "New text"]


def test_templates_will_be_extracted() -> None:
    method_map, options_map = _mapping()
    template = "src/salesbridge/web/templates/admin/crm_settings.html"
    pattern, method = next((pattern, method) for pattern, method in method_map if pathmatch(pattern, template))
    source = b'<h1>{{ _("CRM Settings") }}</h1>{% trans org=org %}Connected to {{ org }}{% endtrans %}'

    messages = [
        message
        for _line, message, _comments, _context in extract(
            method, BytesIO(source), KEYWORDS, options=options_map[pattern]
        )
    ]

    assert method == "jinja2"
    assert messages == ["CRM Settings", "Connected to %(org)s"]


def test_every_entry_of_the_spanish_catalogue_is_translated_in_every_plural_form() -> None:
    """The .po itself, entry by entry (not only what extraction finds): no empty or fuzzy msgstr, a string for
    each of Spanish's plural forms, and no fuzzy header (a fuzzy header is left out when compiled)."""
    spanish = _catalog(SPANISH_PO)
    incomplete = [
        str(message.id)
        for message in _entries(spanish)
        if message.fuzzy
        or not all(_strings(message))
        or (message.pluralizable and len(_strings(message)) != spanish.num_plurals)
    ]

    assert not spanish.fuzzy, "the catalogue's header is marked fuzzy: remove the flag"
    assert _entries(spanish)
    assert incomplete == [], "fill these msgstr (every plural form) and remove their fuzzy flags"


TEMPLATES = ROOT / "src" / "salesbridge" / "web" / "templates"
_JINJA_CODE = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_SHOWN_ATTRIBUTES = frozenset({"title", "alt", "placeholder", "aria-label", "aria-description", "label"})
_WORD = re.compile(r"[^\W\d_]{2,}")
_ADDRESS = re.compile(r"(https?://|/)\S*")
"""A URL or a path (an example address in a placeholder, a link built in a macro): not words to translate."""
NOT_TRANSLATED = frozenset({"salesbridge", "UTC", "English", "Español", "BEGIN", "CERTIFICATE"})
"""Words templates may show as they are: the product's name, the time zone, each language's own name (the language
menus), and a PEM certificate's header (CRM Settings' placeholder)."""


class _LiteralText(HTMLParser):
    """Collects the words a template shows outside any Jinja2 expression: text nodes and shown attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden = 0

    def _check(self, text: str) -> None:
        text = text.strip()
        if _ADDRESS.fullmatch(text) is None and set(_WORD.findall(text)) - NOT_TRANSLATED:
            self.found.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in {"script", "style"}
        for name, value in attrs:
            if name in _SHOWN_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in {"script", "style"}

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._check(data)


def _literal_text(template: str) -> list[str]:
    """The text ``template`` (Jinja2 HTML) shows without going through the catalogue."""
    parser = _LiteralText()
    parser.feed(_JINJA_CODE.sub(" ", template))
    parser.close()
    return parser.found


def test_templates_show_no_text_outside_the_catalogue() -> None:
    """Text typed straight into a template is never extracted, so the completeness tests cannot see it."""
    literal = {
        path.name: found for path in sorted(TEMPLATES.glob("**/*.html")) if (found := _literal_text(path.read_text()))
    }

    assert len(list(TEMPLATES.glob("**/*.html"))) > 10
    assert literal == {}, "wrap these in _() (then `make messages` and fill the Spanish msgstr)"


def test_literal_template_text_is_caught() -> None:
    source = (
        '<h1>{{ _("Lists") }}</h1>{# a comment #}<p>Saved {{ count }} people</p>'
        '<input placeholder="Search" aria-label="{{ _(\'Find\') }}"><img alt="Logo" src="/x.svg">'
        "<script>const shown = 'never';</script><a href=\"/admin/audit?{{ q }}\">{{ _('Next') }}</a>"
        "<span>UTC</span><option>Español</option>{% macro link(n) %}/admin/audit?{{ n }}{% endmacro %}"
    )

    assert _literal_text(source) == ["Saved   people", "Search", "Logo"]
    assert _literal_text('<input placeholder="https://contoso.crm.dynamics.com"><p>See https://x.test</p>') == [
        "See https://x.test"
    ]


def test_no_marked_string_escapes_extraction(extracted: dict[Key, str]) -> None:
    """A call hidden from Babel's tokenizer (inside an f-string on Python 3.11) would never be translated."""
    marked: dict[str, str] = {}
    for path in (ROOT / "src" / "salesbridge").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            first = node.args[0]
            if name in KEYWORDS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                marked.setdefault(first.value, str(path.relative_to(ROOT)))
    msgids = {msgid for msgid, _context in extracted}

    assert {text: where for text, where in marked.items() if text not in msgids} == {}


# 2. Placeholders.


def test_translations_keep_the_placeholders() -> None:
    wrong = {}
    for message in _entries(_catalog(SPANISH_PO)):
        ids = (message.id,) if isinstance(message.id, str) else message.id
        strings = _strings(message)
        expected = set().union(*(_fields(text) for text in ids))
        found = [_fields(text) for text in strings if text]
        if any(not fields <= expected for fields in found) or (found and set().union(*found) != expected):
            wrong[ids[0]] = strings
    assert wrong == {}


def test_placeholders_are_compared_by_name() -> None:
    assert _fields("check {credential}.") == {"credential"}
    assert _fields("Connected to %(org)s since {when:%Y}") == {"org", "when"}
    assert _fields("{credential}") != _fields("{credencial}")


# 3. The admin guide's Spanish wording.


@pytest.mark.parametrize(
    ("english", "spanish"),
    [
        ("CRM connection error. Try again later.", "Error de conexión con el CRM. Vuelve a intentarlo más tarde."),
        (
            "An error occurred with the CRM API. Try again later.",
            "Se ha producido un error con la API del CRM. Vuelve a intentarlo más tarde.",
        ),
        (
            "Your CRM account doesn't have sufficient access privileges. Check with your CRM administrator.",
            "Tu cuenta de CRM no tiene suficientes privilegios de acceso. Consulta a tu administrador de CRM.",
        ),
        (
            "The CRM objects required by your company could not be read.",
            "No se han podido leer los objetos de CRM exigidos por tu empresa.",
        ),
        ("Connected to Microsoft Dynamics", "Conectado a Microsoft Dynamics"),
        ("Successfully connected, sync in progress", "Conexión realizada, sincronización en curso"),
    ],
)
def test_the_admin_guide_wording(english: str, spanish: str) -> None:
    assert translate(english, "es") == spanish
    assert translate(english, "en") == english
    assert translate(english) == english


# 4. Locales.


@pytest.mark.parametrize(
    ("value", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("es", "es"),
        ("es-ES", "es"),
        ("es_ES", "es"),
        ("ES-mx", "es"),
        ("es_ES.UTF-8", "es"),
        ("en-GB", "en"),
        ("es-ES,es;q=0.9", "es"),
        ("fr-FR,es;q=0.9,en;q=0.8", "es"),
        ("en-US,es;q=0.9", "en"),
        ("es;q=0.2, en;q=0.9", "en"),
        ("es;q=0", "en"),
        ("es;q=oops, fr", "en"),
        ("fr", "en"),
        ("*", "en"),
    ],
)
def test_normalize_locale(value: str | None, locale: str) -> None:
    assert normalize_locale(value) == locale


def test_translations_fall_back_to_english() -> None:
    assert DEFAULT_LOCALE == "en"
    assert SUPPORTED_LOCALES == ("en", "es")
    assert type(translations("en")) is gettext.NullTranslations
    assert translations("fr") is translations("en")
    assert translations("es-ES") is translations("es_ES") is translations("es")
    assert translations("fr").gettext("Connected to Microsoft Dynamics") == "Connected to Microsoft Dynamics"
    assert translate("A message nobody translated", "es") == "A message nobody translated"
    assert N_("Not connected") == "Not connected"


def test_the_compiled_catalogue_holds_every_translation() -> None:
    for message in _entries(_catalog(SPANISH_PO)):
        if isinstance(message.id, str) and message.string and not message.fuzzy:
            assert translate(message.id, "es") == message.string


# 5. No stale entries.


def test_the_catalogues_hold_only_extracted_messages(extracted: dict[Key, str]) -> None:
    keys = set(extracted)
    spanish = _catalog(SPANISH_PO)
    template = _catalog(TEMPLATE_POT)

    assert {_key(message.id, message.context) for message in _entries(spanish)} - keys == set()
    assert not spanish.obsolete, "obsolete (#~) entries: run `make messages`"
    assert {_key(message.id, message.context) for message in _entries(template)} == keys, "run `make messages`"
