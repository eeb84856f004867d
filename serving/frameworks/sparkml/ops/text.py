"""Text stages: Tokenizer, RegexTokenizer, StopWordsRemover, NGram, WordLengthFilter,
CountVectorizer, Word2Vec.

Token lists are Python lists in an object column; tokenizing a string has no vectorised
NumPy form, so these stages loop over documents (the numeric stages never do).
"""

from __future__ import annotations

import re

import numpy as np

from .. import encode as enc
from ..columns import invalid_row, lists, to_strings
from . import register
from .unary import UnaryOp, spark_ports

# Java's \s: the six ASCII whitespace characters Tokenizer splits on, one at a time.
JAVA_SPACE = re.compile(r"[ \t\n\x0b\f\r]")


def _java_split(pattern: re.Pattern, text: str) -> list[str]:
    """``String.split(regex)``: like ``re.split`` but trailing empty strings are removed
    (all of them), and an input with no match is returned whole."""
    parts = pattern.split(text)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def _object_column(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class _TextOp(UnaryOp):
    def _strings(self, frame) -> np.ndarray:
        text = to_strings(frame[self.input])
        nulls = np.array([v is None for v in text], dtype=bool)
        if nulls.any():
            raise invalid_row(frame, self.input, nulls, "is null", "send a string")
        return text

    def input_kinds(self):
        return {self.input: "string"}


@register
class Tokenizer(_TextOp):
    """Spark ``Tokenizer``: lower-case, then split on each single whitespace character."""

    names = ("tokenizer",)
    spark_classes = ("org.apache.spark.ml.feature.Tokenizer",)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports)

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage))

    def to_mleap(self):
        return "tokenizer", {}

    def transform(self, frame) -> None:
        frame[self.output] = _object_column([_java_split(JAVA_SPACE, s.lower()) for s in self._strings(frame)])


@register
class RegexTokenizer(_TextOp):
    """Spark ``RegexTokenizer``: split on the pattern (``gaps``) or collect its matches,
    keep tokens of at least ``min_length`` characters. Patterns are run by Python's ``re``,
    which agrees with Java's regex for the common classes (``\\s``, ``\\w``, ``\\W+``, ...)."""

    names = ("regex_tokenizer",)
    spark_classes = ("org.apache.spark.ml.feature.RegexTokenizer",)

    def __init__(self, name, ports, pattern: str = r"\s+", gaps: bool = True, min_length: int = 1,
                 lowercase: bool = True):
        super().__init__(name, ports)
        self.pattern = pattern
        self.regex = re.compile(pattern)
        self.gaps, self.min_length, self.lowercase = bool(gaps), int(min_length), bool(lowercase)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        # absent means Spark's default; {} means false / 0 (MLeap omits zero values)
        return cls(name, ports, attrs.get("regex") or r"\s+", bool(attrs.get("match_gaps", True)),
                   attrs.get("token_min_length", 1) or 0, bool(attrs.get("lowercase_text", True)))

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), stage.param("pattern", r"\s+"), stage.param("gaps", True),
                   stage.param("minTokenLength", 1), stage.param("toLowercase", True))

    def to_mleap(self):
        return "regex_tokenizer", {"regex": enc.string(self.pattern), "match_gaps": enc.boolean(self.gaps),
                                   "token_min_length": enc.integer(self.min_length),
                                   "lowercase_text": enc.boolean(self.lowercase)}

    def tokens(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        found = _java_split(self.regex, text) if self.gaps else self.regex.findall(text)
        return [t for t in found if len(t) >= self.min_length]

    def transform(self, frame) -> None:
        frame[self.output] = _object_column([self.tokens(s) for s in self._strings(frame)])


@register
class StopWordsRemover(UnaryOp):
    """Spark ``StopWordsRemover``: drop stop words, case-insensitively unless asked."""

    names = ("stopwords_remover",)
    spark_classes = ("org.apache.spark.ml.feature.StopWordsRemover",)

    def __init__(self, name, ports, stop_words: list[str], case_sensitive: bool = False):
        super().__init__(name, ports)
        self.stop_words = list(stop_words)
        self.case_sensitive = bool(case_sensitive)
        self.lookup = frozenset(self.stop_words if case_sensitive else (w.lower() for w in self.stop_words))

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("stop_words") or [], attrs.get("case_sensitive"))

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), stage.param("stopWords") or [],
                   stage.param("caseSensitive", False))

    def to_mleap(self):
        return "stopwords_remover", {"stop_words": enc.strings(self.stop_words),
                                     "case_sensitive": enc.boolean(self.case_sensitive)}

    def input_kinds(self):
        return {c: "list" for c in self.ports.input_list()}

    def transform(self, frame) -> None:
        stop = self.lookup
        for source, target in zip(self.ports.input_list(), self.ports.output_list()):
            docs = lists(frame, source)
            if self.case_sensitive:
                kept = [[t for t in doc if t not in stop] for doc in docs]
            else:
                kept = [[t for t in doc if t is None or t.lower() not in stop] for doc in docs]
            frame[target] = _object_column(kept)


