"""The words extracts write for coded facts: sex, smoking status, qualitative results.

A CSV export from a clinic writes ``M``, ``weiblich`` or ``ex-smoker`` where FHIR has a
code. These tables turn such words into the codes the featurizer reads: a sex into a FHIR
administrative gender (``GENDER/<gender>``), a smoking status into a SNOMED CT answer of
`ramultimodal.terminology.codes.SMOKING_STATUS`, a result word into 1 or 0. Keys are
folded by `fold_word`, which every reader applies to a word before it looks it up, so that
``"Not  Detected"`` means the same in a FHIR display and in a CSV cell.
"""

from __future__ import annotations

from ramultimodal.terminology.codes import RESULT_CODES

__all__ = ["RESULT_WORDS", "SEX_WORDS", "SMOKING_WORDS", "fold_word", "result_value"]

#: Words for a patient's sex and the FHIR administrative gender each one means.
SEX_WORDS: dict[str, str] = {
    word: sex
    for sex, words in {
        "male": ("m", "male", "man", "männlich", "maennlich"),
        # "w": German forms write weiblich; no English export uses "w" for anything else.
        "female": ("f", "female", "woman", "w", "weiblich"),
        "other": ("o", "other", "divers"),
        "unknown": ("u", "unknown", "unbekannt"),
    }.items()
    for word in words
}
#: Words for a smoking status and the SNOMED CT answer each one means.
SMOKING_WORDS: dict[str, str] = {
    word: code
    for code, words in {
        # Smoker, current status unknown: "yes" does not say every day or some days.
        "SNOMED/77176002": ("current", "current smoker", "smoker", "yes"),
        "SNOMED/8517006": ("former", "former smoker", "ex-smoker", "ex smoker", "ex"),
        # "no" and "non-smoker" are read as never smoked, as forms that also offer
        # "former" mean them; a form without "former" cannot tell the two apart.
        "SNOMED/266919005": ("never", "never smoker", "never smoked", "no", "non-smoker"),
        # Unknown if ever smoked: read, and left missing by the featurizer.
        "SNOMED/266927001": ("unknown",),
    }.items()
    for word in words
}

#: The words labs write for a qualitative result, and the number each one means.
RESULT_WORDS: dict[str, float] = {
    "positive": 1.0,
    "detected": 1.0,
    "negative": 0.0,
    "not detected": 0.0,
}


def fold_word(text: str) -> str:
    """A word as the tables above key it: trimmed, case-folded, runs of white space as one.

    Examples
    --------
    >>> fold_word("  Not\tDETECTED ")
    'not detected'
    >>> fold_word("Männlich")
    'männlich'
    """
    return " ".join(text.split()).casefold()


def result_value(word: str) -> float | None:
    """The number a qualitative result means (1.0 positive, 0.0 negative), or None.

    Parameters
    ----------
    word : str
        A word labs write (`RESULT_WORDS`, in any case and spacing), or the events-table
        code of a SNOMED CT result (`ramultimodal.terminology.codes.RESULT_CODES`), as the
        FHIR reader writes a coded result in ``text_value``.

    Examples
    --------
    >>> result_value("Positive"), result_value("not  detected"), result_value("1:160")
    (1.0, 0.0, None)
    >>> result_value("SNOMED/260385009")
    0.0
    """
    if word in RESULT_CODES:
        return RESULT_CODES[word]
    return RESULT_WORDS.get(fold_word(word))
