# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write docs/ as Markdown from the modules' DOCUMENTATION and the roles' argument specs.

Run through scripts/generate-docs. One `ansible-doc --metadata-dump` call reads every
module and role of the collection as Ansible itself parses them; Ansible's markup
(C(), O(), M(), ...) is rendered with antsibull-docs-parser. The output depends on
nothing but the collection's files, so tests/test_release.py can regenerate it and
compare.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from antsibull_docs_parser import dom
from antsibull_docs_parser.format import LinkProvider
from antsibull_docs_parser.md import MDFormatter, to_md
from antsibull_docs_parser.parser import Context, parse

COLLECTION = "postmaster.mail"
SPECIAL = re.compile(r"([\\`*~\[\]<>|])")


def escape(text):
    """Markdown-escape what Markdown would read as markup, and table pipes (GitHub leaves
    underscores inside words alone, so names like postfix_info stay readable)."""
    return SPECIAL.sub(r"\\\1", text)


def code(text):
    """Inline code, safe for backticks inside and for table cells."""
    text = str(text).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return "%s%s%s%s%s" % (fence, padding, text, padding, fence)


class Formatter(MDFormatter):
    """antsibull-docs-parser's Markdown, with plain backtick code instead of HTML tags."""

    def format_text(self, part):
        return escape(part.text)

    def format_code(self, part):
        return code(part.text)

    def format_option_value(self, part):
        return code(part.value)

    def format_env_variable(self, part):
        return code(part.name)

    def format_module(self, part, url):
        return "[%s](%s)" % (escape(part.fqcn), url) if url else escape(part.fqcn)

    def format_plugin(self, part, url):
        return "[%s](%s)" % (escape(part.plugin.fqcn), url) if url else escape(part.plugin.fqcn)

    def format_option_name(self, part, url):
        return self._option_like(part, url)

    def format_return_value(self, part, url):
        return self._option_like(part, url)

    @staticmethod
    def _option_like(part, url):
        text = code(part.name if part.value is None else "%s=%s" % (part.name, part.value))
        return "[%s](%s)" % (text, url) if url else text


class Links(LinkProvider):
    """Links between this collection's own pages; other collections' plugins stay text."""

    def __init__(self, pages):
        self.pages = pages

    def plugin_link(self, plugin):
        return self.pages.get((plugin.type, plugin.fqcn))


def page_name(kind, fqcn):
    return "%s_%s.md" % (fqcn.split(".")[-1], kind)


