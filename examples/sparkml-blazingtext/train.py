"""The SageMaker guide's Spark ML -> BlazingText pipeline (DBpedia text classification), made here.

The guide tokenizes DBpedia abstracts with a Spark ``Tokenizer`` served by the Spark ML
container, which answers ``Accept: application/jsonlines;data=text`` with
``{"source": "tokens ..."}`` lines, and classifies them with a BlazingText supervised model.
The DBpedia data cannot be downloaded here, so this script writes a small text set of the
same kind (abstracts of companies, schools, artists and athletes, labelled ``__label__1`` ..
``__label__4`` as the guide numbers its classes), then:

1. fits the Spark ``Tokenizer`` pipeline and exports it as an MLeap bundle with the guide's
   schema (input ``abstract``, output ``tokenized_abstract``, an array of strings);
2. tokenizes the training text with that same Spark model and trains a fastText supervised
   model on it with the ``fasttext`` command line (Debian's ``fasttext`` package: the PyPI
   builds diverge in supervised training on some machines), written as ``model.bin``, the
   file BlazingText's training leaves in its model directory.

    python examples/sparkml-blazingtext/train.py --out build/sparkml-blazingtext
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
from pathlib import Path

from serving.frameworks.sparkml.export import export_model_dir

CLASSES = {
    1: ("Company", "company corporation founded headquartered manufacturer products subsidiary industry revenue "
                   "brand shares employees market airline bank"),
    2: ("EducationalInstitution", "school university college students campus academic founded faculty degree "
                                  "education institute graduate secondary enrolment courses"),
    3: ("Artist", "singer songwriter album band music released records guitarist tour painter artist debut "
                  "songs studio label"),
    4: ("Athlete", "footballer player team league season played professional club olympic champion coach "
                   "tournament goals cup"),
}
FILLER = "the a an of in and was is by for with which later its has as at".split()
NAMES = "Acme Berwick Convair Melbourne Dublin Lyon Hartley Norton Kepler Vasquez Odessa Tamura".split()

SCHEMA = {
    "input": [{"name": "abstract", "type": "string"}],
    "output": {"name": "tokenized_abstract", "type": "string", "struct": "array"},
}


def make_abstracts(n: int, seed: int = 7) -> list[tuple[int, str]]:
    """``n`` (label, abstract) pairs: capitalised names, topic words and filler, with punctuation."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.choice(list(CLASSES))
        words = rng.choices(CLASSES[label][1].split(), k=rng.randint(5, 9)) + rng.choices(FILLER, k=rng.randint(3, 7))
        rng.shuffle(words)
        out.append((label, f"{rng.choice(NAMES)} {' '.join(words)}."))
    return out


def spark_session():
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master("local[2]").appName("sparkml-blazingtext")
            .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2").getOrCreate())


def tokenizer():
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Tokenizer

    return Pipeline(stages=[Tokenizer(inputCol="abstract", outputCol="tokenized_abstract")])


def train_classifier(lines: list[str], out_dir: Path, epoch: int = 15) -> Path:
    """``fasttext supervised`` on ``__label__N tokens...`` lines; returns ``out_dir/model.bin``."""
    if shutil.which("fasttext") is None:
        raise SystemExit("the fasttext command is missing: apt-get install fasttext")
    out_dir.mkdir(parents=True, exist_ok=True)
    train_file = out_dir / "train.txt"
    train_file.write_text("".join(line + "\n" for line in lines))
    subprocess.run(["fasttext", "supervised", "-input", str(train_file), "-output", str(out_dir / "model"),
                    "-epoch", str(epoch), "-lr", "0.5", "-dim", "16", "-wordNgrams", "2", "-thread", "1",
                    "-seed", "1", "-verbose", "0"], check=True)
    train_file.unlink()
    (out_dir / "model.vec").unlink(missing_ok=True)  # BlazingText's model directory holds model.bin
    return out_dir / "model.bin"


def train(out: str | Path, n: int = 800, spark=None) -> tuple[Path, Path]:
    """Returns (Spark ML tokenizer model dir, BlazingText model dir)."""
    spark = spark or spark_session()
    out = Path(out)
    abstracts = make_abstracts(n)
    frame = spark.createDataFrame([(label, text) for label, text in abstracts], ["label", "abstract"])
    model = tokenizer().fit(frame)
    model.write().overwrite().save(str(out / "spark-tokenizer"))
    featurizer_dir = export_model_dir(out / "spark-tokenizer", out / "sparkml", SCHEMA)

    rows = model.transform(frame).select("label", "tokenized_abstract").collect()
    lines = [f"__label__{r['label']} {' '.join(r['tokenized_abstract'])}" for r in rows]
    classifier_dir = out / "blazingtext"
    train_classifier(lines, classifier_dir)
    return featurizer_dir, classifier_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/sparkml-blazingtext")
    args = parser.parse_args()
    for path in train(args.out):
        print(f"saved {path}")


if __name__ == "__main__":
    main()
