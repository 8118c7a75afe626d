"""The preflight as a Markdown job summary (`--markdown FILE`): for `$GITHUB_STEP_SUMMARY` and the preview comment.

Per stack and mode: the verdict, violations grouped by policy with the line that made each resource,
the checks deferred to the update, and the plan (resources per component and type) folded away.
`SECTIONS` are further sections per outcome, after the violations: the cost diff goes there when it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .analyzer import Diagnostic
from .report import Outcome

Section = Callable[[Outcome], "str | None"]

SECTIONS: list[Section] = []  # e.g. the cost diff (issue 15): a function of the outcome giving Markdown, or None


def _short(urn: str) -> str:
    """`Type 'name'` of a URN, as the violation messages name resources."""
    if not urn:
        return "the stack"
    qualified, name = urn.split("::")[2:4]
    return f"{qualified.rsplit('$', 1)[-1].rsplit(':', 1)[-1]} '{name}'"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class Links:
    """Turns `components/edge/edge.py:101` into a link to that line on GitHub when the commit is known."""

    def __init__(self, blob: str | None = None) -> None:
        self.blob = blob.rstrip("/") if blob else None  # https://github.com/<owner>/<repo>/blob/<sha>

    def __call__(self, position: str | None) -> str:
        if not position:
            return "-"
        if self.blob is None:
            return f"`{position}`"
        path, _, line = position.rpartition(":")
        return f"[`{position}`]({self.blob}/{path}#L{line})"


def _grouped(diagnostics: Sequence[Diagnostic]) -> dict[str, list[Diagnostic]]:
    grouped: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        grouped.setdefault(diagnostic.policy, []).append(diagnostic)
    return dict(sorted(grouped.items()))


def outcome_markdown(outcome: Outcome, link: Links, plan: bool = True) -> str:
    """One stack and mode; `plan` adds the plan table (the same in both previews, so shown once per stack)."""
    preview = "first preview (ids unknown)" if outcome.mode == "first" else "update preview"
    title = f"### {outcome.recording.label}: {preview}"
    if outcome.recording.error is not None:
        return f"{title}\n\n:x: **the program failed**\n\n```\n{outcome.recording.error.strip()}\n```\n"
    resources = sum(1 for r in outcome.recording.registrations if r.custom)
    verdict = ":x: **failed**" if outcome.mandatory else ":white_check_mark: passed"
    advisory = len(outcome.violations) - len(outcome.mandatory)
    lines = [
        title,
        "",
        f"{verdict}: {resources} resources, {len(outcome.levels)} policies, {len(outcome.mandatory)} mandatory violations, "
        f"{advisory} advisory, {len(outcome.deferred)} checks deferred to the update",
        "",
    ]
    if outcome.violations:
        lines += ["#### Violations", ""]
        for policy, found in _grouped(outcome.violations).items():
            lines.append(f"**{policy}** ({found[0].level}, {len(found)})")
            lines.append("")
            lines += [f"- {link(outcome.source_of(d))} {_cell(d.message)}" for d in found]
            lines.append("")
    for section in SECTIONS:
        text = section(outcome)
        if text:
            lines += [text.rstrip(), ""]
    if outcome.deferred:
        lines += ["<details><summary>Checks deferred to the update</summary>", "", "| policy | resource | made at |", "|---|---|---|"]
        for policy, found in _grouped(outcome.deferred).items():
            lines += [f"| {policy} | {_cell(_short(d.urn))} | {link(outcome.source_of(d))} |" for d in found]
        lines += ["", "</details>", ""]
    if not plan:
        return "\n".join(lines)
    sources = outcome.sources()
    lines += [
        "<details><summary>Plan: resources per component and type</summary>",
        "",
        "| component | type | count | made at |",
        "|---|---|--:|---|",
    ]
    for (component, type_), count in sorted(outcome.components().items()):
        positions = sources.get((component, type_), [])
        # Plain positions here (links only on findings): the summary has to fit in a pull-request comment.
        made = ", ".join(f"`{s}`" for s in positions[:3]) + (f", +{len(positions) - 3} more" if len(positions) > 3 else "")
        lines.append(f"| {component} | `{type_}` | {count} | {made} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def markdown(outcomes: Sequence[Outcome], blob: str | None = None) -> str:
    """The summary of every outcome; `blob` (the commit's GitHub blob URL) makes source positions links."""
    link = Links(blob)
    passed = all(o.recording.error is None and not o.mandatory for o in outcomes)
    head = f"## Offline preflight: {':white_check_mark: passed' if passed else ':x: failed'}\n"
    planned: set[str] = set()
    parts = [head]
    for outcome in outcomes:
        parts.append(outcome_markdown(outcome, link, plan=outcome.recording.label not in planned))
        if outcome.recording.error is None:
            planned.add(outcome.recording.label)
    return "\n".join(parts)