class Renderer(object):
    """Renders one module's or role's documentation to Markdown."""

    def __init__(self, pages, kind, fqcn, entrypoint=None):
        self.links = Links(pages)
        self.formatter = Formatter()
        self.context = Context(current_plugin=dom.PluginIdentifier(fqcn=fqcn, type=kind),
                               role_entrypoint=entrypoint)

    def markup(self, text, separator="\n\n"):
        """Ansible markup (a string or a list of paragraphs) as Markdown."""
        if text is None:
            return ""
        paragraphs = parse(text, self.context, errors="exception")
        return to_md(paragraphs, formatter=self.formatter, link_provider=self.links,
                     par_sep=separator, current_plugin=self.context.current_plugin).strip()

    def cell(self, text):
        return self.markup(text, separator="<br><br>").replace("\n", " ")

    def options_table(self, options, heading="Parameter"):
        rows = ["| %s | Type | Default, choices | Description |" % heading, "|---|---|---|---|"]
        rows.extend(self._option_rows(options, []))
        return "\n".join(rows)

    def _option_rows(self, options, parents):
        for name in sorted(options):
            option = options[name]
            path = ".".join(parents + [name])
            label = "**%s**" % code(path)
            if option.get("required"):
                label += "<br>required"
            if option.get("aliases"):
                label += "<br>aliases: " + ", ".join(code(alias) for alias in option["aliases"])
            kind = option.get("type", "str")
            if option.get("elements"):
                kind += " of " + option["elements"]
            values = []
            if "default" in option and option["default"] is not None:
                values.append("default: " + code(value_text(option["default"])))
            description = self.cell(option.get("description"))
            choices = option.get("choices")
            if isinstance(choices, dict):
                values.append("choices: " + ", ".join(code(value_text(choice)) for choice in choices))
                description += "".join("<br>%s: %s" % (code(value_text(choice)), self.cell(text))
                                       for choice, text in choices.items() if text)
            elif choices:
                values.append("choices: " + ", ".join(code(value_text(choice)) for choice in choices))
            if option.get("version_added"):
                description += "<br>Added in version %s." % escape(str(option["version_added"]))
            yield "| %s | %s | %s | %s |" % (label, kind, "<br>".join(values), description)
            if option.get("suboptions"):
                yield from self._option_rows(option["suboptions"], parents + [name])

    def return_table(self, values):
        rows = ["| Key | Type | Returned | Description |", "|---|---|---|---|"]
        rows.extend(self._return_rows(values, []))
        return "\n".join(rows)

    def _return_rows(self, values, parents):
        for name in sorted(values):
            value = values[name]
            path = ".".join(parents + [name])
            kind = value.get("type", "str")
            if value.get("elements"):
                kind += " of " + value["elements"]
            description = self.cell(value.get("description"))
            if "sample" in value:
                description += "<br>Sample: " + code(value_text(value["sample"]))
            yield "| **%s** | %s | %s | %s |" % (code(path), kind, self.cell(value.get("returned", "")),
                                                 description)
            if value.get("contains"):
                yield from self._return_rows(value["contains"], parents + [name])

    def bullets(self, texts):
        if isinstance(texts, str):
            texts = [texts]
        return "\n".join("- " + self.markup(text).replace("\n\n", "\n\n  ") for text in texts)


