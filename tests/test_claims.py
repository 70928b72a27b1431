"""Claim-level changes inside one aligned pair: seed sentences and made-up ones."""
from __future__ import annotations

import pytest

from dedup.claims import CHANGE_TYPES, Change, extract_changes, find_numbers, find_quotes, find_times

# Aligned sentences of seeds 000 (A) and 001 (B), typed in as the cleaned texts read.
SEED_PAIRS = {
    "deployment": (
        "“After dispatching 11,000 personnel in October last year, Russia has already announced a "
        "second deployment of 4,000 troops, and a further 6,000 construction troops to assist in "
        "rebuilding Kursk,\" Lee added.",
        "According to Lee, North Korea has already dispatched approximately 11,000 personnel in the "
        "past year and plans to send an additional 4,000 troops along with around 6,000 construction "
        "specialists to aid in rebuilding efforts.",
    ),
    "timing": (
        "NIS believes the additional deployment could take place as early as July or August, "
        "pointing to precedents such as Shoigu's visit about a month prior to the previous "
        "deployment, as well as recent reports that North Korea has begun selecting personnel for dispatch.",
        "The National Intelligence Service of South Korea has assessed that this next wave of troop "
        "deployment might take place by late summer, with indicators such as Shoigu’s prior visits "
        "to Pyongyang about a month prior to troop dispatch, as well as reports that North Korea is "
        "actively selecting personnel for the mission forming the basis of this forecast.",
    ),
    "shells": (
        "Lee said Pyongyang is believed to have provided Russia with several million artillery "
        "shells, along with missiles and long-range rocket systems delivered by ship and military "
        "aircraft since the full-scale invasion of Ukraine.",
        "According to intelligence reports, it is estimated that North Korea has supplied Russia "
        "with millions of artillery shells, missiles, and long-range rocket systems, transported "
        "via ships and military aircraft.",
    ),
    "casualties": (
        "Roughly 600 North Korean soldiers have been killed and thousands more wounded while "
        "fighting for Russia, according to South Korean intelligence.",
        "Recent intelligence indicates that the cost of this alliance has been steep for North "
        "Korea, which has reportedly seen around 600 of its soldiers killed and many more wounded "
        "while engaging in combat alongside Russian forces.",
    ),
    "state_media": (
        "North Korean state media said leader Kim Jong Un had confirmed plans for further "
        "cooperation but did not provide details.",
        "Despite the acknowledgment of troop casualties, North Korean leader Kim Jong Un has "
        "affirmed plans for targeted military collaboration with Russia, although specific details "
        "regarding such cooperation have yet to be disclosed.",
    ),
}


def typed(changes: list[Change], kind: str) -> list[tuple[str | None, str | None]]:
    return [(c.a, c.b) for c in changes if c.type == kind]


def test_seed_numbers_keep_qualifiers_and_vague_amounts():
    a, b = SEED_PAIRS["deployment"]
    numbers = typed(extract_changes(a, b), "number")
    assert ("11,000", "approximately 11,000") in numbers
    assert ("a further 6,000", "around 6,000") in numbers
    a, b = SEED_PAIRS["shells"]
    assert ("several million", "millions") in typed(extract_changes(a, b), "number")
    a, b = SEED_PAIRS["casualties"]
    numbers = typed(extract_changes(a, b), "number")
    assert ("Roughly 600", "around 600") in numbers
    assert ("thousands", "many") in numbers


def test_seed_times_pair_reworded_dates():
    a, b = SEED_PAIRS["deployment"]
    assert ("in October last year", "in the past year") in typed(extract_changes(a, b), "time")
    a, b = SEED_PAIRS["timing"]
    times = typed(extract_changes(a, b), "time")
    assert ("as early as July or August", "by late summer") in times
    # "about a month prior" is on both sides: no change for it
    assert not any("month" in (x or "") for pair in typed(extract_changes(a, b), "number") for x in pair)


def test_seed_attribution_lost_and_altered():
    a, b = SEED_PAIRS["casualties"]
    attributions = typed(extract_changes(a, b), "attribution")
    assert ("according to South Korean intelligence", "Recent intelligence indicates") in attributions
    a, b = SEED_PAIRS["state_media"]
    assert ("North Korean state media said", None) in typed(extract_changes(a, b), "attribution")
    a, b = SEED_PAIRS["shells"]
    assert ("Lee said", "According to intelligence reports") in typed(extract_changes(a, b), "attribution")