@register
class NGram(UnaryOp):
    """Spark ``NGram``: space-joined sliding n-grams; shorter documents give none."""

    names = ("ngram",)
    spark_classes = ("org.apache.spark.ml.feature.NGram",)

    def __init__(self, name, ports, n: int = 2):
        super().__init__(name, ports)
        self.n = int(n)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("n") or 2)

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), stage.param("n", 2))

    def to_mleap(self):
        return "ngram", {"n": enc.long(self.n)}

    def input_kinds(self):
        return {self.input: "list"}

    def transform(self, frame) -> None:
        n = self.n
        frame[self.output] = _object_column(
            [[" ".join(doc[i:i + n]) for i in range(len(doc) - n + 1)] for doc in lists(frame, self.input)])


@register
class WordLengthFilter(UnaryOp):
    """MLeap's ``word_filter`` extension: keep words of letters only, longer than ``length``."""

    names = ("word_filter",)

    def __init__(self, name, ports, length: int = 3):
        super().__init__(name, ports)
        self.length = int(length)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("length") or 0)

    def to_mleap(self):
        return "word_filter", {"length": enc.integer(self.length)}

    def input_kinds(self):
        return {self.input: "list"}

    def transform(self, frame) -> None:
        size = self.length
        frame[self.output] = _object_column(
            [[w for w in doc if len(w) > size and w.isalpha()] for doc in lists(frame, self.input)])


@register
class CountVectorizer(UnaryOp):
    """Spark ``CountVectorizerModel``: term counts over the vocabulary (sparse), counts
    below ``min_tf`` dropped (a fraction of the document length when ``min_tf < 1``)."""

    names = ("count_vectorizer",)
    spark_classes = ("org.apache.spark.ml.feature.CountVectorizerModel",)

    def __init__(self, name, ports, vocabulary: list[str], binary: bool = False, min_tf: float = 1.0):
        super().__init__(name, ports)
        self.vocabulary = list(vocabulary)
        self.index = {term: i for i, term in enumerate(self.vocabulary)}
        self.binary, self.min_tf = bool(binary), float(min_tf)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("vocabulary") or [], attrs.get("binary"), attrs.get("min_tf") or 0.0)

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), stage.row()["vocabulary"], stage.param("binary", False),
                   stage.param("minTF", 1.0))

    def to_mleap(self):
        return "count_vectorizer", {"vocabulary": enc.strings(self.vocabulary),
                                    "binary": enc.boolean(self.binary), "min_tf": enc.double(self.min_tf)}

    def input_kinds(self):
        return {self.input: "list"}

    def output_sizes(self, sizes):
        return {self.output: len(self.vocabulary)}

    def transform(self, frame) -> None:
        import scipy.sparse as sp

        index = self.index
        pointers, columns, values = [0], [], []
        for doc in lists(frame, self.input):
            counts: dict[int, float] = {}
            for term in doc:
                i = index.get(term)
                if i is not None:
                    counts[i] = counts.get(i, 0.0) + 1.0
            floor = self.min_tf if self.min_tf >= 1.0 else self.min_tf * len(doc)
            kept = sorted(i for i, c in counts.items() if c >= floor)
            columns.extend(kept)
            values.extend(1.0 if self.binary else counts[i] for i in kept)
            pointers.append(len(columns))
        frame[self.output] = sp.csr_matrix((np.asarray(values, dtype=np.float64), np.asarray(columns, dtype=np.int64),
                                            np.asarray(pointers)), shape=(len(pointers) - 1, len(self.vocabulary)))


@register
class Word2Vec(UnaryOp):
    """Spark ``Word2VecModel`` (MLeap ``word_to_vector``): the mean of the word vectors of
    a document, summed over known words and divided by the document length."""

    names = ("word_to_vector",)
    spark_classes = ("org.apache.spark.ml.feature.Word2VecModel",)

    def __init__(self, name, ports, words: list[str], vectors: np.ndarray):
        super().__init__(name, ports)
        self.words = list(words)
        self.vectors = np.asarray(vectors, dtype=np.float64).reshape(len(self.words), -1)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        words, rows = attrs.get("words") or [], attrs.get("indices") or []
        flat = np.asarray(attrs.get("word_vectors") or [], dtype=np.float64)
        table = flat.reshape(len(words), -1) if words else flat.reshape(0, 0)
        return cls(name, ports, words, table[np.asarray(rows, dtype=np.int64)] if words else table)

    @classmethod
    def from_spark(cls, stage):
        rows = stage.rows()
        return cls(stage.uid, spark_ports(stage), [r["word"] for r in rows],
                   np.array([r["vector"] for r in rows], dtype=np.float32).astype(np.float64))

    def to_mleap(self):
        return "word_to_vector", {"words": enc.strings(self.words), "indices": enc.longs(range(len(self.words))),
                                  "word_vectors": enc.doubles(self.vectors.reshape(-1)), "kernel": enc.string("avg")}

    def input_kinds(self):
        return {self.input: "list"}

    def output_sizes(self, sizes):
        return {self.output: self.vectors.shape[1]}

    def transform(self, frame) -> None:
        docs = lists(frame, self.input)
        out = np.zeros((len(docs), self.vectors.shape[1]))
        for row, doc in enumerate(docs):
            if doc:
                for word in doc:
                    i = self.index.get(word)
                    if i is not None:
                        out[row] += self.vectors[i]
                out[row] *= 1.0 / len(doc)
        frame[self.output] = out


