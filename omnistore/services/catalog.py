"""The catalogue: products (styles) and variants (SKUs), EAN-13 rules and search normalisation."""
import re
import unicodedata

# German spellings a clerk types without umlauts: "mueller" must find "Müller".
_TRANSCRIPTIONS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa"})


def ean13_check_digit(first12: str) -> str:
    """The check digit for the first 12 digits of an EAN-13."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def is_valid_ean13(code: str) -> bool:
    return bool(code) and len(code) == 13 and code.isdigit() and ean13_check_digit(code[:12]) == code[12]


def fold(text: str) -> str:
    """Lower-case, accents stripped: "Müller Søren" → "muller soren"."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ø", "o").replace("æ", "ae")


def search_forms(text: str) -> str:
    """Every form a search may use for `text`: folded ("muller") and transcribed ("mueller")."""
    lowered = (text or "").lower()
    forms = dict.fromkeys([fold(lowered), fold(lowered.translate(_TRANSCRIPTIONS))])
    return re.sub(r"\s+", " ", " ".join(forms)).strip()
