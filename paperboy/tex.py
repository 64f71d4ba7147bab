"""Readable text from arXiv's TeX-flavoured titles and author lists, and from mojibake."""

from __future__ import annotations

import re
import unicodedata

# TeX accent commands and the Unicode combining mark each stands for.
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "l": "ł",
    "L": "Ł",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "i": "ı",
    "j": "ȷ",
}
_SYMBOLS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "theta": "θ",
    "lambda": "λ",
    "mu": "μ",
    "pi": "π",
    "sigma": "σ",
    "tau": "τ",
    "phi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    "ell": "ℓ",
    "infty": "∞",
    "times": "×",
    "cdot": "·",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "approx": "≈",
    "sim": "~",
    "pm": "±",
    "to": "→",
    "rightarrow": "→",
    "in": "∈",
    "log": "log",
    "ldots": "…",
    "dots": "…",
    "textendash": "–",
    "textemdash": "—",
}
_ACCENT_RE = re.compile(
    r"\\([" + re.escape("'`^\"~=.") + r"]|[uvHckrdb](?![a-zA-Z]))\s*"
    r"(?:\{\s*(\\[ij]|[A-Za-z])\s*\}|(\\[ij](?![a-zA-Z])|[A-Za-z]))"
)
_LETTER_RE = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|[oOlLij])(?![a-zA-Z])\s?")
_STYLE_RE = re.compile(
    r"\\(?:text(?:bf|it|tt|sc|rm|sf|up)|emph|math(?:rm|bf|it|cal|bb|sf|tt|frak)|"
    r"operatorname|boldsymbol|bm|mbox|hbox)\s*\{([^{}]*)\}"
)
_SYMBOL_RE = re.compile(r"\\([A-Za-z]+)")
_ESCAPED_RE = re.compile(r"\\([&%$#_{}])")
_MOJIBAKE_RE = re.compile("[ÃÂÄÅÆÐÑØâ][\u0080-\u00bf\u0152-\u2122]")


def _accent(match: re.Match[str]) -> str:
    mark = _ACCENTS[match.group(1)]
    base = match.group(2) or match.group(3)
    base = {"\\i": "i", "\\j": "j"}.get(base, base)
    return unicodedata.normalize("NFC", base + mark)


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1/cp1252 (`GÃ¡lvez` -> `Gálvez`); leave clean text alone."""
    if not _MOJIBAKE_RE.search(text):
        return text
    raw = bytearray()
    for char in text:
        if ord(char) < 256:
            raw.append(ord(char))
        else:
            try:
                raw.extend(char.encode("cp1252"))
            except UnicodeEncodeError:
                return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


def detex(text: str) -> str:
    """Turn TeX accents, styling and common symbols into plain Unicode text."""
    if "\\" not in text and "$" not in text and "{" not in text and "~" not in text:
        return text
    text = _ACCENT_RE.sub(_accent, text)
    text = _LETTER_RE.sub(lambda m: _LETTERS[m.group(1)], text)
    for _ in range(3):  # styling nests: \textbf{\emph{x}}
        text = _STYLE_RE.sub(r"\1", text)
    text = _ESCAPED_RE.sub(lambda m: "\0" + m.group(1), text)
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS.get(m.group(1), m.group(1)), text)
    text = text.replace("$", "").replace("{", "").replace("}", "")
    text = text.replace("---", "—").replace("--", "–").replace("~", " ")
    text = text.replace("\0", "")
    return re.sub(r"\s+", " ", text).strip()


def clean(text: str) -> str:
    """Readable single-line text from a raw title or author string."""
    return detex(fix_mojibake(re.sub(r"\s+", " ", text).strip()))


def split_authors(creator: str) -> list[str]:
    """Authors from arXiv's one comma-joined `dc:creator` string, cleaned."""
    cleaned = clean(creator)
    parts = re.split(r",\s*|\s+and\s+", cleaned)
    return [part.strip() for part in parts if part.strip()]
