import pytest

from shared.training.transcript import blockquote, render_markdown_transcript


@pytest.fixture(name="session")
def _session():
    return {
        "id": 42,
        "user_id": 7,
        "status": "completed",
        "created_at": "2024-05-01T09:00:00Z",
        "completed_at": "2024-05-01T11:04:30+02:00",
    }


@pytest.fixture(name="messages")
def _messages():
    return [
        {
            "id": 1,
            "role": "assistant",
            "content": "My order arrived *broken*!",
            "timestamp": "2024-05-01T09:00:05Z",
            "metadata": {},
        },
        {
            "id": 2,
            "role": "user",
            "content": "  # So sorry\n- I will help\n\n\n1. refund <b>now</b> | ok\r\n    ```code```",
            "timestamp": "2024-05-01T09:01:10Z",
            "metadata": {
                "feedback": {
                    "score": 87,
                    "matched": ["sorry|apologize"],
                    "missed": ["order number"],
                    "suggestions": ["Mention “order number”."],
                }
            },
        },
        {"id": 3, "role": "assistant", "content": "", "timestamp": "2024-05-02T00:00:01Z", "metadata": None},
    ]


@pytest.fixture(name="report")
def _report():
    return {
        "overall_score": 37,
        "ended_by": "trainee_ended",
        "exchanges": 1,
        "duration_seconds": 270,
        "required_keywords": {"met": [], "missed": ["refund"]},
        "criteria": [{"name": "Empathy", "weight": 2.0, "score": 50, "evidence": []}],
        "strengths": [
            {
                "text": "Empathy (50/100): you said “so sorry”.",
                "evidence": [{"message_id": 2, "quote": "# So sorry - I will help"}],
            }
        ],
        "improvements": [{"text": "Never mentioned the required points: “refund”.", "evidence": []}],
    }


def test_transcript_of_one_session_line_by_line(session, messages, report):
    markdown = render_markdown_transcript(
        session=session, scenario_title="Broken *order*", messages=messages, report=report
    )

    assert markdown.split("\n") == [
        "# Transcript: Broken \\*order\\*",
        "",
        "- Session: 42",
        "- User ID: 7",
        "- Status: completed",
        "- Started: 2024-05-01 09:00:00 UTC",
        "- Completed: 2024-05-01 09:04:30 UTC",
        "",
        "## Conversation",
        "",
        "**Customer** (09:00:05):",
        "",
        "> My order arrived \\*broken\\*!",
        "",
        "**Trainee** (09:01:10):",
        "",
        "> \\# So sorry\\",
        "> \\- I will help",
        ">",
        "> 1\\. refund \\<b\\>now\\</b\\> \\| ok\\",
        "> \\`\\`\\`code\\`\\`\\`",
        "",
        "*Feedback: 87/100*",
        "",
        "- Matched: sorry / apologize",
        "- Missed: order number",
        "- Suggestion: Mention “order number”.",
        "",
        "**Customer** (2024-05-02 00:00:01):",
        "",
        "> *(empty message)*",
        "",
        "## Report",
        "",
        "- Overall score: 37/100",
        "- Ended by: trainee ended",
        "- Exchanges: 1",
        "- Duration: 4m 30s",
        "- Required keywords met: none",
        "- Required keywords missed: refund",
        "",
        "### Criteria",
        "",
        "- Empathy (weight 2): 50/100",
        "",
        "### Strengths",
        "",
        "- Empathy (50/100): you said “so sorry”.",
        "  - Message 2: “\\# So sorry - I will help”",
        "",
        "### Improvements",
        "",
        "- Never mentioned the required points: “refund”.",
        "",
    ]


def test_transcript_without_report_ends_after_the_conversation(session, messages):
    markdown = render_markdown_transcript(
        session=session, scenario_title="Broken order", messages=messages, report=None
    )

    assert "## Report" not in markdown
    assert markdown.endswith("> *(empty message)*\n")


def test_transcript_is_deterministic(session, messages, report):
    first = render_markdown_transcript(session=session, scenario_title="T", messages=messages, report=report)
    second = render_markdown_transcript(session=session, scenario_title="T", messages=messages, report=report)

    assert first == second


def test_unfinished_session_shows_a_dash_for_completed(session):
    markdown = render_markdown_transcript(
        session={**session, "status": "active", "completed_at": None}, scenario_title="T", messages=[], report=None
    )

    assert "- Completed: —" in markdown.split("\n")


def test_feedback_without_matches_or_suggestions_says_none(session):
    feedback = {"score": 0, "matched": [], "missed": ["refund"], "suggestions": []}
    message = {"role": "user", "content": "ok", "timestamp": "2024-05-01T09:01:00Z", "metadata": {"feedback": feedback}}

    lines = render_markdown_transcript(session=session, scenario_title="T", messages=[message], report=None).split("\n")

    assert lines[-5:] == ["*Feedback: 0/100*", "", "- Matched: none", "- Missed: refund", ""]


def test_blockquote_neutralises_block_syntax_at_line_start():
    content = "---\n=== \n> quoted\n2) two\n+ plus\n\ttabbed\n[x]: http://example.com\n<!-- c -->"

    assert blockquote(content) == [
        "> \\---\\",
        "> \\===\\",
        "> \\> quoted\\",
        "> 2\\) two\\",
        "> \\+ plus\\",
        "> tabbed\\",
        "> \\[x\\]: http://example.com\\",
        "> \\<!-- c --\\>",
    ]


def test_blockquote_keeps_a_trailing_backslash_literal_before_the_hard_break():
    assert blockquote("ends with \\\nnext") == ["> ends with \\\\\\", "> next"]


def test_feedback_from_the_judge_shows_its_coaching_with_the_criteria(session):
    feedback = {
        "score": 70,
        "worked": [{"criterion": "Clear next steps", "text": "You refunded the duplicate."}],
        "improve": [{"criterion": "Clear next steps", "text": "Tell Jordan when the refund will arrive."}],
        "suggestions": ["Tell Jordan when the refund will arrive."],
        "matched": ["refunds the duplicate"],
        "missed": ["gives the refund timeline"],
    }
    message = {"role": "user", "content": "ok", "timestamp": "2024-05-01T09:01:00Z", "metadata": {"feedback": feedback}}
    text = render_markdown_transcript(session=session, scenario_title="T", messages=[message], report=None)
    assert "- Worked (Clear next steps): You refunded the duplicate." in text
    assert "- To improve (Clear next steps): Tell Jordan when the refund will arrive." in text
    assert "Missed:" not in text and "Suggestion:" not in text