def test_acronym_matches_its_expansion_and_demonym_its_country():
    a, b = SEED_PAIRS["timing"]
    changes = extract_changes(a, b)
    entities = typed(changes, "entity")
    assert not any(x in ("NIS", "National Intelligence Service") for pair in entities for x in pair)
    a, b = SEED_PAIRS["casualties"]  # "North Korean soldiers" vs "North Korea", "Russia" vs "Russian"
    entities = typed(extract_changes(a, b), "entity")
    assert entities == []


def test_seed_hedges_and_quote():
    a, b = SEED_PAIRS["timing"]
    assert ("could", "might") in typed(extract_changes(a, b), "hedge")
    a, b = SEED_PAIRS["shells"]
    assert ("is believed to", "estimated") in typed(extract_changes(a, b), "hedge")
    a, b = SEED_PAIRS["deployment"]
    quotes = typed(extract_changes(a, b), "quote")
    assert len(quotes) == 1 and quotes[0][1] is None and "11,000 personnel" in quotes[0][0]


def test_changes_ranked_with_wording_last():
    a, b = SEED_PAIRS["deployment"]
    changes = extract_changes(a, b)
    kinds = [c.type for c in changes]
    assert kinds[0] == "number"
    assert "wording" in kinds and kinds.index("wording") > max(i for i, k in enumerate(kinds) if k != "wording")
    assert all(c.type in CHANGE_TYPES for c in changes)


def test_idf_weight_ranks_a_rare_figure_above_a_common_synonym():
    idf = {"600": 6.0, "roughly": 3.0, "around": 2.0, "mutilated": 9.0, "hurt": 4.0}
    changes = extract_changes("Roughly 600 people were mutilated.", "Around 600 people were hurt.",
                              weight=lambda w: idf.get(w, 1.0))
    assert [c.type for c in changes] == ["number", "wording"]
    assert changes[0].weight > changes[1].weight


@pytest.mark.parametrize("a,b,expected", [
    ("The firm sold 3 plants for $2.5 billion.", "The firm sold three plants for $2.5 billion.", []),
    ("Profit rose 15.7 per cent.", "Profit rose 15.7%.", []),
    ("Sales rose 4.4%, to $21.51.", "Sales rose 4.6%, to $21.51.", [("4.4%", "4.6%")]),
    ("between 25,000 and 30,000 soldiers could arrive", "up to 30,000 soldiers could arrive",
     [("between 25,000 and 30,000", "up to 30,000")]),
    ("It cost $693 million.", "It cost $693 million and 40 jobs.", [(None, "40")]),
    ("a dozen people were hurt", "about 12 people were hurt", [("a dozen", "about 12")]),
    ("The drive holds 40GB.", "The drive holds 80GB.", [("40GB", "80GB")]),
])
def test_numbers_made_up(a, b, expected):
    assert typed(extract_changes(a, b), "number") == expected


def test_every_one_sided_figure_is_a_number_change():
    a = "Shares rose 1-1/4p to 290-1/2p, while the 2.0GHz chip cost US$729 and 3km of road closed."
    b = "Shares rose 1-1/4p, while the chip cost $699."
    numbers = typed(extract_changes(a, b), "number")
    dropped = {x for x, _ in numbers if x}
    for figure in ("290-1/2p", "2.0GHz", "US$729", "3km"):
        assert any(figure in d for d in dropped), (figure, numbers)
    assert any(y == "$699" for _, y in numbers)


def test_years_and_days_are_times_not_counts():
    text = "In April 2024, the army said on Thursday that 5,000 troops left."
    assert [t.text for t in find_times(text)] == ["In April 2024", "on Thursday"]
    assert [n.text for n in find_numbers(text, [t.span for t in find_times(text)])] == ["5,000"]


def test_may_the_modal_is_not_a_month():
    assert find_times("Officials may send troops.") == []
    assert [t.text for t in find_times("Troops left in May.")] == ["in May"]


def test_quote_cut_by_sentence_split():
    assert [q for _, q in find_quotes('rebuilding Kursk," Lee added.')] == ["rebuilding Kursk,"]
    assert [q for _, q in find_quotes('He said: "We will stay and fight')] == ["We will stay and fight"]


def test_entities_added_and_dropped():
    changes = extract_changes("The minister met Angela Merkel in Berlin.", "The minister met Olaf Scholz in Berlin.")
    entities = typed(changes, "entity")
    assert ("Angela Merkel", None) in entities and (None, "Olaf Scholz") in entities
    assert not any("Berlin" in (x or "") for pair in entities for x in pair)
    # a sentence-initial ordinary word is not a name
    assert typed(extract_changes("Officials left.", "Officials stayed."), "entity") == []


def test_identical_sentences_have_no_changes():
    a, _ = SEED_PAIRS["timing"]
    assert extract_changes(a, a) == []
