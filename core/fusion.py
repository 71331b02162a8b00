"""Fusion of a store's vector and BM25 lists into one ranked list: weighted (scores on absolute scales) or
reciprocal rank fusion, every hit's relevance kept in its breakdown."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from core.options import Fusion, Mode, SearchOptions
from core.ranking import DEFAULT_WEIGHT
from core.records import Hit, ScoreBreakdown

RRF_K = 60
# BM25 is unbounded and its scale moves with the store (document lengths, term rarity), so weighted fusion maps it
# through b / (b + BM25_HALF): 0 for no match, 0.5 at BM25_HALF, towards 1 for strong matches. With the cosine on
# its own absolute scale, a fused score means the same in every query: an unrelated question scores well below a
# matching one, which min-max normalising within each query (the best hit always near 1) could not show.
# Fitted on the training halves: SciFact train (nDCG@10 0.730 at 40 with weight 0.5, 0.726 with 0.6, against 0.725 at
# 10; bench/eval_retrieval.py) and the FinanceBench dev filings (bench/longdocs.py --fit): both prefer 40, where a
# strong match (BM25 40) counts half and a weak one little, so BM25 cannot outvote a clear cosine.
BM25_HALF = 40.0


def fuse(
    vector_hits: list[Hit],
    keyword_hits: list[Hit],
    options: SearchOptions,
    *,
    weight: Callable[[Hit], float] | None = None,
    cosines: Mapping[tuple[str, int], float] | None = None,
) -> list[Hit]:
    """One ranked list from a store's vector and BM25 lists, as the options' mode and fusion say.

    Weighted fusion takes each hit's vector share from `weight` (per store: see `fusion_weight`) and the cosine of
    hits only BM25 found from `cosines`. Every hit's `relevance` is on an absolute scale whatever the mode: the
    cosine, the saturated BM25 score (full-text search is ranked by it too), or the weighted fusion of both (also
    under RRF, whose rank-based score means nothing across queries)."""
    if options.mode is Mode.VECTOR:
        return [_with(h, rank, vector=h.score) for rank, h in enumerate(vector_hits, 1)]
    if options.mode is Mode.FULLTEXT:
        return [_with(h, rank, keyword=h.score) for rank, h in enumerate(keyword_hits, 1)]
    fixed = options.weight if options.weight is not None else DEFAULT_WEIGHT
    weighted = _weighted(vector_hits, keyword_hits, weight or (lambda _hit: fixed), cosines or {})
    if options.fusion is Fusion.WEIGHTED:
        return weighted
    relevance = {h.key: h.score for h in weighted}
    return [
        replace(h, breakdown=replace(h.breakdown or ScoreBreakdown(), relevance=relevance.get(h.key)))
        for h in _rrf(vector_hits, keyword_hits)
    ]


def _with(hit: Hit, rank: int, *, vector: float | None = None, keyword: float | None = None) -> Hit:
    """A hit of one list: vector search keeps its cosine as its score; full-text search is scored by the saturated
    BM25 score (0..1, the same in every query and store), its raw score kept in the breakdown."""
    relevance = vector if vector is not None else saturated(keyword or 0.0)
    breakdown = ScoreBreakdown(
        vector=vector,
        vector_rank=rank if vector is not None else None,
        keyword=keyword,
        keyword_rank=rank if keyword is not None else None,
        relevance=relevance,
    )
    return replace(hit, score=relevance, breakdown=breakdown)


def _rrf(vector_hits: list[Hit], keyword_hits: list[Hit]) -> list[Hit]:
    """Reciprocal rank fusion, scaled so that first in both lists scores 1.0."""
    best = 2 / (RRF_K + 1)
    return _combine(
        vector_hits, keyword_hits, lambda v, k: ((1 / (RRF_K + v) if v else 0) + (1 / (RRF_K + k) if k else 0)) / best
    )


def saturated(bm25: float) -> float:
    """A BM25 score on a 0..1 scale that does not depend on the other hits of the query."""
    return bm25 / (bm25 + BM25_HALF) if bm25 > 0 else 0.0


def _weighted(
    vector_hits: list[Hit],
    keyword_hits: list[Hit],
    weight: Callable[[Hit], float],
    cosines: Mapping[tuple[str, int], float],
) -> list[Hit]:
    """weight * cosine + (1 - weight) * saturated BM25, both on absolute scales; a hit BM25 did not find gets 0 from
    it, and a hit only BM25 found gets its real cosine (when known, else 0)."""
    cosine = {**cosines, **{h.key: h.score for h in vector_hits}}
    keyword = {h.key: saturated(h.score) for h in keyword_hits}

    def score(hit: Hit) -> float:
        share = weight(hit)
        return share * max(cosine.get(hit.key, 0.0), 0.0) + (1 - share) * keyword.get(hit.key, 0.0)

    fused = _combine(vector_hits, keyword_hits, lambda _v, _k: 0.0, scores=score)
    return [
        replace(h, breakdown=replace(h.breakdown, vector=cosine[h.key]))
        if h.breakdown is not None and h.breakdown.vector is None and h.key in cosine
        else h
        for h in fused
    ]


def _combine(
    vector_hits: list[Hit],
    keyword_hits: list[Hit],
    by_ranks: Callable[[int | None, int | None], float],
    scores: Callable[[Hit], float] | None = None,
) -> list[Hit]:
    vector = {h.key: (rank, h) for rank, h in enumerate(vector_hits, 1)}
    keyword = {h.key: (rank, h) for rank, h in enumerate(keyword_hits, 1)}
    fused = []
    for key in dict.fromkeys([*vector, *keyword]):
        v_rank, v_hit = vector.get(key, (None, None))
        k_rank, k_hit = keyword.get(key, (None, None))
        hit = v_hit or k_hit
        assert hit is not None
        score = scores(hit) if scores else by_ranks(v_rank, k_rank)
        breakdown = ScoreBreakdown(
            vector=v_hit.score if v_hit else None,
            vector_rank=v_rank,
            keyword=k_hit.score if k_hit else None,
            keyword_rank=k_rank,
            fused=score,
            relevance=score if scores else None,
        )
        fused.append(replace(hit, score=score, breakdown=breakdown))
    fused.sort(key=lambda h: -h.score)
    return fused
