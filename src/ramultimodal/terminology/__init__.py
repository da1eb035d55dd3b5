"""Clinical terminology, at the bottom of the house: codes, concepts, units, words.

Everything else of the project looks its clinical vocabulary up here, and this package
imports nothing else of the project (CONTRIBUTING.md says what goes where):

- `ramultimodal.terminology.systems`: code-system URIs and the events-table prefixes;
- `ramultimodal.terminology.events`: the events table's own codes (birth, death, sex, visits,
  imaging studies, questionnaire answers);
- `ramultimodal.terminology.codes`: concepts (codes, canonical units, displays, reference
  ranges), RA diagnoses and treatments, smoking answers, HAQ-DI items;
- `ramultimodal.terminology.units`: UCUM parsing and conversion to a concept's unit;
- `ramultimodal.terminology.words`: the words CSV extracts write for coded facts;
- `ramultimodal.terminology.labels`: the short names explanations print ("anti-CCP", "U/mL");
- `ramultimodal.terminology.dicom`: SOP classes, body parts and laterality of radiographs;
- `ramultimodal.terminology.joints`: the joints of a hand radiograph and the Sharp/van der
  Heijde areas.
"""

from ramultimodal.terminology import (
    codes,
    dicom,
    events,
    joints,
    labels,
    systems,
    units,
    words,
)
from ramultimodal.terminology.codes import CONCEPTS, Concept, concept_of, upper_normal
from ramultimodal.terminology.systems import PREFIX_SYSTEMS, SYSTEM_PREFIXES, code_from_coding
from ramultimodal.terminology.units import UnitError, conversion_factor, normalise_quantity

__all__ = [
    "CONCEPTS",
    "PREFIX_SYSTEMS",
    "SYSTEM_PREFIXES",
    "Concept",
    "UnitError",
    "code_from_coding",
    "codes",
    "concept_of",
    "conversion_factor",
    "dicom",
    "events",
    "joints",
    "labels",
    "normalise_quantity",
    "systems",
    "units",
    "upper_normal",
    "words",
]
