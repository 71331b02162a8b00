from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.chunking import chunk_document, split_text
from core.errors import InvalidInput
from core.options import ChunkSettings
from core.parsing.document import Part, assemble

WORDS = st.sampled_from(["alpha", "beta", "gamma.", "delta,", "epsilon;", "\n", "\n\n", "zeta?", "x" * 40, "  "])
TEXTS = st.lists(WORDS, max_size=300).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, size=st.integers(20, 300), overlap_share=st.floats(0, 0.5))
def test_chunks_are_exact_slices_within_size_that_cover_all_text(text: str, size: int, overlap_share: float) -> None:
    overlap = int(size * overlap_share)
    spans = split_text(text, size=size, overlap=overlap)
    covered = set()
    for start, end in spans:
        piece = text[start:end]
        assert 0 < len(piece) <= size
        assert piece == piece.strip()
        covered.update(range(start, end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    assert [s for s, _ in spans] == sorted(s for s, _ in spans)
    for (s1, e1), (s2, _) in itertools.pairwise(spans):
        assert s2 > s1
        assert e1 - s2 <= overlap  # never more overlap than asked for


def test_prefers_paragraph_then_sentence_boundaries() -> None:
    text = "First paragraph is short.\n\nSecond paragraph has two sentences. It ends here."
    spans = split_text(text, size=40, overlap=0)
    assert [text[s:e] for s, e in spans] == [
        "First paragraph is short.",
        "Second paragraph has two sentences.",
        "It ends here.",
    ]


def test_overlap_repeats_the_tail_of_the_previous_chunk() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    spans = split_text(text, size=100, overlap=30)
    assert len(spans) > 5
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert 15 <= e1 - s2 <= 30  # a real overlap, cut at a word boundary
        assert text[s2 - 1] == " "


def test_text_without_separators_is_cut_by_characters() -> None:
    spans = split_text("x" * 1000, size=300, overlap=0)
    assert [e - s for s, e in spans] == [300, 300, 300, 100]


def test_chunks_never_span_pages_and_keep_page_and_offsets() -> None:
    parsed = assemble("r.pdf", [Part("a " * 300, page=1), Part("b " * 10, page=2), Part("c " * 300, page=3)])
    chunks = chunk_document(parsed, document_id="d", settings=ChunkSettings(size=200, overlap=20))
    assert {c.page for c in chunks} == {1, 2, 3}
    for chunk in chunks:
        assert parsed.text[chunk.start : chunk.end] == chunk.text
        assert set(chunk.text.split()) == {"abc"[chunk.page - 1]}
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))


def test_heading_of_the_section_where_a_chunk_starts() -> None:
    parsed = assemble(
        "n.md", [Part("# Intro\nhello there", heading="Intro"), Part("## Setup\ninstall it", heading="Intro > Setup")]
    )
    chunks = chunk_document(parsed, document_id="d", settings=ChunkSettings(size=15, overlap=0))
    assert [(c.text, c.heading) for c in chunks] == [
        ("# Intro", "Intro"),
        ("hello there", "Intro"),
        ("## Setup", "Intro > Setup"),
        ("install it", "Intro > Setup"),
    ]


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_impossible_settings_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(InvalidInput, match="must be at least 0 and smaller than the chunk size"):
        ChunkSettings(size=size, overlap=overlap)


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"Unknown chunking strategy 'magic'\. Choose one of: recursive, tokens"):
        ChunkSettings(strategy="magic")  # type: ignore[arg-type]


def _chunks(parsed, strategy: str, size: int, overlap: int = 0, token_spans=None):  # type: ignore[no-untyped-def]
    settings = ChunkSettings(strategy, size, overlap)  # type: ignore[arg-type]
    return chunk_document(parsed, document_id="d", settings=settings, token_spans=token_spans)


def test_heading_strategy_never_crosses_a_heading() -> None:
    parsed = assemble("m.md", [Part("# A\nshort one", heading="A"), Part("## B\nshort two", heading="A > B")])
    assert [c.text for c in _chunks(parsed, "recursive", 500)] == ["# A\nshort one\n\n## B\nshort two"]
    by_heading = _chunks(parsed, "heading", 500)
    assert [(c.text, c.heading) for c in by_heading] == [("# A\nshort one", "A"), ("## B\nshort two", "A > B")]


def test_page_strategy_one_chunk_per_page_and_even_parts_for_long_pages() -> None:
    words = " ".join(f"w{i}" for i in range(300))  # ~1,390 characters
    parsed = assemble("r.pdf", [Part("page one text", page=1), Part(words, page=2)])
    chunks = _chunks(parsed, "page", 600)
    assert chunks[0].text == "page one text" and chunks[0].location == "Page 1"
    long_parts = [len(c.text) for c in chunks if c.page == 2]
    assert len(long_parts) == 3 and max(long_parts) - min(long_parts) < 60  # even, not 600+600+190
    recursive = [len(c.text) for c in _chunks(parsed, "recursive", 600) if c.page == 2]
    assert max(recursive) - min(recursive) > 300


def test_sentence_strategy_packs_whole_sentences() -> None:
    text = "One is first. Two comes next! Three asks why? Four ends it. Five is extra."
    parsed = assemble("s.txt", [Part(text)])
    chunks = _chunks(parsed, "sentence", 32, overlap=16)
    assert [c.text for c in chunks] == [
        "One is first. Two comes next!",
        "Two comes next! Three asks why?",
        "Three asks why? Four ends it.",
        "Four ends it. Five is extra.",
    ]


def test_token_strategy_counts_tokens_of_the_model_tokenizer() -> None:
    from core.embedding import MINILM, get_embedder

    embedder = get_embedder(MINILM)
    text = " ".join(["internationalisation"] * 120)  # several WordPiece tokens per word
    parsed = assemble("t.txt", [Part(text)])
    chunks = _chunks(parsed, "tokens", 50, overlap=10, token_spans=embedder.token_spans)
    counts = [len(embedder.token_spans(c.text)) for c in chunks]
    assert max(counts) <= 50 and min(counts[:-1]) >= 40
    chars = _chunks(parsed, "recursive", 50, overlap=10)
    assert len(chunks) < len(chars)  # 50 tokens hold far more than 50 characters


def test_token_strategy_needs_a_tokenizer() -> None:
    with pytest.raises(InvalidInput, match="needs the embedding model's tokenizer"):
        _chunks(assemble("t.txt", [Part("x")]), "tokens", 50)


@settings(max_examples=60, deadline=None)
@given(text=TEXTS, size=st.integers(20, 200), strategy=st.sampled_from(["recursive", "heading", "page", "sentence"]))
def test_every_strategy_keeps_exact_offsets(text: str, size: int, strategy: str) -> None:
    parsed = assemble("f.md", [Part(text, page=1, heading="H"), Part(text, page=2, heading="H2")])
    for chunk in _chunks(parsed, strategy, size, overlap=size // 5):
        assert parsed.text[chunk.start : chunk.end] == chunk.text
        assert 0 < len(chunk.text) <= size
