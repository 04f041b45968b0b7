"""Which sentences the English sentence encoder cannot read (pass 1's language gate).

MiniLM was trained on English: a Spanish or French risk sentence lands near nothing it
learned and scores low, so without a gate it would pass unread. A sentence is *unreadable*
when it has at least three words and positive evidence of another language: more function
words of Spanish, French, German, Portuguese or Dutch (the languages of the corpora here) and
accented words than English-only function words, or any such word among too few English
function words (the data stage's
:func:`~mhai.data.clean.english_ratio`), or mostly non-Latin words. Terse English ("lovely
walk today") has no such evidence and stays readable; words that are also English ("die",
"war", "son") are not evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from mhai.data.clean import ENGLISH_STOPWORDS, english_ratio, words_of

MIN_WORDS = 3  # shorter sentences are not judged

_OTHER = """
    el la los las de del que y en un una es por para con se su al lo como más pero sus le
    este sí porque esta entre cuando muy sobre también hasta donde quien desde todo nos
    durante todos uno les contra otros ese eso ellos esto mí antes algunos qué unos yo otro
    otra él tanto esa estos mucho nada muchos ella estar estas algo nosotros mis tú ti tus
    tengo tienes estoy está estás soy eres aquí ahora mismo ganas voy vas va todas nadie
    siempre nunca quiero puedo ser fue era hay más bien mal otra vez verdad
    les des du une et est que qui dans pour pas sur au aux avec ce cette ces il elle ils elles
    je nous vous mon ma mes ton ta tes sa ses ne mais ou où donc suis sont ai avons été être
    avoir fait très tout toute tous moi toi lui leur c'est j'ai ça n'ai veux peux rien jamais
    toujours vais
    der das und ist nicht ich du er sie es wir ihr ein eine einen dem zu mit auf für von bist
    sind mich mir dich dir kann auch noch aber nur schon wie ich's
    os um não você eu ele nós eles são estou com muito já isso isto meu minha
    het een van ik je niet dat zijn voor maar wat ook nog naar bij heb
"""
OTHER_FUNCTION_WORDS = frozenset(_OTHER.split()) - ENGLISH_STOPWORDS
# English function words that are also common Spanish/French/Portuguese ones: no evidence.
SHARED_WORDS = frozenset(["a", "me", "no", "he", "on", "so", "en", "son"])
ENGLISH_ONLY = ENGLISH_STOPWORDS - SHARED_WORDS
_ACCENTED = frozenset("áéíóúñçèàùâêîôûëïüöãõß")


def unreadable_sentence(sentence: str, min_english_ratio: float) -> bool:
    """Whether one sentence is in a language the English encoder cannot read."""
    words = words_of(sentence.lower())
    if min_english_ratio <= 0 or len(words) < MIN_WORDS:
        return False
    distinct = set(words)
    accented = sum(not _ACCENTED.isdisjoint(w) for w in distinct)
    other = len(OTHER_FUNCTION_WORDS.intersection(distinct)) + accented
    english = len(ENGLISH_ONLY.intersection(distinct))
    if other > english or (other and english_ratio(distinct) < min_english_ratio):
        return True
    non_latin = sum(not w.isascii() and not any("a" <= c <= "z" for c in w) for w in words)
    return non_latin * 2 > len(words)


def unreadable(sentences: Sequence[str], min_english_ratio: float) -> bool:
    """Whether any of the sentences is unreadable (``min_english_ratio`` 0: gate off)."""
    return any(unreadable_sentence(s, min_english_ratio) for s in sentences)
