"""The page's renderers, run in the real browser on the page as served: feedback and
reports of both the current and the coming shapes, and Markdown that tries to smuggle in
HTML or script links."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _open(new_page, stack):  # noqa: ANN001, ANN202
    page = new_page()
    page.goto(f"{stack.base_url}/")
    page.wait_for_selector("main h1")
    return page


def test_feedback_shows_worked_and_improve_when_sent_else_suggestions_never_matched_or_missed(web_stack, new_page):
    page = _open(new_page, web_stack)
    texts = page.evaluate(
        """async () => {
        const { feedbackBlock } = await import('/app/views_common.js');
        const old = feedbackBlock({message_id: 2, score: 72, matched: ['SECRET_MATCHED'], missed: ['SECRET_MISSED'],
                                   suggestions: ['Mention the account.']});
        const fresh = feedbackBlock({message_id: 2, score: 80, suggestions: ['ignored when worked/improve exist'],
                                     criteria: [{name: 'Empathy', score: 90}],
                                     worked: [{criterion: 'Empathy', text: 'You apologised.'}],
                                     improve: [{criterion: 'Next steps', text: 'Give a time.'}], extra: {x: 1}});
        return [old.textContent, fresh.textContent];
    }"""
    )
    old, fresh = texts
    assert "72/100" in old and "Mention the account." in old
    assert "SECRET_MATCHED" not in old and "SECRET_MISSED" not in old
    assert "Empathy: You apologised." in fresh and "Next steps: Give a time." in fresh
    assert "What worked" in fresh and "To improve" in fresh and "ignored" not in fresh


def test_a_report_renders_known_fields_and_ignores_unknown_ones(web_stack, new_page):
    page = _open(new_page, web_stack)
    text = page.evaluate(
        """async () => {
        const { reportBlock } = await import('/app/views_common.js');
        const el = reportBlock({overall_score: 64, criterion: 'new-field', future: {a: 1},
            criteria: [{name: 'Empathy', score: 70, weight: 0.3, evidence: [{message_id: 2, quote: 'I am sorry'}], extra: 1}],
            strengths: [{text: 'Warm tone', evidence: [{message_id: 2, quote: 'I am sorry'}]}],
            improvements: [{text: 'Give times', evidence: []}]});
        return el.textContent;
    }"""
    )
    assert "64/100" in text and "Empathy" in text and "70/100" in text and "I am sorry" in text
    assert "Warm tone" in text and "Give times" in text and "new-field" not in text


def test_markdown_never_becomes_html_or_a_script_link(web_stack, new_page):
    page = _open(new_page, web_stack)
    result = page.evaluate(
        """async () => {
        const { renderMarkdown } = await import('/app/markdown.js');
        const box = document.createElement('div');
        box.append(renderMarkdown('# Title\\n\\n<img src=x onerror="window.pwned=1"> **bold** and `code`\\n\\n' +
            '- [safe](https://example.com/a)\\n- [bad](javascript:window.pwned=1)\\n\\n| a | b |\\n|---|---|\\n| <b>x</b> | y |'));
        document.body.append(box);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return {
            imgs: box.querySelectorAll('img').length, bolds: box.querySelectorAll('b').length,
            strong: box.querySelector('strong')?.textContent, links: [...box.querySelectorAll('a')].map((a) => a.href),
            cells: [...box.querySelectorAll('td')].map((td) => td.textContent), text: box.textContent,
            pwned: window.pwned === 1, heading: box.querySelector('h3')?.textContent,
        };
    }"""
    )
    assert result["imgs"] == 0 and result["bolds"] == 0 and not result["pwned"]
    assert result["strong"] == "bold" and result["heading"] == "Title"
    assert result["links"] == ["https://example.com/a"]
    assert result["cells"] == ["<b>x</b>", "y"]
    assert '<img src=x onerror="window.pwned=1">' in result["text"]
