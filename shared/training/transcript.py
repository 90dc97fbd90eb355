"""A session as a Markdown document a trainer can read or attach to a review.

Message text is the trainee's and the model's own writing, so it is never trusted as
Markdown: each message becomes a blockquote whose lines are escaped so that nothing in
them (headings, list markers, fences, HTML, table pipes, emphasis) can change the layout
around it. Line breaks inside a message are kept as hard breaks. Output is deterministic:
the same inputs always give the same text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

ROLE_LABELS = {"user": "Trainee", "assistant": "Customer"}
ENDED_BY_LABELS = {"script_complete": "script complete", "time_up": "time up", "trainee_ended": "trainee ended"}

# Characters that mean something inline in CommonMark/GFM wherever they appear.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
# Characters that mean something only at the start of a line: list bullets and setext
# underlines ("=" / "-"), and ordered-list markers ("1." / "1)").
_BLOCK_START = re.compile(r"^([-+=])")
_ORDERED_START = re.compile(r"^(\d{1,9})([.)])")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def render_markdown_transcript(
    *, session: Mapping, scenario_title: str, messages: Sequence[Mapping], report: Mapping | None
) -> str:
    """Render one session: title, session facts, every message with its time, the
    per-reply feedback under each trainee message, and the report summary if given."""
    day = _date_of(session.get("created_at"))
    lines = [
        f"# Transcript: {escape_inline(scenario_title)}",
        "",
        f"- Session: {escape_inline(str(session.get('id')))}",
        f"- User ID: {escape_inline(str(session.get('user_id')))}",
        f"- Status: {escape_inline(str(session.get('status')))}",
        f"- Started: {_full_time(session.get('created_at'))}",
        f"- Completed: {_full_time(session.get('completed_at'))}",
        "",
        "## Conversation",
        "",
    ]
    for message in messages:
        lines.extend(_message_block(message, day))
    if report:
        lines.extend(_report_block(report))
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def escape_inline(text: str) -> str:
    """`text` on a single line with every inline Markdown special character escaped."""
    return _INLINE_SPECIAL.sub(r"\\\1", " ".join(_CONTROL.sub("", text).split()))


def blockquote(content: str) -> list[str]:
    """`content` as blockquote lines: paragraphs kept, blank runs collapsed, each line
    escaped and stripped of indentation (which would otherwise start a code block)."""
    paragraphs: list[list[str]] = [[]]
    for raw in content.expandtabs(4).splitlines():
        line = _CONTROL.sub("", raw).strip()
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    paragraphs = [paragraph for paragraph in paragraphs if paragraph]
    if not paragraphs:
        return ["> *(empty message)*"]

    out: list[str] = []
    for number, paragraph in enumerate(paragraphs):
        if number:
            out.append(">")
        for position, line in enumerate(paragraph):
            # A trailing backslash is a hard line break, so the message keeps its lines.
            hard_break = "\\" if position < len(paragraph) - 1 else ""
            out.append(f"> {_escape_line(line)}{hard_break}")
    return out


def _escape_line(line: str) -> str:
    escaped = _INLINE_SPECIAL.sub(r"\\\1", line)
    escaped = _BLOCK_START.sub(r"\\\1", escaped)
    return _ORDERED_START.sub(r"\1\\\2", escaped)


def _message_block(message: Mapping, day: date | None) -> list[str]:
    role = str(message.get("role", ""))
    label = ROLE_LABELS.get(role) or escape_inline(role.title() or "Unknown")
    lines = [f"**{label}** ({_short_time(message.get('timestamp'), day)}):", ""]
    lines.extend(blockquote(str(message.get("content") or "")))
    lines.append("")
    feedback = (message.get("metadata") or {}).get("feedback") if role == "user" else None
    if feedback:
        lines.extend(_feedback_block(feedback))
        lines.append("")
    return lines


def _feedback_block(feedback: Mapping) -> list[str]:
    score = feedback.get("score")
    lines = [
        f"*Feedback: {'?' if score is None else score}/100*",
        "",
    ]
    if "worked" in feedback or "improve" in feedback:
        # Feedback from the judge (1.1 on): coaching sentences with their criteria.
        lines.extend(_coaching_line("Worked", item) for item in feedback.get("worked") or [])
        lines.extend(_coaching_line("To improve", item) for item in feedback.get("improve") or [])
        return lines
    lines += [
        f"- Matched: {_keyword_list(feedback.get('matched') or [])}",
        f"- Missed: {_keyword_list(feedback.get('missed') or [])}",
    ]
    lines.extend(f"- Suggestion: {escape_inline(str(s))}" for s in feedback.get("suggestions") or [])
    return lines


def _coaching_line(heading: str, item: Mapping) -> str:
    return f"- {heading} ({escape_inline(str(item.get('criterion', '')))}): {escape_inline(str(item.get('text', '')))}"


def _keyword_list(keywords: Sequence[str]) -> str:
    if not keywords:
        return "none"
    # "sorry|apologize" reads as "sorry / apologize" (and needs no escaped pipe).
    return ", ".join(" / ".join(escape_inline(alt) for alt in str(kw).split("|")) for kw in keywords)


def _report_block(report: Mapping) -> list[str]:
    required = report.get("required_keywords") or {}
    ended_by = str(report.get("ended_by", ""))
    lines = [
        "## Report",
        "",
        f"- Overall score: {report.get('overall_score', '?')}/100",
        f"- Ended by: {ENDED_BY_LABELS.get(ended_by) or escape_inline(ended_by)}",
        f"- Exchanges: {report.get('exchanges', '?')}",
        f"- Duration: {_duration(report.get('duration_seconds'))}",
        f"- Required keywords met: {_keyword_list(required.get('met') or [])}",
        f"- Required keywords missed: {_keyword_list(required.get('missed') or [])}",
        "",
    ]
    criteria = report.get("criteria") or []
    if criteria:
        lines.extend(["### Criteria", ""])
        for criterion in criteria:
            name = escape_inline(str(criterion.get("name", "")))
            lines.append(f"- {name} (weight {_number(criterion.get('weight'))}): {criterion.get('score', '?')}/100")
        lines.append("")
    for heading, key in (("Strengths", "strengths"), ("Improvements", "improvements")):
        entries = report.get(key) or []
        if not entries:
            continue
        lines.extend([f"### {heading}", ""])
        for entry in entries:
            lines.append(f"- {escape_inline(str(entry.get('text', '')))}")
            for evidence in entry.get("evidence") or []:
                quote = escape_inline(str(evidence.get("quote", "")))
                lines.append(f"  - Message {evidence.get('message_id')}: “{quote}”")
        lines.append("")
    return lines


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    # Naive timestamps are UTC by this project's convention.
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date_of(value: Any) -> date | None:
    parsed = _parse_time(value)
    return parsed.date() if parsed else None


def _full_time(value: Any) -> str:
    parsed = _parse_time(value)
    if parsed:
        return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")
    return escape_inline(str(value)) if value else "—"


def _short_time(value: Any, day: date | None) -> str:
    """HH:MM:SS on the session's first day; the date is added on any other day."""
    parsed = _parse_time(value)
    if not parsed:
        return escape_inline(str(value)) if value else "time unknown"
    if parsed.date() == day:
        return parsed.strftime("%H:%M:%S")
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else escape_inline(str(value))


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