def value_text(value):
    """A default, choice or sample as a reader writes it in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, sort_keys=True)


def authors(value):
    if isinstance(value, str):
        value = [value]
    return "\n".join("- " + escape(author) for author in value)


def seealso_lines(renderer, pages, entries):
    lines = []
    for entry in entries:
        if "module" in entry or "plugin" in entry:
            fqcn = entry.get("module") or entry["plugin"]
            kind = entry.get("plugin_type", "module")
            target = pages.get((kind, fqcn))
            name = "[%s](%s)" % (escape(fqcn), target) if target else escape(fqcn)
            text = renderer.markup(entry.get("description")) if entry.get("description") else ""
            lines.append("- %s%s" % (name, ": " + text if text else ""))
        elif "link" in entry:
            lines.append("- [%s](%s)%s" % (escape(entry["name"]), entry["link"],
                                           ": " + renderer.markup(entry["description"])
                                           if entry.get("description") else ""))
        else:
            lines.append("- " + renderer.markup(entry.get("description", entry.get("name", ""))))
    return "\n".join(lines)


def module_page(pages, fqcn, data):
    doc = data["doc"]
    renderer = Renderer(pages, "module", fqcn)
    out = ["# %s module: %s" % (escape(fqcn), renderer.markup(doc["short_description"])), ""]
    if doc.get("version_added"):
        out += ["Added in %s %s." % (escape(COLLECTION), escape(str(doc["version_added"]))), ""]
    out += ["## Synopsis", "", renderer.bullets(doc.get("description", [])), ""]
    if doc.get("requirements"):
        out += ["## Requirements", "", renderer.bullets(doc["requirements"]), ""]
    if doc.get("options"):
        out += ["## Parameters", "", renderer.options_table(doc["options"]), ""]
    if doc.get("attributes"):
        out += ["## Attributes", "", "| Attribute | Support | Description |", "|---|---|---|"]
        for name in sorted(doc["attributes"]):
            attribute = doc["attributes"][name]
            description = renderer.cell(attribute.get("description"))
            if attribute.get("details"):
                description += "<br><br>" + renderer.cell(attribute["details"])
            support = escape(str(attribute.get("support", "")))
            out.append("| **%s** | %s | %s |" % (code(name), support, description))
        out.append("")
    if doc.get("notes"):
        out += ["## Notes", "", renderer.bullets(doc["notes"]), ""]
    if doc.get("seealso"):
        out += ["## See also", "", seealso_lines(renderer, pages, doc["seealso"]), ""]
    if data.get("examples"):
        out += ["## Examples", "", "```yaml", data["examples"].strip("\n"), "```", ""]
    if data.get("return"):
        out += ["## Return values", "", renderer.return_table(data["return"]), ""]
    if doc.get("author"):
        out += ["## Authors", "", authors(doc["author"]), ""]
    return "\n".join(out)


def role_page(pages, fqcn, data):
    entry_points = data["entry_points"]
    main = entry_points.get("main", {})
    renderer = Renderer(pages, "role", fqcn, "main")
    out = ["# %s role: %s" % (escape(fqcn), renderer.markup(main.get("short_description", ""))), ""]
    for name in sorted(entry_points, key=lambda entry: (entry != "main", entry)):
        entry = entry_points[name]
        renderer = Renderer(pages, "role", fqcn, name)
        out += ["## Entry point `%s`: %s" % (name, renderer.markup(entry.get("short_description", ""))), ""]
        if entry.get("description"):
            out += [renderer.bullets(entry["description"]), ""]
        if entry.get("options"):
            out += ["### Variables", "", renderer.options_table(entry["options"], heading="Variable"), ""]
        if entry.get("author"):
            out += ["### Authors", "", authors(entry["author"]), ""]
    return "\n".join(out)


def index_page(entries):
    out = ["# %s documentation" % escape(COLLECTION), "",
           "Generated from the modules' `DOCUMENTATION` and the roles' `meta/argument_specs.yml` by",
           "`scripts/generate-docs`; do not edit by hand. The same text is in `ansible-doc`.", ""]
    for kind, title in (("module", "Modules"), ("role", "Roles")):
        out += ["## " + title, ""]
        out += ["- [%s](%s): %s" % (escape(fqcn), page, summary)
                for entry_kind, fqcn, page, summary in entries if entry_kind == kind]
        out.append("")
    return "\n".join(out)


def load():
    """Everything ansible-doc knows of the collection's modules and roles."""
    completed = subprocess.run(["ansible-doc", "--metadata-dump", COLLECTION], capture_output=True,
                               text=True, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    if completed.returncode != 0:
        sys.exit("ansible-doc --metadata-dump %s failed:\n%s" % (COLLECTION, completed.stderr))
    data = json.loads(completed.stdout)["all"]
    return data.get("module", {}), data.get("role", {})


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: generate_docs.py OUTPUT_DIR")
    output = argv[1]
    modules, roles = load()
    pages = {("module", fqcn): page_name("module", fqcn) for fqcn in modules}
    pages.update({("role", fqcn): page_name("role", fqcn) for fqcn in roles})
    files = {}
    entries = []
    for fqcn in sorted(modules):
        files[pages[("module", fqcn)]] = module_page(pages, fqcn, modules[fqcn])
        summary = Renderer(pages, "module", fqcn).markup(modules[fqcn]["doc"]["short_description"])
        entries.append(("module", fqcn, pages[("module", fqcn)], summary))
    for fqcn in sorted(roles):
        files[pages[("role", fqcn)]] = role_page(pages, fqcn, roles[fqcn])
        main_entry = roles[fqcn]["entry_points"].get("main", {})
        summary = Renderer(pages, "role", fqcn, "main").markup(main_entry.get("short_description", ""))
        entries.append(("role", fqcn, pages[("role", fqcn)], summary))
    files["README.md"] = index_page(entries)

    os.makedirs(output, exist_ok=True)
    for name in os.listdir(output):
        if name.endswith(".md") and name not in files:
            os.remove(os.path.join(output, name))
    for name, text in sorted(files.items()):
        with open(os.path.join(output, name), "w", encoding="utf-8") as handle:
            handle.write(text.rstrip("\n") + "\n")
    print("wrote %d pages to %s" % (len(files), output))


if __name__ == "__main__":
    main(sys.argv)
