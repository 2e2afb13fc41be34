"""The text a product is found by: lower case, accents stripped, German transcriptions ("mueller" finds "Müller"); the
stored search_text of a product."""

import re
import unicodedata

# German spellings a clerk types without umlauts: "mueller" must find "Müller".
_TRANSCRIPTIONS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa"})


def fold(text: str) -> str:
    """Lower-case, accents stripped: "Müller Søren" → "muller soren"."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ø", "o").replace("æ", "ae")


def search_forms(text: str) -> str:
    """Every form a search may use for `text`: folded ("muller") and transcribed ("mueller")."""
    lowered = (text or "").lower()
    forms = dict.fromkeys([fold(lowered), fold(lowered.translate(_TRANSCRIPTIONS))])
    return re.sub(r"\s+", " ", " ".join(forms)).strip()


def search_text_for(product, variants):
    """`product` and `variants`: models, or (for rows not stored yet) dicts."""

    def get(record, key):
        return record.get(key, "") if isinstance(record, dict) else getattr(record, key)

    parts = [get(product, key) for key in ("name", "brand", "style_code", "category")]
    for variant in variants:
        parts += [get(variant, "sku"), get(variant, "colour")]
    words = " ".join(part for part in parts if part).split()
    return search_forms(" ".join(dict.fromkeys(words)))
