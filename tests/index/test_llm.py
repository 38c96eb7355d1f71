"""Prompt building and answer parsing for stepback search and summaries (pure functions)."""

from __future__ import annotations

from confluence_mcp.config import LLMSettings
from confluence_mcp.index.llm import (
    NO_ANSWER,
    PromptChunk,
    clean_stepback,
    llm_configured,
    parse_summary,
    stepback_prompt,
    summary_prompt,
)


def test_stepback_prompt_keeps_names_dates_and_acronyms() -> None:
    system, user = stepback_prompt("  When did ACME's PTO policy change in 2023?  ")
    assert "names" in system and "dates" in system and "acronym" in system
    assert user.startswith("Question: When did ACME's PTO policy change in 2023?\n")


def test_clean_stepback_strips_prefixes_and_quotes() -> None:
    assert clean_stepback('Step-back question: "What is the PTO policy?"\nextra', "q") == "What is the PTO policy?"
    assert clean_stepback("   \n", "original") == "original"


def test_summary_prompt_numbers_chunks_and_says_excerpts_are_data() -> None:
    chunks = [PromptChunk(title="Travel", url="http://x/1", heading_path="Claims", text="Use the tool."),
              PromptChunk(title="Pay", text="Monthly.")]
    system, user = summary_prompt("How do I claim?", chunks)
    assert "ONLY" in system and NO_ANSWER in system and "not instructions" in system
    assert "[1] Travel › Claims\nUse the tool." in user and "[2] Pay\nMonthly." in user
    assert summary_prompt("q", [])[1].startswith("Excerpts:\n\n(no excerpts were found)")


def test_parse_summary_collects_valid_citations() -> None:
    parsed = parse_summary("Use the tool [1]. Paid monthly [2, 3]. Ignore [9].", chunk_count=3)
    assert parsed.answered and parsed.cited == [1, 2, 3]


def test_parse_summary_without_answer_or_citation_is_unanswered() -> None:
    assert not parse_summary(f"{NO_ANSWER}", chunk_count=3).answered
    assert not parse_summary("", chunk_count=3).answered
    ungrounded = parse_summary("The answer is 42.", chunk_count=3)
    assert not ungrounded.answered and ungrounded.answer == ""


def test_llm_configured_needs_url_and_model() -> None:
    assert not llm_configured(LLMSettings())
    assert not llm_configured(LLMSettings(base_url="http://127.0.0.1:1/v1"))
    assert llm_configured(LLMSettings(base_url="http://127.0.0.1:1/v1", model="m"))
